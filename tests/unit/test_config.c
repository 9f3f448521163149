/*
 * test_config.c - config.h: defaults, every value type, the _FILE variant,
 * LISTEN and SEAL_KEYS validation, and that every error is reported (once
 * each, without secret values) before loading fails.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clearance/config.h"
#include "clearance/log.h"
#include "clearance/oauth.h"
#include "clearance/util.h"

extern char **environ;

/* ---- fixture: a clean CLEARANCE_* environment per test ---- */

static void clear_env(void)
{
	char name[256];
	const char *eq;
	size_t i;

	/* unsetenv rewrites environ, so restart the scan after each removal. */
	for (i = 0; environ[i] != NULL;) {
		if (strncmp(environ[i], "CLEARANCE_", 10) != 0) {
			i++;
			continue;
		}
		eq = strchr(environ[i], '=');
		snprintf(name, sizeof(name), "%.*s",
			 (int)(eq != NULL ? (size_t)(eq - environ[i]) : strlen(environ[i])),
			 environ[i]);
		ck_assert_int_eq(unsetenv(name), 0);
		i = 0;
	}
}

static char tmpfiles[8][64];
static int ntmp;

static void setup(void)
{
	clear_env();
	ntmp = 0;
	clr_log_init("test_config", CLR_LOG_INFO);
}

static void teardown(void)
{
	int i;

	for (i = 0; i < ntmp; i++)
		unlink(tmpfiles[i]);
	clear_env();
	clr_log_set_level(CLR_LOG_INFO);
}

/* Writes len bytes to a new temp file and returns its (static) path. */
static const char *temp_file(const void *data, size_t len)
{
	char *path;
	int fd;

	ck_assert_int_lt(ntmp, 8);
	path = tmpfiles[ntmp++];
	snprintf(path, 64, "/tmp/clr_test_config_XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

/* ---- loading with fd 2 captured ---- */

static char logbuf[65536];

/* Runs clr_config_load with stderr captured into logbuf. */
static enum clr_rc load(unsigned required, struct clr_config **out)
{
	int p[2], saved;
	ssize_t n;
	size_t used = 0;
	enum clr_rc rc;

	ck_assert_int_eq(pipe(p), 0);
	saved = dup(2);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(p[1], 2), 0);
	close(p[1]);
	/* Each load reports all its errors: without fork (valgrind) an earlier
	 * test's identical line would otherwise be held back as a repeat. */
	clr_log_repeat_reset(0);
	rc = clr_config_load(required, out);
	dup2(saved, 2);
	close(saved);
	while ((n = read(p[0], logbuf + used, sizeof(logbuf) - 1 - used)) > 0)
		used += (size_t)n;
	close(p[0]);
	logbuf[used] = '\0';
	return rc;
}

static int count(const char *needle)
{
	const char *p = logbuf;
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

static int error_lines(void)
{
	return count("\"level\":\"error\"");
}

/* Asserts the load fails and that name is mentioned in exactly one line. */
static void expect_fail(unsigned required, const char *name)
{
	struct clr_config *c = (struct clr_config *)1;
	char quoted[128];

	ck_assert_int_eq(load(required, &c), CLR_ERR_PARAM);
	ck_assert_ptr_null(c);
	snprintf(quoted, sizeof(quoted), "config: %s", name);
	ck_assert_msg(count(quoted) == 1, "want one \"%s\" line in: %s", quoted, logbuf);
}

static char *make_seal_keys(const char *kid)
{
	unsigned char raw[32];
	char *b = NULL, *spec;
	int i;

	for (i = 0; i < 32; i++)
		raw[i] = (unsigned char)(i * 7);
	ck_assert_int_eq(clr_b64_encode(raw, sizeof(raw), &b), CLR_OK);
	spec = malloc(strlen(kid) + strlen(b) + 2);
	sprintf(spec, "%s:%s", kid, b);
	free(b);
	return spec;
}

/* ---- defaults and types ---- */

START_TEST(load_defaults)
{
	struct clr_config *c = NULL;

	ck_assert_int_eq(load(0, &c), CLR_OK);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(error_lines(), 0);
	ck_assert_ptr_null(c->listen);
	ck_assert_ptr_null(c->database_url);
	ck_assert_ptr_null(c->seal_keys);
	ck_assert_ptr_null(c->smtp_url);
	ck_assert_int_eq(c->threads, 8);
	ck_assert_int_eq(c->log_level, CLR_LOG_INFO);
	ck_assert_int_eq(c->max_body, 65536);
	ck_assert_int_eq(c->http_connect_timeout_ms, 3000);
	ck_assert_int_eq(c->http_timeout_ms, 10000);
	ck_assert_int_eq(c->http_max_response, 1048576);
	ck_assert_int_eq(c->worker, 1);
	ck_assert_int_eq(c->job_max_attempts, 5);
	ck_assert_int_eq(c->job_backoff_ms, 2000);
	ck_assert_int_eq(c->job_poll_ms, 5000);
	ck_assert_int_eq(c->jwks_min_ttl_s, 60);
	ck_assert_int_eq(c->jwks_max_ttl_s, 86400);
	ck_assert_int_eq(c->jwks_cooldown_s, 30);
	ck_assert_int_eq(c->jwks_stale_s, 86400);
	ck_assert_int_eq(c->leeway_s, 30);
	ck_assert_int_eq(c->revocation_refresh_s, 60);
	clr_config_free(c);
	clr_config_free(NULL);
}
END_TEST

START_TEST(load_values)
{
	struct clr_config *c = NULL;
	char *keys = make_seal_keys("k1");

	setenv("CLEARANCE_LISTEN", "[::1]:9000", 1);
	setenv("CLEARANCE_THREADS", "256", 1);
	setenv("CLEARANCE_DATABASE_URL", "postgresql:///clearance", 1);
	setenv("CLEARANCE_SEAL_KEYS", keys, 1);
	setenv("CLEARANCE_MAX_BODY", "1024", 1);
	setenv("CLEARANCE_HTTP_TIMEOUT_MS", "2500", 1);
	setenv("CLEARANCE_WORKER", "off", 1);
	setenv("CLEARANCE_JWKS_MIN_TTL", "0", 1);
	setenv("CLEARANCE_MAIL_FROM", "noreply@example.org", 1);
	setenv("CLEARANCE_SMTP_URL", "", 1); /* empty string = unset */
	ck_assert_int_eq(load(CLR_CFG_NEED_DB | CLR_CFG_NEED_SEAL, &c), CLR_OK);
	ck_assert_int_eq(error_lines(), 0);
	ck_assert_str_eq(c->listen, "[::1]:9000");
	ck_assert_int_eq(c->threads, 256);
	ck_assert_str_eq(c->database_url, "postgresql:///clearance");
	ck_assert_str_eq(c->seal_keys, keys);
	ck_assert_int_eq(c->max_body, 1024);
	ck_assert_int_eq(c->http_timeout_ms, 2500);
	ck_assert_int_eq(c->worker, 0);
	ck_assert_int_eq(c->jwks_min_ttl_s, 0);
	ck_assert_str_eq(c->mail_from, "noreply@example.org");
	ck_assert_ptr_null(c->smtp_url);
	clr_config_free(c);
	free(keys);
}
END_TEST

START_TEST(load_bool_forms)
{
	static const char *t[] = {"1", "true", "YES", "On"}, *f[] = {"0", "False", "no", "OFF"};
	struct clr_config *c = NULL;
	int i;

	for (i = 0; i < 4; i++) {
		setenv("CLEARANCE_WORKER", t[i], 1);
		ck_assert_int_eq(load(0, &c), CLR_OK);
		ck_assert_int_eq(c->worker, 1);
		clr_config_free(c);
		setenv("CLEARANCE_WORKER", f[i], 1);
		ck_assert_int_eq(load(0, &c), CLR_OK);
		ck_assert_int_eq(c->worker, 0);
		clr_config_free(c);
	}
	setenv("CLEARANCE_WORKER", "2", 1);
	expect_fail(0, "CLEARANCE_WORKER");
	setenv("CLEARANCE_WORKER", "", 1);
	expect_fail(0, "CLEARANCE_WORKER");
}
END_TEST

START_TEST(load_log_level)
{
	struct clr_config *c = NULL;

	setenv("CLEARANCE_LOG_LEVEL", "error", 1);
	ck_assert_int_eq(load(0, &c), CLR_OK);
	ck_assert_int_eq(c->log_level, CLR_LOG_ERROR);
	clr_config_free(c);
	/* The loaded level is in force: a warning is now dropped. */
	setenv("CLEARANCE_NOT_A_SETTING", "x", 1);
	ck_assert_int_eq(load(0, &c), CLR_OK);
	ck_assert_int_eq(count("NOT_A_SETTING"), 0);
	clr_config_free(c);
	clr_log_set_level(CLR_LOG_INFO);
	unsetenv("CLEARANCE_LOG_LEVEL");
	ck_assert_int_eq(load(0, &c), CLR_OK);
	ck_assert_int_eq(count("\"level\":\"warn\""), 1);
	ck_assert_int_eq(count("CLEARANCE_NOT_A_SETTING is not a known setting"), 1);
	clr_config_free(c);

	setenv("CLEARANCE_LOG_LEVEL", "loud", 1);
	expect_fail(0, "CLEARANCE_LOG_LEVEL");
}
END_TEST

/* ---- numbers: strict parse and range ---- */

static const struct {
	const char *name, *value;
} bad_numbers[] = {
    {"CLEARANCE_THREADS", "0"},
    {"CLEARANCE_THREADS", "257"},
    {"CLEARANCE_THREADS", "-1"},
    {"CLEARANCE_THREADS", "8x"},
    {"CLEARANCE_THREADS", " 8"},
    {"CLEARANCE_THREADS", "+8"},
    {"CLEARANCE_THREADS", ""},
    {"CLEARANCE_THREADS", "0x10"},
    {"CLEARANCE_MAX_BODY", "99999999999999999999999"},
    {"CLEARANCE_MAX_BODY", "1023"},
    {"CLEARANCE_HTTP_TIMEOUT_MS", "0"},
    {"CLEARANCE_JOB_MAX_ATTEMPTS", "1e3"},
    {"CLEARANCE_LEEWAY", "3601"},
    {"CLEARANCE_REVOCATION_REFRESH", "0"},
};

START_TEST(load_bad_number)
{
	setenv(bad_numbers[_i].name, bad_numbers[_i].value, 1);
	expect_fail(0, bad_numbers[_i].name);
	/* The bad value is quoted (not a secret), and the reason given. */
	ck_assert(count("must be between") + count("not a decimal integer") == 1);
	ck_assert_int_eq(error_lines(), 2); /* the error + the summary */
}
END_TEST

START_TEST(load_cross_field)
{
	setenv("CLEARANCE_JWKS_MIN_TTL", "600", 1);
	setenv("CLEARANCE_JWKS_MAX_TTL", "60", 1);
	expect_fail(0, "CLEARANCE_JWKS_MIN_TTL");
	/* A bad MAX alone must not also trip the MIN > MAX check. */
	setenv("CLEARANCE_JWKS_MIN_TTL", "60", 1);
	setenv("CLEARANCE_JWKS_MAX_TTL", "x", 1);
	expect_fail(0, "CLEARANCE_JWKS_MAX_TTL");
	ck_assert_int_eq(count("JWKS_MIN_TTL"), 0);
}
END_TEST

/* Issue 10: the redirect-host allowance is parsed at load and applied to the rule. */
START_TEST(load_redirect_allow)
{
	struct clr_config *c = NULL;
	struct clr_err e = {0};

	setenv("CLEARANCE_REDIRECT_ALLOW_PRIVATE", "10.0.0.0/33", 1);
	expect_fail(0, "CLEARANCE_REDIRECT_ALLOW_PRIVATE");
	setenv("CLEARANCE_REDIRECT_ALLOW_PRIVATE", "10.20.0.0/16,.corp.internal", 1);
	ck_assert_int_eq(load(0, &c), CLR_OK);
	ck_assert_str_eq(c->redirect_allow_private, "10.20.0.0/16,.corp.internal");
	ck_assert_int_eq(clr_redirect_uri_check("https://10.20.1.1/cb", "u", &e), CLR_OK);
	ck_assert_int_eq(clr_redirect_uri_check("https://10.21.1.1/cb", "u", &e), CLR_ERR_PARAM);
	clr_config_free(c);
	unsetenv("CLEARANCE_REDIRECT_ALLOW_PRIVATE");
	ck_assert_int_eq(load(0, &c), CLR_OK);
	ck_assert_int_eq(clr_redirect_uri_check("https://10.20.1.1/cb", "u", &e), CLR_ERR_PARAM);
	clr_config_free(c);
}
END_TEST

/* ---- every error reported ---- */

START_TEST(load_reports_all)
{
	char *keys = make_seal_keys("bad kid");
	struct clr_config *c = NULL;

	setenv("CLEARANCE_THREADS", "0", 1);
	setenv("CLEARANCE_LISTEN", "nowhere", 1);
	setenv("CLEARANCE_HTTP_TIMEOUT_MS", "soon", 1);
	setenv("CLEARANCE_SEAL_KEYS", keys, 1);
	ck_assert_int_eq(load(CLR_CFG_NEED_DB, &c), CLR_ERR_PARAM);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(count("config: CLEARANCE_THREADS:"), 1);
	ck_assert_int_eq(count("config: CLEARANCE_LISTEN:"), 1);
	ck_assert_int_eq(count("config: CLEARANCE_HTTP_TIMEOUT_MS:"), 1);
	ck_assert_int_eq(count("config: CLEARANCE_SEAL_KEYS:"), 1);
	ck_assert_int_eq(count("config: CLEARANCE_DATABASE_URL: required"), 1);
	ck_assert_int_eq(count("config: 5 errors"), 1);
	ck_assert_int_eq(error_lines(), 6);
	/* The key (after "bad kid:") never reaches the log. */
	ck_assert_ptr_null(strstr(logbuf, strchr(keys, ':') + 1));
	free(keys);
}
END_TEST

/* ---- secrets: required, validated, never logged ---- */

START_TEST(load_secrets)
{
	static const char pw_url[] = "postgresql://u:Pa55wordZZZ@db/clearance";
	char *keys = make_seal_keys("k1");
	struct clr_config *c = NULL;

	expect_fail(CLR_CFG_NEED_SEAL, "CLEARANCE_SEAL_KEYS: required");
	expect_fail(CLR_CFG_NEED_DB, "CLEARANCE_DATABASE_URL: required");

	/* A key one byte short: the error names the kid, not the key. */
	keys[strlen(keys) - 2] = '\0';
	strcat(keys, "==");
	keys[strlen(keys) - 4] = 'A';
	setenv("CLEARANCE_SEAL_KEYS", keys, 1);
	expect_fail(0, "CLEARANCE_SEAL_KEYS");
	ck_assert_ptr_nonnull(strstr(logbuf, "kid \\\"k1\\\""));
	ck_assert_ptr_null(strstr(logbuf, keys + 3));
	unsetenv("CLEARANCE_SEAL_KEYS");

	/* Both set: an error that does not echo either value. */
	setenv("CLEARANCE_DATABASE_URL", pw_url, 1);
	setenv("CLEARANCE_DATABASE_URL_FILE", temp_file(pw_url, strlen(pw_url)), 1);
	expect_fail(CLR_CFG_NEED_DB, "CLEARANCE_DATABASE_URL");
	ck_assert_ptr_nonnull(strstr(logbuf, "both"));
	ck_assert_ptr_null(strstr(logbuf, "Pa55word"));
	unsetenv("CLEARANCE_DATABASE_URL_FILE");
	ck_assert_int_eq(load(CLR_CFG_NEED_DB, &c), CLR_OK);
	ck_assert_str_eq(c->database_url, pw_url);
	ck_assert_ptr_null(strstr(logbuf, "Pa55word"));
	clr_config_free(c);
	free(keys);
}
END_TEST

/* ---- the _FILE variant ---- */

START_TEST(load_file_variant)
{
	struct clr_config *c = NULL;
	char *keys = make_seal_keys("k1"), *withnl;
	char *big;

	withnl = malloc(strlen(keys) + 3);
	sprintf(withnl, "%s\r\n", keys);
	setenv("CLEARANCE_SEAL_KEYS_FILE", temp_file(withnl, strlen(withnl)), 1);
	setenv("CLEARANCE_DATABASE_URL_FILE", temp_file("dbname=x\n", 9), 1);
	setenv("CLEARANCE_THREADS_FILE", temp_file("12", 2), 1);
	ck_assert_int_eq(load(CLR_CFG_NEED_DB | CLR_CFG_NEED_SEAL, &c), CLR_OK);
	ck_assert_str_eq(c->seal_keys, keys);
	ck_assert_str_eq(c->database_url, "dbname=x");
	ck_assert_int_eq(c->threads, 12);
	clr_config_free(c);

	/* Only one newline is dropped; a second one stays and is then invalid. */
	setenv("CLEARANCE_THREADS_FILE", temp_file("12\n\n", 4), 1);
	expect_fail(0, "CLEARANCE_THREADS");

	setenv("CLEARANCE_THREADS_FILE", "/nonexistent/clearance/threads", 1);
	expect_fail(0, "CLEARANCE_THREADS");
	ck_assert_ptr_nonnull(strstr(logbuf, "cannot be opened"));

	setenv("CLEARANCE_THREADS_FILE", "", 1);
	expect_fail(0, "CLEARANCE_THREADS");

	big = malloc(64 * 1024 + 1);
	memset(big, 'a', 64 * 1024 + 1);
	unsetenv("CLEARANCE_THREADS_FILE");
	setenv("CLEARANCE_MAIL_TEMPLATES_FILE", temp_file(big, 64 * 1024 + 1), 1);
	expect_fail(0, "CLEARANCE_MAIL_TEMPLATES");
	ck_assert_ptr_nonnull(strstr(logbuf, "larger than 64 KiB"));
	free(big);
	free(keys);
	free(withnl);
}
END_TEST

START_TEST(load_file_exact_cap)
{
	struct clr_config *c = NULL;
	char *big = malloc(64 * 1024);

	/* Exactly 64 KiB is allowed. */
	memset(big, 'b', 64 * 1024);
	setenv("CLEARANCE_MAIL_FROM_FILE", temp_file(big, 64 * 1024), 1);
	ck_assert_int_eq(load(0, &c), CLR_OK);
	ck_assert_uint_eq(strlen(c->mail_from), 64 * 1024);
	clr_config_free(c);
	free(big);
}
END_TEST

/* ---- LISTEN ---- */

static const char *good_listen[] = {
    "unix:/run/clearance/registrar.sock",
    "127.0.0.1:9000",
    "localhost:1",
    "0.0.0.0:65535",
    "[::1]:9000",
    "[::]:80",
};

static const char *bad_listen[] = {
    "unix:relative.sock",
    "unix:/",
    "unix:",
    "9000",
    ":9000",
    "host:0",
    "host:65536",
    "host:",
    "host:80x",
    "host:+80",
    "host: 80",
    "::1:9000",
    "[::1]9000",
    "[]:80",
    "[::1:80",
    "[zz]:80",
    "host:99999999999",
};

START_TEST(listen_good)
{
	struct clr_config *c = NULL;

	setenv("CLEARANCE_LISTEN", good_listen[_i], 1);
	ck_assert_msg(load(0, &c) == CLR_OK, "%s: %s", good_listen[_i], logbuf);
	ck_assert_str_eq(c->listen, good_listen[_i]);
	clr_config_free(c);
}
END_TEST

START_TEST(listen_bad)
{
	setenv("CLEARANCE_LISTEN", bad_listen[_i], 1);
	expect_fail(0, "CLEARANCE_LISTEN");
	ck_assert_int_eq(error_lines(), 2);
}
END_TEST

START_TEST(listen_unix_too_long)
{
	char path[200];

	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	memcpy(path, "unix:/", 6);
	setenv("CLEARANCE_LISTEN", path, 1);
	expect_fail(0, "CLEARANCE_LISTEN");
	ck_assert_ptr_nonnull(strstr(logbuf, "too long"));
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("clr_config_load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, load_defaults);
	tcase_add_test(tc, load_values);
	tcase_add_test(tc, load_bool_forms);
	tcase_add_test(tc, load_log_level);
	tcase_add_loop_test(tc, load_bad_number, 0,
			    (int)(sizeof(bad_numbers) / sizeof(bad_numbers[0])));
	tcase_add_test(tc, load_cross_field);
	tcase_add_test(tc, load_redirect_allow);
	tcase_add_test(tc, load_reports_all);
	tcase_add_test(tc, load_secrets);
	tcase_add_test(tc, load_file_variant);
	tcase_add_test(tc, load_file_exact_cap);
	tcase_add_loop_test(tc, listen_good, 0,
			    (int)(sizeof(good_listen) / sizeof(good_listen[0])));
	tcase_add_loop_test(tc, listen_bad, 0, (int)(sizeof(bad_listen) / sizeof(bad_listen[0])));
	tcase_add_test(tc, listen_unix_too_long);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
