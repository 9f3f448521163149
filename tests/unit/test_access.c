/*
 * test_access.c - the access service's helpers that need no database.
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

static Suite *access_suite(void)
{
	Suite *s = suite_create("access");
	TCase *tc = tcase_create("acc_kind_can_rotate");

	tcase_add_loop_test(tc, can_rotate_matches_drivers, 0, CLR_IDP__MAX);
	tcase_add_test(tc, can_rotate_unknown_kind);
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
