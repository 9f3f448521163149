/*
 * oauth.h - the OAuth syntax rules every service applies the same way: one
 * scope rule and one redirect-URI rule, so an app never holds a value the
 * registrar (or the IdP behind it) would refuse.
 */
#ifndef CLEARANCE_OAUTH_H
#define CLEARANCE_OAUTH_H

#include "clearance/rc.h"

/* 1 if s is RFC 6749 s.3.3 scope syntax: NQCHAR tokens, single spaces; "" too. */
int clr_scope_valid(const char *s);

/*
 * A redirect URI (RFC 6749 s.3.1.2, RFC 8252 s.7.3): at most 2048 bytes, no
 * control character or space, absolute, https, or http only on a loopback
 * host (localhost, 127.0.0.1, [::1]); no user info, no fragment.  The text
 * as written must read "https://<host>" or "http://<loopback>" (libcurl
 * would accept and normalise "https:/h", "HTTP://127.1", "http://0x7f000001",
 * but the URI is stored and sent to the IdP as written).  On refusal
 * CLR_ERR_PARAM, e->error "invalid_redirect_uri", e->field `field`.
 */
enum clr_rc clr_redirect_uri_check(const char *uri, const char *field,
				   struct clr_err *e) CLR_MUSTCHECK;

#endif
