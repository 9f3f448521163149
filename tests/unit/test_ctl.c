/*
 * test_ctl.c - services/ctl/migrate.c: ordered, recorded, all-or-nothing
 * per file, idempotent; against PostgreSQL (CLEARANCE_TEST_DATABASE_URL;
 * skipped when unset).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pgtest.h"

static char dir[128];
static struct clr_db *db;

static void put(const char *name, const char *body)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(body, f);
	fclose(f);
}

static void rm(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/%s.mig", pgt_schema);
	mkdir(dir, 0700);
	ck_assert_int_eq(clr_db_open(pgt_url, NULL, 0, &db), CLR_OK);
}

static void teardown(void)
{
	static const char *const names[] = {"010_a.sql", "011_b.sql", "020_a.sql",   "021_b.sql",
					    "022_c.sql", "README",    "9_short.sql", "013_Up.sql"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		rm(names[i]);
	rmdir(dir);
	clr_db_close(db);
}

/* Runs the migrator, capturing what it prints. */
static enum clr_rc migrate(int *n, char *outbuf, size_t cap)
{
	FILE *out = fmemopen(outbuf, cap, "w");
	enum clr_rc rc;

	ck_assert_ptr_nonnull(out);
	rc = ctl_migrate(db, dir, out, n);
	fclose(out);
	return rc;
}

START_TEST(applies_in_order_once)
{
	char out[512];
	int n = -1;

	/* 011 uses 010's table, so order matters; junk names are ignored. */
	put("011_b.sql", "INSERT INTO m_a VALUES (2);\n");
	put("010_a.sql", "CREATE TABLE m_a (x int);\nINSERT INTO m_a VALUES (1);\n");
	put("README", "not sql");
	put("9_short.sql", "SELECT broken(");
	put("013_Up.sql", "SELECT broken(");
	ck_assert_int_eq(migrate(&n, out, sizeof(out)), CLR_OK);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(out, "applied 010_a.sql\napplied 011_b.sql\n");
	ck_assert_int_eq(pgt_long("SELECT sum(x) FROM m_a", NULL, NULL), 3);
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM schema_migrations WHERE"
				  " version IN ('010_a', '011_b')",
				  NULL, NULL),
			 2);
	/* Second run: nothing to do. */
	ck_assert_int_eq(migrate(&n, out, sizeof(out)), CLR_OK);
	ck_assert_int_eq(n, 0);
	ck_assert_str_eq(out, "up to date\n");
	ck_assert_int_eq(pgt_long("SELECT sum(x) FROM m_a", NULL, NULL), 3);
}
END_TEST

START_TEST(failing_file_is_undone)
{
	char out[512];
	int n = -1;

	put("020_a.sql", "CREATE TABLE m_ok (x int);\n");
	/* The first statement succeeds, the second fails: neither may stay. */
	put("021_b.sql", "CREATE TABLE m_half (x int);\nSELECT no_such_fn();\n");
	put("022_c.sql", "CREATE TABLE m_after (x int);\n");
	ck_assert_int_eq(migrate(&n, out, sizeof(out)), CLR_ERR_DB);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM pg_tables WHERE tablename"
				  " IN ('m_half', 'm_after') AND schemaname = $1",
				  pgt_schema, NULL),
			 0);
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM schema_migrations WHERE"
				  " version IN ('021_b', '022_c')",
				  NULL, NULL),
			 0);
	/* Fixed file: the rest goes through. */
	put("021_b.sql", "CREATE TABLE m_half (x int);\n");
	ck_assert_int_eq(migrate(&n, out, sizeof(out)), CLR_OK);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(out, "applied 021_b.sql\napplied 022_c.sql\n");
}
END_TEST

START_TEST(missing_dir_is_error)
{
	int n = -1;

	ck_assert_int_ne(ctl_migrate(db, "/nonexistent/clearance/sql", NULL, &n), CLR_OK);
	ck_assert_int_eq(n, 0);
}
END_TEST

int main(void)
{
	Suite *s;
	TCase *tc;
	SRunner *sr;
	int failed;

	if (!pgt_setup("ctl"))
		return 0;
	s = suite_create("ctl");
	/* Tests use distinct version numbers: they share schema_migrations. */
	tc = tcase_create("migrate");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, applies_in_order_once);
	tcase_add_test(tc, failing_file_is_undone);
	tcase_add_test(tc, missing_dir_is_error);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	pgt_teardown();
	return failed ? 1 : 0;
}
