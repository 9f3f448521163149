/*
 * jwt.h - verification of JWS compact tokens (RFC 7515) carrying JWT claims
 * (RFC 7519, RFC 9068), as the gateway's introspect service needs it.
 *
 * What the token says about itself is trusted for nothing: the algorithm is
 * pinned by the key and by the provider's allow-list, "kid" is only a lookup
 * key into OUR key set, and the headers that would let a token bring its own
 * key ("jwk", "jku", "x5u", "x5c") make us refuse the token outright rather
 * than being silently ignored, so such a token is never half-trusted.
 * Refused always: "none", HS*, JWE (five parts), JSON serialization, any
 * "crit", "b64": false, a header over CLR_JWT_MAX_HEADER, a token over
 * CLR_JWT_MAX_TOKEN, non-strict base64url and duplicate JSON members.
 * clr_jwt_check also refuses a nested JWT ("cty"), a typ outside the
 * policy's list (RFC 8725 s.3.11) and an ID token presented as an access
 * token (it carries "nonce" or "at_hash", or it is not typed at+jwt and
 * its "aud" holds the client's own identity).
 *
 * Errors: every problem with the token is CLR_ERR_DENIED with e->error =
 * "invalid_token" and a fixed e->msg ("bad signature", "token expired",
 * "alg not allowed", ...) that never quotes the token.  The one exception
 * is an unknown kid: CLR_ERR_NOTFOUND ("unknown kid"), so the JWKS cache can
 * decide to refetch (under its cooldown) before answering 401.
 * CLR_ERR_PARAM is a caller bug (no issuer in the policy), CLR_ERR_NOMEM
 * an allocation failure.
 *
 * Thread-safety: no shared mutable state; all functions are re-entrant.
 */
#ifndef CLEARANCE_JWT_H
#define CLEARANCE_JWT_H

#include <stddef.h>
#include "clearance/rc.h"
#include "clearance/jwk.h"

#define CLR_JWT_MAX_TOKEN 8192u	 /* bytes of the compact token */
#define CLR_JWT_MAX_HEADER 1024u /* decoded bytes of the protected header */
#define CLR_JWT_DEFAULT_LEEWAY 30L

/* How one provider's tokens are checked.  A value type, borrowed strings. */
struct clr_jwt_policy {
	const char *issuer;	    /* required; "iss" must equal it exactly */
	const char *audience;	    /* NULL: "aud" not checked; else must be in it */
	unsigned alg_mask;	    /* CLR_JWS_ALG_BIT()s allowed; 0 allows none */
	long leeway_s;		    /* clock skew for exp/nbf/iat; < 0: default 30 */
	const char *identity_claim; /* NULL: client_id, then azp, then sub; a
				       dotted name with no such member is a
				       path into nested objects ("app.clientId") */
	const char *typs;	    /* space separated accepted header typ values
				       ("application/" optional, case-insensitive;
				       "none" = no typ); NULL: "at+jwt
				       application/at+jwt JWT none" */
	long long now;		    /* seconds since the epoch; 0: time(NULL) */
};

/*
 * Verified claims.  A value type whose strings are owned by it: zero it (or
 * use CLR_JWT_CLAIMS_INIT) before the first clr_jwt_verify/clr_jwt_check and
 * release it with clr_jwt_claims_clear.  Absent optional claims are NULL.
 */
struct clr_jwt_claims {
	enum clr_jws_alg alg;	    /* the verified algorithm */
	char *identity;		    /* value of the identity claim, never NULL on success */
	const char *identity_claim; /* its name ("client_id", ...), static or policy's */
	char *sub;
	char *iss;
	char *jti;
	char *aud;	 /* the matched audience, or "aud" if a single string */
	char *aud_array; /* "aud" as compact JSON text when the token has an array (RFC 7662
			    answers carry it as the token has it), else NULL */
	char *scope;	 /* normalized: single spaces, "" when no scope */
	char **scopes;	 /* nscopes entries pointing into scope_buf */
	size_t nscopes;
	long long exp;
	long long iat;	 /* 0 if absent */
	long long nbf;	 /* 0 if absent */
	char *scope_buf; /* private: backing store of scopes[] */
};
#define CLR_JWT_CLAIMS_INIT                                                                        \
	{                                                                                          \
		0                                                                                  \
	}

/* Frees what claims owns and zeroes it; safe on a zeroed struct. */
void clr_jwt_claims_clear(struct clr_jwt_claims *claims);

/*
 * A token that passed the structural checks (size, shape, base64url, JSON,
 * header rules) but whose signature and claims are NOT yet verified.  It
 * lets the caller read the (UNTRUSTED) issuer and kid to pick the
 * provider's key set and policy, then verify without parsing twice.
 * Opaque; the token text must outlive it (it is borrowed, not copied).
 */
struct clr_jwt;

/*
 * Structural parse of a compact token of len bytes (no NUL needed).
 * *out is new (clr_jwt_free).  Errors as in the file comment.
 */
enum clr_rc clr_jwt_parse(const char *token, size_t len, struct clr_jwt **out,
			  struct clr_err *e) CLR_MUSTCHECK;

/* Frees a parsed token.  NULL is a no-op. */
void clr_jwt_free(struct clr_jwt *t);

/* The header's alg (already known to be one we support; not yet allowed). */
enum clr_jws_alg clr_jwt_alg(const struct clr_jwt *t);

/*
 * UNTRUSTED header "kid" bytes (*len set), borrowed from t; NULL if absent.
 * Use it only as a lookup key: never in a path, a query or a log line.
 */
const char *clr_jwt_kid(const struct clr_jwt *t, size_t *len);

/*
 * UNTRUSTED "iss" claim, borrowed from t, for choosing the provider; NULL
 * if absent or not a string.  clr_jwt_check still compares it with the
 * policy's issuer.
 */
const char *clr_jwt_issuer(const struct clr_jwt *t);

/*
 * Verifies the signature of t with keys (alg allowed by pol->alg_mask and
 * pinned by the key) and then the claims against pol.  On CLR_OK *out is
 * filled (clear it with clr_jwt_claims_clear; any previous content is
 * cleared first); on error *out is left zeroed.
 */
enum clr_rc clr_jwt_check(const struct clr_jwt *t, const struct clr_jwks *keys,
			  const struct clr_jwt_policy *pol, struct clr_jwt_claims *out,
			  struct clr_err *e) CLR_MUSTCHECK;

/* clr_jwt_parse + clr_jwt_check + clr_jwt_free in one call. */
enum clr_rc clr_jwt_verify(const char *token, size_t len, const struct clr_jwks *keys,
			   const struct clr_jwt_policy *pol, struct clr_jwt_claims *out,
			   struct clr_err *e) CLR_MUSTCHECK;

/*
 * Plain JWS verification for payloads that are not JWT claims (same header
 * rules and caps; no claim checks).  On CLR_OK *payload is new (free()),
 * NUL-terminated after *payload_len bytes.
 */
enum clr_rc clr_jws_verify(const char *token, size_t len, const struct clr_jwks *keys,
			   unsigned alg_mask, unsigned char **payload, size_t *payload_len,
			   struct clr_err *e) CLR_MUSTCHECK;

#endif
