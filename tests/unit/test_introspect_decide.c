/*
 * test_introspect_decide.c - ix_decide, the one decision behind /auth and
 * /v1/introspect (issue 8): grants, not token scopes, choose the product
 * and the plan.
 *
 * The token check itself (step 1) is covered by test_jwt.c and the
 * integration suite; here each token's verified claims are put into the
 * verified-token cache first, exactly as ix_verify leaves them, so the
 * test drives steps 2-6 with claims it controls.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "clearance/util.h"
#include "../../services/introspect/introspect.h"

#define ISS "https://idp.example"
#define P_ORDERS "00000000-0000-4000-8000-000000000001"
#define P_PAY "00000000-0000-4000-8000-000000000002"
#define P_DEMO "00000000-0000-4000-8000-000000000003"
#define PL_GOLD "00000000-0000-4000-8000-0000000000a1"
#define PL_DEMO "00000000-0000-4000-8000-0000000000a2"
#define PL_QUOTA "00000000-0000-4000-8000-0000000000a3"
#define PL_TINY "00000000-0000-4000-8000-0000000000a4"

static struct clr_config cfg;
static struct ix_app app;

static struct ix_cat *catalogue(void)
{
	static const char *const orders_pfx[] = {"/api/orders"};
	static const char *const pay_pfx[] = {"/api/pay"};
	static const char *const demo_pfx[] = {"/api/"};
	static const char *const orders_plans[] = {PL_GOLD, PL_TINY};
	static const char *const pay_plans[] = {PL_GOLD};
	static const char *const demo_plans[] = {PL_DEMO, PL_QUOTA};
	/* "Demo plan" and "Quota plan" overlap: same scope, Demo sorts first */
	const struct ix_cat_plan_def plans[] = {
	    {PL_GOLD, "Gold", "plan:gold", 0, 0},
	    {PL_DEMO, "Demo plan", "demo:read", 0, 0},
	    {PL_QUOTA, "Quota plan", "demo:read", 0, 0},
	    {PL_TINY, "Tiny", "plan:tiny", 2, 3600},
	};
	const struct ix_cat_product_def products[] = {
	    {P_ORDERS, "Orders", "orders:read", orders_pfx, 1, orders_plans, 2},
	    {P_PAY, "Payments", "pay:read", pay_pfx, 1, pay_plans, 1},
	    {P_DEMO, "Demo", "demo:read", demo_pfx, 1, demo_plans, 2},
	};
	struct ix_cat *c = NULL;

	ck_assert_int_eq(ix_cat_build(products, 3, plans, 4, &c), CLR_OK);
	return c;
}

static struct ix_grants *grants(void)
{
	const struct ix_grants_row rows[] = {
	    {ISS, "dev-pay", P_PAY, PL_GOLD},	    {ISS, "dev-quota", P_DEMO, PL_QUOTA},
	    {ISS, "dev-tiny", P_ORDERS, PL_TINY},   {ISS, "dev-orders", P_ORDERS, PL_GOLD},
	    {ISS, "dev-orders", P_ORDERS, PL_GOLD}, /* the same grant twice (two providers) */
	    {ISS, "reg-nogrant", NULL, NULL},
	};
	struct ix_grants *g = NULL;

	ck_assert_int_eq(ix_grants_build(rows, 6, &g), CLR_OK);
	return g;
}

static void setup(void)
{
	struct ix_jwks_cache_cfg jc;
	struct clr_http_opts ho;

	memset(&cfg, 0, sizeof(cfg));
	memset(&app, 0, sizeof(app));
	memset(&jc, 0, sizeof(jc));
	memset(&ho, 0, sizeof(ho));
	cfg.gateway_require_registered = 1;
	cfg.gateway_token_cache = 64;
	app.cfg = &cfg;
	pthread_mutex_init(&app.snap_mu, NULL);
	ck_assert_int_eq(ix_provreg_new(&jc, &ho, &app.provs), CLR_OK);
	ck_assert_int_eq(ix_denyset_new(&app.deny), CLR_OK);
	ck_assert_int_eq(ix_rl_new(0, &app.rl), CLR_OK);
	ck_assert_int_eq(ix_tcache_new(64, &app.tcache), CLR_OK);
	ix_set_catalogue(&app, catalogue());
	ix_set_grants(&app, grants());
}

static void teardown(void)
{
	ix_set_catalogue(&app, NULL);
	ix_set_grants(&app, NULL);
	ix_tcache_free(app.tcache);
	ix_rl_free(app.rl);
	ix_denyset_free(app.deny);
	ix_provreg_free(app.provs);
	pthread_mutex_destroy(&app.snap_mu);
}

/*
 * Puts verified claims for token text `tok` into the cache, as ix_verify
 * would after checking the signature: identity, iss and a scope list, all
 * in one arena (scope_buf) as jwt.c lays them out.
 */
static void verified(const char *tok, const char *iss, const char *client, const char *scope)
{
	unsigned char key[32];
	unsigned int klen = 0;
	struct clr_jwt_claims c;
	size_t ls = strlen(scope), li = strlen(iss), lc = strlen(client), n = 0;
	char *buf, *p, **v;

	ck_assert_int_eq(EVP_Digest(tok, strlen(tok), key, &klen, EVP_sha256(), NULL), 1);
	buf = calloc(1, 16 * sizeof(char *) + 2 * ls + li + lc + 8);
	ck_assert_ptr_nonnull(buf);
	v = (char **)buf;
	p = buf + 16 * sizeof(char *);
	memset(&c, 0, sizeof(c));
	c.scope_buf = buf;
	c.identity = memcpy(p, client, lc + 1);
	p += lc + 1;
	c.iss = memcpy(p, iss, li + 1);
	p += li + 1;
	c.scope = memcpy(p, scope, ls + 1);
	p += ls + 1;
	memcpy(p, scope, ls + 1);
	for (char *s = strtok(p, " "); s != NULL && n < 16; s = strtok(NULL, " "))
		v[n++] = s;
	c.scopes = v;
	c.nscopes = n;
	c.exp = 4000000000LL;
	ck_assert_int_eq(
	    ix_tcache_put(app.tcache, key, clr_now_ms() + 60000, 0, 0, "prov-1", &c, NULL), CLR_OK);
}

static struct ix_decision d;

static enum ix_verdict decide(const char *tok, const char *path, int count)
{
	struct ix_request q;

	ix_decision_clear(&d);
	memset(&q, 0, sizeof(q));
	q.token = tok;
	q.len = strlen(tok);
	q.path = path;
	q.count = count;
	ck_assert_int_eq(ix_decide(&app, &q, &d), CLR_OK);
	ck_assert_ptr_nonnull(d.why);
	return d.verdict;
}

/* The first finding: Payments approved, token carries Orders' scope. */
START_TEST(cross_product_refused)
{
	verified("t-cross", ISS, "dev-pay", "pay:read plan:gold orders:read");
	ck_assert_int_eq(decide("t-cross", "/api/pay/x", 1), IX_ALLOW);
	ck_assert_str_eq(d.product->name, "Payments");
	ck_assert_int_eq(decide("t-cross", "/api/orders/1", 1), IX_DENY_NOT_GRANTED);
	ck_assert_int_eq(ix_verdict_status[d.verdict], 403);
	ck_assert_ptr_null(d.product);
	/* a shorter prefix of another product does not open a longer one */
	ck_assert_int_eq(decide("t-cross", "/api/other", 1), IX_DENY_NOT_GRANTED);
	/* introspection: active, and for the granted product only */
	ck_assert_int_eq(decide("t-cross", NULL, 0), IX_ALLOW);
	ck_assert_str_eq(d.product->name, "Payments");
	ix_decision_clear(&d);
}
END_TEST

/* The second finding: overlapping plans; the granted one applies. */
START_TEST(overlapping_plans_granted_plan)
{
	verified("t-quota", ISS, "dev-quota", "demo:read");
	ck_assert_int_eq(decide("t-quota", "/api/hello.json", 1), IX_ALLOW);
	ck_assert_str_eq(d.product->name, "Demo");
	ck_assert_str_eq(d.plan->name, "Quota plan");
	ck_assert_int_eq(decide("t-quota", NULL, 0), IX_ALLOW);
	ck_assert_str_eq(d.plan->name, "Quota plan");
	ix_decision_clear(&d);
}
END_TEST

/* Scopes stay a second condition: a narrower token is refused. */
START_TEST(scopes_still_required)
{
	verified("t-narrow", ISS, "dev-orders", "orders:read");
	ck_assert_int_eq(decide("t-narrow", "/api/orders/1", 1), IX_DENY_SCOPE);
	ck_assert_int_eq(ix_verdict_status[d.verdict], 403);
	verified("t-narrow2", ISS, "dev-orders", "plan:gold");
	ck_assert_int_eq(decide("t-narrow2", "/api/orders/1", 1), IX_DENY_SCOPE);
	ck_assert_int_eq(decide("t-narrow2", NULL, 0), IX_DENY_SCOPE);
	verified("t-full", ISS, "dev-orders", "orders:read plan:gold plan:tiny");
	ck_assert_int_eq(decide("t-full", "/api/orders/1", 1), IX_ALLOW);
	/* the granted plan, not the one with more or other scopes */
	ck_assert_str_eq(d.plan->name, "Gold");
	ix_decision_clear(&d);
}
END_TEST

START_TEST(unregistered_revoked_and_no_grant)
{
	verified("t-unreg", ISS, "never-registered", "orders:read plan:gold");
	ck_assert_int_eq(decide("t-unreg", "/api/orders/1", 1), IX_DENY_UNREGISTERED);
	ck_assert_int_eq(ix_verdict_status[d.verdict], 401);
	/* the same client id under another issuer is another client */
	verified("t-otheriss", "https://other.example", "dev-orders", "orders:read plan:gold");
	ck_assert_int_eq(decide("t-otheriss", "/api/orders/1", 1), IX_DENY_UNREGISTERED);
	verified("t-nogrant", ISS, "reg-nogrant", "orders:read plan:gold");
	ck_assert_int_eq(decide("t-nogrant", "/api/orders/1", 1), IX_DENY_NOT_GRANTED);
	ck_assert_int_eq(decide("t-nogrant", NULL, 0), IX_DENY_NOT_GRANTED);
	verified("t-rev", ISS, "dev-orders", "orders:read plan:gold");
	ck_assert_int_eq(decide("t-rev", "/api/orders/1", 1), IX_ALLOW);
	ck_assert_int_eq(ix_denyset_add(app.deny, "dev-orders"), CLR_OK);
	ck_assert_int_eq(decide("t-rev", "/api/orders/1", 1), IX_DENY_REVOKED);
	ck_assert_uint_ge(atomic_load(&app.n_verdict[IX_DENY_REVOKED]), 1);
	ix_decision_clear(&d);
}
END_TEST

/* Revoking the access request is a grants reload without the row. */
START_TEST(grants_removed_on_reload)
{
	const struct ix_grants_row rows[] = {{ISS, "dev-orders", NULL, NULL}};
	struct ix_grants *g = NULL;

	verified("t-g", ISS, "dev-orders", "orders:read plan:gold");
	ck_assert_int_eq(decide("t-g", "/api/orders/1", 1), IX_ALLOW);
	ck_assert_int_eq(ix_grants_build(rows, 1, &g), CLR_OK);
	ix_set_grants(&app, g);
	ck_assert_int_eq(decide("t-g", "/api/orders/1", 1), IX_DENY_NOT_GRANTED);
	ix_set_grants(&app, NULL);
	ck_assert_int_eq(decide("t-g", "/api/orders/1", 1), IX_DENY_UNREGISTERED);
	ix_decision_clear(&d);
}
END_TEST

START_TEST(rate_limit_of_granted_plan)
{
	verified("t-tiny", ISS, "dev-tiny", "orders:read plan:tiny");
	ck_assert_int_eq(decide("t-tiny", "/api/orders/1", 1), IX_ALLOW);
	ck_assert_int_eq(d.limited, 1);
	ck_assert_int_eq(d.rl.limit, 2);
	ck_assert_int_eq(d.rl.remaining, 1);
	ck_assert_int_ge(d.rl.reset_s, 1);
	/* introspection does not count */
	ck_assert_int_eq(decide("t-tiny", NULL, 0), IX_ALLOW);
	ck_assert_int_eq(d.limited, 0);
	ck_assert_int_eq(decide("t-tiny", "/api/orders/1", 1), IX_ALLOW);
	ck_assert_int_eq(decide("t-tiny", "/api/orders/1", 1), IX_DENY_LIMITED);
	ck_assert_int_eq(ix_verdict_status[d.verdict], 429);
	ck_assert_int_ge(d.rl.retry_after_s, 1);
	ix_decision_clear(&d);
}
END_TEST

/* CLEARANCE_GATEWAY_REQUIRE_REGISTERED=0: only unregistered clients fall back. */
START_TEST(require_registered_off)
{
	cfg.gateway_require_registered = 0;
	verified("t-legacy", ISS, "never-registered", "orders:read plan:gold");
	ck_assert_int_eq(decide("t-legacy", "/api/orders/1", 1), IX_ALLOW);
	ck_assert_str_eq(d.product->name, "Orders");
	/* a registered client is still held to its grants */
	verified("t-reg", ISS, "dev-pay", "orders:read plan:gold");
	ck_assert_int_eq(decide("t-reg", "/api/orders/1", 1), IX_DENY_NOT_GRANTED);
	ix_decision_clear(&d);
}
END_TEST

START_TEST(grants_lookup)
{
	struct ix_grants *g = grants();
	const struct ix_grant *gr;
	size_t n = 99;

	ck_assert_uint_eq(ix_grants_nclients(g), 5);
	gr = ix_grants_find(g, ISS, "dev-orders", &n);
	ck_assert_ptr_nonnull(gr);
	ck_assert_uint_eq(n, 1); /* the duplicate row is kept once */
	ck_assert_str_eq(gr[0].plan_id, PL_GOLD);
	gr = ix_grants_find(g, ISS, "reg-nogrant", &n);
	ck_assert_ptr_nonnull(gr);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(ix_grants_find(g, ISS, "dev-order", &n));
	ck_assert_ptr_null(ix_grants_find(g, ISS "/", "dev-orders", &n));
	ck_assert_ptr_null(ix_grants_find(g, NULL, "dev-orders", &n));
	ck_assert_ptr_null(ix_grants_find(NULL, ISS, "dev-orders", &n));
	ix_grants_release(g);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("introspect_decide");
	TCase *tc = tcase_create("decide");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cross_product_refused);
	tcase_add_test(tc, overlapping_plans_granted_plan);
	tcase_add_test(tc, scopes_still_required);
	tcase_add_test(tc, unregistered_revoked_and_no_grant);
	tcase_add_test(tc, grants_removed_on_reload);
	tcase_add_test(tc, rate_limit_of_granted_plan);
	tcase_add_test(tc, require_registered_off);
	tcase_add_test(tc, grants_lookup);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
