/*
 * test_web_session.c - web_session.h: finding the session cookie in a
 * Cookie header (the rest, CSRF and origins, runs in the integration tests
 * portal-api.test.mjs and portal.test.mjs against nginx).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/web_session.h"

START_TEST(cookie_found_among_others)
{
	char buf[64];

	ck_assert(clr_web_cookie_get("a=1; clr_session=clr_ses_abc; b=2", "clr_session", buf,
				     sizeof(buf)));
	ck_assert_str_eq(buf, "clr_ses_abc");
	ck_assert(clr_web_cookie_get("clr_session=x", "clr_session", buf, sizeof(buf)));
	ck_assert_str_eq(buf, "x");
	ck_assert(clr_web_cookie_get("a=1;clr_session=y  ", "clr_session", buf, sizeof(buf)));
	ck_assert_str_eq(buf, "y");
}
END_TEST

START_TEST(cookie_not_confused_by_prefixes)
{
	char buf[64];

	/* A cookie whose name only starts or ends like ours is another cookie. */
	ck_assert(!clr_web_cookie_get("xclr_session=evil; clr_session_old=evil", "clr_session", buf,
				      sizeof(buf)));
	ck_assert(clr_web_cookie_get("xclr_session=evil; clr_session=good", "clr_session", buf,
				     sizeof(buf)));
	ck_assert_str_eq(buf, "good");
}
END_TEST

START_TEST(cookie_bounds)
{
	char small[4], buf[64];

	ck_assert(!clr_web_cookie_get(NULL, "clr_session", buf, sizeof(buf)));
	ck_assert(!clr_web_cookie_get("", "clr_session", buf, sizeof(buf)));
	ck_assert(!clr_web_cookie_get("clr_session=", "clr_session", buf, sizeof(buf)));
	ck_assert(!clr_web_cookie_get("clr_session=;a=1", "clr_session", buf, sizeof(buf)));
	/* Too long for the buffer: refused, never cut. */
	ck_assert(!clr_web_cookie_get("clr_session=abcd", "clr_session", small, sizeof(small)));
	ck_assert(clr_web_cookie_get("clr_session=abc", "clr_session", small, sizeof(small)));
	ck_assert_str_eq(small, "abc");
	ck_assert(!clr_web_cookie_get("clr_session=abc", "clr_session", buf, 0));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("web_session");
	TCase *tc = tcase_create("cookie");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, cookie_found_among_others);
	tcase_add_test(tc, cookie_not_confused_by_prefixes);
	tcase_add_test(tc, cookie_bounds);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
