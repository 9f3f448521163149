/*
 * gate.c - the token check shared by /auth and /v1/introspect.
 */
#include <openssl/evp.h>
#include <string.h>
#include <time.h>

#include "clearance/jwt.h"
#include "clearance/log.h"
#include "clearance/util.h"
#include "introspect.h"
#include "seclog.h"

struct clr_cat *clr_ix_catalogue(struct clr_ix_app *app)
{
	struct clr_cat *c;

	pthread_mutex_lock(&app->cat_mu);
	c = app->cat;
	clr_cat_retain(c);
	pthread_mutex_unlock(&app->cat_mu);
	return c;
}

void clr_ix_set_catalogue(struct clr_ix_app *app, struct clr_cat *c)
{
	struct clr_cat *old;

	pthread_mutex_lock(&app->cat_mu);
	old = app->cat;
	app->cat = c;
	pthread_mutex_unlock(&app->cat_mu);
	clr_cat_release(old);
}

static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Signature and claims against one provider, with one refetch on unknown kid. */
static enum clr_rc check_with_provider(struct clr_ix_app *app, struct clr_http_client *http,
				       const struct clr_prov *p, const struct clr_jwt *t,
				       long long now_ms, struct clr_jwt_claims *claims,
				       const char **why)
{
	struct clr_jwt_policy pol;
	struct clr_jwks_ref *keys = NULL, *newer = NULL;
	struct clr_err e;
	enum clr_rc rc;

	memset(&e, 0, sizeof(e));
	memset(&pol, 0, sizeof(pol));
	pol.issuer = p->issuer;
	pol.audience = p->audience;
	pol.alg_mask = p->alg_mask;
	pol.leeway_s = app->cfg->leeway_s;
	pol.identity_claim = p->identity_claim;
	rc = clr_jwks_cache_get(p->jwks, http, now_ms, &keys, &e);
	if (rc != CLR_OK) {
		*why = "no usable JWKS for the issuer";
		return CLR_ERR_DENIED;
	}
	rc = clr_jwt_check(t, clr_jwks_ref_set(keys), &pol, claims, &e);
	if (rc == CLR_ERR_NOTFOUND) {
		rc = clr_jwks_cache_miss(p->jwks, http, now_ms, keys, &newer, &e);
		if (rc == CLR_OK) {
			memset(&e, 0, sizeof(e));
			rc = clr_jwt_check(t, clr_jwks_ref_set(newer), &pol, claims, &e);
		}
	}
	clr_jwks_ref_release(keys);
	clr_jwks_ref_release(newer);
	if (rc == CLR_OK)
		return CLR_OK;
	if (rc == CLR_ERR_NOMEM)
		return rc;
	*why = "token refused by verifier";
	/* e.msg is a fixed text from jwt.c or jwks_cache.c, never token bytes */
	clr_seclog(CLR_SECLOG_TOKEN_REFUSED, NULL, "token refused: %s", e.msg);
	return CLR_ERR_DENIED;
}

enum clr_rc clr_ix_verify(struct clr_ix_app *app, struct clr_http_client *http, const char *token,
			  size_t len, struct clr_tok **out, const char **why)
{
	unsigned char key[32];
	unsigned int klen = 0;
	struct clr_provs *provs = NULL;
	const struct clr_prov *p;
	struct clr_jwt *t = NULL;
	struct clr_jwt_claims claims = CLR_JWT_CLAIMS_INIT;
	struct clr_err e;
	long long now_ms = clr_now_ms(), left_ms, until;
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
	provs = clr_provreg_get(app->provs);
	/* GATEWAY_TOKEN_CACHE=0: verify every time (measuring, distrust) */
	if (app->cfg->gateway_token_cache > 0)
		*out = clr_tcache_get(app->tcache, key, now_ms, provs->gen);
	if (*out != NULL) {
		rc = CLR_OK;
		goto out;
	}
	memset(&e, 0, sizeof(e));
	rc = clr_jwt_parse(token, len, &t, &e);
	if (rc != CLR_OK) {
		*why = "malformed token";
		rc = rc == CLR_ERR_NOMEM ? rc : CLR_ERR_DENIED;
		goto out;
	}
	iss = clr_jwt_issuer(t);
	p = iss != NULL ? clr_provs_by_issuer(provs, iss) : NULL;
	if (p == NULL) {
		*why = "unknown issuer";
		rc = CLR_ERR_DENIED;
		goto out;
	}
	rc = check_with_provider(app, http, p, t, now_ms, &claims, why);
	if (rc != CLR_OK)
		goto out;
	/* Trust the verdict no longer than the token lives or the TTL allows. */
	left_ms = claims.exp * 1000LL - wall_ms();
	until = now_ms + (left_ms < CLR_IX_TOKEN_TTL_MS ? left_ms : CLR_IX_TOKEN_TTL_MS);
	rc = clr_tcache_put(app->tcache, key, until, provs->gen, p->id, &claims, out);
out:
	clr_jwt_claims_clear(&claims);
	clr_jwt_free(t);
	clr_provs_release(provs);
	return rc;
}

int clr_ix_client_ok(struct clr_ix_app *app, const struct clr_tok *tok, const char *reqid,
		     const char **why)
{
	char key[1024];

	if (clr_revo_has(app->revo, tok->claims.identity)) {
		atomic_fetch_add(&app->n_revoked, 1);
		clr_seclog(CLR_SECLOG_REVOKED, reqid, "token of a revoked client refused");
		*why = "client revoked";
		return 0;
	}
	if (!app->cfg->gateway_require_registered)
		return 1;
	/* A key too long to build is no registration of ours: refuse. */
	if (clr_allow_key(key, sizeof(key), tok->prov_id, tok->claims.identity) == 0 ||
	    !clr_revo_has(app->allow, key)) {
		atomic_fetch_add(&app->n_unregistered, 1);
		clr_seclog(CLR_SECLOG_UNREGISTERED, reqid,
			   "token of a client without an active registration refused");
		*why = "client not registered";
		return 0;
	}
	return 1;
}
