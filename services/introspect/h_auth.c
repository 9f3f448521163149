/*
 * h_auth.c - GET /auth, called by nginx auth_request for every API call.
 *
 * nginx turns any status but 2xx, 401 and 403 into a 500 for the client,
 * so this handler answers exactly 204, 401 or 403, whatever happens.  Over
 * the rate limit it answers 403 with X-Clearance-Deny: 429 and
 * Retry-After; deploy/nginx/gateway.conf maps that to a 429.  The
 * decision itself is ix_decide's (decide.h); this file only renders it.
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

static void num_header(struct clr_req *r, const char *name, long v)
{
	char num[32];

	snprintf(num, sizeof(num), "%ld", v);
	clr_resp_header(r, name, num);
}

/* Renders a refusal before the decision could be made (no or bad credentials). */
static void deny_401(struct clr_req *r, struct ix_app *app, const char *why)
{
	atomic_fetch_add(&app->n_verdict[IX_DENY_INVALID], 1);
	clr_resp_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
	clr_resp_header(r, "X-Clearance-Deny", "invalid_token");
	clr_log(r->reqid, CLR_LOG_DEBUG, "auth: 401: %s", why);
	clr_resp_empty(r, 401);
}

/* Renders the decision; nginx only passes 2xx, 401 and 403 on. */
static void render(struct clr_req *r, struct ix_app *app, const struct ix_decision *d)
{
	int status = ix_verdict_status[d->verdict];

	if (d->tok != NULL)
		clr_req_set_client_id(r, d->tok->claims.identity);
	if (d->limited) {
		/* draft-ietf-httpapi-ratelimit-headers and the older X- names */
		num_header(r, "RateLimit-Limit", d->rl.limit);
		num_header(r, "RateLimit-Remaining", d->rl.remaining);
		num_header(r, "RateLimit-Reset", d->rl.reset_s);
		num_header(r, "X-RateLimit-Limit", d->rl.limit);
		num_header(r, "X-RateLimit-Remaining", d->rl.remaining);
	}
	if (d->quota) {
		num_header(r, "X-Quota-Limit", (long)d->q.limit);
		num_header(r, "X-Quota-Remaining", (long)d->q.remaining);
		num_header(r, "X-Quota-Reset", d->q.reset_s);
	}
	switch (status) {
	case 204:
		clr_resp_header(r, "X-Clearance-Client-Id", d->tok->claims.identity);
		clr_resp_header(r, "X-Clearance-Subject",
				d->tok->claims.sub ? d->tok->claims.sub : "");
		clr_resp_header(r, "X-Clearance-Scope",
				d->tok->claims.scope ? d->tok->claims.scope : "");
		clr_resp_header(r, "X-Clearance-Product", d->product->name);
		clr_resp_header(r, "X-Clearance-Plan", d->plan->name);
		clr_resp_empty(r, 204);
		return;
	case 429:
		/* deploy/nginx/gateway.conf maps X-Clearance-Deny: 429 to a 429 */
		num_header(r, "Retry-After", d->rl.retry_after_s);
		clr_resp_header(r, "X-Clearance-Deny", "429");
		clr_resp_empty(r, 403);
		return;
	case 401:
		clr_resp_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		clr_resp_header(r, "X-Clearance-Deny", "invalid_token");
		break;
	default:
		clr_resp_header(r, "WWW-Authenticate", "Bearer error=\"insufficient_scope\"");
		clr_resp_header(r, "X-Clearance-Deny", "insufficient_scope");
		status = 403;
		break;
	}
	(void)app;
	clr_log(r->reqid, CLR_LOG_DEBUG, "auth: %d: %s", status, d->why);
	clr_resp_empty(r, status);
}

void ix_h_auth(struct clr_req *r)
{
	struct ix_app *app = r->app;
	const char *authz = clr_req_env(r, "HTTP_AUTHORIZATION");
	const char *cred, *why = "no credentials";
	char *basic_token = NULL;
	struct ix_request q;
	struct ix_decision d;
	size_t len;

	memset(&d, 0, sizeof(d));
	if (authz == NULL || (len = strlen(authz)) == 0 || len > IX_MAX_AUTHZ) {
		deny_401(r, app, authz ? "authorization too large" : why);
		goto out;
	}
	if ((cred = scheme(authz, "Bearer")) == NULL) {
		if ((cred = scheme(authz, "Basic")) == NULL) {
			deny_401(r, app, "unsupported authorization scheme");
			goto out;
		}
		if (ix_basic_token(app->basic, r->db, r->http, app->provs, cred, strlen(cred),
				   &basic_token, &why) != CLR_OK) {
			deny_401(r, app, why);
			goto out;
		}
		cred = basic_token;
	}
	memset(&q, 0, sizeof(q));
	q.token = cred;
	q.len = strlen(cred);
	q.path = clr_req_env(r, "HTTP_X_ORIGINAL_URI");
	if (q.path == NULL)
		q.path = "";
	q.count = 1;
	q.reqid = r->reqid;
	q.http = r->http;
	q.db = r->db;
	if (ix_decide(app, &q, &d) != CLR_OK) {
		deny_401(r, app, "out of memory");
		goto out;
	}
	render(r, app, &d);
out:
	ix_decision_clear(&d);
	if (basic_token != NULL) {
		OPENSSL_cleanse(basic_token, strlen(basic_token));
		free(basic_token);
	}
}
