/*
 * test_registrar_wait.c - how long a registrar route waits for its IdP job
 * (services/registrar/waiting.c): RFC 7240 Prefer parsing against the
 * configured bound, and the waiting slots.  No database, no network.
 */
#include <check.h>
#include <stdlib.h>

#include "clearance/config.h"
#include "../../services/registrar/waiting.h"

struct prefer_case {
	const char *prefer;
	long want_ms;
	int want_async;
};

START_TEST(prefer_bounds_the_wait)
{
	static const struct prefer_case cases[] = {
	    {NULL, 5000, 0},
	    {"", 5000, 0},
	    {"respond-async", 0, 1},
	    {"Respond-Async", 0, 1},
	    {"wait=2", 2000, 0},
	    {"wait=60", 5000, 0}, /* lowers the bound, never raises it */
	    {"wait=0", 0, 0},
	    {"respond-async, wait=3", 3000, 1},
	    {"wait=\"1\"; x=y, handling=lenient", 1000, 0},
	    {"return=minimal", 5000, 0},
	    {"respond-asyncx", 5000, 0},
	    {"waiting=1", 5000, 0},
	    {"wait=abc", 5000, 0},
	    {"wait=99999999999999999999", 5000, 0},
	    {",,, wait = 4 ,", 4000, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int async = -1;
		long ms = reg_wait_prefer(cases[i].prefer, 5000, &async);

		ck_assert_msg(ms == cases[i].want_ms, "%s: %ld ms, want %ld",
			      cases[i].prefer ? cases[i].prefer : "(null)", ms, cases[i].want_ms);
		ck_assert_msg(async == cases[i].want_async, "%s: async %d",
			      cases[i].prefer ? cases[i].prefer : "(null)", async);
	}
	ck_assert_int_eq(reg_wait_prefer("wait=3", 0, NULL), 0);
}
END_TEST

START_TEST(slots_are_bounded_by_half_the_threads)
{
	struct clr_config cfg = {0};
	int i;

	cfg.threads = 8;
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(reg_slot_enter(&cfg), 1);
	ck_assert_int_eq(reg_slot_enter(&cfg), 0);
	reg_slot_leave();
	ck_assert_int_eq(reg_slot_enter(&cfg), 1);
	for (i = 0; i < 4; i++)
		reg_slot_leave();
	/* One thread still gets one slot. */
	cfg.threads = 1;
	ck_assert_int_eq(reg_slot_enter(&cfg), 1);
	ck_assert_int_eq(reg_slot_enter(&cfg), 0);
	reg_slot_leave();
}
END_TEST

static Suite *wait_suite(void)
{
	Suite *s = suite_create("registrar_wait");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, prefer_bounds_the_wait);
	tcase_add_test(tc, slots_are_bounded_by_half_the_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(wait_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
