/*
 * test_db.c - common/src/db.c against a real PostgreSQL
 * (CLEARANCE_TEST_DATABASE_URL; skipped when unset).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/db.h"
#include "pgtest.h"

static const struct clr_db_stmt stmts[] = {
    {"ins", "INSERT INTO t_db (id, v, n) VALUES ($1, $2, $3)", 3},
    {"sel", "SELECT v, n FROM t_db WHERE id = $1", 1},
    {"count_v", "SELECT count(*) FROM t_db WHERE v = $1", 1},
    {"pid", "SELECT pg_backend_pid()", 0},
};
#define NSTMTS (sizeof(stmts) / sizeof(stmts[0]))

static struct clr_db *db;

static void db_setup(void)
{
	ck_assert_int_eq(clr_db_open(pgt_url, stmts, NSTMTS, &db), CLR_OK);
	ck_assert_ptr_nonnull(clr_db_conn(db));
}

static void db_teardown(void)
{
	clr_db_close(db);
	db = NULL;
}

/* Inserts a row with a fresh uuid (written to id) and value v. */
static enum clr_rc ins(const char *v, const char *n, char id[37])
{
	char *u = pgt_value("SELECT gen_random_uuid()::text", NULL, NULL);
	const char *p[3];
	enum clr_rc rc;

	ck_assert_ptr_nonnull(u);
	snprintf(id, 37, "%s", u);
	free(u);
	p[0] = id;
	p[1] = v;
	p[2] = n;
	rc = clr_db_exec(db, "ins", 3, p, NULL);
	return rc;
}

static long count_v(const char *v)
{
	const char *p[1] = {v};
	PGresult *r = NULL;
	long n;

	ck_assert_int_eq(clr_db_exec(db, "count_v", 1, p, &r), CLR_OK);
	n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

static int backend_pid(void)
{
	PGresult *r = NULL;
	int pid;

	ck_assert_int_eq(clr_db_exec(db, "pid", 0, NULL, &r), CLR_OK);
	pid = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return pid;
}

START_TEST(prepared_statements_run)
{
	char id[37];
	const char *p[1] = {id};
	PGresult *r = NULL;

	/* The whole table is prepared when the connection opens. */
	ck_assert_int_eq(clr_db_exec_sql(db,
					 "SELECT count(*) FROM pg_prepared_statements"
					 " WHERE name IN ('ins', 'sel', 'count_v', 'pid')",
					 0, NULL, &r),
			 CLR_OK);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "4");
	PQclear(r);

	ck_assert_int_eq(ins("prep-a", NULL, id), CLR_OK);
	ck_assert_int_eq(clr_db_exec(db, "sel", 1, p, &r), CLR_OK);
	ck_assert_int_eq(PQntuples(r), 1);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "prep-a");
	ck_assert(PQgetisnull(r, 0, 1)); /* NULL pointer became SQL NULL */
	PQclear(r);
	/* res may be NULL when rows are not needed. */
	ck_assert_int_eq(clr_db_exec(db, "sel", 1, p, NULL), CLR_OK);
}
END_TEST

START_TEST(unknown_statement_or_arity)
{
	const char *p[2] = {"a", "b"};
	PGresult *r = (PGresult *)1;

	ck_assert_int_eq(clr_db_exec(db, "nope", 0, NULL, &r), CLR_ERR_INTERNAL);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(clr_db_exec(db, "sel", 2, p, NULL), CLR_ERR_INTERNAL);
}
END_TEST

START_TEST(sqlstate_mapping)
{
	char id[37], id2[37];
	const char *p[3];
	unsigned long errs;
	PGresult *r = (PGresult *)1;

	ck_assert_int_eq(ins("dup-1", "1", id), CLR_OK);
	errs = clr_db_error_count();
	/* 23505 unique_violation */
	ck_assert_int_eq(ins("dup-1", "1", id2), CLR_ERR_CONFLICT);
	/* 23514 check_violation */
	ck_assert_int_eq(ins("neg", "-1", id2), CLR_ERR_PARAM);
	/* 22P02 invalid_text_representation: a bad uuid and a bad int */
	p[0] = "not-a-uuid";
	p[1] = "x";
	p[2] = "1";
	ck_assert_int_eq(clr_db_exec(db, "ins", 3, p, &r), CLR_ERR_PARAM);
	ck_assert_ptr_null(r);
	p[0] = id2;
	p[2] = "one";
	ck_assert_int_eq(clr_db_exec(db, "ins", 3, p, NULL), CLR_ERR_PARAM);
	/* 23502 not_null_violation */
	p[1] = NULL;
	p[2] = "1";
	ck_assert_int_eq(clr_db_exec(db, "ins", 3, p, NULL), CLR_ERR_PARAM);
	/* 22001 string too long (v is varchar(20)) */
	p[1] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	ck_assert_int_eq(clr_db_exec(db, "ins", 3, p, NULL), CLR_ERR_PARAM);
	/* Input errors are not database failures. */
	ck_assert_uint_eq(clr_db_error_count(), errs);
	/* Anything else is CLR_ERR_DB and counted. */
	ck_assert_int_eq(clr_db_exec_sql(db, "SELECT * FROM no_such_table", 0, NULL, NULL),
			 CLR_ERR_DB);
	ck_assert_uint_eq(clr_db_error_count(), errs + 1);
	ck_assert_int_eq(count_v("dup-1"), 1);
}
END_TEST

START_TEST(reconnect_after_backend_killed)
{
	char id[37];
	int pid = backend_pid(), pid2;

	ck_assert(pgt_kill_backend(pid));
	/* Next call resets, re-prepares and retries the statement once. */
	ck_assert_int_eq(ins("after-kill", "2", id), CLR_OK);
	pid2 = backend_pid();
	ck_assert_int_ne(pid, pid2);
	ck_assert_int_eq(count_v("after-kill"), 1);
	/* Same for ping. */
	ck_assert(pgt_kill_backend(pid2));
	ck_assert_int_eq(clr_db_ping(db), CLR_OK);
	ck_assert_int_ne(backend_pid(), pid2);
}
END_TEST

START_TEST(no_retry_inside_transaction)
{
	char id[37];

	ck_assert_int_eq(clr_db_begin(db), CLR_OK);
	ck_assert_int_eq(ins("txn-lost-1", "1", id), CLR_OK);
	ck_assert(pgt_kill_backend(backend_pid()));
	/* The transaction is gone: running the rest on its own would be wrong. */
	ck_assert_int_eq(ins("txn-lost-2", "1", id), CLR_ERR_DB);
	ck_assert_int_eq(ins("txn-lost-3", "1", id), CLR_ERR_DB);
	ck_assert_int_eq(clr_db_commit(db), CLR_ERR_DB);
	clr_db_rollback(db);
	ck_assert_int_eq(count_v("txn-lost-1"), 0);
	ck_assert_int_eq(count_v("txn-lost-2"), 0);
	ck_assert_int_eq(count_v("txn-lost-3"), 0);
	/* And the handle works again. */
	ck_assert_int_eq(ins("txn-lost-4", "1", id), CLR_OK);
	ck_assert_int_eq(count_v("txn-lost-4"), 1);
}
END_TEST

START_TEST(transaction_rollback_and_commit)
{
	char id[37];

	ck_assert_int_eq(clr_db_begin(db), CLR_OK);
	ck_assert_int_eq(ins("txn-rb", "1", id), CLR_OK);
	ck_assert_int_eq(count_v("txn-rb"), 1);
	clr_db_rollback(db);
	ck_assert_int_eq(count_v("txn-rb"), 0);
	clr_db_rollback(db); /* safe with none open */

	ck_assert_int_eq(clr_db_begin(db), CLR_OK);
	ck_assert_int_eq(clr_db_begin(db), CLR_ERR_INTERNAL); /* no nesting */
	ck_assert_int_eq(ins("txn-ok", "1", id), CLR_OK);
	ck_assert_int_eq(clr_db_commit(db), CLR_OK);
	ck_assert_int_eq(count_v("txn-ok"), 1);
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM t_db WHERE v = $1", "txn-ok", NULL), 1);
}
END_TEST

START_TEST(commit_of_failed_transaction_fails)
{
	char id[37];

	ck_assert_int_eq(ins("txn-dup", "1", id), CLR_OK);
	ck_assert_int_eq(clr_db_begin(db), CLR_OK);
	ck_assert_int_eq(ins("txn-fail-1", "1", id), CLR_OK);
	ck_assert_int_eq(ins("txn-dup", "1", id), CLR_ERR_CONFLICT);
	/* PostgreSQL answers COMMIT with ROLLBACK here; we must not say OK. */
	ck_assert_int_eq(clr_db_commit(db), CLR_ERR_DB);
	ck_assert_int_eq(count_v("txn-fail-1"), 0);
}
END_TEST

START_TEST(ping_ok)
{
	ck_assert_int_eq(clr_db_ping(db), CLR_OK);
}
END_TEST

/* No server needed: a handle opens even when PostgreSQL is unreachable. */
START_TEST(open_while_server_down)
{
	struct clr_db *d = NULL;
	unsigned long errs = clr_db_error_count();
	PGresult *r = (PGresult *)1;

	ck_assert_int_eq(clr_db_open("host=/nonexistent-clearance-dir dbname=x "
				     "connect_timeout=2",
				     stmts, NSTMTS, &d),
			 CLR_OK);
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_null(clr_db_conn(d));
	ck_assert_int_eq(clr_db_exec(d, "pid", 0, NULL, &r), CLR_ERR_DB);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(clr_db_ping(d), CLR_ERR_DB);
	ck_assert_uint_gt(clr_db_error_count(), errs);
	clr_db_close(d);
	clr_db_close(NULL);
}
END_TEST

static Suite *db_suite(int have_pg)
{
	Suite *s = suite_create("db");
	TCase *tc;

	tc = tcase_create("offline");
	tcase_add_test(tc, open_while_server_down);
	suite_add_tcase(s, tc);
	if (!have_pg)
		return s;
	tc = tcase_create("exec");
	tcase_add_checked_fixture(tc, db_setup, db_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, prepared_statements_run);
	tcase_add_test(tc, unknown_statement_or_arity);
	tcase_add_test(tc, sqlstate_mapping);
	tcase_add_test(tc, ping_ok);
	suite_add_tcase(s, tc);
	tc = tcase_create("reconnect");
	tcase_add_checked_fixture(tc, db_setup, db_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, reconnect_after_backend_killed);
	tcase_add_test(tc, no_retry_inside_transaction);
	suite_add_tcase(s, tc);
	tc = tcase_create("transactions");
	tcase_add_checked_fixture(tc, db_setup, db_teardown);
	tcase_add_test(tc, transaction_rollback_and_commit);
	tcase_add_test(tc, commit_of_failed_transaction_fails);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int have_pg = pgt_setup("db"), failed;
	SRunner *sr;

	if (have_pg && !pgt_exec("CREATE TABLE t_db (id uuid PRIMARY KEY,"
				 " v varchar(20) NOT NULL UNIQUE, n int CHECK (n >= 0))")) {
		pgt_teardown();
		return 1;
	}
	sr = srunner_create(db_suite(have_pg));
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	pgt_teardown();
	return failed ? 1 : 0;
}
