/*
 * db.c - one libpq connection per handle, statements prepared from a table.
 *
 * Reconnect policy: a connection found broken is reset with PQreset and the
 * whole statement table is prepared again on the new session.  A statement
 * that failed because the connection broke is retried once, but only when no
 * transaction was open: inside a transaction the work done so far is lost
 * with the session, so the caller must see the failure and start over.
 *
 * Logging: PostgreSQL's primary message is logged for server-side failures.
 * For data exceptions and constraint violations (SQLSTATE classes 22 and 23)
 * the message routinely quotes the offending value ("invalid input syntax
 * for type uuid: \"...\""), so only the SQLSTATE and the names of the
 * constraint, table and column are logged there.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/db.h"
#include "clearance/log.h"

struct clr_db {
	char *conninfo;
	const struct clr_db_stmt *stmts; /* borrowed for the life of the handle */
	size_t nstmts;
	PGconn *conn;
	int prepared; /* the statement table is prepared on this session */
	int txn_open; /* clr_db_begin succeeded and no commit/rollback yet */
};

static atomic_ulong db_errors;

unsigned long clr_db_error_count(void)
{
	return atomic_load(&db_errors);
}

static int conn_ok(const struct clr_db *db)
{
	return db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK;
}

/*
 * True when a transaction is (or, with a broken connection, was) open: our
 * own flag covers the broken case, where libpq only says PQTRANS_UNKNOWN.
 */
static int in_txn(const struct clr_db *db)
{
	PGTransactionStatusType ts;

	if (db->txn_open)
		return 1;
	if (db->conn == NULL)
		return 0;
	ts = PQtransactionStatus(db->conn);
	return ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR || ts == PQTRANS_ACTIVE;
}

/* Length of a libpq message without its trailing newlines. */
static int msg_len(const char *m)
{
	size_t n = strlen(m);

	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	return n > 2048 ? 2048 : (int)n;
}

static enum clr_rc prepare_all(struct clr_db *db)
{
	size_t i;

	for (i = 0; i < db->nstmts; i++) {
		const struct clr_db_stmt *s = &db->stmts[i];
		PGresult *r = PQprepare(db->conn, s->name, s->sql, s->nparams, NULL);
		const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

		/* 42P05: left over from an earlier, partly failed round. */
		if (r == NULL || (PQresultStatus(r) != PGRES_COMMAND_OK &&
				  (state == NULL || strcmp(state, "42P05") != 0))) {
			const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn);

			clr_log(NULL, CLR_LOG_ERROR, "db: preparing %s failed: %.*s", s->name,
				msg_len(m), m);
			PQclear(r);
			atomic_fetch_add(&db_errors, 1);
			return CLR_ERR_DB;
		}
		PQclear(r);
	}
	db->prepared = 1;
	return CLR_OK;
}

/* Server notices ("... already exists, skipping") are debug noise. */
static void notice_to_log(void *arg, const char *msg)
{
	(void)arg;
	clr_log(NULL, CLR_LOG_DEBUG, "db: notice: %.*s", msg_len(msg), msg);
}

/*
 * libpq waits for ever by default on a silent host, and TCP notices a dead
 * peer only after hours; these defaults bound both.  They come before
 * "dbname", so anything the operator's conninfo says wins, and PQreset
 * reuses them.
 */
static PGconn *connect_with_defaults(const char *conninfo)
{
	static const char *const keys[] = {
	    "connect_timeout",	"keepalives_idle", "keepalives_interval",
	    "keepalives_count", "dbname",	   NULL};
	const char *values[] = {"10", "30", "10", "3", conninfo, NULL};

	return PQconnectdbParams(keys, values, 1);
}

/* Connects or resets as needed and makes sure the statements are prepared. */
static enum clr_rc ensure_ready(struct clr_db *db)
{
	int reset = 0;

	if (db->conn == NULL) {
		db->conn = connect_with_defaults(db->conninfo);
		db->prepared = 0;
		if (db->conn == NULL) {
			atomic_fetch_add(&db_errors, 1);
			return CLR_ERR_NOMEM;
		}
		/* Kept by PQreset, so set once per PGconn. */
		PQsetNoticeProcessor(db->conn, notice_to_log, NULL);
	} else if (PQstatus(db->conn) != CONNECTION_OK) {
		PQreset(db->conn);
		db->prepared = 0;
		reset = 1;
	} else if (db->prepared) {
		return CLR_OK;
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		/* PQerrorMessage never holds the password, only host and cause. */
		const char *m = PQerrorMessage(db->conn);

		clr_log(NULL, CLR_LOG_ERROR, "db: cannot connect: %.*s", msg_len(m), m);
		atomic_fetch_add(&db_errors, 1);
		return CLR_ERR_DB;
	}
	if (reset)
		clr_log(NULL, CLR_LOG_INFO, "db: reconnected (backend %d)", PQbackendPID(db->conn));
	return prepare_all(db);
}

enum clr_rc clr_db_open(const char *conninfo, const struct clr_db_stmt *stmts, size_t nstmts,
			struct clr_db **out)
{
	struct clr_db *db;
	enum clr_rc rc;

	*out = NULL;
	if (conninfo == NULL || (nstmts > 0 && stmts == NULL))
		return CLR_ERR_PARAM;
	db = calloc(1, sizeof(*db));
	if (db == NULL)
		return CLR_ERR_NOMEM;
	db->conninfo = strdup(conninfo);
	if (db->conninfo == NULL) {
		free(db);
		return CLR_ERR_NOMEM;
	}
	db->stmts = stmts;
	db->nstmts = nstmts;
	/* Not fatal: PostgreSQL may still be starting; first use retries. */
	rc = ensure_ready(db);
	if (rc == CLR_ERR_NOMEM) {
		clr_db_close(db);
		return rc;
	}
	*out = db;
	return CLR_OK;
}

void clr_db_close(struct clr_db *db)
{
	if (db == NULL)
		return;
	PQfinish(db->conn);
	free(db->conninfo);
	free(db);
}

PGconn *clr_db_conn(struct clr_db *db)
{
	return conn_ok(db) ? db->conn : NULL;
}

static enum clr_rc map_sqlstate(const char *s)
{
	static const struct {
		const char *state;
		enum clr_rc rc;
	} map[] = {
	    {"23505", CLR_ERR_CONFLICT}, /* unique_violation */
	    {"23P01", CLR_ERR_CONFLICT}, /* exclusion_violation */
	    {"22P02", CLR_ERR_PARAM},	 /* invalid_text_representation */
	    {"23503", CLR_ERR_PARAM},	 /* foreign_key_violation */
	    {"23514", CLR_ERR_PARAM},	 /* check_violation */
	    {"23502", CLR_ERR_PARAM},	 /* not_null_violation */
	    {"22001", CLR_ERR_PARAM},	 /* string_data_right_truncation */
	};
	size_t i;

	if (s == NULL)
		return CLR_ERR_DB;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].state, s) == 0)
			return map[i].rc;
	return CLR_ERR_DB;
}

static const char *field_or(const PGresult *r, int code, const char *dflt)
{
	const char *v = PQresultErrorField(r, code);

	return v ? v : dflt;
}

/* Logs a failed result per the policy at the top of this file; returns rc. */
static enum clr_rc result_error(struct clr_db *db, const char *what, const PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	enum clr_rc rc = map_sqlstate(state);

	if (r == NULL || state == NULL) {
		const char *m = db->conn ? PQerrorMessage(db->conn) : "no connection";

		clr_log(NULL, CLR_LOG_ERROR, "db: %s failed: %.*s", what, msg_len(m), m);
	} else if (state[0] == '2' && (state[1] == '2' || state[1] == '3')) {
		clr_log(NULL, rc == CLR_ERR_DB ? CLR_LOG_ERROR : CLR_LOG_DEBUG,
			"db: %s failed: SQLSTATE %s constraint=%s table=%s column=%s", what, state,
			field_or(r, PG_DIAG_CONSTRAINT_NAME, "-"),
			field_or(r, PG_DIAG_TABLE_NAME, "-"),
			field_or(r, PG_DIAG_COLUMN_NAME, "-"));
	} else {
		clr_log(NULL, CLR_LOG_ERROR, "db: %s failed: SQLSTATE %s: %s", what, state,
			field_or(r, PG_DIAG_MESSAGE_PRIMARY, "?"));
	}
	if (rc == CLR_ERR_DB)
		atomic_fetch_add(&db_errors, 1);
	return rc;
}

static const struct clr_db_stmt *find_stmt(const struct clr_db *db, const char *name)
{
	size_t i;

	for (i = 0; i < db->nstmts; i++)
		if (strcmp(db->stmts[i].name, name) == 0)
			return &db->stmts[i];
	return NULL;
}

/* stmt != NULL: run prepared statement; else PQexecParams(sql). */
static enum clr_rc run(struct clr_db *db, const char *stmt, const char *sql, int nparams,
		       const char *const *values, PGresult **res)
{
	const char *what = stmt ? stmt : "ad-hoc statement";
	int had_txn, attempt;
	enum clr_rc rc;

	if (res)
		*res = NULL;
	for (attempt = 0; attempt < 2; attempt++) {
		PGresult *r;
		ExecStatusType st;

		had_txn = in_txn(db);
		if (had_txn && !conn_ok(db)) {
			clr_log(NULL, CLR_LOG_ERROR, "db: connection lost inside a transaction");
			atomic_fetch_add(&db_errors, 1);
			return CLR_ERR_DB;
		}
		if (db->txn_open && PQtransactionStatus(db->conn) == PQTRANS_IDLE) {
			/* Never run a statement of a lost transaction on its own. */
			clr_log(NULL, CLR_LOG_ERROR, "db: transaction was lost; roll back first");
			return CLR_ERR_DB;
		}
		rc = ensure_ready(db);
		if (rc != CLR_OK)
			return rc;
		if (stmt)
			r = PQexecPrepared(db->conn, stmt, nparams, values, NULL, NULL, 0);
		else
			r = PQexecParams(db->conn, sql, nparams, NULL, values, NULL, NULL, 0);
		st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			if (res)
				*res = r;
			else
				PQclear(r);
			return CLR_OK;
		}
		if (PQstatus(db->conn) == CONNECTION_OK || had_txn || attempt == 1) {
			rc = result_error(db, what, r);
			PQclear(r);
			return rc;
		}
		clr_log(NULL, CLR_LOG_WARN, "db: connection broken during %s, reconnecting", what);
		PQclear(r);
	}
	return CLR_ERR_DB; /* not reached */
}

enum clr_rc clr_db_exec(struct clr_db *db, const char *name, int nparams, const char *const *values,
			PGresult **res)
{
	const struct clr_db_stmt *s = find_stmt(db, name);

	if (res)
		*res = NULL;
	if (s == NULL || s->nparams != nparams) {
		clr_log(NULL, CLR_LOG_ERROR,
			"db: statement %s unknown or called with %d parameters", name, nparams);
		return CLR_ERR_INTERNAL;
	}
	return run(db, name, NULL, nparams, values, res);
}

enum clr_rc clr_db_exec_sql(struct clr_db *db, const char *sql, int nparams,
			    const char *const *values, PGresult **res)
{
	return run(db, NULL, sql, nparams, values, res);
}

enum clr_rc clr_db_begin(struct clr_db *db)
{
	enum clr_rc rc;

	if (in_txn(db)) {
		clr_log(NULL, CLR_LOG_ERROR, "db: begin inside a transaction");
		return CLR_ERR_INTERNAL;
	}
	rc = run(db, NULL, "BEGIN", 0, NULL, NULL);
	if (rc == CLR_OK)
		db->txn_open = 1;
	return rc;
}

enum clr_rc clr_db_commit(struct clr_db *db)
{
	PGresult *r = NULL;
	enum clr_rc rc;
	int failed;

	if (!conn_ok(db)) {
		db->txn_open = 0;
		clr_log(NULL, CLR_LOG_ERROR, "db: connection lost before commit");
		atomic_fetch_add(&db_errors, 1);
		return CLR_ERR_DB;
	}
	/* COMMIT of a failed transaction "succeeds" as a ROLLBACK. */
	failed = PQtransactionStatus(db->conn) == PQTRANS_INERROR;
	rc = run(db, NULL, "COMMIT", 0, NULL, &r);
	db->txn_open = 0;
	if (rc == CLR_OK && (failed || strcmp(PQcmdStatus(r), "COMMIT") != 0)) {
		clr_log(NULL, CLR_LOG_ERROR, "db: commit of a failed transaction was rolled back");
		atomic_fetch_add(&db_errors, 1);
		rc = CLR_ERR_DB;
	}
	PQclear(r);
	return rc;
}

void clr_db_rollback(struct clr_db *db)
{
	PGresult *r;

	if (db == NULL)
		return;
	db->txn_open = 0;
	if (!conn_ok(db) || PQtransactionStatus(db->conn) == PQTRANS_IDLE)
		return;
	r = PQexecParams(db->conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
		clr_log(NULL, CLR_LOG_WARN, "db: rollback failed: %.*s",
			msg_len(PQerrorMessage(db->conn)), PQerrorMessage(db->conn));
	PQclear(r);
}

enum clr_rc clr_db_ping(struct clr_db *db)
{
	if (in_txn(db))
		return conn_ok(db) ? CLR_OK : CLR_ERR_DB;
	return run(db, NULL, "SELECT 1", 0, NULL, NULL);
}
