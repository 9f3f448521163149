/*
 * store.c - the introspect service's prepared statements (every request
 * connection prepares them).  The snapshot loaders that run on the
 * refresher's own connection keep their parameterless queries next to the
 * code that turns rows into snapshots (catalogue.c, grants.c, denyset.c,
 * providers.c, isclients.c).
 */
#include "clearance/db.h"
#include "basic_exchange.h"
#include "handlers.h"

/* Timestamps in RFC 3339 UTC, like the registrar's. */
#define TS(c) "to_char((" c ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

const struct clr_db_stmt ix_stmts[] = {
    {IX_BASIC_STMT_NAME, IX_BASIC_STMT_SQL, 1},
    {"ix_isc_insert",
     "INSERT INTO introspection_clients (name, secret_hash, hash_alg) VALUES ($1, $2, $3)"
     " RETURNING id::text, name, " TS("created_at") ", " TS("revoked_at"),
     3},
    {"ix_isc_list",
     "SELECT id::text, name, " TS("created_at") ", " TS(
	 "revoked_at") " FROM introspection_clients ORDER BY created_at, id",
     0},
    /* limits.h: one lease of allowance from the shared counter */
    {"ix_lease",
     "SELECT granted, used FROM gateway_lease($1, $2, $3::uuid, $4, $5::bigint, $6::bigint,"
     " $7::bigint)",
     7},
    /* GET /v1/usage: this month's quota use per client and plan */
    {"ix_usage_list",
     "SELECT u.issuer, u.client_id, u.plan_id::text, coalesce(p.name, ''),"
     " u.period::text, u.used::text, coalesce(p.monthly_quota, 0)::text"
     " FROM gateway_usage u LEFT JOIN plans p ON p.id = u.plan_id"
     " WHERE u.kind = 'month' AND u.period = $1::bigint"
     " AND ($2::text IS NULL OR u.client_id = $2)"
     " ORDER BY u.client_id, p.name, u.issuer LIMIT 1000",
     2},
    {"ix_isc_revoke",
     "UPDATE introspection_clients SET revoked_at = coalesce(revoked_at, now())"
     " WHERE id = $1::uuid RETURNING id::text",
     1},
};
const size_t ix_nstmts = sizeof(ix_stmts) / sizeof(ix_stmts[0]);
