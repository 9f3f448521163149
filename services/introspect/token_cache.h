/*
 * token_cache.h - verified tokens, keyed by SHA-256 of the token text.
 *
 * This is what brings the gateway check close to a do-nothing FastCGI
 * responder (see ../shared/reference/nginx-fastcgi-notes.md): a token seen
 * before is not parsed or verified again until min(exp, ttl) has passed.
 * Only the verdict of the signature and claim checks is cached; revocation
 * and rate limits are checked on every request by the caller, and an entry
 * is ignored once the provider's policy generation changes (here) or its
 * key set is replaced (the caller compares jwks_gen, see decide.c).
 *
 * Bounded and lock-striped: a direct-mapped table of nslots entries; a new
 * token evicts whatever shared its slot.  The token itself is never stored.
 */
#ifndef IX_TOKEN_CACHE_H
#define IX_TOKEN_CACHE_H

#include <stdatomic.h>
#include "clearance/rc.h"
#include "clearance/jwt.h"

struct ix_tok {
	atomic_int ref;
	unsigned char key[32];
	long long until_ms; /* monotonic deadline for using this entry */
	unsigned long prov_gen;
	unsigned long jwks_gen; /* the provider's key-set generation it was verified with */
	char *prov_id;
	struct clr_jwt_claims claims;
};

struct ix_tcache;

enum clr_rc ix_tcache_new(size_t nslots, struct ix_tcache **out) CLR_MUSTCHECK;
void ix_tcache_free(struct ix_tcache *tc);

/* New reference to a live entry for key, or NULL. */
struct ix_tok *ix_tcache_get(struct ix_tcache *tc, const unsigned char key[32], long long now_ms,
			     unsigned long prov_gen);

/*
 * Makes an entry from claims (their contents are moved into it, *claims is
 * zeroed) and stores it.  *out (may be NULL) gets a new reference.
 */
enum clr_rc ix_tcache_put(struct ix_tcache *tc, const unsigned char key[32], long long until_ms,
			  unsigned long prov_gen, unsigned long jwks_gen, const char *prov_id,
			  struct clr_jwt_claims *claims, struct ix_tok **out) CLR_MUSTCHECK;

void ix_tok_release(struct ix_tok *t);

/* Hits and misses so far, for /metrics. */
void ix_tcache_stats(struct ix_tcache *tc, unsigned long *hits, unsigned long *misses);

#endif
