/*
 * decide.h - the gateway's one decision: may this bearer token make this
 * request?  GET /auth (nginx auth_request) and POST /v1/introspect (RFC
 * 7662) both call ix_decide and only render its result, so what the API
 * path enforces and what a resource server is told are the same thing.
 *
 * In order, each step refusing with the first reason that applies:
 *  1. the token verifies (issuer -> every provider of that issuer ->
 *     JWKS -> signature, claims, typ), from the verified-token cache when
 *     possible -> else IX_DENY_INVALID (401);
 *  2. its client is not in the deny set (revoked) -> IX_DENY_REVOKED (401);
 *  3. its client has an active registration under the token's issuer
 *     (grants.h) -> else IX_DENY_UNREGISTERED (401).  With
 *     CLEARANCE_GATEWAY_REQUIRE_REGISTERED=0 a client Clearance never
 *     registered is judged by its scopes alone (ix_cat_match), the
 *     pre-grants behaviour kept for migrations;
 *  4. the path lies under a product the client is granted (the product
 *     that owns the path by longest prefix, never one picked by scope) ->
 *     else IX_DENY_NOT_GRANTED (403);
 *  5. the product still offers the granted plan, and the token carries
 *     the product's and the plan's scopes (a token the IdP issued for a
 *     narrower purpose stays refused) -> else IX_DENY_SCOPE (403);
 *  6. when asked to count (only /auth does), the plan's rate limit and
 *     monthly quota, shared by every copy (limits.h) -> else
 *     IX_DENY_LIMITED (429 via nginx).  With PostgreSQL unreachable a plan
 *     whose policy is 'open' (the default) falls back to this copy's own
 *     token bucket and does not count its quota; 'closed' refuses.
 * With no path (introspection) step 4 takes the first grant, in the order
 * the grants snapshot holds them, that passes step 5.
 */
#ifndef IX_DECIDE_H
#define IX_DECIDE_H

#include "clearance/db.h"
#include "clearance/http_out.h"
#include "catalogue.h"
#include "limits.h"
#include "ratelimit.h"
#include "token_cache.h"

struct ix_app;

enum ix_verdict {
	IX_ALLOW,
	IX_DENY_INVALID,
	IX_DENY_REVOKED,
	IX_DENY_UNREGISTERED,
	IX_DENY_NOT_GRANTED,
	IX_DENY_SCOPE,
	IX_DENY_LIMITED,
	IX_VERDICT__MAX
};

/* The HTTP status /auth answers for a verdict (204, 401, 403 or 429). */
extern const int ix_verdict_status[IX_VERDICT__MAX];

struct ix_decision {
	enum ix_verdict verdict;
	const char *why;		      /* fixed text for the debug log, never token bytes */
	struct ix_tok *tok;		      /* new reference when the token verified, else NULL */
	struct ix_cat *cat;		      /* new reference when a product was looked at */
	const struct ix_cat_product *product; /* borrowed from cat; set on IX_ALLOW */
	const struct ix_cat_plan *plan;	      /* borrowed from cat; set on IX_ALLOW */
	int limited;			      /* 1 if rl below is filled */
	struct ix_rl_result rl;		      /* the rate limit (reset_s: window end) */
	int quota;			      /* 1 if q below is filled */
	struct ix_limit_take q;		      /* the monthly quota */
	int degraded; /* 1 if PostgreSQL was unreachable and the plan's policy applied */
};

/* What to decide on; all borrowed for the call. */
struct ix_request {
	const char *token; /* the bearer token, len bytes */
	size_t len;
	const char *path;  /* X-Original-URI, or NULL (introspection: any product) */
	int count;	   /* 1: take one request from the rate limit */
	const char *reqid; /* for security log lines */
	struct clr_http_client *http;
	struct clr_db *db; /* the shared counters (limits.h); NULL: unreachable */
	long long now_ms;  /* wall clock for limit periods; 0: the real one (tests inject) */
};

/*
 * Decides req.  d is filled in every case (release it with
 * ix_decision_clear).  CLR_ERR_NOMEM only when memory ran out: the caller
 * then refuses.
 */
enum clr_rc ix_decide(struct ix_app *app, const struct ix_request *req,
		      struct ix_decision *d) CLR_MUSTCHECK;

/* Releases the references d holds and zeroes it; safe on a zeroed d. */
void ix_decision_clear(struct ix_decision *d);

/*
 * Verifies a bearer token (len bytes): the cache of verified tokens first,
 * else issuer -> providers of that issuer -> JWKS (refetch on unknown kid,
 * under cooldown) -> signature and claims.  On CLR_OK *out is a new
 * reference.  Any problem with the token: CLR_ERR_DENIED, *why a fixed
 * reason for the log (never the token).  Step 1 of ix_decide.
 */
enum clr_rc ix_verify(struct ix_app *app, struct clr_http_client *http, const char *token,
		      size_t len, struct ix_tok **out, const char **why) CLR_MUSTCHECK;

#endif
