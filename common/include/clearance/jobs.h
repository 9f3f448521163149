/*
 * jobs.h - the PostgreSQL job queue (table `jobs`, see sql/001_core.sql).
 *
 * Enqueue happens inside the caller's transaction, so a job exists exactly
 * when the change that asked for it committed; it ends with NOTIFY
 * clearance_jobs, which PostgreSQL delivers at commit.  A worker is started
 * with the kinds it runs and claims only those (kind = ANY(...)), one job
 * at a time with FOR UPDATE SKIP LOCKED, so each service runs its own
 * kinds, and any number of workers in any number of processes never run a
 * job twice at once.  A job of a kind no running worker knows stays queued.  A failed job is
 * retried with exponential backoff (cfg->job_backoff_ms doubling per
 * attempt) until cfg->job_max_attempts; then it stays in state 'failed'
 * with its last error.  A worker that dies mid-job leaves it 'running'
 * with a lease of 10 s that a heartbeat renews every 3 s while the job
 * runs; a lease that ran out (the worker died) makes the job claimable
 * again, so a crashed job is resumed within about 10 s.  A failure keeps
 * its error as last_error and in structured form (error_rc, error_code,
 * error_field: sql/070).  A payload with "no_retry": true marks a job whose
 * caller waits for its answer: a failure its handler reports is final (the
 * handler sees max_attempts == attempt), a crashed worker's run is resumed.
 */
#ifndef CLEARANCE_JOBS_H
#define CLEARANCE_JOBS_H

#include <jansson.h>
#include "clearance/rc.h"
#include "clearance/config.h"
#include "clearance/db.h"

/*
 * Enqueues a job of `kind` with `payload` (borrowed JSON object).  Must run
 * inside a transaction the caller commits.  id_out (may be NULL) gets the
 * job id.
 */
enum clr_rc clr_jobs_enqueue(struct clr_db *db, const char *kind, const json_t *payload,
			     char id_out[37]) CLR_MUSTCHECK;

struct clr_job {
	const char *id;
	const char *kind;
	const json_t *payload; /* borrowed for the call */
	int attempt;	       /* 1 on the first run */
	int max_attempts;
};

/*
 * A job handler runs with its own db handle (the worker's) and manages its
 * own transactions.  CLR_OK finishes the job; any other rc records e->msg
 * as last_error and schedules a retry.  CLR_ERR_PARAM (the job can never
 * succeed) fails it at once without retries.
 */
typedef enum clr_rc (*clr_job_fn)(void *app, struct clr_db *db, const struct clr_job *job,
				  struct clr_err *e);

struct clr_job_kind {
	const char *kind;
	clr_job_fn fn;
};

struct clr_jobs_worker;

/*
 * Starts a worker thread with its own connection (prepares `stmts` too, so
 * handlers can use the service's statements) that claims only the jobs
 * whose kind is in `kinds` (borrowed for the worker's life; names of
 * [a-z0-9_.-], at most 64 bytes, else CLR_ERR_PARAM).  *out new; stop it with
 * clr_jobs_worker_stop, which waits for the running job to finish.
 */
enum clr_rc clr_jobs_worker_start(const struct clr_config *cfg, const struct clr_job_kind *kinds,
				  size_t nkinds, const struct clr_db_stmt *stmts, size_t nstmts,
				  void *app, struct clr_jobs_worker **out) CLR_MUSTCHECK;
void clr_jobs_worker_stop(struct clr_jobs_worker *w);

#endif
