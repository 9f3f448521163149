/*
 * migrate.c - ordered SQL migrations recorded in schema_migrations.
 *
 * A migration file is sent whole with PQexec: it is our own file, shipped
 * with the program, not input, and it may hold many statements, which only
 * the simple query protocol accepts.  It is the one place in Clearance that
 * does not use parameters.  PQexec runs it inside the transaction we opened,
 * so a failing statement undoes the whole file and its version row.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "migrate.h"

/* Fixed key for pg_advisory_xact_lock: "Clr_mig" as bytes. */
#define MIGRATE_LOCK_KEY "18930318591215975"
#define MIGRATION_MAX_BYTES (8L * 1024 * 1024)

static int migration_name(const char *n)
{
	size_t i = 0, len = strlen(n);

	while (isdigit((unsigned char)n[i]))
		i++;
	if (i < 3 || n[i] != '_' || len < 5 || strcmp(n + len - 4, ".sql") != 0)
		return 0;
	for (i++; i < len - 4; i++)
		if (!islower((unsigned char)n[i]) && !isdigit((unsigned char)n[i]) && n[i] != '_')
			return 0;
	return 1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* *names new (free_names), sorted. */
static enum clr_rc list_migrations(const char *dir, char ***names, size_t *n)
{
	struct dirent *de;
	size_t cap = 0;
	char **v = NULL;
	DIR *d;

	*names = NULL;
	*n = 0;
	d = opendir(dir);
	if (d == NULL) {
		fprintf(stderr, "migrate: cannot open %s: %s\n", dir, strerror(errno));
		return CLR_ERR_PARAM;
	}
	while ((de = readdir(d)) != NULL) {
		if (!migration_name(de->d_name))
			continue;
		if (*n == cap) {
			char **nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));

			if (nv == NULL)
				goto nomem;
			v = nv;
			cap = cap ? cap * 2 : 16;
		}
		v[*n] = strdup(de->d_name);
		if (v[*n] == NULL)
			goto nomem;
		(*n)++;
	}
	closedir(d);
	if (*n > 0)
		qsort(v, *n, sizeof(*v), cmp_names);
	*names = v;
	return CLR_OK;
nomem:
	closedir(d);
	free_names(v, *n);
	*n = 0;
	return CLR_ERR_NOMEM;
}

/* *out new (free()), NUL-terminated. */
static enum clr_rc read_file(const char *path, char **out)
{
	enum clr_rc rc = CLR_ERR_PARAM;
	char *buf = NULL;
	struct stat st;
	FILE *f;

	*out = NULL;
	f = fopen(path, "rb");
	if (f == NULL || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "migrate: cannot read %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (st.st_size > MIGRATION_MAX_BYTES) {
		fprintf(stderr, "migrate: %s is too large\n", path);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		rc = CLR_ERR_NOMEM;
		goto out;
	}
	if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		fprintf(stderr, "migrate: short read on %s\n", path);
		goto out;
	}
	buf[st.st_size] = '\0';
	if (strlen(buf) != (size_t)st.st_size) {
		fprintf(stderr, "migrate: %s contains a NUL byte\n", path);
		goto out;
	}
	*out = buf;
	buf = NULL;
	rc = CLR_OK;
out:
	free(buf);
	if (f != NULL)
		fclose(f);
	return rc;
}

static enum clr_rc lock(struct clr_db *db)
{
	const char *p[1] = {MIGRATE_LOCK_KEY};

	return clr_db_exec_sql(db, "SELECT pg_advisory_xact_lock($1::bigint)", 1, p, NULL);
}

static enum clr_rc ensure_table(struct clr_db *db)
{
	enum clr_rc rc = clr_db_begin(db);

	if (rc != CLR_OK)
		return rc;
	rc = lock(db);
	if (rc == CLR_OK)
		rc = clr_db_exec_sql(db,
				     "CREATE TABLE IF NOT EXISTS schema_migrations ("
				     " version text PRIMARY KEY,"
				     " applied_at timestamptz NOT NULL DEFAULT now())",
				     0, NULL, NULL);
	if (rc == CLR_OK)
		return clr_db_commit(db);
	clr_db_rollback(db);
	return rc;
}

/* Applies one file unless recorded; *applied says whether it ran. */
static enum clr_rc apply_one(struct clr_db *db, const char *dir, const char *file, int *applied)
{
	char version[256], path[4096];
	const char *p[1] = {version};
	PGresult *r = NULL;
	char *sql = NULL;
	enum clr_rc rc;
	ExecStatusType st;

	*applied = 0;
	snprintf(version, sizeof(version), "%.*s", (int)(strlen(file) - 4), file);
	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return CLR_ERR_PARAM;
	rc = clr_db_begin(db);
	if (rc != CLR_OK)
		return rc;
	rc = lock(db);
	if (rc != CLR_OK)
		goto out;
	rc = clr_db_exec_sql(db, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, p, &r);
	if (rc != CLR_OK || PQntuples(r) > 0)
		goto out;
	PQclear(r);
	r = NULL;
	rc = read_file(path, &sql);
	if (rc != CLR_OK)
		goto out;
	if (clr_db_conn(db) == NULL) {
		rc = CLR_ERR_DB;
		goto out;
	}
	r = PQexec(clr_db_conn(db), sql);
	st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
		fprintf(stderr, "migrate: %s failed: %s", file,
			r ? PQresultErrorMessage(r) : PQerrorMessage(clr_db_conn(db)));
		rc = CLR_ERR_DB;
		goto out;
	}
	rc = clr_db_exec_sql(db, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, p, NULL);
	if (rc != CLR_OK)
		goto out;
	rc = clr_db_commit(db);
	if (rc == CLR_OK)
		*applied = 1;
out:
	PQclear(r);
	free(sql);
	clr_db_rollback(db);
	return rc;
}

enum clr_rc ctl_migrate(struct clr_db *db, const char *dir, FILE *out, int *napplied)
{
	char **names = NULL;
	size_t n = 0, i;
	enum clr_rc rc;
	int count = 0, applied;

	if (napplied)
		*napplied = 0;
	rc = list_migrations(dir, &names, &n);
	if (rc != CLR_OK)
		return rc;
	rc = ensure_table(db);
	if (rc != CLR_OK) {
		fprintf(stderr, "migrate: cannot create schema_migrations (%s)\n", clr_rc_name(rc));
		goto out;
	}
	for (i = 0; i < n; i++) {
		rc = apply_one(db, dir, names[i], &applied);
		if (rc != CLR_OK) {
			fprintf(stderr, "migrate: stopped at %s (%s)\n", names[i], clr_rc_name(rc));
			goto out;
		}
		if (applied && out)
			fprintf(out, "applied %s\n", names[i]);
		count += applied;
	}
	if (count == 0 && out)
		fprintf(out, "up to date\n");
out:
	if (napplied)
		*napplied = count;
	free_names(names, n);
	return rc;
}

static int is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *ctl_sql_dir(char *buf, size_t cap)
{
	const char *env = getenv("CLEARANCE_SQL_DIR");
	char exe[4096];
	ssize_t n;

	if (env != NULL && env[0] != '\0') {
		snprintf(buf, cap, "%s", env);
		return buf;
	}
	if (is_dir("sql")) {
		snprintf(buf, cap, "sql");
		return buf;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if (snprintf(buf, cap, "%s/../share/clearance/sql", dirname(exe)) >= (int)cap)
		return NULL;
	return is_dir(buf) ? buf : NULL;
}
