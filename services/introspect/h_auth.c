/*
 * h_auth.c - GET /auth, called by nginx auth_request for every API call.
 *
 * nginx turns any status but 2xx, 401 and 403 into a 500 for the client,
 * so this handler answers exactly 204, 401 or 403, whatever happens.  Over
 * the rate limit it answers 403 with X-Clearance-Deny: 429 and
 * Retry-After; deploy/nginx/gateway.conf maps that to a 429.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <openssl/crypto.h>

#include "clearance/log.h"
#include "clearance/util.h"
#include "basic_exchange.h"
#include "handlers.h"
#include "introspect.h"

static void deny_401(struct clr_req *r, struct clr_ix_app *app, const char *why)
{
	atomic_fetch_add(&app->n_invalid, 1);
	clr_resp_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
	clr_resp_header(r, "X-Clearance-Deny", "invalid_token");
	clr_log(r->reqid, CLR_LOG_DEBUG, "auth: 401: %s", why);
	clr_resp_empty(r, 401);
}

static void deny_403(struct clr_req *r, struct clr_ix_app *app, const char *why)
{
	atomic_fetch_add(&app->n_scope, 1);
	clr_resp_header(r, "WWW-Authenticate", "Bearer error=\"insufficient_scope\"");
	clr_resp_header(r, "X-Clearance-Deny", "insufficient_scope");
	clr_log(r->reqid, CLR_LOG_DEBUG, "auth: 403: %s", why);
	clr_resp_empty(r, 403);
}

/* Values go into response headers: no control characters may pass. */
static int hdr_safe(const char *s)
{
	for (; s != NULL && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* Case-insensitive scheme match; returns the credentials after the blanks. */
static const char *scheme(const char *authz, const char *name)
{
	size_t n = strlen(name);

	if (strncasecmp(authz, name, n) != 0 || authz[n] != ' ')
		return NULL;
	authz += n;
	while (*authz == ' ')
		authz++;
	return authz;
}

void clr_h_auth(struct clr_req *r)
{
	struct clr_ix_app *app = r->app;
	const char *authz = clr_req_env(r, "HTTP_AUTHORIZATION");
	const char *uri = clr_req_env(r, "HTTP_X_ORIGINAL_URI");
	const char *cred, *why = "no credentials";
	char *basic_token = NULL;
	struct clr_tok *tok = NULL;
	struct clr_cat *cat = NULL;
	const struct clr_cat_product *prod;
	const struct clr_cat_plan *plan;
	struct clr_rl_result rl;
	char num[32];
	size_t len;
	enum clr_rc rc;

	if (authz == NULL || (len = strlen(authz)) == 0 || len > CLR_IX_MAX_AUTHZ) {
		deny_401(r, app, authz ? "authorization too large" : why);
		goto out;
	}
	if ((cred = scheme(authz, "Bearer")) != NULL) {
		len = strlen(cred);
	} else if ((cred = scheme(authz, "Basic")) != NULL) {
		rc = clr_basic_token(app->basic, r->db, r->http, app->provs, cred, strlen(cred),
				     &basic_token, &why);
		if (rc != CLR_OK) {
			deny_401(r, app, why);
			goto out;
		}
		cred = basic_token;
		len = strlen(cred);
	} else {
		deny_401(r, app, "unsupported authorization scheme");
		goto out;
	}
	rc = clr_ix_verify(app, r->http, cred, len, &tok, &why);
	if (rc != CLR_OK) {
		deny_401(r, app, why);
		goto out;
	}
	/* Checked on every request, cache hit or not: revocation is immediate. */
	if (!clr_ix_client_ok(app, tok, r->reqid, &why)) {
		deny_401(r, app, why);
		goto out;
	}
	if (!hdr_safe(tok->claims.identity) || !hdr_safe(tok->claims.sub) ||
	    !hdr_safe(tok->claims.scope)) {
		deny_401(r, app, "control characters in claims");
		goto out;
	}
	cat = clr_ix_catalogue(app);
	if (cat == NULL) {
		deny_403(r, app, "catalogue not loaded");
		goto out;
	}
	switch (clr_cat_match(cat, tok->claims.scopes, tok->claims.nscopes, uri ? uri : "", &prod,
			      &plan)) {
	case CLR_CAT_OK:
		break;
	case CLR_CAT_NO_PLAN:
		deny_403(r, app, "no plan scope");
		goto out;
	default:
		deny_403(r, app, "no product covers the path");
		goto out;
	}
	if (plan->rl_requests > 0) {
		rc = clr_rl_take(app->rl, tok->claims.identity, plan->id, plan->rl_requests,
				 plan->rl_window_s, clr_now_ms(), &rl);
		if (rc != CLR_OK) {
			/* No bucket means no limit we could enforce: refuse, don't open up. */
			rl.allowed = 0;
			rl.retry_after_s = 1;
			rl.limit = plan->rl_requests;
		}
		snprintf(num, sizeof(num), "%ld", rl.limit);
		clr_resp_header(r, "X-RateLimit-Limit", num);
		snprintf(num, sizeof(num), "%ld", rl.remaining);
		clr_resp_header(r, "X-RateLimit-Remaining", num);
		if (!rl.allowed) {
			atomic_fetch_add(&app->n_limited, 1);
			snprintf(num, sizeof(num), "%ld", rl.retry_after_s);
			clr_resp_header(r, "Retry-After", num);
			clr_resp_header(r, "X-Clearance-Deny", "429");
			clr_resp_empty(r, 403);
			goto out;
		}
	}
	atomic_fetch_add(&app->n_allow, 1);
	clr_resp_header(r, "X-Clearance-Client-Id", tok->claims.identity);
	clr_resp_header(r, "X-Clearance-Subject", tok->claims.sub ? tok->claims.sub : "");
	clr_resp_header(r, "X-Clearance-Scope", tok->claims.scope ? tok->claims.scope : "");
	clr_resp_header(r, "X-Clearance-Product", prod->name);
	clr_resp_header(r, "X-Clearance-Plan", plan->name);
	clr_resp_empty(r, 204);
out:
	clr_cat_release(cat);
	clr_tok_release(tok);
	if (basic_token != NULL) {
		OPENSSL_cleanse(basic_token, strlen(basic_token));
		free(basic_token);
	}
}
