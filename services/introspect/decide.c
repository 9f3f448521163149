/*
 * decide.c - see decide.h: the one decision behind /auth and
 * /v1/introspect, and the snapshots (catalogue, grants) it reads.
 */
#include <openssl/evp.h>
#include <string.h>
#include <time.h>

#include "clearance/jwt.h"
#include "clearance/log.h"
#include "clearance/util.h"
#include "introspect.h"
#include "seclog.h"
#include "decide.h"

const int ix_verdict_status[IX_VERDICT__MAX] = {
    [IX_ALLOW] = 204,
    [IX_DENY_INVALID] = 401,
    [IX_DENY_REVOKED] = 401,
    [IX_DENY_UNREGISTERED] = 401,
    [IX_DENY_NOT_GRANTED] = 403,
    [IX_DENY_SCOPE] = 403,
    [IX_DENY_LIMITED] = 429,
};

struct ix_cat *ix_catalogue(struct ix_app *app)
{
	struct ix_cat *c;

	pthread_mutex_lock(&app->snap_mu);
	c = app->cat;
	ix_cat_retain(c);
	pthread_mutex_unlock(&app->snap_mu);
	return c;
}

void ix_set_catalogue(struct ix_app *app, struct ix_cat *c)
{
	struct ix_cat *old;

	pthread_mutex_lock(&app->snap_mu);
	old = app->cat;
	app->cat = c;
	pthread_mutex_unlock(&app->snap_mu);
	ix_cat_release(old);
}

struct ix_grants *ix_grants_current(struct ix_app *app)
{
	struct ix_grants *g;

	pthread_mutex_lock(&app->snap_mu);
	g = app->grants;
	ix_grants_retain(g);
	pthread_mutex_unlock(&app->snap_mu);
	return g;
}

void ix_set_grants(struct ix_app *app, struct ix_grants *g)
{
	struct ix_grants *old;

	pthread_mutex_lock(&app->snap_mu);
	old = app->grants;
	app->grants = g;
	pthread_mutex_unlock(&app->snap_mu);
	ix_grants_release(old);
}

static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Signature and claims against one provider, with one refetch on unknown kid. */
static enum clr_rc check_with_provider(struct ix_app *app, struct clr_http_client *http,
				       const struct ix_prov *p, const struct clr_jwt *t,
				       long long now_ms, struct clr_jwt_claims *claims,
				       unsigned long *jwks_gen, const char **why)
{
	struct clr_jwt_policy pol;
	struct ix_jwks_ref *keys = NULL, *newer = NULL;
	struct clr_err e;
	enum clr_rc rc;

	memset(&e, 0, sizeof(e));
	memset(&pol, 0, sizeof(pol));
	pol.issuer = p->issuer;
	pol.audience = p->audience;
	pol.alg_mask = p->alg_mask;
	pol.leeway_s = app->cfg->leeway_s;
	pol.identity_claim = p->identity_claim;
	pol.typs = p->typs;
	/* read before the keys: a set replaced meanwhile only costs a re-check */
	*jwks_gen = ix_jwks_cache_set_gen(p->jwks);
	rc = ix_jwks_cache_get(p->jwks, http, now_ms, &keys, &e);
	if (rc != CLR_OK) {
		*why = "no usable JWKS for the issuer";
		return CLR_ERR_DENIED;
	}
	rc = clr_jwt_check(t, ix_jwks_ref_set(keys), &pol, claims, &e);
	if (rc == CLR_ERR_NOTFOUND) {
		rc = ix_jwks_cache_miss(p->jwks, http, now_ms, keys, &newer, &e);
		if (rc == CLR_OK) {
			memset(&e, 0, sizeof(e));
			rc = clr_jwt_check(t, ix_jwks_ref_set(newer), &pol, claims, &e);
		}
	}
	ix_jwks_ref_release(keys);
	ix_jwks_ref_release(newer);
	if (rc == CLR_OK)
		return CLR_OK;
	if (rc == CLR_ERR_NOMEM)
		return rc;
	*why = "token refused by verifier";
	/* e.msg is a fixed text from jwt.c or jwks_cache.c, never token bytes */
	ix_seclog(IX_SECLOG_TOKEN_REFUSED, NULL, "token refused: %s", e.msg);
	return CLR_ERR_DENIED;
}

enum clr_rc ix_verify(struct ix_app *app, struct clr_http_client *http, const char *token,
		      size_t len, struct ix_tok **out, const char **why)
{
	unsigned char key[32];
	unsigned int klen = 0;
	struct ix_provs *provs = NULL;
	const struct ix_prov *p;
	struct clr_jwt *t = NULL;
	struct clr_jwt_claims claims = CLR_JWT_CLAIMS_INIT;
	struct clr_err e;
	long long now_ms = clr_now_ms(), left_ms, until;
	unsigned long jwks_gen = 0;
	const char *iss;
	enum clr_rc rc;

	*out = NULL;
	*why = "invalid token";
	if (len == 0 || len > CLR_JWT_MAX_TOKEN) {
		*why = len ? "token too large" : "empty token";
		return CLR_ERR_DENIED;
	}
	if (!EVP_Digest(token, len, key, &klen, EVP_sha256(), NULL))
		return CLR_ERR_NOMEM;
	provs = ix_provreg_get(app->provs);
	/* GATEWAY_TOKEN_CACHE=0: verify every time (measuring, distrust) */
	if (app->cfg->gateway_token_cache > 0)
		*out = ix_tcache_get(app->tcache, key, now_ms, provs->gen);
	if (*out != NULL) {
		/* tied to the key set it was verified with: a new set re-checks it */
		p = ix_provs_by_id(provs, (*out)->prov_id);
		if (p == NULL || ix_jwks_cache_set_gen(p->jwks) == (*out)->jwks_gen) {
			rc = CLR_OK;
			goto out;
		}
		ix_tok_release(*out);
		*out = NULL;
	}
	memset(&e, 0, sizeof(e));
	rc = clr_jwt_parse(token, len, &t, &e);
	if (rc != CLR_OK) {
		*why = "malformed token";
		rc = rc == CLR_ERR_NOMEM ? rc : CLR_ERR_DENIED;
		goto out;
	}
	iss = clr_jwt_issuer(t);
	*why = "unknown issuer";
	rc = CLR_ERR_DENIED;
	/*
	 * Every provider of the issuer, in the snapshot's order, until one
	 * accepts: the same IdP added twice verifies the same tokens whichever
	 * id sorts first (clients are then found by issuer, see grants.h).
	 */
	for (size_t i = 0; iss != NULL && i < provs->n; i++) {
		if (strcmp(provs->v[i].issuer, iss) != 0)
			continue;
		p = &provs->v[i];
		rc = check_with_provider(app, http, p, t, now_ms, &claims, &jwks_gen, why);
		if (rc == CLR_OK || rc == CLR_ERR_NOMEM)
			break;
	}
	if (rc != CLR_OK)
		goto out;
	/* Trust the verdict no longer than the token lives or the TTL allows. */
	left_ms = claims.exp * 1000LL - wall_ms();
	until = now_ms + (left_ms < IX_TOKEN_TTL_MS ? left_ms : IX_TOKEN_TTL_MS);
	rc = ix_tcache_put(app->tcache, key, until, provs->gen, jwks_gen, p->id, &claims, out);
out:
	clr_jwt_claims_clear(&claims);
	clr_jwt_free(t);
	ix_provs_release(provs);
	return rc;
}

/* Nothing in claims may carry control characters into response headers. */
static int hdr_safe(const char *s)
{
	for (; s != NULL && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static enum ix_verdict deny(struct ix_decision *d, enum ix_verdict v, const char *why)
{
	d->verdict = v;
	d->why = why;
	return v;
}

/* Step 3 off (REQUIRE_REGISTERED=0): the old scope-only mapping. */
static enum ix_verdict by_scopes(struct ix_decision *d, const struct ix_request *req)
{
	const struct ix_tok *tok = d->tok;

	switch (ix_cat_match(d->cat, tok->claims.scopes, tok->claims.nscopes, req->path,
			     &d->product, &d->plan)) {
	case IX_CAT_OK:
		return IX_ALLOW;
	case IX_CAT_NO_PLAN:
		d->product = NULL;
		return deny(d, IX_DENY_SCOPE, "no plan scope");
	default:
		d->product = NULL;
		return deny(d, IX_DENY_NOT_GRANTED, "no product covers the path");
	}
}

/* Step 5 for one grant: 1 and d->product/plan set if it applies. */
static int grant_applies(struct ix_decision *d, const struct ix_cat_product *p,
			 const struct ix_grant *gr)
{
	const struct ix_tok *tok = d->tok;
	const struct ix_cat_plan *pl = ix_cat_plan_of(d->cat, p, gr->plan_id);

	if (pl == NULL)
		return 0;
	if (!ix_cat_scopes_held(tok->claims.scopes, tok->claims.nscopes, p->scopes, p->nscopes) ||
	    !ix_cat_scopes_held(tok->claims.scopes, tok->claims.nscopes, pl->scopes, pl->nscopes))
		return 0;
	d->product = p;
	d->plan = pl;
	return 1;
}

/* Steps 4 and 5 against the client's grants. */
static enum ix_verdict by_grants(struct ix_decision *d, const struct ix_request *req,
				 const struct ix_grant *gr, size_t ngr)
{
	const struct ix_cat_product *owners[8];
	size_t nown;
	int granted = 0;

	if (req->path == NULL) {
		/* introspection: any grant that the token's scopes support */
		for (size_t i = 0; i < ngr; i++) {
			const struct ix_cat_product *p =
			    ix_cat_product_by_id(d->cat, gr[i].product_id);
			if (p != NULL && grant_applies(d, p, &gr[i]))
				return IX_ALLOW;
		}
		return deny(d, ngr ? IX_DENY_SCOPE : IX_DENY_NOT_GRANTED,
			    ngr ? "token lacks the granted product's or plan's scopes"
				: "client has no grant");
	}
	nown = ix_cat_owners(d->cat, req->path, owners, sizeof(owners) / sizeof(owners[0]));
	for (size_t k = 0; k < nown; k++) {
		for (size_t i = 0; i < ngr; i++) {
			if (strcmp(owners[k]->id, gr[i].product_id) != 0)
				continue;
			granted = 1;
			if (grant_applies(d, owners[k], &gr[i]))
				return IX_ALLOW;
		}
	}
	if (!granted)
		return deny(d, IX_DENY_NOT_GRANTED,
			    nown ? "client not granted the product of the path"
				 : "no product covers the path");
	return deny(d, IX_DENY_SCOPE, "token lacks the granted product's or plan's scopes");
}

/* Rate limit, shared by the copies; the plan's policy when that fails. */
static void rate_limit(struct ix_app *app, const struct ix_request *req, struct ix_decision *d,
		       long long now_ms)
{
	const struct ix_cat_plan *pl = d->plan;
	const struct ix_tok *tok = d->tok;
	struct ix_limit_take t;
	long reset_s = 0;
	long long period = ix_limit_period(IX_LIMIT_RATE, pl->rl_window_s, now_ms, &reset_s);
	enum clr_rc rc;

	d->limited = 1;
	rc = ix_limits_take(app->limits, app->lease, req->db, tok->claims.iss, tok->claims.identity,
			    pl->id, IX_LIMIT_RATE, pl->rl_requests, period, reset_s, now_ms, &t);
	if (rc == CLR_OK) {
		d->rl.allowed = t.allowed;
		d->rl.limit = (long)t.limit;
		d->rl.remaining = (long)t.remaining;
		d->rl.reset_s = t.reset_s;
		d->rl.retry_after_s = t.allowed ? 0 : (t.reset_s > 0 ? t.reset_s : 1);
		return;
	}
	d->degraded = 1;
	if (!pl->fail_closed) {
		/* this copy's own bucket: N copies admit up to N x the limit */
		rc = ix_rl_take(app->rl, tok->claims.identity, pl->id, pl->rl_requests,
				pl->rl_window_s, clr_now_ms(), &d->rl);
		if (rc == CLR_OK)
			return;
	}
	memset(&d->rl, 0, sizeof(d->rl));
	d->rl.limit = pl->rl_requests;
	d->rl.retry_after_s = 5;
	d->rl.reset_s = reset_s;
}

/* Monthly quota (calendar month, UTC), shared by the copies. */
static void month_quota(struct ix_app *app, const struct ix_request *req, struct ix_decision *d,
			long long now_ms)
{
	const struct ix_cat_plan *pl = d->plan;
	const struct ix_tok *tok = d->tok;
	long reset_s = 0;
	long long period = ix_limit_period(IX_LIMIT_MONTH, 0, now_ms, &reset_s);
	enum clr_rc rc;

	rc = ix_limits_take(app->limits, app->lease, req->db, tok->claims.iss, tok->claims.identity,
			    pl->id, IX_LIMIT_MONTH, pl->monthly_quota, period, reset_s, now_ms,
			    &d->q);
	if (rc == CLR_OK) {
		d->quota = 1;
		return;
	}
	d->degraded = 1;
	memset(&d->q, 0, sizeof(d->q));
	d->q.limit = pl->monthly_quota;
	d->q.reset_s = reset_s;
	/* 'open': not counted while the store is away; 'closed': refused */
	d->q.allowed = !pl->fail_closed;
}

static enum clr_rc apply_limits(struct ix_app *app, const struct ix_request *req,
				struct ix_decision *d)
{
	long long now_ms = req->now_ms > 0 ? req->now_ms : wall_ms();

	if (d->plan->rl_requests > 0) {
		rate_limit(app, req, d, now_ms);
		if (!d->rl.allowed) {
			if (d->degraded)
				atomic_fetch_add(&app->n_store_closed, 1);
			deny(d, IX_DENY_LIMITED,
			     d->degraded ? "rate limit store unavailable (closed)"
					 : "rate limited");
			return CLR_OK;
		}
	}
	if (d->plan->monthly_quota > 0) {
		month_quota(app, req, d, now_ms);
		if (!d->q.allowed) {
			d->limited = 1;
			d->rl.retry_after_s =
			    d->degraded ? 5 : (d->q.reset_s > 0 ? d->q.reset_s : 1);
			if (d->degraded)
				atomic_fetch_add(&app->n_store_closed, 1);
			else
				atomic_fetch_add(&app->n_quota_exhausted, 1);
			deny(d, IX_DENY_LIMITED, "monthly quota used up");
		}
	}
	return CLR_OK;
}

enum clr_rc ix_decide(struct ix_app *app, const struct ix_request *req, struct ix_decision *d)
{
	struct ix_grants *grants = NULL;
	const struct ix_grant *gr;
	const struct ix_tok *tok;
	size_t ngr = 0;
	enum clr_rc rc;

	memset(d, 0, sizeof(*d));
	rc = ix_verify(app, req->http, req->token, req->len, &d->tok, &d->why);
	if (rc == CLR_ERR_NOMEM)
		return rc;
	if (rc != CLR_OK) {
		deny(d, IX_DENY_INVALID, d->why);
		goto out;
	}
	tok = d->tok;
	/* Checked on every request, cache hit or not: revocation is immediate. */
	if (ix_denyset_has(app->deny, tok->claims.identity)) {
		ix_seclog(IX_SECLOG_REVOKED, req->reqid, "token of a revoked client refused");
		deny(d, IX_DENY_REVOKED, "client revoked");
		goto out;
	}
	if (!hdr_safe(tok->claims.identity) || !hdr_safe(tok->claims.sub) ||
	    !hdr_safe(tok->claims.scope)) {
		deny(d, IX_DENY_INVALID, "control characters in claims");
		goto out;
	}
	grants = ix_grants_current(app);
	gr = ix_grants_find(grants, tok->claims.iss, tok->claims.identity, &ngr);
	d->cat = ix_catalogue(app);
	if (d->cat == NULL) {
		deny(d, IX_DENY_NOT_GRANTED, "catalogue not loaded");
		goto out;
	}
	if (gr == NULL && app->cfg->gateway_require_registered) {
		ix_seclog(IX_SECLOG_UNREGISTERED, req->reqid,
			  "token of a client without an active registration refused");
		deny(d, IX_DENY_UNREGISTERED, "client not registered");
		goto out;
	}
	if ((gr == NULL ? by_scopes(d, req) : by_grants(d, req, gr, ngr)) != IX_ALLOW)
		goto out;
	d->verdict = IX_ALLOW;
	d->why = "allowed";
	if (req->count && (rc = apply_limits(app, req, d)) != CLR_OK)
		return rc;
out:
	ix_grants_release(grants);
	if (d->degraded)
		atomic_fetch_add(&app->n_degraded, 1);
	atomic_fetch_add(&app->n_verdict[d->verdict], 1);
	return CLR_OK;
}

void ix_decision_clear(struct ix_decision *d)
{
	ix_tok_release(d->tok);
	ix_cat_release(d->cat);
	memset(d, 0, sizeof(*d));
}
