/*
 * test_introspect_gate.c - the introspect service's caller gate:
 * introspection-client credentials (isclients.c), and the rate limit of
 * the security log lines (seclog.c).  The client side (registration,
 * grants, revocation) is ix_decide's, in test_introspect_decide.c.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "clearance/auth.h"
#include "clearance/util.h"
#include "../../services/introspect/introspect.h"
#include "../../services/introspect/isclients.h"
#include "../../services/introspect/seclog.h"

#define ID1 "0b0c7c8e-2d5e-4d43-9a44-6f7f2b1e0a01"
#define ID2 "0b0c7c8e-2d5e-4d43-9a44-6f7f2b1e0a02"

/* The digest a new row gets (peppered when a pepper is installed). */
static void sha(const char *s, unsigned char out[32])
{
	ck_assert_int_ge(clr_token_digest(s, strlen(s), out), 0);
}

static void plain_sha(const char *s, unsigned char out[32])
{
	unsigned int n = 0;
	ck_assert_int_eq(EVP_Digest(s, strlen(s), out, &n, EVP_sha256(), NULL), 1);
}

/*
 * Under a pepper, a row written before it (hash_alg 'sha256', legacy) is
 * still checked as plain SHA-256, a peppered row only as HMAC: the plain
 * hash of the secret does not pass for the peppered one.
 */
START_TEST(isc_pepper_and_legacy)
{
	static const char pep[] = "isc-test-pepper-0123456789";
	struct ix_isc *s;
	struct ix_isc_entry v[2];

	ck_assert_int_eq(clr_token_pepper_set(pep, strlen(pep)), CLR_OK);
	memset(v, 0, sizeof(v));
	memcpy(v[0].id, ID1, 37);
	plain_sha("secret-old", v[0].hash);
	v[0].legacy = 1;
	memcpy(v[1].id, ID2, 37);
	plain_sha("secret-new", v[1].hash); /* wrong kind for a peppered row */
	ck_assert_int_eq(ix_isc_new(&s), CLR_OK);
	ck_assert_int_eq(ix_isc_replace(s, v, 2), CLR_OK);
	ck_assert_int_eq(ix_isc_check(s, ID1, 36, "secret-old", 10), 1);
	ck_assert_int_eq(ix_isc_check(s, ID2, 36, "secret-new", 10), 0);
	ck_assert_int_eq(clr_token_digest("secret-new", 10, v[1].hash), 1);
	ck_assert_int_eq(ix_isc_replace(s, v, 2), CLR_OK);
	ck_assert_int_eq(ix_isc_check(s, ID2, 36, "secret-new", 10), 1);
	/* an unusable pepper fails closed, the legacy row included */
	ck_assert_int_eq(clr_token_pepper_set("short", 5), CLR_ERR_PARAM);
	ck_assert_int_eq(ix_isc_check(s, ID1, 36, "secret-old", 10), 0);
	ck_assert_int_eq(ix_isc_check(s, ID2, 36, "secret-new", 10), 0);
	ck_assert_int_eq(clr_token_pepper_set(NULL, 0), CLR_OK);
	ix_isc_free(s);
}
END_TEST

static struct ix_isc *two_clients(void)
{
	struct ix_isc *s;
	struct ix_isc_entry v[2];

	memset(v, 0, sizeof(v));
	memcpy(v[0].id, ID2, 37);
	sha("secret-two", v[0].hash);
	memcpy(v[1].id, ID1, 37);
	sha("secret-one", v[1].hash);
	ck_assert_int_eq(ix_isc_new(&s), CLR_OK);
	ck_assert_int_eq(ix_isc_replace(s, v, 2), CLR_OK);
	return s;
}

START_TEST(isc_check)
{
	struct ix_isc *s = two_clients();

	ck_assert_uint_eq(ix_isc_count(s), 2);
	ck_assert_int_eq(ix_isc_check(s, ID1, 36, "secret-one", 10), 1);
	ck_assert_int_eq(ix_isc_check(s, ID2, 36, "secret-two", 10), 1);
	/* each id only with its own secret */
	ck_assert_int_eq(ix_isc_check(s, ID1, 36, "secret-two", 10), 0);
	ck_assert_int_eq(ix_isc_check(s, ID1, 36, "secret-one", 9), 0);
	ck_assert_int_eq(ix_isc_check(s, ID1, 36, "", 0), 0);
	ck_assert_int_eq(ix_isc_check(s, ID1, 35, "secret-one", 10), 0);
	ck_assert_int_eq(
	    ix_isc_check(s, "0b0c7c8e-2d5e-4d43-9a44-6f7f2b1e0a03", 36, "secret-one", 10), 0);
	/* a revoke is a reload without the row */
	ck_assert_int_eq(ix_isc_replace(s, NULL, 0), CLR_OK);
	ck_assert_int_eq(ix_isc_check(s, ID1, 36, "secret-one", 10), 0);
	ix_isc_free(s);
}
END_TEST

static char *basic(const char *id, const char *secret)
{
	char raw[256], *b64 = NULL, *h;

	snprintf(raw, sizeof(raw), "%s:%s", id, secret);
	ck_assert_int_eq(clr_b64_encode(raw, strlen(raw), &b64), CLR_OK);
	h = malloc(strlen(b64) + 8);
	strcpy(h, "Basic ");
	strcat(h, b64);
	free(b64);
	return h;
}

START_TEST(isc_basic_header)
{
	struct ix_isc *s = two_clients();
	char id[IX_ISC_ID_LEN + 1];
	char *h = basic(ID1, "secret-one");

	ck_assert_int_eq(ix_isc_check_basic(s, h, id), 1);
	ck_assert_str_eq(id, ID1);
	h[0] = 'b'; /* scheme is case-insensitive */
	ck_assert_int_eq(ix_isc_check_basic(s, h, id), 1);
	free(h);
	h = basic(ID1, "secret-one:more"); /* the secret is everything after the first ':' */
	ck_assert_int_eq(ix_isc_check_basic(s, h, id), 0);
	ck_assert_str_eq(id, "");
	free(h);
	h = basic(ID1, "");
	ck_assert_int_eq(ix_isc_check_basic(s, h, id), 0);
	free(h);
	ck_assert_int_eq(ix_isc_check_basic(s, NULL, id), 0);
	ck_assert_int_eq(ix_isc_check_basic(s, "Basic", id), 0);
	ck_assert_int_eq(ix_isc_check_basic(s, "Basic ", id), 0);
	ck_assert_int_eq(ix_isc_check_basic(s, "Basic !!!!", id), 0);
	ck_assert_int_eq(ix_isc_check_basic(s, "Bearer secret-one", id), 0);
	ix_isc_free(s);
}
END_TEST

START_TEST(isc_secret_new)
{
	char *a = NULL, *b = NULL, ha[65], hb[65];
	unsigned char h[32];
	struct ix_isc *s;
	struct ix_isc_entry e;

	ck_assert_int_eq(ix_isc_secret_new(&a, ha), CLR_OK);
	ck_assert_int_eq(ix_isc_secret_new(&b, hb), CLR_OK);
	ck_assert_str_ne(a, b);
	ck_assert_str_ne(ha, hb);
	ck_assert_int_eq(strncmp(a, IX_ISC_SECRET_PREFIX, 8), 0);
	ck_assert_uint_eq(strlen(a), 8 + 43); /* 256 bits in base64url */
	ck_assert_uint_eq(strlen(ha), 64);
	/* the hex is the token digest of the secret, and the set accepts it */
	sha(a, h);
	memset(&e, 0, sizeof(e));
	memcpy(e.id, ID1, 37);
	for (int i = 0; i < 32; i++) {
		unsigned v;
		ck_assert_int_eq(sscanf(ha + 2 * i, "%2x", &v), 1);
		ck_assert_uint_eq(v, h[i]);
		e.hash[i] = (unsigned char)v;
	}
	ck_assert_int_eq(ix_isc_new(&s), CLR_OK);
	ck_assert_int_eq(ix_isc_replace(s, &e, 1), CLR_OK);
	ck_assert_int_eq(ix_isc_check(s, ID1, 36, a, strlen(a)), 1);
	ck_assert_int_eq(ix_isc_check(s, ID1, 36, b, strlen(b)), 0);
	ix_isc_free(s);
	free(a);
	free(b);
}
END_TEST

/* ---- seclog ---- */

START_TEST(seclog_burst_then_summary)
{
	unsigned long w0, s0, w1, s1, w2, s2;

	ix_seclog_stats(IX_SECLOG_UNREGISTERED, &w0, &s0);
	for (int i = 0; i < 1000; i++)
		ix_seclog(IX_SECLOG_UNREGISTERED, NULL, "test line %d", i);
	ix_seclog_stats(IX_SECLOG_UNREGISTERED, &w1, &s1);
	/* at most one burst in a second (two if the loop straddled a window) */
	ck_assert_uint_ge(w1 - w0, 1);
	ck_assert_uint_le(w1 - w0, 2 * IX_SECLOG_BURST);
	ck_assert_uint_eq((w1 - w0) + (s1 - s0), 1000);
	/* other reasons have their own budget */
	ix_seclog_stats(IX_SECLOG_INTROSPECT_AUTH, &w0, &s0);
	ix_seclog(IX_SECLOG_INTROSPECT_AUTH, NULL, "other reason");
	ix_seclog_stats(IX_SECLOG_INTROSPECT_AUTH, &w2, &s2);
	ck_assert_uint_eq(w2 - w0, 1);
	/* a flush after the window summarises; the next burst is allowed */
	ix_seclog_flush(clr_now_ms() + 1100);
	ix_seclog_stats(IX_SECLOG_UNREGISTERED, &w0, &s0);
	ix_seclog(IX_SECLOG_UNREGISTERED, NULL, "after the window");
	ix_seclog_stats(IX_SECLOG_UNREGISTERED, &w2, &s2);
	ck_assert_uint_eq(w2 - w0, 1);
	ck_assert_uint_eq(s2, s0);
	/* out-of-range reasons are ignored, not a crash */
	ix_seclog((enum ix_seclog_reason)IX_SECLOG__MAX, NULL, "x");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("introspect_gate");
	TCase *tc;

	tc = tcase_create("isclients");
	tcase_add_test(tc, isc_check);
	tcase_add_test(tc, isc_basic_header);
	tcase_add_test(tc, isc_secret_new);
	tcase_add_test(tc, isc_pepper_and_legacy);
	suite_add_tcase(s, tc);
	tc = tcase_create("seclog");
	tcase_add_test(tc, seclog_burst_then_summary);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
