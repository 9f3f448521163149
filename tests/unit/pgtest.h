/*
 * pgtest.h - a private PostgreSQL schema for one unit-test program.
 *
 * Tests that need PostgreSQL read CLEARANCE_TEST_DATABASE_URL; when it is
 * unset they say so and skip.  Each program gets its own schema
 * (clrtest_<name>_<pid>) through PGOPTIONS=-c search_path=..., so programs
 * running at the same time (and the job workers they start) never see each
 * other's rows.  The schema gets sql/001_core.sql through the real migration
 * code and is dropped at the end.  PGAPPNAME is set to the schema name so a
 * test can find (and kill) its own backends.
 *
 * Header-only (static functions) because every non-test_ .c file in tests/unit
 * is linked into all unit tests.
 */
#ifndef CLEARANCE_TESTS_PGTEST_H
#define CLEARANCE_TESTS_PGTEST_H

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "clearance/db.h"
#include "../../services/ctl/migrate.h"

static const char *pgt_url; /* NULL: PostgreSQL tests skip */
static char pgt_schema[64];

static __attribute__((unused)) void pgt_skip_note(void)
{
	printf("skipped: CLEARANCE_TEST_DATABASE_URL not set\n");
}

static __attribute__((unused)) void pgt_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* Runs sql (no parameters; fixed test DDL) on a fresh connection. */
static __attribute__((unused)) int pgt_exec(const char *sql)
{
	PGconn *c = PQconnectdb(pgt_url);
	PGresult *r;
	int ok;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pgtest: %s", PQerrorMessage(c));
		PQfinish(c);
		return 0;
	}
	PQsetNoticeProcessor(c, pgt_quiet, NULL);
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "pgtest: %s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	return ok;
}

/*
 * The core migrations every module's tests build on: api_tokens and jobs
 * (001), how a token hash was made (055) and a failed job's structured error
 * (070).  Nothing of other modules.
 */
static const char *const pgt_core_files[] = {"001_core.sql", "055_token_pepper.sql",
					     "070_job_errors.sql"};
#define PGT_NCORE (sizeof(pgt_core_files) / sizeof(pgt_core_files[0]))

/* A directory holding only links to pgt_core_files, so the tests of this
 * module do not depend on other modules' migrations. */
static __attribute__((unused)) int pgt_core_dir(char *out, size_t cap)
{
	char src[4096], exe[4096], buf[4096], sqldir[4096];
	const char *dir = ctl_sql_dir(buf, sizeof(buf));
	struct stat st;
	ssize_t n;

	if (dir == NULL || snprintf(src, sizeof(src), "%s/001_core.sql", dir) < 0 ||
	    stat(src, &st) != 0) {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0)
			return 0;
		exe[n] = '\0';
		snprintf(sqldir, sizeof(sqldir), "%s/../../sql", dirname(exe));
	} else {
		snprintf(sqldir, sizeof(sqldir), "%s", dir);
	}
	snprintf(out, cap, "/tmp/%s.sql", pgt_schema);
	mkdir(out, 0700);
	for (size_t i = 0; i < PGT_NCORE; i++) {
		if (snprintf(src, sizeof(src), "%.4000s/%s", sqldir, pgt_core_files[i]) >=
		    (int)sizeof(src))
			return 0;
		if (stat(src, &st) != 0 || realpath(src, exe) == NULL)
			return 0;
		if (snprintf(buf, sizeof(buf), "%.4000s/%s", out, pgt_core_files[i]) >=
		    (int)sizeof(buf))
			return 0;
		unlink(buf);
		if (symlink(exe, buf) != 0)
			return 0;
	}
	return 1;
}

static __attribute__((unused)) void pgt_remove_dir(const char *dir)
{
	char buf[4200];

	for (size_t i = 0; i < PGT_NCORE; i++) {
		snprintf(buf, sizeof(buf), "%s/%s", dir, pgt_core_files[i]);
		unlink(buf);
	}
	rmdir(dir);
}

/* 1: schema ready; 0: skipped (note printed); exits on setup failure. */
static __attribute__((unused)) int pgt_setup(const char *name)
{
	char sql[160], opts[128], dir[256];
	struct clr_db *db = NULL;
	int n = 0;

	pgt_url = getenv("CLEARANCE_TEST_DATABASE_URL");
	if (pgt_url == NULL || pgt_url[0] == '\0') {
		pgt_url = NULL;
		pgt_skip_note();
		return 0;
	}
	snprintf(pgt_schema, sizeof(pgt_schema), "clrtest_%s_%d", name, (int)getpid());
	snprintf(opts, sizeof(opts), "-c search_path=%s", pgt_schema);
	setenv("PGOPTIONS", opts, 1);
	setenv("PGAPPNAME", pgt_schema, 1);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", pgt_schema);
	if (!pgt_exec(sql) || !pgt_core_dir(dir, sizeof(dir))) {
		fprintf(stderr, "pgtest: cannot prepare schema %s\n", pgt_schema);
		exit(1);
	}
	if (clr_db_open(pgt_url, NULL, 0, &db) != CLR_OK ||
	    ctl_migrate(db, dir, NULL, &n) != CLR_OK || n != (int)PGT_NCORE) {
		fprintf(stderr, "pgtest: migrating %s failed\n", pgt_schema);
		clr_db_close(db);
		pgt_remove_dir(dir);
		exit(1);
	}
	clr_db_close(db);
	pgt_remove_dir(dir);
	return 1;
}

static __attribute__((unused)) void pgt_teardown(void)
{
	char sql[160];

	if (pgt_url == NULL)
		return;
	snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", pgt_schema);
	(void)pgt_exec(sql);
}

/* First value of a one-row query with up to 2 text params, new (free()). */
static __attribute__((unused)) char *pgt_value(const char *sql, const char *p1, const char *p2)
{
	const char *params[2] = {p1, p2};
	PGconn *c = PQconnectdb(pgt_url);
	PGresult *r = PQexecParams(c, sql, p2 ? 2 : (p1 ? 1 : 0), NULL, params, NULL, NULL, 0);
	char *v = NULL;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
		v = strdup(PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
	else if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fprintf(stderr, "pgtest: %s", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	return v;
}

static __attribute__((unused)) long pgt_long(const char *sql, const char *p1, const char *p2)
{
	char *v = pgt_value(sql, p1, p2);
	long n = v ? strtol(v, NULL, 10) : -1;

	free(v);
	return n;
}

/* Terminates backend pid and waits (up to 5 s) until it is gone. */
static __attribute__((unused)) int pgt_kill_backend(int pid)
{
	char p[16];
	int i;

	snprintf(p, sizeof(p), "%d", pid);
	if (pgt_long("SELECT pg_terminate_backend($1::int)::int", p, NULL) != 1)
		return 0;
	for (i = 0; i < 500; i++) {
		if (pgt_long("SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int", p,
			     NULL) == 0)
			return 1;
		usleep(10000);
	}
	return 0;
}

#endif
