/*
 * jwks_cache.h - one provider's JWK set, fetched from its jwks_uri and kept
 * fresh without ever making a request wait while usable keys exist.
 *
 * Rules (libjwt's jwks_load_fromurl_cached, made strict):
 *  - a fetched set lives for the response's max-age clamped to
 *    [min_ttl_s, max_ttl_s] (min_ttl_s when absent);
 *  - ix_jwks_cache_maintain (the background thread) refreshes it from
 *    three quarters of that life on, with If-None-Match; 304 keeps the
 *    keys and restarts the life;
 *  - after expiry the keys stay usable for stale_s more seconds, so an IdP
 *    outage does not stop the gateway; the failure is kept in last_error;
 *  - a token with an unknown kid triggers at most one refetch per
 *    cooldown_s, run by a background thread: the caller waits for it at
 *    most miss_wait_ms (a few milliseconds) and is refused at once after
 *    that, and every other caller with an unknown kid is refused at once
 *    while it runs, so a hanging JWKS endpoint never holds the threads that
 *    serve known kids (issue 13);
 *  - a failed, malformed or empty answer never replaces a good set;
 *  - without any usable set, a request fetches synchronously, but not more
 *    often than once per retry_ms after a failure.
 *
 * All times are the caller's monotonic milliseconds (clr_now_ms()), so
 * tests can move time; fetches themselves really go over HTTP.
 * Thread-safe.  The HTTP client passed in belongs to the calling thread.
 */
#ifndef IX_JWKS_CACHE_H
#define IX_JWKS_CACHE_H

#include <jansson.h>
#include "clearance/rc.h"
#include "clearance/jwk.h"
#include "clearance/http_out.h"

/* Total deadline of one JWKS fetch, connect included (issue 8: at most 5 s). */
#define IX_JWKS_DEADLINE_MS 5000L

struct ix_jwks_cache_cfg {
	long min_ttl_s;
	long max_ttl_s;
	long cooldown_s;
	long stale_s;
	long retry_ms; /* pause after a failed fetch when no keys exist */
	/* How long an unknown kid waits for its background refetch; <= 0: 50. */
	long miss_wait_ms;
};

/* The default of miss_wait_ms: an IdP on the same network answers in time. */
#define IX_JWKS_MISS_WAIT_MS 50L

struct ix_jwks_cache;

/* A counted reference to one fetched set; the set is valid while held. */
struct ix_jwks_ref;
const struct clr_jwks *ix_jwks_ref_set(const struct ix_jwks_ref *r);
void ix_jwks_ref_release(struct ix_jwks_ref *r);

/*
 * *out new (ix_jwks_cache_free).  uri and http (with ca_pem) are copied.
 * No fetch happens yet.
 */
enum clr_rc ix_jwks_cache_new(const struct ix_jwks_cache_cfg *cfg, const char *uri,
			      const struct clr_http_opts *http,
			      struct ix_jwks_cache **out) CLR_MUSTCHECK;
void ix_jwks_cache_free(struct ix_jwks_cache *c);

/*
 * Points the cache at a new source (the provider's jwks_uri or TLS
 * settings changed): the keys are dropped, the next use fetches.  A no-op
 * when nothing changed.
 */
enum clr_rc ix_jwks_cache_set_source(struct ix_jwks_cache *c, const char *uri,
				     const struct clr_http_opts *http) CLR_MUSTCHECK;

/*
 * The current usable set (*out new reference).  Fetches synchronously only
 * when no usable set exists.  CLR_ERR_UPSTREAM / CLR_ERR_TIMEOUT when none
 * could be had (e->msg says why; never a secret).
 */
enum clr_rc ix_jwks_cache_get(struct ix_jwks_cache *c, struct clr_http_client *http,
			      long long now_ms, struct ix_jwks_ref **out,
			      struct clr_err *e) CLR_MUSTCHECK;

/*
 * A token's kid was not in `seen` (the set the caller looked in).  If the
 * set changed since, returns the newer one; else starts a background
 * refetch (unless one runs, or one for a miss started less than
 * cooldown_s ago: CLR_ERR_NOTFOUND at once) and waits for it at most
 * miss_wait_ms: CLR_ERR_NOTFOUND when it has not finished by then.  http
 * is unused (the refetch has its own client).  *out new reference on
 * CLR_OK (the caller looks the kid up again).
 */
enum clr_rc ix_jwks_cache_miss(struct ix_jwks_cache *c, struct clr_http_client *http,
			       long long now_ms, const struct ix_jwks_ref *seen,
			       struct ix_jwks_ref **out, struct clr_err *e) CLR_MUSTCHECK;

/* Background step: refreshes if the set is due (or missing).  Never blocks on others. */
void ix_jwks_cache_maintain(struct ix_jwks_cache *c, struct clr_http_client *http,
			    long long now_ms);

/* Forced fetch (admin), waiting for it; the outcome is in e and in info. */
enum clr_rc ix_jwks_cache_refresh(struct ix_jwks_cache *c, struct clr_http_client *http,
				  long long now_ms, struct clr_err *e) CLR_MUSTCHECK;

/*
 * State for the admin view, new object: jwks_uri, kids, skipped, fetched_at,
 * expires_at, refresh_at, stale_until (RFC 3339 or null), last_error,
 * last_error_at, etag, fetches, not_modified, usable.
 */
json_t *ix_jwks_cache_info(struct ix_jwks_cache *c, long long now_ms);

/* Number of HTTP fetches attempted so far (metrics, tests). */
unsigned long ix_jwks_cache_fetches(struct ix_jwks_cache *c);

/* A cache's counters and state for the metrics, read at one instant. */
struct ix_jwks_stats {
	unsigned long fetches;	    /* attempted */
	unsigned long fresh;	    /* brought a new set */
	unsigned long not_modified; /* answered 304 */
	unsigned long failed;	    /* no usable answer: network, status, body, refused set */
	unsigned long rejected;	    /* of failed: sets refused as a whole */
	int usable;		    /* a set the gateway may verify with now */
	long long age_s;	    /* since the current set was fetched or confirmed; -1: none */
};
void ix_jwks_cache_stats(struct ix_jwks_cache *c, long long now_ms, struct ix_jwks_stats *out);

/*
 * Number of fetched sets refused as a whole (private members, a repeated
 * kid: CLR_JWKS_STRICT) so far; each also logs an error line and leaves
 * the last good set in place.  For metrics and tests.
 */
unsigned long ix_jwks_cache_rejected(struct ix_jwks_cache *c);

/*
 * Changes whenever the current set is replaced (a new set fetched, the
 * source changed).  A verdict reached with the set of one generation is
 * re-checked once the generation moves on, so a key the IdP removed stops
 * verifying cached tokens at the next refresh (within the set's max-age).
 * Lock-free.
 */
unsigned long ix_jwks_cache_set_gen(struct ix_jwks_cache *c);

#endif
