/*
 * waiting.h - how a registrar route stands in for a synchronous IdP call
 * without calling the IdP on its own thread (issue 13): it queues the job
 * that calls the IdP and waits a bounded time for it (reg_wait_job), and
 * only a bounded number of request threads wait or call an IdP at once
 * (reg_slot_enter), so the FastCGI pool always has threads for other routes.
 */
#ifndef CLEARANCE_REG_WAITING_H
#define CLEARANCE_REG_WAITING_H

#include "clearance/config.h"
#include "clearance/db.h"
#include "clearance/http_in.h"
#include "clearance/rc.h"

/* How often a waiting route reads its job row. */
#define REG_WAIT_POLL_MS 25

/*
 * How long request r may wait for its IdP job, in ms: cfg->reg_wait_ms,
 * lowered by RFC 7240 "Prefer: wait=N" (seconds); "Prefer: respond-async"
 * without wait means 0 (answer 202 at once).  *asked_async (may be NULL)
 * is 1 when the client sent respond-async.
 */
long reg_wait_budget(struct clr_req *r, const struct clr_config *cfg, int *asked_async);

/* The same for a Prefer header value v (borrowed, may be NULL) and a bound of max_ms. */
long reg_wait_prefer(const char *v, long max_ms, int *asked_async);

/*
 * Takes one of the max(1, cfg->threads / 2) slots for a request thread
 * that waits for, or itself makes, an IdP call.  1: taken (give it back
 * with reg_slot_leave); 0: all taken, answer without waiting.
 */
int reg_slot_enter(const struct clr_config *cfg);
void reg_slot_leave(void);

enum reg_wait_end {
	REG_WAIT_DONE,	 /* the job finished well */
	REG_WAIT_FAILED, /* it failed for good; *e is its error */
	REG_WAIT_PENDING /* still queued or running after ms */
};

/*
 * Reads job job_id every REG_WAIT_POLL_MS until it is done or failed, or ms
 * passed.  On REG_WAIT_FAILED *e is the error its handler reported (rc,
 * error code, field, message) as sql/070 stores it.  A database error ends
 * the wait as REG_WAIT_PENDING: the job runs on regardless.
 */
enum reg_wait_end reg_wait_job(struct clr_db *db, const char *job_id, long ms, struct clr_err *e);

#endif
