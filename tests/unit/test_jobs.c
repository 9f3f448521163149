/*
 * test_jobs.c - common/src/jobs.c: enqueue in the caller's transaction,
 * retries with backoff, final failure, exclusive claims across workers,
 * prompt stop and reconnect, against PostgreSQL
 * (CLEARANCE_TEST_DATABASE_URL; skipped when unset).
 *
 * Every test uses its own job kinds; the program's private schema keeps
 * other test programs' workers away from these jobs.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clearance/jobs.h"
#include "clearance/util.h"
#include "pgtest.h"

#define NJOBS_RACE 40

static struct clr_db *db;
static struct clr_config cfg;

struct app {
	atomic_int calls;
	int fail_first; /* fail this many attempts, then succeed */
	enum clr_rc fail_rc;
	atomic_int runs[NJOBS_RACE];
	atomic_int by_worker[2];
	atomic_int bad; /* handler saw something wrong (checked later) */
};

static void setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.database_url = (char *)pgt_url;
	cfg.job_max_attempts = 5;
	cfg.job_backoff_ms = 50;
	cfg.job_poll_ms = 300;
	ck_assert_int_eq(clr_db_open(pgt_url, NULL, 0, &db), CLR_OK);
}

static void teardown(void)
{
	clr_db_close(db);
	db = NULL;
}

static void enqueue(const char *kind, json_t *payload, char id[37])
{
	ck_assert_int_eq(clr_db_begin(db), CLR_OK);
	ck_assert_int_eq(clr_jobs_enqueue(db, kind, payload, id), CLR_OK);
	ck_assert_int_eq(clr_db_commit(db), CLR_OK);
	json_decref(payload);
}

/* Waits up to 15 s for job id to reach state; returns 1 when it did. */
static int wait_state(const char *id, const char *state)
{
	int i;

	for (i = 0; i < 1500; i++) {
		if (pgt_long("SELECT count(*) FROM jobs WHERE id = $1 AND state = $2", id, state) ==
		    1)
			return 1;
		usleep(10000);
	}
	return 0;
}

static enum clr_rc flaky(void *app, struct clr_db *hdb, const struct clr_job *job,
			 struct clr_err *e)
{
	struct app *a = app;
	int n = atomic_fetch_add(&a->calls, 1) + 1;
	const char *who = json_string_value(json_object_get(job->payload, "who"));

	/* No ck_assert here: this runs on the worker thread. */
	if (hdb == NULL || job->attempt != n || who == NULL || strcmp(who, "flaky") != 0)
		atomic_fetch_add(&a->bad, 1);
	if (n <= a->fail_first)
		return clr_err_set(e, a->fail_rc, "", "", "boom %d", n);
	return CLR_OK;
}

START_TEST(enqueue_follows_transaction)
{
	json_t *p = json_pack("{s:i}", "n", 1);
	char id[37];

	/* Rolled back: no job. */
	ck_assert_int_eq(clr_db_begin(db), CLR_OK);
	ck_assert_int_eq(clr_jobs_enqueue(db, "t_rollback", p, id), CLR_OK);
	json_decref(p);
	ck_assert(clr_uuid_valid(id));
	clr_db_rollback(db);
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM jobs WHERE kind = $1", "t_rollback", NULL),
			 0);
	/* Outside any transaction: refused. */
	ck_assert_int_ne(clr_jobs_enqueue(db, "t_rollback", NULL, id), CLR_OK);
	ck_assert_int_eq(clr_jobs_enqueue(db, "", NULL, id), CLR_ERR_PARAM);
	/* Committed: one queued job with the payload. */
	ck_assert_int_eq(clr_db_begin(db), CLR_OK);
	ck_assert_int_eq(clr_jobs_enqueue(db, "t_commit", NULL, id), CLR_OK);
	ck_assert_int_eq(clr_db_commit(db), CLR_OK);
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM jobs WHERE id = $1 AND"
				  " kind = 't_commit' AND state = 'queued' AND"
				  " attempts = 0 AND payload = '{}'::jsonb",
				  id, NULL),
			 1);
	ck_assert(pgt_exec("DELETE FROM jobs WHERE kind = 't_commit'"));
}
END_TEST

START_TEST(enqueue_notifies_at_commit)
{
	PGconn *l = PQconnectdb(pgt_url);
	PGresult *r = PQexec(l, "LISTEN clearance_jobs");
	char id[37], rb[32], ok[32];
	int got_ok = 0, got_rb = 0;
	PGnotify *n;

	/* The channel is shared with other test programs: unique kinds. */
	snprintf(rb, sizeof(rb), "t_notify_rb_%d", (int)getpid());
	snprintf(ok, sizeof(ok), "t_notify_ok_%d", (int)getpid());
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	ck_assert_int_eq(clr_db_begin(db), CLR_OK);
	ck_assert_int_eq(clr_jobs_enqueue(db, rb, NULL, id), CLR_OK);
	clr_db_rollback(db);
	enqueue(ok, NULL, id);
	usleep(100000);
	ck_assert(PQconsumeInput(l));
	while ((n = PQnotifies(l)) != NULL) {
		ck_assert_str_eq(n->relname, "clearance_jobs");
		got_ok += strcmp(n->extra, ok) == 0;
		got_rb += strcmp(n->extra, rb) == 0;
		PQfreemem(n);
	}
	ck_assert_int_eq(got_ok, 1);
	ck_assert_int_eq(got_rb, 0); /* the rolled-back one never came */
	PQfinish(l);
	ck_assert(pgt_exec("DELETE FROM jobs WHERE kind LIKE 't_notify%'"));
}
END_TEST

START_TEST(retry_then_success)
{
	static const struct clr_job_kind kinds[] = {{"t_flaky", flaky}};
	struct clr_jobs_worker *w = NULL;
	struct app a;
	char id[37];

	memset(&a, 0, sizeof(a));
	a.fail_first = 2;
	a.fail_rc = CLR_ERR_UPSTREAM;
	ck_assert_int_eq(clr_jobs_worker_start(&cfg, kinds, 1, NULL, 0, &a, &w), CLR_OK);
	enqueue("t_flaky", json_pack("{s:s}", "who", "flaky"), id);
	ck_assert(wait_state(id, "done"));
	clr_jobs_worker_stop(w);
	ck_assert_int_eq(atomic_load(&a.calls), 3);
	ck_assert_int_eq(atomic_load(&a.bad), 0);
	ck_assert_int_eq(pgt_long("SELECT attempts FROM jobs WHERE id = $1", id, NULL), 3);
	/* Backoff 50 ms then 100 ms: done no sooner than 150 ms after creation. */
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM jobs WHERE id = $1 AND"
				  " updated_at - created_at >= interval '150 ms'"
				  " AND last_error = 'boom 2' AND locked_until IS NULL",
				  id, NULL),
			 1);
}
END_TEST

START_TEST(gives_up_after_max_attempts)
{
	static const struct clr_job_kind kinds[] = {{"t_doomed", flaky}};
	struct clr_jobs_worker *w = NULL;
	struct app a;
	char id[37];

	memset(&a, 0, sizeof(a));
	a.fail_first = 100;
	a.fail_rc = CLR_ERR_TIMEOUT;
	cfg.job_max_attempts = 2;
	ck_assert_int_eq(clr_jobs_worker_start(&cfg, kinds, 1, NULL, 0, &a, &w), CLR_OK);
	enqueue("t_doomed", json_pack("{s:s}", "who", "flaky"), id);
	ck_assert(wait_state(id, "failed"));
	usleep(300000); /* a wrong retry would happen within this */
	clr_jobs_worker_stop(w);
	ck_assert_int_eq(atomic_load(&a.calls), 2);
	ck_assert_int_eq(atomic_load(&a.bad), 0);
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM jobs WHERE id = $1 AND"
				  " state = 'failed' AND attempts = 2 AND"
				  " max_attempts = 2 AND last_error = 'boom 2'",
				  id, NULL),
			 1);
}
END_TEST

static enum clr_rc ok_run(void *app, struct clr_db *hdb, const struct clr_job *job,
			  struct clr_err *e);

START_TEST(param_error_fails_at_once)
{
	static const struct clr_job_kind kinds[] = {{"t_bad", flaky}};
	struct clr_jobs_worker *w = NULL;
	struct app a;
	char id[37], id2[37];

	memset(&a, 0, sizeof(a));
	a.fail_first = 100;
	a.fail_rc = CLR_ERR_PARAM;
	ck_assert_int_eq(clr_jobs_worker_start(&cfg, kinds, 1, NULL, 0, &a, &w), CLR_OK);
	/* A kind this worker does not run is left for the service that does. */
	enqueue("t_nobody", NULL, id2);
	enqueue("t_bad", json_pack("{s:s}", "who", "flaky"), id);
	ck_assert(wait_state(id, "failed"));
	usleep(300000);
	clr_jobs_worker_stop(w);
	ck_assert_int_eq(atomic_load(&a.calls), 1);
	ck_assert_int_eq(pgt_long("SELECT attempts FROM jobs WHERE id = $1", id, NULL), 1);
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM jobs WHERE id = $1 AND"
				  " state = 'queued' AND attempts = 0 AND last_error IS NULL",
				  id2, NULL),
			 1);
	ck_assert(pgt_exec("DELETE FROM jobs WHERE kind = 't_nobody'"));
}
END_TEST

static enum clr_rc coded_fail(void *app, struct clr_db *hdb, const struct clr_job *job,
			      struct clr_err *e)
{
	struct app *a = app;

	(void)hdb;
	atomic_fetch_add(&a->calls, 1);
	/* no_retry: the handler sees this attempt as the last (it records a final failure). */
	if (job->max_attempts != job->attempt)
		atomic_fetch_add(&a->bad, 1);
	return clr_err_set(e, CLR_ERR_UPSTREAM, "idp_unavailable", "client_name", "the IdP failed");
}

/* A job someone waits for (no_retry) fails once, keeping its error in structured form. */
START_TEST(no_retry_fails_at_once_with_its_error)
{
	static const struct clr_job_kind kinds[] = {{"t_waited", coded_fail}};
	struct clr_jobs_worker *w = NULL;
	struct app a;
	char id[37];

	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(clr_jobs_worker_start(&cfg, kinds, 1, NULL, 0, &a, &w), CLR_OK);
	enqueue("t_waited", json_pack("{s:b}", "no_retry", 1), id);
	ck_assert(wait_state(id, "failed"));
	usleep(300000); /* a wrong retry would happen within this */
	clr_jobs_worker_stop(w);
	ck_assert_int_eq(atomic_load(&a.calls), 1);
	ck_assert_int_eq(atomic_load(&a.bad), 0);
	ck_assert_int_eq(
	    pgt_long("SELECT count(*) FROM jobs WHERE id = $1 AND attempts = 1"
		     " AND error_rc = 'upstream' AND error_code = 'idp_unavailable'"
		     " AND error_field = 'client_name' AND last_error = 'the IdP failed'",
		     id, NULL),
	    1);
	ck_assert_int_eq(clr_rc_from_name("upstream"), CLR_ERR_UPSTREAM);
	ck_assert_int_eq(clr_rc_from_name("no such rc"), CLR_ERR_INTERNAL);
	ck_assert_int_eq(clr_rc_from_name(NULL), CLR_ERR_INTERNAL);
}
END_TEST

/* Two workers with disjoint kinds: each runs exactly its own jobs. */
START_TEST(workers_claim_only_their_kinds)
{
	static const struct clr_job_kind ka[] = {{"t_mine_a", ok_run}};
	static const struct clr_job_kind kb[] = {{"t_mine_b", ok_run}, {"t_mine_c", ok_run}};
	struct clr_jobs_worker *wa = NULL, *wb = NULL;
	struct app a, b;
	char id1[37], id2[37], id3[37];

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(clr_jobs_worker_start(&cfg, ka, 1, NULL, 0, &a, &wa), CLR_OK);
	ck_assert_int_eq(clr_jobs_worker_start(&cfg, kb, 2, NULL, 0, &b, &wb), CLR_OK);
	enqueue("t_mine_b", NULL, id1);
	enqueue("t_mine_a", NULL, id2);
	enqueue("t_mine_c", NULL, id3);
	ck_assert(wait_state(id1, "done"));
	ck_assert(wait_state(id2, "done"));
	ck_assert(wait_state(id3, "done"));
	clr_jobs_worker_stop(wa);
	clr_jobs_worker_stop(wb);
	ck_assert_int_eq(atomic_load(&a.calls), 1);
	ck_assert_int_eq(atomic_load(&b.calls), 2);
}
END_TEST

START_TEST(bad_kind_names_are_refused)
{
	static const struct clr_job_kind bad[] = {{"t,x", ok_run}};
	static const struct clr_job_kind quote[] = {{"t\"x", ok_run}};
	static const struct clr_job_kind nofn[] = {{"t_nofn", NULL}};
	struct clr_jobs_worker *w = NULL;

	ck_assert_int_eq(clr_jobs_worker_start(&cfg, bad, 1, NULL, 0, NULL, &w), CLR_ERR_PARAM);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(clr_jobs_worker_start(&cfg, quote, 1, NULL, 0, NULL, &w), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_jobs_worker_start(&cfg, nofn, 1, NULL, 0, NULL, &w), CLR_ERR_PARAM);
	ck_assert_ptr_null(w);
}
END_TEST

struct racer {
	struct app *a;
	int worker;
};

static enum clr_rc count_run(void *app, struct clr_db *hdb, const struct clr_job *job,
			     struct clr_err *e)
{
	struct racer *r = app;
	json_int_t n = json_integer_value(json_object_get(job->payload, "n"));

	(void)hdb;
	(void)e;
	if (n < 0 || n >= NJOBS_RACE) {
		atomic_fetch_add(&r->a->bad, 1);
		return CLR_ERR_PARAM;
	}
	atomic_fetch_add(&r->a->runs[n], 1);
	atomic_fetch_add(&r->a->by_worker[r->worker], 1);
	usleep(2000); /* widen the window in which a double claim could happen */
	return CLR_OK;
}

START_TEST(two_workers_never_share_a_job)
{
	static const struct clr_job_kind kinds[] = {{"t_race", count_run}};
	struct clr_jobs_worker *w1 = NULL, *w2 = NULL;
	struct racer r1, r2;
	struct app a;
	char id[37];
	int i;

	memset(&a, 0, sizeof(a));
	r1.a = r2.a = &a;
	r1.worker = 0;
	r2.worker = 1;
	/* Queue all first, so both workers start on a full queue. */
	ck_assert_int_eq(clr_db_begin(db), CLR_OK);
	for (i = 0; i < NJOBS_RACE; i++) {
		json_t *p = json_pack("{s:i}", "n", i);

		ck_assert_int_eq(clr_jobs_enqueue(db, "t_race", p, id), CLR_OK);
		json_decref(p);
	}
	ck_assert_int_eq(clr_db_commit(db), CLR_OK);
	ck_assert_int_eq(clr_jobs_worker_start(&cfg, kinds, 1, NULL, 0, &r1, &w1), CLR_OK);
	ck_assert_int_eq(clr_jobs_worker_start(&cfg, kinds, 1, NULL, 0, &r2, &w2), CLR_OK);
	for (i = 0; i < 1500; i++) {
		if (pgt_long("SELECT count(*) FROM jobs WHERE kind = 't_race' AND"
			     " state = 'done'",
			     NULL, NULL) == NJOBS_RACE)
			break;
		usleep(10000);
	}
	clr_jobs_worker_stop(w1);
	clr_jobs_worker_stop(w2);
	ck_assert_int_eq(atomic_load(&a.bad), 0);
	for (i = 0; i < NJOBS_RACE; i++)
		ck_assert_int_eq(atomic_load(&a.runs[i]), 1);
	ck_assert_int_eq(atomic_load(&a.by_worker[0]) + atomic_load(&a.by_worker[1]), NJOBS_RACE);
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM jobs WHERE kind = 't_race'"
				  " AND state = 'done' AND attempts = 1",
				  NULL, NULL),
			 NJOBS_RACE);
}
END_TEST

/* A job that runs longer than the lease (an IdP taking its time). */
static enum clr_rc slow_run(void *app, struct clr_db *hdb, const struct clr_job *job,
			    struct clr_err *e)
{
	struct app *a = app;

	(void)hdb;
	(void)job;
	(void)e;
	atomic_fetch_add(&a->calls, 1);
	sleep(13);
	return CLR_OK;
}

/*
 * Issue 13: leases are short (a crashed worker's job resumes within
 * seconds) and renewed while the job runs, so a second worker never takes
 * over a job that is merely slow.
 */
START_TEST(long_job_keeps_its_renewed_lease)
{
	static const struct clr_job_kind kinds[] = {{"t_slow", slow_run}};
	struct clr_jobs_worker *w1 = NULL, *w2 = NULL;
	struct app a;
	char id[37];
	long left;

	memset(&a, 0, sizeof(a));
	enqueue("t_slow", json_object(), id);
	ck_assert_int_eq(clr_jobs_worker_start(&cfg, kinds, 1, NULL, 0, &a, &w1), CLR_OK);
	ck_assert_int_eq(clr_jobs_worker_start(&cfg, kinds, 1, NULL, 0, &a, &w2), CLR_OK);
	ck_assert(wait_state(id, "running"));
	left = pgt_long("SELECT extract(epoch FROM locked_until - now())::bigint FROM jobs"
			" WHERE id = $1",
			id, NULL);
	ck_assert_int_le(left, 10);
	/* Past the first lease: renewed, still ours. */
	sleep(11);
	left = pgt_long("SELECT extract(epoch FROM locked_until - now())::bigint FROM jobs"
			" WHERE id = $1 AND state = 'running' AND attempts = 1",
			id, NULL);
	ck_assert_int_ge(left, 3);
	ck_assert(wait_state(id, "done"));
	clr_jobs_worker_stop(w1);
	clr_jobs_worker_stop(w2);
	ck_assert_int_eq(atomic_load(&a.calls), 1);
	ck_assert_int_eq(pgt_long("SELECT attempts FROM jobs WHERE id = $1", id, NULL), 1);
}
END_TEST

START_TEST(stop_is_prompt)
{
	struct clr_jobs_worker *w = NULL;
	long long t0;

	cfg.job_poll_ms = 60000;
	ck_assert_int_eq(clr_jobs_worker_start(&cfg, NULL, 0, NULL, 0, NULL, &w), CLR_OK);
	usleep(300000); /* let it settle into its wait */
	t0 = clr_now_ms();
	clr_jobs_worker_stop(w);
	ck_assert_int_lt(clr_now_ms() - t0, 1000);
	clr_jobs_worker_stop(NULL);
}
END_TEST

static enum clr_rc ok_run(void *app, struct clr_db *hdb, const struct clr_job *job,
			  struct clr_err *e)
{
	(void)hdb;
	(void)job;
	(void)e;
	atomic_fetch_add(&((struct app *)app)->calls, 1);
	return CLR_OK;
}

START_TEST(worker_survives_lost_connection)
{
	static const struct clr_job_kind kinds[] = {{"t_reconnect", ok_run}};
	struct clr_jobs_worker *w = NULL;
	struct app a;
	char id[37], mypid[16];

	memset(&a, 0, sizeof(a));
	/* A long poll interval: only a re-LISTEN gets the job done quickly. */
	cfg.job_poll_ms = 60000;
	ck_assert_int_eq(clr_jobs_worker_start(&cfg, kinds, 1, NULL, 0, &a, &w), CLR_OK);
	usleep(300000);
	snprintf(mypid, sizeof(mypid), "%d", PQbackendPID(clr_db_conn(db)));
	/* Kill every backend of this program except the test's own. */
	ck_assert_int_ge(pgt_long("SELECT count(pg_terminate_backend(pid))"
				  " FROM pg_stat_activity WHERE application_name = $1"
				  " AND pid <> $2::int AND pid <> pg_backend_pid()",
				  pgt_schema, mypid),
			 1);
	usleep(300000);
	enqueue("t_reconnect", NULL, id);
	ck_assert(wait_state(id, "done"));
	clr_jobs_worker_stop(w);
	ck_assert_int_eq(atomic_load(&a.calls), 1);
}
END_TEST

/*
 * Regression: a job whose lease expired on its last attempt (its worker
 * died or overran the lease) was claimed and run again with attempts
 * counting past max_attempts, every time the lease ran out: a job that
 * kills its worker got unlimited attempts.  It must fail without running.
 */
START_TEST(expired_last_attempt_fails_without_running)
{
	static const struct clr_job_kind kinds[] = {{"t_zombie", ok_run}};
	static const char id[] = "6f1c2a9e-0d4b-4c7e-9a51-3b8e2f7d1c04";
	struct clr_jobs_worker *w = NULL;
	struct app a;

	memset(&a, 0, sizeof(a));
	cfg.job_max_attempts = 2;
	ck_assert(pgt_exec("INSERT INTO jobs (id, kind, state, attempts, max_attempts,"
			   " locked_until) VALUES ('6f1c2a9e-0d4b-4c7e-9a51-3b8e2f7d1c04',"
			   " 't_zombie', 'running', 2, 2, now() - interval '1 second')"));
	ck_assert_int_eq(clr_jobs_worker_start(&cfg, kinds, 1, NULL, 0, &a, &w), CLR_OK);
	ck_assert(wait_state(id, "failed"));
	usleep(300000); /* a wrong retry would happen within this */
	clr_jobs_worker_stop(w);
	ck_assert_int_eq(atomic_load(&a.calls), 0);
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM jobs WHERE id = $1 AND"
				  " state = 'failed' AND attempts = 3 AND locked_until IS NULL"
				  " AND last_error LIKE 'lease expired%'",
				  id, NULL),
			 1);
}
END_TEST

static Suite *jobs_suite(void)
{
	Suite *s = suite_create("jobs");
	TCase *tc;

	tc = tcase_create("enqueue");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, enqueue_follows_transaction);
	tcase_add_test(tc, enqueue_notifies_at_commit);
	suite_add_tcase(s, tc);
	tc = tcase_create("worker");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, retry_then_success);
	tcase_add_test(tc, gives_up_after_max_attempts);
	tcase_add_test(tc, param_error_fails_at_once);
	tcase_add_test(tc, no_retry_fails_at_once_with_its_error);
	tcase_add_test(tc, two_workers_never_share_a_job);
	tcase_add_test(tc, stop_is_prompt);
	tcase_add_test(tc, worker_survives_lost_connection);
	tcase_add_test(tc, expired_last_attempt_fails_without_running);
	tcase_add_test(tc, workers_claim_only_their_kinds);
	tcase_add_test(tc, bad_kind_names_are_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("lease");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, long_job_keeps_its_renewed_lease);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int failed;
	SRunner *sr;

	if (!pgt_setup("jobs"))
		return 0;
	sr = srunner_create(jobs_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	pgt_teardown();
	return failed ? 1 : 0;
}
