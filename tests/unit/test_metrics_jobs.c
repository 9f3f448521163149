/*
 * test_metrics_jobs.c - clearance_jobs{service,kind,state} (metrics.c)
 * against a real PostgreSQL (CLEARANCE_TEST_DATABASE_URL; skipped when
 * unset): the counts of the given kinds only, read at most every 10 s, and
 * a failed read leaves the database alone for the next scrapes.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/db.h"
#include "clearance/jobs.h"
#include "../../common/src/http_in_internal.h"
#include "pgtest.h"

static const struct clr_job_kind kinds[] = {{"k_one", NULL}, {"k_two", NULL}};

static int has(const char *t, const char *s)
{
	return t != NULL && strstr(t, s) != NULL;
}

START_TEST(jobs_counts_own_kinds_and_caches)
{
	struct clr_db *db = NULL;
	char *t;

	clr_metrics_jobs_reset();
	ck_assert(pgt_exec("DELETE FROM jobs;"
			   "INSERT INTO jobs (kind, state) VALUES ('k_one', 'queued'), "
			   "('k_one', 'queued'), ('k_one', 'failed'), ('k_other', 'done')"));
	ck_assert_int_eq(clr_db_open(pgt_url, NULL, 0, &db), CLR_OK);
	t = clr_metrics_jobs(db, "svc", kinds, 2);
	ck_assert(has(t, "# TYPE clearance_jobs gauge\n"));
	ck_assert(has(t, "clearance_jobs{service=\"svc\",kind=\"k_one\",state=\"queued\"} 2\n"));
	ck_assert(has(t, "clearance_jobs{service=\"svc\",kind=\"k_one\",state=\"failed\"} 1\n"));
	ck_assert(has(t, "clearance_jobs{service=\"svc\",kind=\"k_one\",state=\"done\"} 0\n"));
	ck_assert(has(t, "clearance_jobs{service=\"svc\",kind=\"k_two\",state=\"running\"} 0\n"));
	ck_assert(!has(t, "k_other"));
	free(t);
	/* a scrape right after uses the counts just read */
	ck_assert(pgt_exec("INSERT INTO jobs (kind, state) VALUES ('k_one', 'queued')"));
	t = clr_metrics_jobs(db, "svc", kinds, 2);
	ck_assert(has(t, "kind=\"k_one\",state=\"queued\"} 2\n"));
	free(t);
	clr_metrics_jobs_reset();
	t = clr_metrics_jobs(db, "svc", kinds, 2);
	ck_assert(has(t, "kind=\"k_one\",state=\"queued\"} 3\n"));
	free(t);
	clr_db_close(db);
}
END_TEST

START_TEST(jobs_failed_read_backs_off)
{
	struct clr_db *db = NULL;
	char *t;

	clr_metrics_jobs_reset();
	ck_assert_int_eq(clr_db_open(pgt_url, NULL, 0, &db), CLR_OK);
	ck_assert(pgt_exec("ALTER TABLE jobs RENAME TO jobs_away"));
	t = clr_metrics_jobs(db, "svc", kinds, 2);
	ck_assert(pgt_exec("ALTER TABLE jobs_away RENAME TO jobs"));
	ck_assert(has(t, "# TYPE clearance_jobs gauge\n"));
	ck_assert(!has(t, "clearance_jobs{")); /* no counts rather than made-up ones */
	free(t);
	/* the database answers again, but the next scrapes do not ask it yet */
	t = clr_metrics_jobs(db, "svc", kinds, 2);
	ck_assert(!has(t, "clearance_jobs{"));
	free(t);
	/* no database at all: the header only */
	clr_metrics_jobs_reset();
	t = clr_metrics_jobs(NULL, "svc", kinds, 2);
	ck_assert(has(t, "# TYPE clearance_jobs gauge\n") && !has(t, "clearance_jobs{"));
	free(t);
	ck_assert_ptr_null(clr_metrics_jobs(db, "svc", NULL, 0));
	clr_db_close(db);
}
END_TEST

static Suite *suite(int have_pg)
{
	Suite *s = suite_create("metrics_jobs");
	TCase *tc = tcase_create("clearance_jobs");

	if (have_pg) {
		tcase_add_test(tc, jobs_counts_own_kinds_and_caches);
		tcase_add_test(tc, jobs_failed_read_backs_off);
	}
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int have_pg = pgt_setup("mjobs"), failed;
	SRunner *sr = srunner_create(suite(have_pg));

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	pgt_teardown();
	return failed ? 1 : 0;
}
