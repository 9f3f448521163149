/*
 * test_password.c - password.h: scrypt hashing and verification (with the
 * RFC 7914 test vector, encoded the way we store hashes), bounds on stored
 * parameters, and the strength check.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/password.h"
#include "clearance/rc.h"

/* RFC 7914 s.12, vector 3 (N = 16384, r = 8, p = 1), first 32 bytes of the key. */
static const char rfc7914[] =
    "$scrypt$ln=14,r=8,p=1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046_2o-7qQT44-qbVD9lRdofI";

START_TEST(verify_rfc7914_vector)
{
	int ok = -1;

	ck_assert_int_eq(clr_password_verify("pleaseletmein", 13, rfc7914, &ok), CLR_OK);
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(clr_password_verify("pleaseletmeiN", 13, rfc7914, &ok), CLR_OK);
	ck_assert_int_eq(ok, 0);
	ck_assert_int_eq(clr_password_verify("pleaseletmein", 12, rfc7914, &ok), CLR_OK);
	ck_assert_int_eq(ok, 0);
}
END_TEST

START_TEST(hash_then_verify)
{
	const char *pw = "correct horse battery staple";
	char *h = NULL;
	int ok = -1;

	ck_assert_int_eq(clr_password_hash(pw, strlen(pw), &h), CLR_OK);
	ck_assert_ptr_nonnull(h);
	ck_assert_msg(strncmp(h, "$scrypt$ln=15,r=8,p=1$", 22) == 0, "encoding: %s", h);
	ck_assert_ptr_null(strstr(h, pw));
	ck_assert_int_eq(clr_password_verify(pw, strlen(pw), h, &ok), CLR_OK);
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(clr_password_verify("correct horse battery stapl", 27, h, &ok), CLR_OK);
	ck_assert_int_eq(ok, 0);
	free(h);
}
END_TEST

START_TEST(hash_is_salted)
{
	char *a = NULL, *b = NULL;

	ck_assert_int_eq(clr_password_hash("same password!", 14, &a), CLR_OK);
	ck_assert_int_eq(clr_password_hash("same password!", 14, &b), CLR_OK);
	ck_assert_str_ne(a, b);
	free(a);
	free(b);
}
END_TEST

START_TEST(verify_refuses_malformed)
{
	static const char *const bad[] = {
	    "",
	    "plain",
	    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
	    "$scrypt$ln=14,r=8,p=1$U29kaXVtQ2hsb3JpZGU", /* no key */
	    "$scrypt$ln=14,r=8$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046_2o-7qQT44-qbVD9lRdofI",
	    "$scrypt$ln=30,r=8,p=1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046_2o-7qQT44-qbVD9lRdofI",
	    "$scrypt$ln=14,r=900,p=1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046_2o-7qQT44-"
	    "qbVD9lRdofI",
	    "$scrypt$ln=14,r=8,p=99$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046_2o-7qQT44-"
	    "qbVD9lRdofI",
	    "$scrypt$ln=1234,r=8,p=1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046_2o-7qQT44-"
	    "qbVD9lRdofI",
	    "$scrypt$ln=14,r=8,p=1$U29k!XVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046_2o-7qQT44-qbVD9lRdofI",
	    "$scrypt$ln=14,r=8,p=1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046", /* short key */
	    "$scrypt$ln=14,r=8,p=1$U29k$cCO9yzr9c0hGHAbNgf046_2o-7qQT44-qbVD9lRdofI", /* short salt
										       */
	};
	size_t i;
	int ok;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok = -1;
		ck_assert_msg(clr_password_verify("pleaseletmein", 13, bad[i], &ok) ==
				  CLR_ERR_PARAM,
			      "accepted: %s", bad[i]);
		ck_assert_int_eq(ok, 0);
	}
}
END_TEST

/*
 * Regression: the bounds on stored parameters allowed ln=20,r=8,p=16
 * (1 GiB and 16 passes per login attempt, on every worker at once) and the
 * like.  Well-formed encodings (valid salt, 32-byte key) whose only fault
 * is their cost must be refused before any work is done.
 */
START_TEST(verify_refuses_costly_parameters)
{
	static const char *const costly[] = {
	    "$scrypt$ln=20,r=8,p=1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046_2o-7qQT44-qbVD9lRdofI",
	    "$scrypt$ln=18,r=8,p=1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046_2o-7qQT44-qbVD9lRdofI",
	    "$scrypt$ln=17,r=16,p=1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046_2o-7qQT44-"
	    "qbVD9lRdofI",
	    "$scrypt$ln=14,r=32,p=1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046_2o-7qQT44-"
	    "qbVD9lRdofI",
	    "$scrypt$ln=14,r=8,p=16$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046_2o-7qQT44-"
	    "qbVD9lRdofI",
	    "$scrypt$ln=14,r=8,p=5$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046_2o-7qQT44-qbVD9lRdofI",
	};
	size_t i;
	int ok;

	for (i = 0; i < sizeof(costly) / sizeof(costly[0]); i++) {
		ok = -1;
		ck_assert_msg(clr_password_verify("pleaseletmein", 13, costly[i], &ok) ==
				  CLR_ERR_PARAM,
			      "accepted: %s", costly[i]);
		ck_assert_int_eq(ok, 0);
	}
	/* r at its bound is still accepted (32 MiB, as ours; wrong key: no match). */
	ok = -1;
	ck_assert_int_eq(clr_password_verify("pleaseletmein", 13,
					     "$scrypt$ln=14,r=16,p=1$U29kaXVtQ2hsb3JpZGU$"
					     "cCO9yzr9c0hGHAbNgf046_2o-7qQT44-qbVD9lRdofI",
					     &ok),
			 CLR_OK);
	ck_assert_int_eq(ok, 0);
}
END_TEST

START_TEST(verify_unknown_account)
{
	int ok = -1;

	/* The dummy run costs the same and never matches. */
	ck_assert_int_eq(clr_password_verify("anything at all", 15, NULL, &ok), CLR_OK);
	ck_assert_int_eq(ok, 0);
}
END_TEST

START_TEST(strength_check)
{
	struct clr_err e;
	char longpw[CLR_PASSWORD_MAX + 2];
	size_t i;

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(clr_password_check("correct horse battery", 21, "a@b.test", &e), CLR_OK);

	ck_assert_int_eq(clr_password_check("", 0, NULL, &e), CLR_ERR_PARAM);
	ck_assert_str_eq(e.field, "password");
	ck_assert_ptr_nonnull(strstr(e.msg, "required"));
	ck_assert_int_eq(clr_password_check(NULL, 0, NULL, &e), CLR_ERR_PARAM);

	ck_assert_int_eq(clr_password_check("Sh0rt!pw", 8, NULL, &e), CLR_ERR_PARAM);
	ck_assert_str_eq(e.error, "weak_password");
	ck_assert_ptr_nonnull(strstr(e.msg, "12"));

	ck_assert_int_eq(clr_password_check("aaaaaaaaaaaaaaaa", 16, NULL, &e), CLR_ERR_PARAM);
	ck_assert_str_eq(e.error, "weak_password");
	ck_assert_int_eq(clr_password_check("abababababababab", 16, NULL, &e), CLR_ERR_PARAM);

	ck_assert_int_eq(clr_password_check("with\ttab inside", 15, NULL, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_password_check("nul\0inside here", 15, NULL, &e), CLR_ERR_PARAM);

	ck_assert_int_eq(clr_password_check("Dev.Person@Mail.test", 20, "dev.person@mail.test", &e),
			 CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "e-mail"));

	for (i = 0; i < sizeof(longpw) - 1; i++)
		longpw[i] = (char)('a' + i % 26);
	longpw[sizeof(longpw) - 1] = '\0';
	ck_assert_int_eq(clr_password_check(longpw, CLR_PASSWORD_MAX, NULL, &e), CLR_OK);
	ck_assert_int_eq(clr_password_check(longpw, CLR_PASSWORD_MAX + 1, NULL, &e), CLR_ERR_PARAM);
	/* No message ever quotes the password. */
	ck_assert_ptr_null(strstr(e.msg, "abcdef"));
}
END_TEST

static Suite *password_suite(void)
{
	Suite *s = suite_create("password");
	TCase *tc;

	tc = tcase_create("clr_password_verify");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, verify_rfc7914_vector);
	tcase_add_test(tc, verify_refuses_malformed);
	tcase_add_test(tc, verify_refuses_costly_parameters);
	tcase_add_test(tc, verify_unknown_account);
	suite_add_tcase(s, tc);
	tc = tcase_create("clr_password_hash");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, hash_then_verify);
	tcase_add_test(tc, hash_is_salted);
	suite_add_tcase(s, tc);
	tc = tcase_create("clr_password_check");
	tcase_add_test(tc, strength_check);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(password_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
