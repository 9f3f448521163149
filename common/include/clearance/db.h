/*
 * db.h - one libpq connection per thread, prepared statements from a table.
 *
 * Each program declares a const table of statements; every connection
 * prepares all of them when it opens (and again after a reconnect).  SQL is
 * only ever sent with parameters (PQexecPrepared / PQexecParams), all in
 * text format, NULL pointer = SQL NULL.
 *
 * A struct clr_db is owned by one thread at a time.  If the connection is
 * found broken (PostgreSQL restarted), the next call resets it with
 * PQreset and re-prepares; a statement outside a transaction is retried
 * once after a successful reset.  Inside a transaction the call fails with
 * CLR_ERR_DB and the caller rolls back.
 */
#ifndef CLEARANCE_DB_H
#define CLEARANCE_DB_H

#include <libpq-fe.h>
#include "clearance/rc.h"

struct clr_db_stmt {
	const char *name;
	const char *sql;
	int nparams;
};

struct clr_db;

/*
 * *out is new (clr_db_close).  Connecting is attempted now, but a failure
 * is not fatal: the handle is returned and reconnects on first use, so a
 * service can start while PostgreSQL is still coming up.  stmts is borrowed
 * for the life of the handle (use a static table).
 */
enum clr_rc clr_db_open(const char *conninfo, const struct clr_db_stmt *stmts, size_t nstmts,
			struct clr_db **out) CLR_MUSTCHECK;
void clr_db_close(struct clr_db *db);

/*
 * Runs prepared statement `name`.  On CLR_OK *res is new (PQclear) with
 * status TUPLES_OK or COMMAND_OK.  Errors: CLR_ERR_CONFLICT for a
 * unique_violation (23505) or exclusion; CLR_ERR_PARAM for
 * invalid_text_representation (22P02), foreign_key_violation (23503),
 * check_violation (23514), not_null (23502), string too long (22001);
 * CLR_ERR_DB otherwise.  The PostgreSQL message goes to the log (no
 * parameter values are logged).  res may be NULL when the rows are not
 * needed.
 */
enum clr_rc clr_db_exec(struct clr_db *db, const char *name, int nparams, const char *const *values,
			PGresult **res) CLR_MUSTCHECK;

/* Same for ad-hoc parameterized SQL (module-internal queries, migrations). */
enum clr_rc clr_db_exec_sql(struct clr_db *db, const char *sql, int nparams,
			    const char *const *values, PGresult **res) CLR_MUSTCHECK;

/* Explicit transactions.  rollback is safe to call when none is open. */
enum clr_rc clr_db_begin(struct clr_db *db) CLR_MUSTCHECK;
enum clr_rc clr_db_commit(struct clr_db *db) CLR_MUSTCHECK;
void clr_db_rollback(struct clr_db *db);

/* SELECT 1, reconnecting if needed: for /readyz. */
enum clr_rc clr_db_ping(struct clr_db *db) CLR_MUSTCHECK;

/* The raw connection, borrowed, for LISTEN/NOTIFY loops; NULL if down. */
PGconn *clr_db_conn(struct clr_db *db);

/* Count of database errors since start, for /metrics (all handles). */
unsigned long clr_db_error_count(void);

/*
 * SQL for a timestamptz column as an RFC 3339 UTC string with
 * milliseconds ("2026-11-25T15:48:00.123Z"), whatever the session's
 * TimeZone and DateStyle; NULL stays NULL.  Every API response renders
 * its times with this, so all services answer in one format:
 *   "SELECT " CLR_SQL_TS("created_at") " AS created_at FROM ..."
 */
#define CLR_SQL_TS(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
/* The same, keeping the column's name. */
#define CLR_SQL_TS_AS(col) CLR_SQL_TS(col) " AS " col

#endif
