/*
 * h_introspect.c - POST /v1/introspect (RFC 7662) for resource servers.
 *
 * The caller is either a resource server with HTTP Basic id:secret of an
 * active row of introspection_clients (checked in memory, see
 * isclients.h) or an admin bearer token; the route itself is public so
 * that this handler can accept both.  The
 * answer is {"active": true, ...} for a token the gateway would let
 * through on some product path (ix_decide without a path: valid token,
 * client not revoked, a granted product and plan whose scopes the token
 * carries), and exactly
 * {"active": false} for anything else: RFC 7662 s.2.2 says to give no
 * reason.  Each caller may make IX_INTROSPECT_RATE calls per
 * IX_INTROSPECT_WINDOW_S (per copy; 429 with Retry-After beyond).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <jansson.h>

#include "clearance/auth.h"
#include "clearance/log.h"
#include "clearance/util.h"
#include "handlers.h"
#include "introspect.h"
#include "seclog.h"

/*
 * 1 if the caller may introspect; else the 401/403/503 has been sent.
 * A wrong Basic credential is a 401 invalid_client (RFC 6749 s.5.2 style),
 * a developer token a 403.
 */
static int caller_ok(struct clr_req *r, struct ix_app *app, char caller[48])
{
	const char *authz = clr_req_env(r, "HTTP_AUTHORIZATION");
	char id[IX_ISC_ID_LEN + 1];
	struct clr_principal who;
	enum clr_rc rc;

	if (authz != NULL && strncasecmp(authz, "Basic ", 6) == 0) {
		if (ix_isc_check_basic(app->isc, authz, id)) {
			snprintf(caller, 48, "isc:%s", id);
			return 1;
		}
		ix_seclog(IX_SECLOG_INTROSPECT_AUTH, r->reqid,
			  "introspect: Basic credentials refused");
		clr_resp_header(r, "WWW-Authenticate", "Basic realm=\"introspect\"");
		clr_resp_error(r, 401, "invalid_client", "unknown client or wrong secret");
		return 0;
	}
	if (authz == NULL) {
		clr_resp_header(r, "WWW-Authenticate", "Basic realm=\"introspect\", Bearer");
		clr_resp_error(r, 401, "invalid_client",
			       "Basic credentials of an introspection client or an admin token "
			       "are required");
		return 0;
	}
	memset(&who, 0, sizeof(who));
	rc = r->db != NULL ? clr_auth_bearer(r->db, authz, &who) : CLR_ERR_DB;
	if (rc == CLR_ERR_DB) {
		struct clr_err e;
		memset(&e, 0, sizeof(e));
		e.rc = CLR_ERR_DB;
		clr_resp_err(r, &e);
		return 0;
	}
	if (rc != CLR_OK) {
		ix_seclog(IX_SECLOG_INTROSPECT_AUTH, r->reqid, "introspect: bearer token refused");
		clr_resp_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		clr_resp_error(r, 401, "invalid_token", "the bearer token is invalid or expired");
		return 0;
	}
	if (who.role != CLR_ROLE_ADMIN) {
		ix_seclog(IX_SECLOG_INTROSPECT_AUTH, r->reqid,
			  "introspect: non-admin token %s refused", who.token_id);
		clr_resp_error(r, 403, "forbidden", "an admin token is required");
		return 0;
	}
	snprintf(caller, 48, "adm:%s", who.token_id);
	return 1;
}

/*
 * 1 if the caller may make one more call: IX_INTROSPECT_RATE calls per
 * IX_INTROSPECT_WINDOW_S per caller and copy, against token fishing (a
 * stolen resource-server credential trying tokens).  Else the 429 is sent.
 */
static int caller_rate_ok(struct clr_req *r, struct ix_app *app, const char *caller)
{
	struct ix_rl_result rl;
	char num[32];

	if (ix_rl_take(app->rl, caller, "introspect", IX_INTROSPECT_RATE, IX_INTROSPECT_WINDOW_S,
		       clr_now_ms(), &rl) == CLR_OK &&
	    rl.allowed)
		return 1;
	atomic_fetch_add(&app->n_introspect_limited, 1);
	ix_seclog(IX_SECLOG_INTROSPECT_AUTH, r->reqid, "introspect: caller over its rate limit");
	snprintf(num, sizeof(num), "%ld", rl.retry_after_s > 0 ? rl.retry_after_s : 1);
	clr_resp_header(r, "Retry-After", num);
	clr_resp_error(r, 429, "too_many_requests", "introspection rate limit exceeded");
	return 0;
}

/* The RFC 7662 answer for an allowed decision. */
static json_t *active(const struct ix_decision *d)
{
	const struct clr_jwt_claims *c = &d->tok->claims;
	json_t *aud = NULL;

	/* "aud" as the token has it: a string stays a string, an array an array. */
	if (c->aud_array != NULL) {
		aud = json_loads(c->aud_array, 0, NULL);
		if (aud == NULL)
			return NULL;
	} else if (c->aud != NULL && (aud = json_string(c->aud)) == NULL) {
		return NULL;
	}
	/* "o?" steals aud, also when json_pack fails. */
	return json_pack("{s:b,s:s,s:s?,s:s,s:I,s:I,s:s,s:o?,s:s,s:s,s:s}", "active", 1,
			 "client_id", c->identity, "sub", c->sub, "scope", c->scope ? c->scope : "",
			 "exp", (json_int_t)c->exp, "iat", (json_int_t)c->iat, "iss",
			 c->iss ? c->iss : "", "aud", aud, "token_type", "Bearer", "product",
			 d->product->name, "plan", d->plan->name);
}

void ix_h_introspect(struct clr_req *r)
{
	struct ix_app *app = r->app;
	const char *ctype = clr_req_env(r, "CONTENT_TYPE");
	char *token = NULL;
	struct ix_request q;
	struct ix_decision d;
	enum clr_rc rc;
	json_t *o;
	char caller[48];

	memset(&d, 0, sizeof(d));
	if (!caller_ok(r, app, caller) || !caller_rate_ok(r, app, caller))
		return;
	if (ctype == NULL || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0) {
		clr_resp_error(r, 400, "invalid_request",
			       "body must be application/x-www-form-urlencoded");
		return;
	}
	rc = clr_req_form(r, "token", &token);
	if (rc != CLR_OK || token == NULL || token[0] == '\0') {
		clr_resp_error(r, rc == CLR_ERR_NOMEM ? 500 : 400,
			       rc == CLR_ERR_NOMEM ? "server_error" : "invalid_request",
			       rc == CLR_ERR_CONFLICT ? "token given more than once"
			       : rc == CLR_ERR_PARAM  ? "badly encoded body"
						      : "token is required");
		goto out;
	}
	memset(&q, 0, sizeof(q));
	q.token = token;
	q.len = strlen(token);
	q.reqid = r->reqid;
	q.http = r->http;
	if (ix_decide(app, &q, &d) != CLR_OK || d.verdict != IX_ALLOW) {
		/* RFC 7662 s.2.2: no reason is given */
		clr_resp_json(r, 200, json_pack("{s:b}", "active", 0));
		goto out;
	}
	if ((o = active(&d)) == NULL) {
		clr_resp_error(r, 500, "server_error", "out of memory");
		goto out;
	}
	clr_resp_json(r, 200, o);
out:
	ix_decision_clear(&d);
	if (token != NULL) {
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
}
