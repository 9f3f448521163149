/*
 * h_introspect.c - POST /v1/introspect (RFC 7662) for resource servers.
 *
 * The caller is either a resource server with HTTP Basic id:secret of an
 * active row of introspection_clients (checked in memory, see
 * isclients.h) or an admin bearer token; the route itself is public so
 * that this handler can accept both.  The
 * answer is {"active": true, ...} for a token the gateway would let
 * through on some product path (valid signature and claims, client not
 * revoked, a product and plan granted by its scopes), and exactly
 * {"active": false} for anything else: RFC 7662 s.2.2 says to give no
 * reason.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <jansson.h>

#include "clearance/auth.h"
#include "clearance/log.h"
#include "handlers.h"
#include "introspect.h"
#include "seclog.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Value of `name` in an application/x-www-form-urlencoded body, decoded,
 * new (free()); NULL if absent or badly encoded.  *dup is set when the
 * name occurs more than once (RFC 7662 callers must send it once).
 */
static char *form_get(const char *body, size_t len, const char *name, int *dup)
{
	size_t nl = strlen(name), i = 0;
	char *val = NULL;

	*dup = 0;
	while (i < len) {
		size_t end = i, eq;
		while (end < len && body[end] != '&')
			end++;
		for (eq = i; eq < end && body[eq] != '='; eq++)
			;
		if (eq - i == nl && memcmp(body + i, name, nl) == 0) {
			char *o, *q;
			if (val != NULL) {
				*dup = 1;
				free(val);
				return NULL;
			}
			o = q = malloc(end - eq + 1);
			if (o == NULL)
				return NULL;
			for (size_t k = eq + 1; k < end; k++) {
				if (body[k] == '+') {
					*q++ = ' ';
				} else if (body[k] == '%') {
					int h, l;
					if (k + 2 >= end) {
						free(o);
						return NULL;
					}
					h = hexval(body[k + 1]);
					l = hexval(body[k + 2]);
					if (h < 0 || l < 0 || (h == 0 && l == 0)) {
						free(o);
						return NULL;
					}
					*q++ = (char)(h * 16 + l);
					k += 2;
				} else {
					*q++ = body[k];
				}
			}
			*q = '\0';
			val = o;
		}
		i = end + 1;
	}
	return val;
}

/*
 * 1 if the caller may introspect; else the 401/403/503 has been sent.
 * A wrong Basic credential is a 401 invalid_client (RFC 6749 s.5.2 style),
 * a developer token a 403.
 */
static int caller_ok(struct clr_req *r, struct clr_ix_app *app)
{
	const char *authz = clr_req_env(r, "HTTP_AUTHORIZATION");
	char id[CLR_ISC_ID_LEN + 1];
	struct clr_principal who;
	enum clr_rc rc;

	if (authz != NULL && strncasecmp(authz, "Basic ", 6) == 0) {
		if (clr_isc_check_basic(app->isc, authz, id))
			return 1;
		clr_seclog(CLR_SECLOG_INTROSPECT_AUTH, r->reqid,
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
		clr_resp_error(r, 503, "temporarily_unavailable",
			       "the database is unavailable, try again later");
		return 0;
	}
	if (rc != CLR_OK) {
		clr_seclog(CLR_SECLOG_INTROSPECT_AUTH, r->reqid,
			   "introspect: bearer token refused");
		clr_resp_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		clr_resp_error(r, 401, "invalid_token", "the bearer token is invalid or expired");
		return 0;
	}
	if (who.role != CLR_ROLE_ADMIN) {
		clr_seclog(CLR_SECLOG_INTROSPECT_AUTH, r->reqid,
			   "introspect: non-admin token %s refused", who.token_id);
		clr_resp_error(r, 403, "forbidden", "an admin token is required");
		return 0;
	}
	return 1;
}

static void inactive(struct clr_req *r)
{
	clr_resp_json(r, 200, json_pack("{s:b}", "active", 0));
}

void clr_h_introspect(struct clr_req *r)
{
	struct clr_ix_app *app = r->app;
	const char *ctype = clr_req_env(r, "CONTENT_TYPE");
	char *token = NULL;
	struct clr_tok *tok = NULL;
	struct clr_cat *cat = NULL;
	const struct clr_cat_product *prod = NULL;
	const struct clr_cat_plan *plan = NULL;
	const char *why;
	json_t *o;
	int dup = 0;

	if (!caller_ok(r, app))
		return;
	if (ctype == NULL || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0) {
		clr_resp_error(r, 400, "invalid_request",
			       "body must be application/x-www-form-urlencoded");
		return;
	}
	token = form_get(r->body.p, r->body.len, "token", &dup);
	if (token == NULL || token[0] == '\0') {
		clr_resp_error(r, 400, "invalid_request",
			       dup ? "token given more than once" : "token is required");
		goto out;
	}
	if (clr_ix_verify(app, r->http, token, strlen(token), &tok, &why) != CLR_OK) {
		inactive(r);
		goto out;
	}
	if (!clr_ix_client_ok(app, tok, r->reqid, &why)) {
		inactive(r);
		goto out;
	}
	cat = clr_ix_catalogue(app);
	if (cat == NULL || clr_cat_match(cat, tok->claims.scopes, tok->claims.nscopes, NULL, &prod,
					 &plan) != CLR_CAT_OK) {
		inactive(r);
		goto out;
	}
	o = json_pack("{s:b,s:s,s:s?,s:s,s:I,s:I,s:s,s:s?,s:s,s:s,s:s}", "active", 1, "client_id",
		      tok->claims.identity, "sub", tok->claims.sub, "scope",
		      tok->claims.scope ? tok->claims.scope : "", "exp",
		      (json_int_t)tok->claims.exp, "iat", (json_int_t)tok->claims.iat, "iss",
		      tok->claims.iss ? tok->claims.iss : "", "aud", tok->claims.aud, "token_type",
		      "Bearer", "product", prod->name, "plan", plan->name);
	if (o == NULL) {
		clr_resp_error(r, 500, "server_error", "out of memory");
		goto out;
	}
	clr_resp_json(r, 200, o);
out:
	clr_cat_release(cat);
	clr_tok_release(tok);
	if (token != NULL) {
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
}
