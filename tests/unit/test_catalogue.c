/*
 * test_catalogue.c - services/introspect/catalogue.c: token scopes ->
 * product (all its scopes, path under one of its prefixes at a segment
 * boundary, longest prefix wins) -> plan (all its scopes, most specific);
 * raw paths that nginx would normalise differently never match.
 */
#include <check.h>
#include <string.h>

#include "../../services/introspect/catalogue.h"

static struct ix_cat *cat;

static void setup(void)
{
	static const char *const orders_pfx[] = {"/api/orders", "/api/shipments/"};
	static const char *const admin_pfx[] = {"/api/orders/admin"};
	static const char *const pay_pfx[] = {"/api/payments", "relative"};
	static const char *const orders_plans[] = {"pl-gold", "pl-free", "nope"};
	static const char *const admin_plans[] = {"pl-free"};
	static const char *const pay_plans[] = {"pl-free"};
	const struct ix_cat_plan_def plans[] = {
	    {"pl-free", "Free", "plan:free", 10, 60, 0, 0},
	    {"pl-gold", "Gold", "plan:gold plan:free", 0, 0, 0, 0},
	};
	const struct ix_cat_product_def products[] = {
	    {"pr-orders", "Orders", "orders:read", orders_pfx, 2, orders_plans, 3},
	    {"pr-admin", "Orders admin", "orders:read orders:admin", admin_pfx, 1, admin_plans, 1},
	    {"pr-pay", "Payments", "payments:read", pay_pfx, 2, pay_plans, 1},
	    {"pr-open", "No scopes", "", orders_pfx, 1, admin_plans, 1},
	};

	ck_assert_int_eq(ix_cat_build(products, 4, plans, 2, &cat), CLR_OK);
}

static void teardown(void)
{
	ix_cat_release(cat);
	cat = NULL;
}

static enum ix_cat_result match(const char *scopes, const char *path, const char **prod,
				const char **plan)
{
	char buf[256], *v[16];
	size_t n = 0;
	const struct ix_cat_product *p;
	const struct ix_cat_plan *pl;
	enum ix_cat_result r;

	snprintf(buf, sizeof(buf), "%s", scopes);
	for (char *t = strtok(buf, " "); t != NULL && n < 16; t = strtok(NULL, " "))
		v[n++] = t;
	r = ix_cat_match(cat, v, n, path, &p, &pl);
	*prod = p ? p->id : NULL;
	*plan = pl ? pl->id : NULL;
	return r;
}

START_TEST(maps_scopes_and_path)
{
	const char *p, *pl;

	ck_assert_int_eq(match("orders:read plan:free", "/api/orders/1?x=y", &p, &pl), IX_CAT_OK);
	ck_assert_str_eq(p, "pr-orders");
	ck_assert_str_eq(pl, "pl-free");
	ck_assert_int_eq(match("orders:read plan:free", "/api/orders", &p, &pl), IX_CAT_OK);
	ck_assert_int_eq(match("orders:read plan:free", "/api/shipments/9", &p, &pl), IX_CAT_OK);
	/* "/api/shipments/" ends in '/', so "/api/shipments" itself is not under it */
	ck_assert_int_eq(match("orders:read plan:free", "/api/shipments", &p, &pl),
			 IX_CAT_NO_PRODUCT);
	/* plan with more scopes wins when all are present */
	ck_assert_int_eq(match("plan:free orders:read plan:gold", "/api/orders/1", &p, &pl),
			 IX_CAT_OK);
	ck_assert_str_eq(pl, "pl-gold");
	ck_assert_int_eq(match("orders:read plan:free", "/api/payments/1", &p, &pl),
			 IX_CAT_NO_PRODUCT);
	ck_assert_int_eq(match("payments:read plan:free", "/api/payments", &p, &pl), IX_CAT_OK);
	ck_assert_str_eq(p, "pr-pay");
}
END_TEST

START_TEST(segment_boundary_and_longest_prefix)
{
	const char *p, *pl;

	ck_assert_int_eq(match("orders:read plan:free", "/api/ordersx", &p, &pl),
			 IX_CAT_NO_PRODUCT);
	ck_assert_int_eq(
	    match("orders:read orders:admin plan:free", "/api/orders/admin/x", &p, &pl), IX_CAT_OK);
	ck_assert_str_eq(p, "pr-admin");
	/* without orders:admin the shorter prefix still covers it */
	ck_assert_int_eq(match("orders:read plan:free", "/api/orders/admin/x", &p, &pl), IX_CAT_OK);
	ck_assert_str_eq(p, "pr-orders");
	/* a product with no scopes is granted to nobody; relative prefixes ignored */
	ck_assert_int_eq(match("plan:free", "/api/orders", &p, &pl), IX_CAT_NO_PRODUCT);
	ck_assert_int_eq(match("payments:read plan:free", "relative/x", &p, &pl),
			 IX_CAT_NO_PRODUCT);
}
END_TEST

START_TEST(plan_scope_required)
{
	const char *p, *pl;

	ck_assert_int_eq(match("orders:read", "/api/orders/1", &p, &pl), IX_CAT_NO_PLAN);
	ck_assert_str_eq(p, "pr-orders");
	ck_assert_ptr_null(pl);
	/* only the gold scope: gold also needs plan:free, so no plan */
	ck_assert_int_eq(match("orders:read plan:gold", "/api/orders/1", &p, &pl), IX_CAT_NO_PLAN);
	ck_assert_int_eq(match("", "/api/orders/1", &p, &pl), IX_CAT_NO_PRODUCT);
}
END_TEST

START_TEST(unnormalised_paths_refused)
{
	static const char *const bad[] = {
	    "/api/orders/../payments",
	    "/api/orders/..",
	    "/api/orders/./1",
	    "/api/orders/.",
	    "/api/orders//1",
	    "/api/orders%2f..%2fpayments",
	    "/api/orders/%2E%2E/x",
	    "/api/orders\\..\\x",
	    "api/orders",
	    "",
	    "/api/orders/%5c",
	    "/api/orders/a\tb",
	};
	const char *p, *pl;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(match("orders:read plan:free", bad[i], &p, &pl) == IX_CAT_NO_PRODUCT,
			      "path %s matched", bad[i]);
	/* dots inside a segment are fine */
	ck_assert_int_eq(match("orders:read plan:free", "/api/orders/a..b/.x", &p, &pl), IX_CAT_OK);
}
END_TEST

START_TEST(no_path_for_introspection)
{
	const char *p, *pl;

	ck_assert_int_eq(match("payments:read plan:free", NULL, &p, &pl), IX_CAT_OK);
	ck_assert_str_eq(p, "pr-pay");
	ck_assert_int_eq(match("payments:read", NULL, &p, &pl), IX_CAT_NO_PLAN);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("catalogue");
	TCase *tc = tcase_create("ix_cat_match");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, maps_scopes_and_path);
	tcase_add_test(tc, segment_boundary_and_longest_prefix);
	tcase_add_test(tc, plan_scope_required);
	tcase_add_test(tc, unnormalised_paths_refused);
	tcase_add_test(tc, no_path_for_introspection);
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
	return failed ? 1 : 0;
}
