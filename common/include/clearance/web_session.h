/*
 * web_session.h - browser sessions: the same api_tokens as bearer tokens,
 * carried in an HttpOnly cookie instead of an Authorization header.
 *
 * A cookie-authenticated request that can change state (any method but
 * GET, HEAD and OPTIONS) must also prove it comes from the portal's own
 * pages (CSRF): an Origin header equal to the service's public origin AND
 * the custom header "X-Clearance-CSRF: 1", which a cross-origin page cannot
 * send without a CORS preflight that Clearance never grants.
 *
 * The public origin is cfg->public_origins (CLEARANCE_PUBLIC_ORIGINS, space or comma separated,
 * e.g. "https://portal.example.com") when set, else the request's own
 * REQUEST_SCHEME://HTTP_HOST[:SERVER_PORT].
 */
#ifndef CLEARANCE_WEB_SESSION_H
#define CLEARANCE_WEB_SESSION_H

#include <stddef.h>
#include "clearance/rc.h"
#include "clearance/http_in.h"

#define CLR_WEB_COOKIE "clr_session"

/* 1 when the request carries a clr_session cookie (of any value). */
int clr_web_has_session(const struct clr_req *r);

/*
 * Authenticates by the session cookie into *out.  Unknown, revoked or
 * expired: CLR_ERR_DENIED.  CSRF check failed: CLR_ERR_FORBIDDEN (logged
 * as a security event).  Database trouble: CLR_ERR_DB.
 */
enum clr_rc clr_web_auth(struct clr_req *r, struct clr_principal *out) CLR_MUSTCHECK;

/* 1 when origin (e.g. "http://127.0.0.1:8080") is the service's public origin. */
int clr_web_origin_ok(const struct clr_req *r, const char *origin);

/*
 * The origin links in mails point to: the first of CLEARANCE_PUBLIC_ORIGINS,
 * else the request's own.  Returns 0 (out = "") when neither is known.
 */
int clr_web_public_origin(const struct clr_req *r, char *out, size_t cap);

/*
 * 1 when cookies set in answer to r may go without the Secure flag: plain
 * http to a loopback host (development); 0 otherwise.
 */
int clr_web_insecure_ok(const struct clr_req *r);

/*
 * Finds cookie `name` in a Cookie header; copies its value into buf
 * (cap bytes with NUL).  Returns 1 when found and it fits, else 0.
 */
int clr_web_cookie_get(const char *header, const char *name, char *buf, size_t cap);

#endif
