/*
 * token_cache.h - initial access tokens obtained with client credentials,
 * kept in memory (per process, shared by all threads) until shortly before
 * they expire, so a burst of registrations does not ask the token endpoint
 * once each.
 *
 * An entry is keyed by a SHA-256 over everything the token depends on: the
 * provider's id, kind, token endpoint, initial client id and secret and the
 * scope.  Any change of the provider (new secret, other scope) therefore
 * misses the old entry, which simply ages out.  Only a hash of the secret
 * is kept, never the secret.
 *
 * A cached token may still be refused: Glewlwyd's initial access tokens are
 * single-use by default.  driver.c drops the entry on a 401 and asks once
 * more with a fresh token (drv_itc_drop), and marks the key single-use
 * (drv_itc_mark_single_use): from then on its tokens are not cached, so
 * each registration costs one fetch and no refused attempt.
 */
#ifndef CLEARANCE_REGISTRAR_TOKEN_CACHE_H
#define CLEARANCE_REGISTRAR_TOKEN_CACHE_H

#include <time.h>
#include "driver.h"

/*
 * Seconds to keep a token that lives expires_in seconds: expires_in less a
 * margin of 10 % but at least 30 s; 0 (do not cache) when that leaves
 * nothing or expires_in is unknown (<= 0).
 */
long drv_itc_ttl(long expires_in);

/*
 * The cached token for p at time now: *token new (free with
 * OPENSSL_clear_free or clr_unsealed_free) and 1, or *token NULL and 0.
 */
int drv_itc_get(const struct drv_provider *p, time_t now, char **token);

/* Keeps a copy of token for p until now + drv_itc_ttl(expires_in); no-op for ttl 0. */
void drv_itc_put(const struct drv_provider *p, const char *token, long expires_in, time_t now);

/* Forgets p's entry when it still holds token (NULL: whatever it holds). */
void drv_itc_drop(const struct drv_provider *p, const char *token);

/* Learnt that p's tokens work only once: drops its token, caches none from now on. */
void drv_itc_mark_single_use(const struct drv_provider *p);
int drv_itc_is_single_use(const struct drv_provider *p);

/* Empties the cache (tests; wipes the tokens). */
void drv_itc_clear(void);

/* Tokens fetched from a token endpoint since start, cached or not (for /metrics). */
void drv_itc_count_fetch(void);
long drv_itc_fetches(void);

#endif
