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
#include <stdio.h>
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
#define PL_CLOSED "00000000-0000-4000-8000-0000000000a5"
#define PL_BIG "00000000-0000-4000-8000-0000000000a6"
/* 2026-01-31T23:59:00Z, one minute before a month boundary */
#define JAN31_2359 1769903940000LL

static struct clr_config cfg;
static struct ix_app app;

/*
 * The shared counter store (PostgreSQL's gateway_lease in production): a
 * table in memory, the same leasing rule, and a switch to play "down".
 */
static struct {
	char key[256];
	long long used;
} store[64];
static size_t nstore;
static int store_down;
static unsigned store_calls;

static enum clr_rc fake_lease(void *ctx, const struct ix_lease_req *q, long long *granted,
			      long long *used)
{
	char key[256];
	size_t i;

	(void)ctx;
	store_calls++;
	if (store_down)
		return CLR_ERR_DB;
	snprintf(key, sizeof(key), "%s|%s|%s|%d|%lld", q->issuer, q->client_id, q->plan_id,
		 (int)q->kind, q->period);
	for (i = 0; i < nstore && strcmp(store[i].key, key) != 0; i++)
		;
	if (i == nstore) {
		ck_assert_uint_lt(nstore, 64);
		snprintf(store[nstore++].key, sizeof(store[0].key), "%s", key);
	}
	*granted = q->limit - store[i].used < q->want ? q->limit - store[i].used : q->want;
	if (*granted < 0)
		*granted = 0;
	store[i].used += *granted;
	*used = store[i].used;
	return CLR_OK;
}

static struct ix_cat *catalogue(void)
{
	static const char *const orders_pfx[] = {"/api/orders"};
	static const char *const pay_pfx[] = {"/api/pay"};
	static const char *const demo_pfx[] = {"/api/"};
	static const char *const orders_plans[] = {PL_GOLD, PL_TINY, PL_CLOSED, PL_BIG};
	static const char *const pay_plans[] = {PL_GOLD};
	static const char *const demo_plans[] = {PL_DEMO, PL_QUOTA};
	/* "Demo plan" and "Quota plan" overlap: same scope, Demo sorts first */
	const struct ix_cat_plan_def plans[] = {
	    {PL_GOLD, "Gold", "plan:gold", 0, 0, 0, 0},
	    {PL_DEMO, "Demo plan", "demo:read", 0, 0, 0, 0},
	    {PL_QUOTA, "Quota plan", "demo:read", 0, 0, 5, 0},
	    {PL_TINY, "Tiny", "plan:tiny", 2, 3600, 0, 0},
	    {PL_CLOSED, "Closed", "plan:closed", 100, 60, 0, 1},
	    {PL_BIG, "Big", "plan:big", 100, 60, 0, 0},
	};
	const struct ix_cat_product_def products[] = {
	    {P_ORDERS, "Orders", "orders:read", orders_pfx, 1, orders_plans, 4},
	    {P_PAY, "Payments", "pay:read", pay_pfx, 1, pay_plans, 1},
	    {P_DEMO, "Demo", "demo:read", demo_pfx, 1, demo_plans, 2},
	};
	struct ix_cat *c = NULL;

	ck_assert_int_eq(ix_cat_build(products, 3, plans, 6, &c), CLR_OK);
	return c;
}

static struct ix_grants *grants(void)
{
	const struct ix_grants_row rows[] = {
	    {ISS, "dev-pay", P_PAY, PL_GOLD},	    {ISS, "dev-quota", P_DEMO, PL_QUOTA},
	    {ISS, "dev-tiny", P_ORDERS, PL_TINY},   {ISS, "dev-orders", P_ORDERS, PL_GOLD},
	    {ISS, "dev-orders", P_ORDERS, PL_GOLD}, /* the same grant twice (two providers) */
	    {ISS, "reg-nogrant", NULL, NULL},	    {ISS, "dev-closed", P_ORDERS, PL_CLOSED},
	    {ISS, "dev-big", P_ORDERS, PL_BIG},
	};
	struct ix_grants *g = NULL;

	ck_assert_int_eq(ix_grants_build(rows, 8, &g), CLR_OK);
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
	ck_assert_int_eq(ix_limits_new(0, &app.limits), CLR_OK);
	app.lease = fake_lease;
	memset(store, 0, sizeof(store));
	nstore = 0;
	store_down = 0;
	store_calls = 0;
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
	ix_limits_free(app.limits);
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

static long long fake_now;

static enum ix_verdict decide(const char *tok, const char *path, int count)
{
	struct ix_request q;

	ix_decision_clear(&d);
	memset(&q, 0, sizeof(q));
	q.token = tok;
	q.len = strlen(tok);
	q.path = path;
	q.count = count;
	q.now_ms = fake_now;
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
	/* a fixed window: retry when it ends */
	ck_assert_int_ge(d.rl.retry_after_s, 1);
	ck_assert_int_le(d.rl.retry_after_s, 3600);
	ck_assert_int_eq(d.rl.retry_after_s, d.rl.reset_s);
	ix_decision_clear(&d);
}
END_TEST

/* Quota exhaustion and reset at the month boundary (injected clock). */
START_TEST(quota_month_boundary)
{
	fake_now = JAN31_2359;
	verified("t-q", ISS, "dev-quota", "demo:read");
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(decide("t-q", "/api/x", 1), IX_ALLOW);
		ck_assert_int_eq(d.quota, 1);
		ck_assert_int_eq(d.q.limit, 5);
		ck_assert_int_eq(d.q.remaining, 4 - i);
		ck_assert_int_eq(d.q.reset_s, 60);
	}
	ck_assert_int_eq(decide("t-q", "/api/x", 1), IX_DENY_LIMITED);
	ck_assert_int_eq(d.rl.retry_after_s, 60);
	/* introspection is not counted and not refused by the quota */
	ck_assert_int_eq(decide("t-q", NULL, 0), IX_ALLOW);
	/* one second into February: a new month, a new quota */
	fake_now = JAN31_2359 + 61000;
	ck_assert_int_eq(decide("t-q", "/api/x", 1), IX_ALLOW);
	ck_assert_int_eq(d.q.remaining, 4);
	ck_assert_int_gt(d.q.reset_s, 27 * 86400);
	fake_now = 0;
	ix_decision_clear(&d);
}
END_TEST

/*
 * Three copies (three ix_limits) sharing one counter: round robin well over
 * the limit admits exactly the limit, while most requests never reach the
 * store (the leased blocks grow with the rate).
 */
START_TEST(three_copies_share_the_limit)
{
	struct ix_limits *copies[3];
	struct ix_limits *own = app.limits;
	int allowed = 0;

	fake_now = JAN31_2359 - 30000; /* well inside a 60 s window */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(ix_limits_new(0, &copies[i]), CLR_OK);
	verified("t-big", ISS, "dev-big", "orders:read plan:big");
	for (int i = 0; i < 300; i++) {
		app.limits = copies[i % 3];
		if (decide("t-big", "/api/orders/1", 1) == IX_ALLOW)
			allowed++;
		fake_now += 10; /* 100 requests per second */
	}
	ck_assert_int_eq(allowed, 100);
	ck_assert_uint_lt(store_calls, 300);
	app.limits = own;
	for (int i = 0; i < 3; i++)
		ix_limits_free(copies[i]);
	fake_now = 0;
	ix_decision_clear(&d);
}
END_TEST

/* PostgreSQL down: 'open' falls back to this copy's bucket, 'closed' refuses. */
START_TEST(store_down_policy)
{
	store_down = 1;
	verified("t-open", ISS, "dev-big", "orders:read plan:big");
	ck_assert_int_eq(decide("t-open", "/api/orders/1", 1), IX_ALLOW);
	ck_assert_int_eq(d.degraded, 1);
	ck_assert_int_eq(d.rl.limit, 100);
	verified("t-closed", ISS, "dev-closed", "orders:read plan:closed");
	ck_assert_int_eq(decide("t-closed", "/api/orders/1", 1), IX_DENY_LIMITED);
	ck_assert_int_eq(d.degraded, 1);
	ck_assert_int_ge(d.rl.retry_after_s, 1);
	ck_assert_uint_ge(atomic_load(&app.n_degraded), 2);
	/* back: the shared counter again */
	store_down = 0;
	ck_assert_int_eq(decide("t-closed", "/api/orders/1", 1), IX_ALLOW);
	ck_assert_int_eq(d.degraded, 0);
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

	ck_assert_uint_eq(ix_grants_nclients(g), 7);
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

/* The path index: longest prefix at a segment boundary, ties kept, 1,000 products. */
START_TEST(owners_by_path_index)
{
	enum { N = 1000 };
	static char ids[N + 2][40], names[N + 2][20], pfx[N + 2][40];
	static const char *pv[N + 2][1];
	struct ix_cat_product_def defs[N + 2];
	const struct ix_cat_product *o[4];
	struct ix_cat *c = NULL;

	memset(defs, 0, sizeof(defs));
	for (int i = 0; i < N + 2; i++) {
		snprintf(ids[i], sizeof(ids[i]), "00000000-0000-4000-8000-%012d", i);
		snprintf(names[i], sizeof(names[i]), "p%d", i);
		if (i < N)
			snprintf(pfx[i], sizeof(pfx[i]), "/svc/%d", i);
		else /* two products on the same prefix */
			snprintf(pfx[i], sizeof(pfx[i]), "/shared/");
		pv[i][0] = pfx[i];
		defs[i].id = ids[i];
		defs[i].name = names[i];
		defs[i].scopes = "";
		defs[i].prefixes = pv[i];
		defs[i].nprefixes = 1;
	}
	ck_assert_int_eq(ix_cat_build(defs, N + 2, NULL, 0, &c), CLR_OK);
	ck_assert_uint_eq(ix_cat_owners(c, "/svc/517/x?y=1", o, 4), 1);
	ck_assert_str_eq(o[0]->name, "p517");
	ck_assert_uint_eq(ix_cat_owners(c, "/svc/517", o, 4), 1);
	/* "/svc/517" does not cover "/svc/5170" (no segment boundary) */
	ck_assert_uint_eq(ix_cat_owners(c, "/svc/5170", o, 4), 0);
	ck_assert_uint_eq(ix_cat_owners(c, "/svc/99999", o, 4), 0);
	ck_assert_uint_eq(ix_cat_owners(c, "/svc/51x", o, 4), 0);
	ck_assert_uint_eq(ix_cat_owners(c, "/shared/a/b", o, 4), 2);
	ck_assert_uint_eq(ix_cat_owners(c, "/shared", o, 4), 0);
	ck_assert_uint_eq(ix_cat_owners(c, "/svc/517/../1", o, 4), 0); /* not normal form */
	ix_cat_release(c);
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
	tcase_add_test(tc, quota_month_boundary);
	tcase_add_test(tc, three_copies_share_the_limit);
	tcase_add_test(tc, store_down_policy);
	tcase_add_test(tc, require_registered_off);
	tcase_add_test(tc, grants_lookup);
	tcase_add_test(tc, owners_by_path_index);
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
