/*
 * jobs.c - the PostgreSQL job queue and its worker thread.
 *
 * The worker owns one clr_db.  It LISTENs on clearance_jobs and, whenever
 * nothing is due, sleeps in poll() on the connection's socket until a
 * NOTIFY arrives, the next job becomes due, JOB_POLL_MS passes or a stop is
 * asked for.  The sleep is cut into slices of at most STOP_SLICE_MS so that
 * stopping never takes longer than that.
 *
 * A claim sets a short lease (locked_until = now + LEASE_S).  While the job
 * runs, a heartbeat thread with its own connection renews it every
 * RENEW_S, so a long IdP call keeps its job while a worker that died
 * (kill -9, crash, lost host) stops renewing and its job becomes claimable
 * again within LEASE_S; the claiming worker wakes at the lease's end
 * (next_due_ms), so a crashed job is resumed within LEASE_S plus one
 * claim.  Finishing a job only updates the row if it still carries our
 * attempt number and state 'running', so a worker whose lease ran out (and
 * whose job another worker took over) cannot overwrite the newer outcome.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clearance/http_in.h"
#include "clearance/jobs.h"
#include "clearance/log.h"
#include "clearance/util.h"

#define STOP_SLICE_MS 200
#define RECONNECT_WAIT_MS 500
#define RECONNECT_MAX_MS 8000
#define BACKOFF_MAX_MS (24LL * 3600 * 1000)
/* The lease and its renewal period; README "Jobs" states the bound. */
#define LEASE_S 10
#define LEASE_SQL "now() + interval '10 seconds'" /* LEASE_S */
#define RENEW_S 3

struct clr_jobs_worker {
	const struct clr_config *cfg; /* borrowed */
	const struct clr_job_kind *kinds;
	size_t nkinds;
	char *kinds_sql; /* the kinds as a PostgreSQL text[] literal: what we claim */
	void *app;
	struct clr_db *db;
	pthread_t thread;
	atomic_int stop;
	int listen_pid; /* backend pid our LISTEN ran on */
	/* The heartbeat: renews the lease of the running job (cur_*). */
	pthread_t beat;
	int beat_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char cur_id[37]; /* "" when no job runs */
	char cur_attempts[16];
	struct clr_db *beat_db; /* the heartbeat's own connection, opened on first use */
};

enum clr_rc clr_jobs_enqueue(struct clr_db *db, const char *kind, const json_t *payload,
			     char id_out[37])
{
	PGconn *c = clr_db_conn(db);
	const char *params[2];
	PGresult *r = NULL;
	char *body = NULL;
	enum clr_rc rc;

	if (kind == NULL || kind[0] == '\0' || strlen(kind) > 64 ||
	    (payload != NULL && !json_is_object(payload)))
		return CLR_ERR_PARAM;
	/* Outside a transaction the job could exist without its cause. */
	if (c == NULL || PQtransactionStatus(c) != PQTRANS_INTRANS) {
		clr_log(NULL, CLR_LOG_ERROR, "jobs: enqueue of %s outside a live transaction",
			kind);
		return c == NULL ? CLR_ERR_DB : CLR_ERR_INTERNAL;
	}
	body = payload ? json_dumps(payload, JSON_COMPACT) : strdup("{}");
	if (body == NULL)
		return CLR_ERR_NOMEM;
	params[0] = kind;
	params[1] = body;
	rc = clr_db_exec_sql(db,
			     "INSERT INTO jobs (kind, payload) VALUES ($1, $2::jsonb)"
			     " RETURNING id::text",
			     2, params, &r);
	if (rc != CLR_OK)
		goto out;
	if (id_out != NULL)
		snprintf(id_out, 37, "%s", PQgetvalue(r, 0, 0));
	/* Delivered at commit, and not at all if the caller rolls back. */
	rc = clr_db_exec_sql(db, "SELECT pg_notify('clearance_jobs', $1)", 1, params, NULL);
out:
	PQclear(r);
	free(body);
	return rc;
}

static int stopping(struct clr_jobs_worker *w)
{
	return atomic_load(&w->stop) || clr_server_stopping();
}

/* Sleeps up to ms, waking early on stop; for when the database is down. */
static void nap(struct clr_jobs_worker *w, long ms)
{
	while (ms > 0 && !stopping(w)) {
		long slice = ms < STOP_SLICE_MS ? ms : STOP_SLICE_MS;

		poll(NULL, 0, (int)slice);
		ms -= slice;
	}
}

/* (Re-)issues LISTEN whenever the session changed under us. */
static enum clr_rc ensure_listening(struct clr_jobs_worker *w)
{
	PGconn *c = clr_db_conn(w->db);
	enum clr_rc rc;

	if (c != NULL && PQbackendPID(c) == w->listen_pid)
		return CLR_OK;
	rc = clr_db_exec_sql(w->db, "LISTEN clearance_jobs", 0, NULL, NULL);
	if (rc != CLR_OK)
		return rc;
	c = clr_db_conn(w->db);
	w->listen_pid = c ? PQbackendPID(c) : 0;
	return CLR_OK;
}

static const struct clr_job_kind *find_kind(const struct clr_jobs_worker *w, const char *kind)
{
	size_t i;

	for (i = 0; i < w->nkinds; i++)
		if (strcmp(w->kinds[i].kind, kind) == 0)
			return &w->kinds[i];
	return NULL;
}

static long long backoff_ms(const struct clr_config *cfg, int attempts)
{
	long long d = cfg->job_backoff_ms > 0 ? cfg->job_backoff_ms : 1;
	int i;

	for (i = 1; i < attempts && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	return d < BACKOFF_MAX_MS ? d : BACKOFF_MAX_MS;
}

/* Records the outcome of attempt `attempts` of job `id`; err NULL when ok. */
static void finish(struct clr_jobs_worker *w, const char *id, const char *attempts, int ok,
		   int final, long long delay_ms, const struct clr_err *err)
{
	char delay[24];
	const char *params[8];
	enum clr_rc rc;

	params[0] = id;
	params[1] = attempts;
	if (ok) {
		rc = clr_db_exec_sql(w->db,
				     "UPDATE jobs SET state = 'done', locked_until = NULL,"
				     " updated_at = now() WHERE id = $1::uuid"
				     " AND attempts = $2::int AND state = 'running'",
				     2, params, NULL);
	} else {
		snprintf(delay, sizeof(delay), "%lld", delay_ms);
		params[2] = final ? "failed" : "queued";
		params[3] = delay;
		params[4] = err->msg;
		/* Structured too: a route that waits for the job answers it as it would have. */
		params[5] = clr_rc_name(err->rc);
		params[6] = err->error[0] != '\0' ? err->error : NULL;
		params[7] = err->field[0] != '\0' ? err->field : NULL;
		rc = clr_db_exec_sql(w->db,
				     "UPDATE jobs SET state = $3, locked_until = NULL,"
				     " run_at = CASE WHEN $3 = 'queued'"
				     " THEN now() + $4::bigint * interval '1 millisecond'"
				     " ELSE run_at END,"
				     " last_error = $5, error_rc = $6, error_code = $7,"
				     " error_field = $8, updated_at = now()"
				     " WHERE id = $1::uuid AND attempts = $2::int"
				     " AND state = 'running'",
				     8, params, NULL);
	}
	/* Not fatal: the lease runs out and the job is tried again. */
	if (rc != CLR_OK)
		clr_log(NULL, CLR_LOG_ERROR, "jobs: could not record outcome of job %s", id);
}

/* Runs the handler for one claimed row r (columns of the claim query). */
static void run_job(struct clr_jobs_worker *w, PGresult *r)
{
	const char *id = PQgetvalue(r, 0, 0), *attempts_s = PQgetvalue(r, 0, 3);
	const struct clr_job_kind *k;
	struct clr_err e;
	struct clr_job job;
	json_error_t jerr;
	json_t *payload = NULL;
	enum clr_rc rc;
	int final;

	memset(&e, 0, sizeof(e));
	memset(&job, 0, sizeof(job));
	job.id = id;
	job.kind = PQgetvalue(r, 0, 1);
	job.attempt = atoi(attempts_s);
	job.max_attempts = atoi(PQgetvalue(r, 0, 4));
	k = find_kind(w, job.kind);
	/*
	 * Only an expired lease brings a job back past its last attempt: the
	 * worker running it died (or overran the lease).  Running it again
	 * would give a job that kills its worker unlimited attempts.
	 */
	if (job.attempt > job.max_attempts) {
		rc = clr_err_set(&e, CLR_ERR_TIMEOUT, "", "", "lease expired on the last attempt");
		goto done;
	}
	if (k == NULL) {
		rc = clr_err_set(&e, CLR_ERR_PARAM, "", "", "unknown job kind");
		goto done;
	}
	payload = json_loads(PQgetvalue(r, 0, 2), JSON_REJECT_DUPLICATES, &jerr);
	if (payload == NULL) {
		rc = clr_err_set(&e, CLR_ERR_PARAM, "", "", "payload is not JSON");
		goto done;
	}
	job.payload = payload;
	/*
	 * Someone waits for this job's answer (a route standing in for a
	 * synchronous call): a failure its handler reports is final, as the
	 * call's would have been.  A worker that died still gets resumed.
	 */
	if (json_is_true(json_object_get(payload, "no_retry")))
		job.max_attempts = job.attempt;
	pthread_mutex_lock(&w->mu);
	snprintf(w->cur_id, sizeof(w->cur_id), "%s", id);
	snprintf(w->cur_attempts, sizeof(w->cur_attempts), "%s", attempts_s);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	rc = k->fn(w->app, w->db, &job, &e);
	pthread_mutex_lock(&w->mu);
	w->cur_id[0] = '\0';
	pthread_mutex_unlock(&w->mu);
	/* A handler must not leave its transaction open for the next job. */
	clr_db_rollback(w->db);
	if (rc != CLR_OK && e.msg[0] == '\0')
		snprintf(e.msg, sizeof(e.msg), "%s", clr_rc_name(rc));
	if (rc != CLR_OK && e.rc == CLR_OK)
		e.rc = rc;
done:
	if (rc == CLR_OK) {
		clr_log(NULL, CLR_LOG_INFO, "jobs: %s %s done (attempt %d)", job.kind, id,
			job.attempt);
		finish(w, id, attempts_s, 1, 0, 0, NULL);
	} else {
		final = rc == CLR_ERR_PARAM || job.attempt >= job.max_attempts;
		clr_log(NULL, final ? CLR_LOG_ERROR : CLR_LOG_WARN,
			"jobs: %s %s attempt %d/%d failed (%s): %s%s", job.kind, id, job.attempt,
			job.max_attempts, clr_rc_name(rc), e.msg, final ? "; giving up" : "");
		finish(w, id, attempts_s, 0, final, backoff_ms(w->cfg, job.attempt), &e);
	}
	json_decref(payload);
}

/* 1: ran a job, 0: nothing due, -1: database trouble. */
static int claim_and_run(struct clr_jobs_worker *w)
{
	char maxa[16];
	const char *params[2];
	PGresult *r = NULL;
	enum clr_rc rc;
	int n;

	snprintf(maxa, sizeof(maxa), "%d",
		 w->cfg->job_max_attempts > 0 ? w->cfg->job_max_attempts : 1);
	params[0] = maxa;
	params[1] = w->kinds_sql;
	rc = clr_db_exec_sql(w->db,
			     "UPDATE jobs SET state = 'running', attempts = attempts + 1,"
			     " max_attempts = coalesce(max_attempts, $1::int),"
			     " locked_until = " LEASE_SQL ","
			     " updated_at = now()"
			     " WHERE id = (SELECT id FROM jobs"
			     " WHERE kind = ANY ($2::text[])"
			     " AND ((state = 'queued' AND run_at <= now())"
			     " OR (state = 'running' AND locked_until < now()))"
			     " ORDER BY run_at FOR UPDATE SKIP LOCKED LIMIT 1)"
			     " RETURNING id::text, kind, payload::text, attempts,"
			     " max_attempts",
			     2, params, &r);
	if (rc != CLR_OK)
		return -1;
	n = PQntuples(r);
	if (n == 1)
		run_job(w, r);
	PQclear(r);
	return n == 1;
}

/* Milliseconds until the next job could become claimable, capped at cap. */
static long next_due_ms(struct clr_jobs_worker *w, long cap)
{
	PGresult *r = NULL;
	const char *params[1] = {w->kinds_sql};
	long ms = cap;

	if (clr_db_exec_sql(w->db,
			    "SELECT ceil(extract(epoch FROM min(t) - clock_timestamp())"
			    " * 1000)::bigint FROM (SELECT min(run_at) AS t FROM jobs"
			    " WHERE state = 'queued' AND kind = ANY ($1::text[])"
			    " UNION ALL SELECT min(locked_until) FROM jobs"
			    " WHERE state = 'running' AND kind = ANY ($1::text[])) s",
			    1, params, &r) == CLR_OK &&
	    !PQgetisnull(r, 0, 0)) {
		long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);

		ms = v < 0 ? 0 : (v < cap ? (long)v : cap);
	}
	PQclear(r);
	return ms;
}

/* Waits for a NOTIFY, up to ms; returns early on stop or a broken socket. */
static void wait_notify(struct clr_jobs_worker *w, long ms)
{
	long long deadline = clr_now_ms() + ms;

	while (!stopping(w)) {
		PGconn *c = clr_db_conn(w->db);
		long long left = deadline - clr_now_ms();
		struct pollfd pfd;
		PGnotify *n;
		int got = 0;

		/* A reconnect since LISTEN: go round and listen again. */
		if (c == NULL || left <= 0 || PQbackendPID(c) != w->listen_pid)
			return;
		pfd.fd = PQsocket(c);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (pfd.fd < 0)
			return;
		if (poll(&pfd, 1, left < STOP_SLICE_MS ? (int)left : STOP_SLICE_MS) < 0 &&
		    errno != EINTR)
			return;
		if (pfd.revents == 0)
			continue;
		/* Fails when the server went away: the next claim reconnects. */
		if (!PQconsumeInput(c))
			return;
		while ((n = PQnotifies(c)) != NULL) {
			got = 1;
			PQfreemem(n);
		}
		if (got)
			return;
	}
}

/* Renews the running job's lease every RENEW_S until stopped. */
static void *beat_main(void *arg)
{
	struct clr_jobs_worker *w = arg;
	char id[37], att[16];
	const char *params[2] = {id, att};

	pthread_mutex_lock(&w->mu);
	while (!atomic_load(&w->stop)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += RENEW_S;
		pthread_cond_timedwait(&w->cv, &w->mu, &ts);
		if (atomic_load(&w->stop) || w->cur_id[0] == '\0')
			continue;
		snprintf(id, sizeof(id), "%s", w->cur_id);
		snprintf(att, sizeof(att), "%s", w->cur_attempts);
		pthread_mutex_unlock(&w->mu);
		if (w->beat_db == NULL &&
		    clr_db_open(w->cfg->database_url, NULL, 0, &w->beat_db) != CLR_OK)
			w->beat_db = NULL;
		/* A renewal that fails is retried next period; the lease covers two. */
		if (w->beat_db != NULL &&
		    clr_db_exec_sql(w->beat_db,
				    "UPDATE jobs SET locked_until = " LEASE_SQL
				    " WHERE id = $1::uuid AND attempts = $2::int"
				    " AND state = 'running'",
				    2, params, NULL) != CLR_OK)
			clr_log(NULL, CLR_LOG_WARN, "jobs: could not renew the lease of job %s",
				id);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void *worker_main(void *arg)
{
	struct clr_jobs_worker *w = arg;
	long poll_ms = w->cfg->job_poll_ms > 0 ? w->cfg->job_poll_ms : 5000;
	long down_ms = RECONNECT_WAIT_MS;

	clr_log(NULL, CLR_LOG_INFO, "jobs: worker started");

	while (!stopping(w)) {
		int ran = -1;

		if (ensure_listening(w) == CLR_OK)
			ran = claim_and_run(w);
		if (ran < 0) {
			/* Database down: retry, less often the longer it lasts. */
			nap(w, down_ms);
			down_ms = down_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : down_ms * 2;
			continue;
		}
		down_ms = RECONNECT_WAIT_MS;
		if (ran == 0)
			wait_notify(w, next_due_ms(w, poll_ms));
	}
	clr_log(NULL, CLR_LOG_INFO, "jobs: worker stopped");
	return NULL;
}

/*
 * The kinds as a text[] literal, "{a,b}", sent as one parameter.  Kind
 * names are checked to [a-z0-9_.-] so no quoting is ever needed.
 */
static enum clr_rc kinds_literal(const struct clr_job_kind *kinds, size_t n, char **out)
{
	size_t i, len = 3;
	char *s, *p;

	for (i = 0; i < n; i++) {
		const char *k = kinds[i].kind;

		if (k == NULL || k[0] == '\0' || strlen(k) > 64 ||
		    strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(k) ||
		    kinds[i].fn == NULL)
			return CLR_ERR_PARAM;
		len += strlen(k) + 1;
	}
	if ((s = malloc(len)) == NULL)
		return CLR_ERR_NOMEM;
	p = s;
	*p++ = '{';
	for (i = 0; i < n; i++) {
		size_t kl = strlen(kinds[i].kind);

		if (i > 0)
			*p++ = ',';
		memcpy(p, kinds[i].kind, kl);
		p += kl;
	}
	*p++ = '}';
	*p = '\0';
	*out = s;
	return CLR_OK;
}

static void stop_beat(struct clr_jobs_worker *w)
{
	if (!w->beat_started)
		return;
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->stop, 1);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->beat, NULL);
	w->beat_started = 0;
	clr_db_close(w->beat_db);
	w->beat_db = NULL;
}

enum clr_rc clr_jobs_worker_start(const struct clr_config *cfg, const struct clr_job_kind *kinds,
				  size_t nkinds, const struct clr_db_stmt *stmts, size_t nstmts,
				  void *app, struct clr_jobs_worker **out)
{
	struct clr_jobs_worker *w;
	enum clr_rc rc;

	*out = NULL;
	if (cfg == NULL || cfg->database_url == NULL || (nkinds > 0 && kinds == NULL))
		return CLR_ERR_PARAM;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return CLR_ERR_NOMEM;
	w->cfg = cfg;
	w->kinds = kinds;
	w->nkinds = nkinds;
	w->app = app;
	if ((rc = kinds_literal(kinds, nkinds, &w->kinds_sql)) != CLR_OK)
		goto out;
	w->listen_pid = -1;
	atomic_init(&w->stop, 0);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	rc = clr_db_open(cfg->database_url, stmts, nstmts, &w->db);
	if (rc != CLR_OK)
		goto out;
	if (pthread_create(&w->beat, NULL, beat_main, w) != 0) {
		clr_log(NULL, CLR_LOG_ERROR, "jobs: cannot start the lease heartbeat");
		rc = CLR_ERR_INTERNAL;
		goto out;
	}
	w->beat_started = 1;
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		clr_log(NULL, CLR_LOG_ERROR, "jobs: cannot start worker thread");
		rc = CLR_ERR_INTERNAL;
		goto out;
	}
	*out = w;
	w = NULL;
out:
	if (w != NULL) {
		stop_beat(w);
		clr_db_close(w->db);
		free(w->kinds_sql);
		free(w);
	}
	return rc;
}

void clr_jobs_worker_stop(struct clr_jobs_worker *w)
{
	if (w == NULL)
		return;
	atomic_store(&w->stop, 1);
	pthread_join(w->thread, NULL);
	stop_beat(w);
	clr_db_close(w->db);
	free(w->kinds_sql);
	free(w);
}
