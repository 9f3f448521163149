/*
 * test_access.c - the access service's helpers, and the capability data it
 * reads from the registrar.  One TCase per function.
 *
 * Regression: the rotate route kept its own list of provider kinds whose
 * driver can rotate a secret (the access binary does not link the
 * registrar's driver table).  A driver gaining or losing rotation would
 * silently make the route refuse a rotation the registrar supports, or
 * queue a job bound to fail.  Now the registrar writes its drivers'
 * capabilities to provider_kinds and access reads them there; the test
 * holds the published rows equal to the drivers (PostgreSQL,
 * CLEARANCE_TEST_DATABASE_URL; skipped when unset).
 */
#include <check.h>
#include <stdlib.h>

#include "clearance/oauth.h"
#include "pgtest.h"
#include "../../services/registrar/driver.h"
#include "../../services/registrar/kinds.h"

START_TEST(published_kinds_match_drivers)
{
	struct clr_config cfg;
	char want[8];
	int k;

	if (pgt_url == NULL)
		return;
	memset(&cfg, 0, sizeof(cfg));
	cfg.database_url = (char *)pgt_url;
	/* The table of sql/010 (the test schema has only 001). */
	ck_assert(pgt_exec("CREATE TABLE IF NOT EXISTS provider_kinds (kind text PRIMARY KEY,"
			   " can_rotate boolean NOT NULL, updated_at timestamptz NOT NULL"
			   " DEFAULT now())"));
	/* A stale row is corrected, not kept. */
	ck_assert(pgt_exec("INSERT INTO provider_kinds VALUES ('okta', false)"
			   " ON CONFLICT (kind) DO UPDATE SET can_rotate = false"));
	ck_assert_int_eq(reg_kinds_publish(&cfg), CLR_OK);
	ck_assert_int_eq(reg_kinds_publish(&cfg), CLR_OK); /* idempotent */
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM provider_kinds", NULL, NULL), DRV_IDP__MAX);
	for (k = 0; k < DRV_IDP__MAX; k++) {
		const char *name = drv_idp_kind_name((enum drv_idp_kind)k);

		snprintf(want, sizeof(want), "%s",
			 drv_get((enum drv_idp_kind)k)->can_rotate ? "t" : "f");
		ck_assert_int_eq(pgt_long("SELECT count(*) FROM provider_kinds WHERE kind = $1"
					  " AND can_rotate::text = CASE $2 WHEN 't' THEN 'true'"
					  " ELSE 'false' END",
					  name, want),
				 1);
	}
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

	ck_assert_msg(clr_redirect_uri_check(uri_bad[_i], "redirect_uris", &e) == CLR_ERR_PARAM,
		      "accepted: \"%s\"", uri_bad[_i]);
	ck_assert_str_eq(e.field, "redirect_uris");
}
END_TEST

START_TEST(redirect_uri_accepted)
{
	struct clr_err e = {0};

	ck_assert_msg(clr_redirect_uri_check(uri_good[_i], "redirect_uris", &e) == CLR_OK,
		      "refused: \"%s\": %s", uri_good[_i], e.msg);
}
END_TEST

static Suite *access_suite(void)
{
	Suite *s = suite_create("access");
	TCase *tc = tcase_create("reg_kinds_publish");

	tcase_add_test(tc, published_kinds_match_drivers);
	suite_add_tcase(s, tc);
	tc = tcase_create("clr_redirect_uri_check");
	tcase_add_loop_test(tc, redirect_uri_refused, 0, sizeof(uri_bad) / sizeof(uri_bad[0]));
	tcase_add_loop_test(tc, redirect_uri_accepted, 0, sizeof(uri_good) / sizeof(uri_good[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	pgt_setup("access"); /* without PostgreSQL the kinds test says so and passes */
	sr = srunner_create(access_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (pgt_url != NULL)
		pgt_teardown();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
