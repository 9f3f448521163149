/*
 * limits.h - rate limits and monthly quotas that hold across every copy
 * of the gateway, without a PostgreSQL round trip per request.
 *
 * Algorithm: leased blocks from a shared counter (sql/021_gateway_usage.sql).
 * For each (client, plan, kind, period) PostgreSQL holds how many units
 * have been leased out; a copy leases a block, spends it from memory, and
 * leases again when it runs out.  The block adapts to the client's rate:
 * it doubles when a block lasted under 250 ms and halves when one lasted
 * over 2 s, is capped at 1/20 of a rate limit (1/200 of a quota), and
 * never asks for more than a quarter of what is left, so the last units
 * go out one by one.  The counter never passes the limit, so the copies
 * together never admit more than the limit in a period (overshoot 0); the
 * price is that units leased by a copy that then gets no more requests
 * are lost for that period (at most copies x block).
 *
 * Periods: 'rate' uses fixed windows aligned to the epoch (window_s long),
 * so a client may get up to 2 x limit across one window boundary; 'month'
 * is the calendar month in UTC.
 *
 * Thread-safe; the lease itself is a callback so tests can count without
 * PostgreSQL, and the caller never holds a lock across it.
 */
#ifndef IX_LIMITS_H
#define IX_LIMITS_H

#include "clearance/db.h"
#include "clearance/rc.h"

enum ix_limit_kind { IX_LIMIT_RATE, IX_LIMIT_MONTH, IX_LIMIT__MAX };

/* The names stored in gateway_usage.kind. */
extern const char *const ix_limit_kind_name[IX_LIMIT__MAX];

/* One lease request (all borrowed). */
struct ix_lease_req {
	const char *issuer, *client_id, *plan_id;
	enum ix_limit_kind kind;
	long long period;
	long long want, limit;
};

/*
 * Leases up to want units of q from the shared counter: *granted units
 * (0 when the limit is used up) and the counter after it in *used.
 * CLR_ERR_DB when the store is unreachable.
 */
typedef enum clr_rc (*ix_lease_fn)(void *ctx, const struct ix_lease_req *q, long long *granted,
				   long long *used);

/* The PostgreSQL store: ctx is a struct clr_db * (the request's connection). */
enum clr_rc ix_lease_pg(void *ctx, const struct ix_lease_req *q, long long *granted,
			long long *used) CLR_MUSTCHECK;

struct ix_limits;

/* *out new (ix_limits_free).  max_entries bounds memory (0 = 1<<20). */
enum clr_rc ix_limits_new(size_t max_entries, struct ix_limits **out) CLR_MUSTCHECK;
void ix_limits_free(struct ix_limits *l);

struct ix_limit_take {
	int allowed;
	long long limit;
	long long remaining; /* after this request, all copies together (estimate) */
	long reset_s;	     /* seconds until the period ends */
};

/*
 * Takes one unit of (issuer, client_id, plan_id, kind) in `period`, which
 * ends in reset_s seconds; leases through lease(ctx, ...) when the local
 * block is spent.  CLR_ERR_DB if a lease was needed and the store failed
 * (out is then not filled: the caller applies the plan's policy);
 * CLR_ERR_NOMEM when no entry could be made.
 */
enum clr_rc ix_limits_take(struct ix_limits *l, ix_lease_fn lease, void *ctx, const char *issuer,
			   const char *client_id, const char *plan_id, enum ix_limit_kind kind,
			   long long limit, long long period, long reset_s, long long now_ms,
			   struct ix_limit_take *out) CLR_MUSTCHECK;

/* Live entries (metrics, tests). */
size_t ix_limits_count(struct ix_limits *l);

/* The period of kind for wall-clock time now_ms, and seconds until it ends. */
long long ix_limit_period(enum ix_limit_kind kind, long window_s, long long now_ms, long *reset_s);

#endif
