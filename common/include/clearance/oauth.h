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
 * but the URI is stored and sent to the IdP as written).  http may also
 * name another 127.0.0.0/8 address written as a dotted quad.
 *
 * The host must be public (issue 10): link-local, private-range, CGNAT,
 * unspecified, multicast, reserved and documentation addresses (IPv4 in any
 * spelling a resolver accepts, IPv6 including IPv4-mapped, NAT64 and 6to4
 * forms), single-label names and the private-use name suffixes (.internal,
 * .local, .localdomain, .home.arpa, .lan, .corp, .intranet, .private) are
 * refused unless the operator's allowance (clr_redirect_allow_set) covers
 * them.  Loopback (127.0.0.0/8, [::1], localhost, *.localhost) is allowed.
 * The check is on the literal host: names are never resolved.
 *
 * On refusal CLR_ERR_PARAM, e->error "invalid_redirect_uri", e->field `field`.
 */
enum clr_rc clr_redirect_uri_check(const char *uri, const char *field,
				   struct clr_err *e) CLR_MUSTCHECK;

/*
 * Sets the process-wide operator allowance for non-public redirect hosts from
 * CLEARANCE_REDIRECT_ALLOW_PRIVATE (config.c calls it once at load, before
 * any thread starts; tests call it between cases).  `list` (borrowed; NULL or
 * "" = nothing allowed) is "1"/"all" (every non-public host) or a
 * comma-separated list of CIDRs ("10.20.0.0/16", "fd00::/8"), single
 * addresses, host names, and ".suffix" entries matching names under a suffix.
 * On a malformed list CLR_ERR_PARAM with the reason in e->msg and the
 * previous allowance unchanged.  Not thread-safe: configuration time only.
 */
enum clr_rc clr_redirect_allow_set(const char *list, struct clr_err *e) CLR_MUSTCHECK;

#endif
