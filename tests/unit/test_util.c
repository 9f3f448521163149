/*
 * test_util.c - util.h (and the small rc.h / log.h helpers it leans on):
 * ids, tokens, SHA-256, base64 and base64url strictness, secret compare.
 */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "clearance/log.h"
#include "clearance/rc.h"
#include "clearance/util.h"

/* ---- clr_uuid_new / clr_uuid_valid ---- */

START_TEST(uuid_new_format)
{
	char u[37];
	int i;

	ck_assert_int_eq(clr_uuid_new(u), CLR_OK);
	ck_assert_uint_eq(strlen(u), 36);
	ck_assert(clr_uuid_valid(u));
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			ck_assert_int_eq(u[i], '-');
		else
			ck_assert_ptr_nonnull(strchr("0123456789abcdef", u[i]));
	}
	ck_assert_int_eq(u[14], '4');		      /* version */
	ck_assert_ptr_nonnull(strchr("89ab", u[19])); /* variant */
}
END_TEST

START_TEST(uuid_new_unique)
{
	enum { N = 256 };
	static char ids[N][37];
	int i, j;

	for (i = 0; i < N; i++) {
		ck_assert_int_eq(clr_uuid_new(ids[i]), CLR_OK);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(ids[i], ids[j]);
	}
}
END_TEST

START_TEST(uuid_valid_cases)
{
	ck_assert(clr_uuid_valid("123e4567-e89b-12d3-a456-426614174000"));
	ck_assert(clr_uuid_valid("123E4567-E89B-12D3-A456-426614174000"));
	ck_assert(!clr_uuid_valid("123E4567-e89b-12d3-a456-426614174000"));
	ck_assert(!clr_uuid_valid(NULL));
	ck_assert(!clr_uuid_valid(""));
	ck_assert(!clr_uuid_valid("123e4567-e89b-12d3-a456-42661417400"));
	ck_assert(!clr_uuid_valid("123e4567-e89b-12d3-a456-4266141740000"));
	ck_assert(!clr_uuid_valid("123e4567e89b-12d3-a456-4266141740000"));
	ck_assert(!clr_uuid_valid("123e4567-e89b-12d3-a456-42661417400g"));
	ck_assert(!clr_uuid_valid("{23e4567-e89b-12d3-a456-426614174000"));
	ck_assert(!clr_uuid_valid("123e4567-e89b-12d3-a456-426614174000 "));
}
END_TEST

/* ---- clr_random_token ---- */

START_TEST(random_token_prefix_len)
{
	char *t = NULL, *t2 = NULL;
	unsigned char *raw = NULL;
	size_t rawlen = 0;

	ck_assert_int_eq(clr_random_token("clr_adm_", 32, &t), CLR_OK);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(strncmp(t, "clr_adm_", 8), 0);
	ck_assert_uint_eq(strlen(t), 8 + 43); /* 32 bytes -> 43 chars unpadded */
	ck_assert_int_eq(clr_b64url_decode(t + 8, strlen(t + 8), &raw, &rawlen), CLR_OK);
	ck_assert_uint_eq(rawlen, 32);
	free(raw);

	ck_assert_int_eq(clr_random_token(NULL, 16, &t2), CLR_OK);
	ck_assert_uint_eq(strlen(t2), 22);
	ck_assert_str_ne(t, t2);
	free(t);
	free(t2);

	t = (char *)1;
	ck_assert_int_eq(clr_random_token("x", 15, &t), CLR_ERR_PARAM);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(clr_random_token("x", 65, &t), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_random_token("x", 64, &t), CLR_OK);
	ck_assert_uint_eq(strlen(t), 1 + 86);
	free(t);
}
END_TEST

/* ---- clr_sha256_hex ---- */

START_TEST(sha256_vectors)
{
	char h[65];

	/* FIPS 180-2 examples. */
	clr_sha256_hex("", 0, h);
	ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	clr_sha256_hex("abc", 3, h);
	ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	clr_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, h);
	ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

/* ---- base64 (RFC 4648 s.10 vectors) ---- */

static const struct {
	const char *plain, *b64, *b64url;
} rfc4648[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

START_TEST(b64_encode_rfc4648)
{
	const char *p = rfc4648[_i].plain;
	char *s = NULL;

	ck_assert_int_eq(clr_b64_encode(p, strlen(p), &s), CLR_OK);
	ck_assert_str_eq(s, rfc4648[_i].b64);
	free(s);
}
END_TEST

START_TEST(b64_decode_rfc4648)
{
	const char *e = rfc4648[_i].b64;
	unsigned char *d = NULL;
	size_t n = 99;

	ck_assert_int_eq(clr_b64_decode(e, strlen(e), &d, &n), CLR_OK);
	ck_assert_uint_eq(n, strlen(rfc4648[_i].plain));
	ck_assert_mem_eq(d, rfc4648[_i].plain, n);
	ck_assert_int_eq(d[n], '\0');
	free(d);
}
END_TEST

START_TEST(b64_decode_rejects)
{
	static const char *bad[] = {
	    "Zg",	/* missing padding */
	    "Zg=",	/* short padding */
	    "Zg===",	/* too much */
	    "Z===",	/* three pad chars */
	    "Zh==",	/* non-zero trailing bits */
	    "Zm9=",	/* non-zero trailing bits */
	    "Zm 9v",	/* whitespace */
	    "Zm9v\n",	/* trailing newline */
	    "Zm=v",	/* padding inside */
	    "Zm9v-_AA", /* url alphabet in standard base64 */
	    "====",
	};
	unsigned char *d = (unsigned char *)1;
	size_t n = 7, i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(clr_b64_decode(bad[i], strlen(bad[i]), &d, &n) == CLR_ERR_PARAM,
			      "accepted \"%s\"", bad[i]);
		ck_assert_ptr_null(d);
	}
	/* Embedded NUL within len is rejected, not silently cut. */
	ck_assert_int_eq(clr_b64_decode("Zm9v\0AAA", 8, &d, &n), CLR_ERR_PARAM);
}
END_TEST

/* ---- base64url ---- */

START_TEST(b64url_encode_rfc4648)
{
	const char *p = rfc4648[_i].plain;
	char *s = NULL;

	ck_assert_int_eq(clr_b64url_encode(p, strlen(p), &s), CLR_OK);
	ck_assert_str_eq(s, rfc4648[_i].b64url);
	free(s);
}
END_TEST

START_TEST(b64url_decode_rfc4648)
{
	const char *e = rfc4648[_i].b64url;
	unsigned char *d = NULL;
	size_t n = 99;

	ck_assert_int_eq(clr_b64url_decode(e, strlen(e), &d, &n), CLR_OK);
	ck_assert_uint_eq(n, strlen(rfc4648[_i].plain));
	ck_assert_mem_eq(d, rfc4648[_i].plain, n);
	ck_assert_int_eq(d[n], '\0');
	free(d);
}
END_TEST

START_TEST(b64url_alphabet)
{
	static const unsigned char bin[] = {0xfb, 0xff, 0xbf, 0xfe};
	char *s = NULL;
	unsigned char *d = NULL;
	size_t n = 0;

	ck_assert_int_eq(clr_b64url_encode(bin, sizeof(bin), &s), CLR_OK);
	ck_assert_str_eq(s, "-_-__g");
	ck_assert_int_eq(clr_b64url_decode(s, strlen(s), &d, &n), CLR_OK);
	ck_assert_uint_eq(n, sizeof(bin));
	ck_assert_mem_eq(d, bin, n);
	free(s);
	free(d);
}
END_TEST

START_TEST(b64url_decode_rejects)
{
	static const char *bad[] = {
	    "Zg==",			    /* padding */
	    "Zg=",			    /* padding */
	    "Z",			    /* length % 4 == 1 */
	    "Zm9vY",			    /* length % 4 == 1 */
	    "Zh",			    /* non-zero trailing bits (2 chars) */
	    "Zm9",			    /* non-zero trailing bits (3 chars) */
	    "Zm9v+A",			    /* standard alphabet */
	    "Zm9v/A", "Zm 9v",		    /* whitespace */
	    " Zm9v",  "Zm9v\r\n", "Zm9v.A", /* JWS separator */
	};
	unsigned char *d = (unsigned char *)1;
	size_t n = 7, i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(clr_b64url_decode(bad[i], strlen(bad[i]), &d, &n) == CLR_ERR_PARAM,
			      "accepted \"%s\"", bad[i]);
		ck_assert_ptr_null(d);
		ck_assert_uint_eq(n, 0);
	}
	ck_assert_int_eq(clr_b64url_decode("Zm9v\0AAA", 8, &d, &n), CLR_ERR_PARAM);
	/* len bounds the input: the tail after it is not read. */
	ck_assert_int_eq(clr_b64url_decode("Zm9v!!!", 4, &d, &n), CLR_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(d, "foo", 3);
	free(d);
}
END_TEST

START_TEST(b64url_roundtrip_all_lengths)
{
	unsigned char bin[70], *d = NULL;
	char *s = NULL;
	size_t len, n, i;

	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(i * 37 + 11);
	for (len = 0; len <= sizeof(bin); len++) {
		ck_assert_int_eq(clr_b64url_encode(bin, len, &s), CLR_OK);
		ck_assert_uint_eq(strlen(s), (len * 4 + 2) / 3);
		ck_assert_int_eq(clr_b64url_decode(s, strlen(s), &d, &n), CLR_OK);
		ck_assert_uint_eq(n, len);
		ck_assert(len == 0 || memcmp(d, bin, len) == 0);
		free(s);
		free(d);
		ck_assert_int_eq(clr_b64_encode(bin, len, &s), CLR_OK);
		ck_assert_uint_eq(strlen(s) % 4, 0);
		ck_assert_int_eq(clr_b64_decode(s, strlen(s), &d, &n), CLR_OK);
		ck_assert_uint_eq(n, len);
		ck_assert(len == 0 || memcmp(d, bin, len) == 0);
		free(s);
		free(d);
	}
}
END_TEST

/* ---- clr_secret_eq ---- */

START_TEST(secret_eq_cases)
{
	ck_assert_int_eq(clr_secret_eq("abc", 3, "abc", 3), 1);
	ck_assert_int_eq(clr_secret_eq("abc", 3, "abd", 3), 0);
	ck_assert_int_eq(clr_secret_eq("abc", 3, "abcd", 4), 0);
	ck_assert_int_eq(clr_secret_eq("abcd", 4, "abc", 3), 0);
	ck_assert_int_eq(clr_secret_eq("", 0, "", 0), 1);
	ck_assert_int_eq(clr_secret_eq("", 0, "a", 1), 0);
	ck_assert_int_eq(clr_secret_eq("a\0b", 3, "a\0c", 3), 0);
}
END_TEST

/* ---- clr_now_ms ---- */

START_TEST(now_ms_monotonic)
{
	long long a = clr_now_ms(), b;
	struct timespec ts = {0, 20 * 1000000L};

	nanosleep(&ts, NULL);
	b = clr_now_ms();
	ck_assert(a > 0);
	ck_assert(b - a >= 19);
	ck_assert(b - a < 5000);
}
END_TEST

/* ---- rc.h ---- */

START_TEST(rc_names)
{
	struct clr_err e;
	int i, j;

	ck_assert_str_eq(clr_rc_name(CLR_OK), "ok");
	ck_assert_str_eq(clr_rc_name(CLR_ERR_PARAM), "param");
	ck_assert_str_eq(clr_rc_name(CLR_ERR_NOTFOUND), "not_found");
	ck_assert_str_eq(clr_rc_name((enum clr_rc)999), "unknown");
	for (i = 0; i < CLR_RC__MAX; i++) {
		ck_assert_str_ne(clr_rc_name((enum clr_rc)i), "unknown");
		for (j = 0; j < i; j++)
			ck_assert_str_ne(clr_rc_name((enum clr_rc)i), clr_rc_name((enum clr_rc)j));
	}
	ck_assert_int_eq(clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", "name",
				     "%s is %d chars too long", "name", 3),
			 CLR_ERR_PARAM);
	ck_assert_int_eq(e.rc, CLR_ERR_PARAM);
	ck_assert_str_eq(e.error, "invalid_request");
	ck_assert_str_eq(e.field, "name");
	ck_assert_str_eq(e.msg, "name is 3 chars too long");
	ck_assert_int_eq(clr_err_set(NULL, CLR_ERR_DB, "x", NULL, "y"), CLR_ERR_DB);
	clr_err_set(&e, CLR_ERR_INTERNAL, NULL, NULL, "%0300d", 1);
	ck_assert_str_eq(e.field, "");
	ck_assert_uint_eq(strlen(e.msg), sizeof(e.msg) - 1);
}
END_TEST

/* ---- log.h: lines are JSON, bounded, and respect the level ---- */

/* Runs fn with fd 2 redirected to a pipe; returns what was written (new). */
static char *capture_stderr(void (*fn)(void))
{
	int p[2], saved;
	char *buf = calloc(1, 65536);
	ssize_t n;
	size_t used = 0;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pipe(p), 0);
	saved = dup(2);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(p[1], 2), 0);
	close(p[1]);
	fn();
	dup2(saved, 2);
	close(saved);
	while ((n = read(p[0], buf + used, 65535 - used)) > 0)
		used += (size_t)n;
	close(p[0]);
	return buf;
}

static void log_some(void)
{
	char big[5000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	clr_log_init("unittest", CLR_LOG_INFO);
	clr_log(NULL, CLR_LOG_DEBUG, "hidden");
	clr_log("req-1", CLR_LOG_WARN, "quote \" newline \n bad utf8 \xff end");
	clr_log(NULL, CLR_LOG_ERROR, "%s", big);
	clr_log_set_level(CLR_LOG_ERROR);
	clr_log(NULL, CLR_LOG_WARN, "hidden too");
	clr_log_set_level(CLR_LOG_INFO);
}

static void log_repeats(void)
{
	struct clr_log_access a = {.reqid = "00c0ffee00c0ffee",
				   .method = "PATCH",
				   .route = "/v1/apps/{}",
				   .remote_addr = "127.0.0.1",
				   .client_id = "cid-1",
				   .status = 204,
				   .usec = 1500};
	int i;

	clr_log_init("unittest", CLR_LOG_INFO);
	clr_log_repeat_reset(1);
	for (i = 0; i < 16; i++)
		clr_log(NULL, CLR_LOG_ERROR, "db: cannot connect: %s", "refused");
	clr_log(NULL, CLR_LOG_WARN, "db: cannot connect: refused"); /* another level */
	clr_log(NULL, CLR_LOG_ERROR, "security: same");
	clr_log(NULL, CLR_LOG_ERROR, "security: same");
	clr_log(NULL, CLR_LOG_INFO, "info is never held back");
	clr_log(NULL, CLR_LOG_INFO, "info is never held back");
	clr_log_access(CLR_LOG_INFO, &a);
	usleep(2100 * 1000); /* past the 1 s window whatever the second boundary */
	clr_log(NULL, CLR_LOG_ERROR, "db: cannot connect: %s", "refused");
	clr_log_repeat_reset(0);
}

START_TEST(log_repeats_and_access_fields)
{
	char *out = capture_stderr(log_repeats), *line, *save = NULL;
	json_t *j, *lines[16];
	size_t n = 0;

	for (line = strtok_r(out, "\n", &save); line != NULL && n < 16;
	     line = strtok_r(NULL, "\n", &save)) {
		j = json_loads(line, 0, NULL);
		ck_assert_ptr_nonnull(j);
		lines[n++] = j;
	}
	ck_assert_int_eq((int)n, 8);
	ck_assert_str_eq(json_string_value(json_object_get(lines[0], "msg")),
			 "db: cannot connect: refused");
	ck_assert_ptr_null(json_object_get(lines[0], "suppressed"));
	ck_assert_str_eq(json_string_value(json_object_get(lines[1], "level")), "warn");
	ck_assert_str_eq(json_string_value(json_object_get(lines[2], "msg")), "security: same");
	ck_assert_str_eq(json_string_value(json_object_get(lines[3], "msg")), "security: same");
	ck_assert_str_eq(json_string_value(json_object_get(lines[5], "msg")),
			 "info is never held back");
	/* the access line: its fields are fields, not text in msg */
	ck_assert_str_eq(json_string_value(json_object_get(lines[6], "msg")), "access");
	ck_assert_str_eq(json_string_value(json_object_get(lines[6], "method")), "PATCH");
	ck_assert_str_eq(json_string_value(json_object_get(lines[6], "route")), "/v1/apps/{}");
	ck_assert_int_eq(json_integer_value(json_object_get(lines[6], "status")), 204);
	ck_assert(json_real_value(json_object_get(lines[6], "duration_ms")) == 1.5);
	ck_assert_str_eq(json_string_value(json_object_get(lines[6], "client")), "127.0.0.1");
	ck_assert_str_eq(json_string_value(json_object_get(lines[6], "client_id")), "cid-1");
	ck_assert_str_eq(json_string_value(json_object_get(lines[6], "req")), "00c0ffee00c0ffee");
	/* the next copy after the window says how many were held back */
	ck_assert_str_eq(json_string_value(json_object_get(lines[7], "msg")),
			 "db: cannot connect: refused");
	ck_assert_int_eq(json_integer_value(json_object_get(lines[7], "suppressed")), 15);
	while (n > 0)
		json_decref(lines[--n]);
	free(out);
}
END_TEST

START_TEST(log_lines)
{
	char *out = capture_stderr(log_some), *nl, *line;
	json_t *j;
	json_error_t err;
	enum clr_log_level lv;
	int count = 0;

	for (line = out; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		j = json_loadb(line, (size_t)(nl - line), JSON_REJECT_DUPLICATES, &err);
		ck_assert_msg(j != NULL, "not JSON: %s", err.text);
		ck_assert_str_eq(json_string_value(json_object_get(j, "service")), "unittest");
		ck_assert_int_eq(strlen(json_string_value(json_object_get(j, "ts"))), 24);
		if (count == 0) {
			ck_assert_str_eq(json_string_value(json_object_get(j, "level")), "warn");
			ck_assert_str_eq(json_string_value(json_object_get(j, "req")), "req-1");
			ck_assert_str_eq(json_string_value(json_object_get(j, "msg")),
					 "quote \" newline \n bad utf8 ? end");
		} else {
			ck_assert_ptr_null(json_object_get(j, "req"));
			ck_assert_uint_eq(strlen(json_string_value(json_object_get(j, "msg"))),
					  2047);
		}
		json_decref(j);
		count++;
	}
	ck_assert_int_eq(count, 2);
	ck_assert_ptr_null(strstr(out, "hidden"));
	free(out);

	ck_assert_int_eq(clr_log_level_parse("warn", &lv), CLR_OK);
	ck_assert_int_eq(lv, CLR_LOG_WARN);
	ck_assert_int_eq(clr_log_level_parse("DEBUG", &lv), CLR_OK);
	ck_assert_int_eq(lv, CLR_LOG_DEBUG);
	ck_assert_int_eq(clr_log_level_parse("verbose", &lv), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_log_level_parse(NULL, &lv), CLR_ERR_PARAM);
}
END_TEST

static Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc;
	int nvec = (int)(sizeof(rfc4648) / sizeof(rfc4648[0]));

#define ADD_TC(name, ...)                                                                          \
	do {                                                                                       \
		tc = tcase_create(name);                                                           \
		__VA_ARGS__;                                                                       \
		suite_add_tcase(s, tc);                                                            \
	} while (0)

	ADD_TC("clr_uuid_new", tcase_add_test(tc, uuid_new_format);
	       tcase_add_test(tc, uuid_new_unique));
	ADD_TC("clr_uuid_valid", tcase_add_test(tc, uuid_valid_cases));
	ADD_TC("clr_random_token", tcase_add_test(tc, random_token_prefix_len));
	ADD_TC("clr_sha256_hex", tcase_add_test(tc, sha256_vectors));
	ADD_TC("clr_b64_encode", tcase_add_loop_test(tc, b64_encode_rfc4648, 0, nvec));
	ADD_TC("clr_b64_decode", tcase_add_loop_test(tc, b64_decode_rfc4648, 0, nvec);
	       tcase_add_test(tc, b64_decode_rejects));
	ADD_TC("clr_b64url_encode", tcase_add_loop_test(tc, b64url_encode_rfc4648, 0, nvec);
	       tcase_add_test(tc, b64url_alphabet));
	ADD_TC("clr_b64url_decode", tcase_add_loop_test(tc, b64url_decode_rfc4648, 0, nvec);
	       tcase_add_test(tc, b64url_decode_rejects);
	       tcase_add_test(tc, b64url_roundtrip_all_lengths));
	ADD_TC("clr_secret_eq", tcase_add_test(tc, secret_eq_cases));
	ADD_TC("clr_now_ms", tcase_add_test(tc, now_ms_monotonic));
	ADD_TC("clr_rc_name", tcase_add_test(tc, rc_names));
	ADD_TC("clr_log", tcase_add_test(tc, log_lines);
	       tcase_add_test(tc, log_repeats_and_access_fields));
#undef ADD_TC
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(util_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
