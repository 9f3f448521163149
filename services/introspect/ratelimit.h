/*
 * ratelimit.h - token buckets per (client id, plan), exact within one
 * process.
 *
 * A plan allows `limit` requests per `window_s` seconds.  Each (client,
 * plan) pair has a bucket of capacity `limit` that refills continuously at
 * limit/window.  Arithmetic is integral (one request costs window_ms units,
 * the bucket holds limit*window_ms units and gains `limit` units per ms), so
 * there is no floating-point drift: a fresh client gets exactly `limit`
 * requests in a burst and then one more per window/limit.
 *
 * Several copies of the service each keep their own buckets, so across N
 * copies a client may get up to N x limit per window (the README says so).
 *
 * Thread-safe: buckets live in mutex-protected shards.  Memory is bounded:
 * a shard that reaches its cap drops buckets that are full again (idle
 * clients), which is indistinguishable from keeping them.
 */
#ifndef IX_RATELIMIT_H
#define IX_RATELIMIT_H

#include "clearance/rc.h"

struct ix_rl;

struct ix_rl_result {
	int allowed;	    /* 1: take the request, 0: over the limit */
	long limit;	    /* the plan's requests per window */
	long remaining;	    /* whole requests left after this one */
	long retry_after_s; /* when denied: seconds until one is available (>= 1) */
	long reset_s;	    /* seconds until the whole limit is available again */
};

/* *out new (ix_rl_free).  max_buckets bounds memory (0 = 1<<20). */
enum clr_rc ix_rl_new(size_t max_buckets, struct ix_rl **out) CLR_MUSTCHECK;
void ix_rl_free(struct ix_rl *rl);

/*
 * Takes one request for (client_id, plan_id) at time now_ms (monotonic).
 * limit and window_s must be > 0.  If the plan's limit or window changed
 * since the bucket was made, the bucket restarts full at the new size.
 * CLR_ERR_NOMEM only if a new bucket could not be allocated (the caller
 * should then refuse rather than allow unlimited traffic).
 */
enum clr_rc ix_rl_take(struct ix_rl *rl, const char *client_id, const char *plan_id, long limit,
		       long window_s, long long now_ms, struct ix_rl_result *out) CLR_MUSTCHECK;

/* Number of live buckets, for metrics and tests. */
size_t ix_rl_count(struct ix_rl *rl);

#endif
