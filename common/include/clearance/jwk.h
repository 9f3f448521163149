/*
 * jwk.h - public signature-verification keys (RFC 7517) and JWK sets.
 *
 * Only what the gateway needs to verify an IdP's access tokens: RSA (>= 2048
 * bits), EC P-256/P-384/P-521 and OKP Ed25519 public keys.  Symmetric ("oct")
 * keys, private keys, encryption keys and anything we cannot use are refused
 * at parse time with a recorded reason, so nothing downstream ever has to ask
 * "may this key be used for that?" again: a parsed key carries the set of
 * JWS algorithms it may verify.
 *
 * Thread-safety: a parsed struct clr_jwk / struct clr_jwks is immutable.
 * Verification uses a fresh EVP_MD_CTX per call and only reads the EVP_PKEY,
 * so any number of threads may verify with the same set at once, provided
 * the set is not freed meanwhile (the JWKS cache owns that lifetime).
 */
#ifndef CLEARANCE_JWK_H
#define CLEARANCE_JWK_H

#include <stddef.h>
#include "clearance/rc.h"

/*
 * The JWS algorithms we verify (RFC 7518 s.3, RFC 8037).  HS*, "none" and
 * everything else have no value here on purpose: they cannot be named, so
 * they cannot be allowed by mistake.
 */
enum clr_jws_alg {
	CLR_JWS_RS256,
	CLR_JWS_RS384,
	CLR_JWS_RS512,
	CLR_JWS_PS256,
	CLR_JWS_PS384,
	CLR_JWS_PS512,
	CLR_JWS_ES256,
	CLR_JWS_ES384,
	CLR_JWS_ES512,
	CLR_JWS_EDDSA,
	CLR_JWS_ALG__MAX
};

#define CLR_JWS_ALG_BIT(a) (1u << (unsigned)(a))
#define CLR_JWS_ALG_ALL ((1u << CLR_JWS_ALG__MAX) - 1u)

/* Caps that keep a hostile or broken IdP from costing us memory or CPU. */
#define CLR_JWKS_MAX_BYTES (256u * 1024u) /* whole JWKS document */
#define CLR_JWKS_MAX_KEYS 64u		  /* entries in "keys" */
#define CLR_JWK_KID_MAX 256u		  /* bytes of a "kid" */

/* Registered name ("RS256", "EdDSA", ...), or NULL if a is out of range. */
const char *clr_jws_alg_name(enum clr_jws_alg a);

/*
 * Exact, case-sensitive lookup of a JWS "alg" name of len bytes (no NUL
 * needed).  CLR_ERR_NOTFOUND for every name we do not verify, including
 * "none" and "HS256".
 */
enum clr_rc clr_jws_alg_parse(const char *s, size_t len, enum clr_jws_alg *out) CLR_MUSTCHECK;

/*
 * Parses a comma- or space-separated allow-list such as "RS256, ES256" into
 * a mask of CLR_JWS_ALG_BIT()s, for a provider's configuration.  Any unknown
 * name (e.g. "HS256", "none") is CLR_ERR_PARAM with the name in e->msg, so a
 * typo is a startup error rather than a silently narrower list.  An empty
 * list is CLR_ERR_PARAM too.
 */
enum clr_rc clr_jws_alg_mask_parse(const char *list, unsigned *mask,
				   struct clr_err *e) CLR_MUSTCHECK;

/* One verification key.  Opaque; immutable once parsed. */
struct clr_jwk;

/* A parsed JWK set: the usable keys, plus the refused ones with a reason. */
struct clr_jwks;

/*
 * Parses one JWK JSON object (json, len bytes; no NUL needed).  On success
 * *out is new (clr_jwk_free).  A key we refuse (see the file comment) is
 * CLR_ERR_PARAM with the reason in e->msg; *out is then NULL.
 */
enum clr_rc clr_jwk_parse_one(const char *json, size_t len, struct clr_jwk **out,
			      struct clr_err *e) CLR_MUSTCHECK;

/* Frees a key from clr_jwk_parse_one.  NULL is a no-op. */
void clr_jwk_free(struct clr_jwk *k);

/* Mask of CLR_JWS_ALG_BIT()s this key may verify (pinned by kty/crv/alg). */
unsigned clr_jwk_algs(const struct clr_jwk *k);

/*
 * The key's "kid" bytes, borrowed for the key's lifetime, with its length in
 * *len (may contain any byte, NUL included).  NULL if the key has no kid.
 */
const char *clr_jwk_kid(const struct clr_jwk *k, size_t *len);

/*
 * Verifies sig over data (n bytes, the JWS signing input) with key k as JWS
 * algorithm alg.  CLR_OK only if alg is one the key may verify and the
 * signature is valid in exactly the JWS encoding: raw r||s of exactly
 * 2*coordinate bytes for ES*, a modulus-length signature for RS* and PS*, PSS
 * with salt length = hash length and MGF1 with the same hash, 64 bytes for
 * EdDSA.  Everything else, including "wrong algorithm for this key", is
 * CLR_ERR_DENIED (CLR_ERR_NOMEM if OpenSSL could not allocate).
 * Safe to call from many threads on the same key.
 */
enum clr_rc clr_jwk_verify(const struct clr_jwk *k, enum clr_jws_alg alg, const void *data,
			   size_t n, const unsigned char *sig, size_t siglen) CLR_MUSTCHECK;

/* Flags for clr_jwks_parse_ex. */
enum {
	/*
	 * Return a set even when no key is usable (for the admin JWKS view,
	 * which wants the refusal reasons).  Never use this for a set that
	 * verifies tokens: a cache must not replace a good set with it.
	 */
	CLR_JWKS_ALLOW_EMPTY = 1u << 0,
	/*
	 * Refuse the whole set (CLR_ERR_PARAM, e->msg says why) when any entry
	 * carries private members ("d", "p", "k", ...) or when two entries
	 * share a kid, whatever their algorithms: an IdP that publishes such a
	 * set is misconfigured or tampered with, and picking the keys that
	 * look fine would hide it.  What a verifying cache uses.
	 */
	CLR_JWKS_STRICT = 1u << 1,
};

/*
 * Parses a JWK set document {"keys": [...]} of len bytes (no NUL needed,
 * at most CLR_JWKS_MAX_BYTES, at most CLR_JWKS_MAX_KEYS entries).  Keys we
 * refuse are skipped and recorded with a reason (clr_jwks_skipped).  A
 * later key whose kid equals an accepted key's kid and which could verify
 * one of the same algorithms is skipped as "duplicate kid", since a lookup
 * could otherwise not tell them apart.  A malformed document, or one
 * without a single usable key, is CLR_ERR_PARAM (e->msg says why, naming the
 * first refusal when every key was refused).  On success *out is new
 * (clr_jwks_free).
 */
enum clr_rc clr_jwks_parse(const char *json, size_t len, struct clr_jwks **out,
			   struct clr_err *e) CLR_MUSTCHECK;
enum clr_rc clr_jwks_parse_ex(const char *json, size_t len, unsigned flags, struct clr_jwks **out,
			      struct clr_err *e) CLR_MUSTCHECK;

/* Frees a set.  NULL is a no-op.  Keys borrowed from it die with it. */
void clr_jwks_free(struct clr_jwks *set);

/* Number of usable keys. */
size_t clr_jwks_count(const struct clr_jwks *set);

/* The i-th usable key (i < clr_jwks_count), borrowed from set. */
const struct clr_jwk *clr_jwks_key(const struct clr_jwks *set, size_t i);

/* kid of the i-th usable key, borrowed; NULL if it has none.  See clr_jwk_kid. */
const char *clr_jwks_kid(const struct clr_jwks *set, size_t i, size_t *len);

/*
 * Finds the key to verify a token whose header says kid (kid_len bytes,
 * compared exactly; kid == NULL when the header had no "kid") and alg.
 * With a kid: the key with that kid that may verify alg.  Without one: the
 * only key that may verify alg, if there is exactly one (more would be a
 * guess).  Borrowed from set; NULL if none.
 */
const struct clr_jwk *clr_jwks_find(const struct clr_jwks *set, const char *kid, size_t kid_len,
				    enum clr_jws_alg alg);

/* Number of refused entries. */
size_t clr_jwks_skipped_count(const struct clr_jwks *set);

/*
 * The i-th refused entry: its position in "keys" (*index), its kid as a
 * printable, truncated label (*kid, "" if none or not a string) and why it
 * was refused (*reason).  Both strings borrowed from set.  CLR_ERR_NOTFOUND
 * if i is out of range.
 */
enum clr_rc clr_jwks_skipped(const struct clr_jwks *set, size_t i, size_t *index, const char **kid,
			     const char **reason) CLR_MUSTCHECK;

#endif
