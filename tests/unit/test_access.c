/*
 * test_access.c - the access service's helpers that need no database.
 * One TCase per function.
 *
 * Regression: the rotate route kept its own list of provider kinds whose
 * driver can rotate a secret (the access binary does not link the
 * registrar's driver table).  A driver gaining or losing rotation would
 * silently make the route refuse a rotation the registrar supports, or
 * queue a job bound to fail.  This holds the copy equal to the drivers.
 */
#include <check.h>
#include <stdlib.h>

#include "../../services/access/access.h"
#include "../../services/registrar/driver.h"

START_TEST(can_rotate_matches_drivers)
{
	const char *name = clr_idp_kind_name((enum clr_idp_kind)_i);
	const struct clr_driver *d = clr_driver_get((enum clr_idp_kind)_i);

	ck_assert_ptr_nonnull(name);
	ck_assert_ptr_nonnull(d);
	ck_assert_msg(acc_kind_can_rotate(name) == (d->can_rotate != 0),
		      "access says %d for %s, the driver says %d", acc_kind_can_rotate(name), name,
		      d->can_rotate);
}
END_TEST

START_TEST(can_rotate_unknown_kind)
{
	ck_assert_int_eq(acc_kind_can_rotate(NULL), 0);
	ck_assert_int_eq(acc_kind_can_rotate(""), 0);
	ck_assert_int_eq(acc_kind_can_rotate("OKTA"), 0);
	ck_assert_int_eq(acc_kind_can_rotate("okta "), 0);
}
END_TEST

/*
 * Regression: libcurl accepted and normalised "https:/h", "https:///h",
 * "HTTP://127.0.0.1" and "http://127.1" / "http://0x7f000001" (read as
 * loopback), while the text as written is what the app stores and the IdP
 * receives.  The written form must itself be https://host or
 * http://<loopback>.
 */
static const char *const uri_bad[] = {
    "https:/a.test/cb",
    "https:///a.test/cb",
    "HTTPS://a.test/cb",
    "HTTP://127.0.0.1/cb",
    "http://127.1/cb",
    "http://0x7f000001/cb",
    "http://2130706433/cb",
    "http://localhost.evil.test/",
    "http://127.0.0.1.evil.test/",
    "http://evil.test/cb",
    "https://a.test/cb#frag",
    "https://a.test/cb#",
    "https://user@a.test/cb",
    "https://u:p@a.test/cb",
    "https://a.test/ cb",
    "ftp://a.test/cb",
    "a.test/cb",
    "",
};
static const char *const uri_good[] = {
    "https://a.test/cb",   "https://a.test:8443/cb?x=1", "http://127.0.0.1:8080/cb",
    "http://localhost/cb", "http://[::1]:9/cb",		 "http://LOCALHOST:3000",
    "https://a.test",
};

START_TEST(redirect_uri_refused)
{
	struct clr_err e = {0};

	ck_assert_msg(acc_redirect_uri_check(uri_bad[_i], "redirect_uris", &e) == CLR_ERR_PARAM,
		      "accepted: \"%s\"", uri_bad[_i]);
	ck_assert_str_eq(e.field, "redirect_uris");
}
END_TEST

START_TEST(redirect_uri_accepted)
{
	struct clr_err e = {0};

	ck_assert_msg(acc_redirect_uri_check(uri_good[_i], "redirect_uris", &e) == CLR_OK,
		      "refused: \"%s\": %s", uri_good[_i], e.msg);
}
END_TEST

static Suite *access_suite(void)
{
	Suite *s = suite_create("access");
	TCase *tc = tcase_create("acc_kind_can_rotate");

	tcase_add_loop_test(tc, can_rotate_matches_drivers, 0, CLR_IDP__MAX);
	tcase_add_test(tc, can_rotate_unknown_kind);
	suite_add_tcase(s, tc);
	tc = tcase_create("acc_redirect_uri_check");
	tcase_add_loop_test(tc, redirect_uri_refused, 0, sizeof(uri_bad) / sizeof(uri_bad[0]));
	tcase_add_loop_test(tc, redirect_uri_accepted, 0, sizeof(uri_good) / sizeof(uri_good[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(access_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
