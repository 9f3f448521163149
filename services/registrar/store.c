/*
 * store.c - the registrar's SQL: the statement table every connection
 * prepares, loaders that turn rows into the structs the drivers take
 * (unsealing secrets), and rows -> JSON for responses.
 *
 * Responses are built from "view" column lists that never select a sealed
 * column, only "<x>_set" booleans, so no handler can leak a secret by
 * returning a row.
 */
#include <stdlib.h>
#include <string.h>

#include "clearance/log.h"
#include "driver.h"
#include "registrar.h"
#include "registrations.h"
#include "store.h"

#define PV_VIEW                                                                                    \
	"id, name, kind, well_known_url, issuer, registration_endpoint, "                          \
	"registration_endpoint_override, token_endpoint, jwks_uri, introspection_endpoint, "       \
	"initial_access_token_sealed IS NOT NULL AS initial_access_token_set, "                    \
	"initial_client_id, initial_client_secret_sealed IS NOT NULL AS "                          \
	"initial_client_secret_set, "                                                              \
	"tls_skip_verify, ca_bundle_pem, audience, allow_insecure_http, alg_allowlist, "           \
	"identity_claim, access_token_typ, initial_token_scope, token_endpoint_auth_method, "      \
	"revision, " CLR_SQL_TS_AS("discovered_at") ", " CLR_SQL_TS_AS(                            \
	    "created_at") ", " CLR_SQL_TS_AS("updated_at")

/* Column order is the PV_* index enum below. */
#define PV_FULL                                                                                    \
	"SELECT id, kind, issuer, registration_endpoint, token_endpoint, "                         \
	"initial_access_token_sealed, initial_client_id, initial_client_secret_sealed, "           \
	"tls_skip_verify, ca_bundle_pem, allow_insecure_http, name, well_known_url, jwks_uri, "    \
	"registration_endpoint_override, audience, discovery::text, introspection_endpoint, "      \
	"revision, initial_token_scope, identity_claim, access_token_typ, "                        \
	"token_endpoint_auth_method FROM providers WHERE id = $1"
enum {
	PV_ID,
	PV_KIND,
	PV_ISSUER,
	PV_REG_EP,
	PV_TOKEN_EP,
	PV_IAT,
	PV_ICID,
	PV_ICS,
	PV_TLS_SKIP,
	PV_CA,
	PV_ALLOW_HTTP,
	PV_NAME,
	PV_WK,
	PV_JWKS,
	PV_REG_OVR,
	PV_AUD,
	PV_DISCO,
	PV_INTRO,
	PV_REV,
	PV_ITS,
	PV_IDC,
	PV_TYP,
	PV_TAM
};

#define PV_COLS                                                                                    \
	"name, kind, well_known_url, issuer, registration_endpoint, "                              \
	"registration_endpoint_override, token_endpoint, jwks_uri, introspection_endpoint, "       \
	"discovery, initial_access_token_sealed, initial_client_id, "                              \
	"initial_client_secret_sealed, tls_skip_verify, ca_bundle_pem, audience, "                 \
	"allow_insecure_http, initial_token_scope, identity_claim, access_token_typ, "             \
	"token_endpoint_auth_method"

#define CT_VIEW                                                                                    \
	"id, provider_id, display_name, description, response_types, grant_types, "                \
	"token_endpoint_auth_method, okta_application_type, revision, " CLR_SQL_TS_AS(             \
	    "created_at") ", " CLR_SQL_TS_AS("updated_at")
enum { CT_ID, CT_PROVIDER, CT_NAME, CT_DESC, CT_RT, CT_GT, CT_AUTH, CT_OKTA };

/* A registration's direct grants (registration_grants), as a JSON array. */
#define RG_GRANTS                                                                                  \
	"(SELECT coalesce(jsonb_agg(jsonb_build_object('product_id', g.product_id, 'plan_id', "    \
	"g.plan_id) ORDER BY g.created_at, g.product_id), '[]'::jsonb) "                           \
	"FROM registration_grants g WHERE g.registration_id = registrations.id)"

/*
 * Whether the IdP lets Clearance manage the client (update, rotate, delete):
 * an RFC 7592 registration access token was issued, or the kind manages
 * clients with the provider's own credential (okta, http_bridge).  NULL
 * while there is no client yet.
 */
#define RG_MANAGEABLE                                                                              \
	"CASE WHEN registrations.client_id IS NULL THEN NULL "                                     \
	"ELSE registrations.registration_access_token_sealed IS NOT NULL OR EXISTS (SELECT 1 "     \
	"FROM providers pk WHERE pk.id = registrations.provider_id AND pk.kind IN ('okta', "       \
	"'http_bridge')) END"

/*
 * What an admin and the portal must know about a registration's client and
 * cannot see at a glance (issue 10), as [{"code", "message"}]: a client the
 * IdP gave no RFC 7592 access to, a secret whose expiry the IdP did not
 * say, a secret that expires on a kind that cannot rotate it.
 */
#define RG_WARNINGS                                                                                \
	"(SELECT coalesce(jsonb_agg(w.o ORDER BY w.n), '[]'::jsonb) FROM (VALUES "                 \
	"(1, CASE WHEN registrations.status = 'active' AND NOT (" RG_MANAGEABLE ") THEN "          \
	"jsonb_build_object('code', 'not_manageable', 'message', 'the IdP answered without a "     \
	"registration access token or registration_client_uri (RFC 7592): Clearance cannot "       \
	"update, rotate or delete this client at the IdP') END), "                                 \
	"(2, CASE WHEN registrations.status = 'active' AND "                                       \
	"registrations.client_secret_sealed IS NOT NULL AND "                                      \
	"registrations.client_secret_expires_at IS NULL THEN jsonb_build_object('code', "          \
	"'secret_expiry_unknown', 'message', 'the IdP did not say when the client secret "         \
	"expires (no client_secret_expires_at): it may stop working without notice') END), "       \
	"(3, CASE WHEN registrations.status = 'active' AND "                                       \
	"registrations.client_secret_expires_at > 0 AND NOT coalesce((SELECT k.can_rotate FROM "   \
	"providers pk JOIN provider_kinds k ON k.kind = pk.kind WHERE pk.id = "                    \
	"registrations.provider_id), false) THEN jsonb_build_object('code', "                      \
	"'secret_expires_no_rotation', 'message', 'the client secret expires at ' || "             \
	"to_char(to_timestamp(registrations.client_secret_expires_at) AT TIME ZONE 'UTC', "        \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || ' and this provider kind cannot rotate it: "         \
	"register a new client before then') END)) AS w(n, o) WHERE w.o IS NOT NULL)"

#define RG_VIEW                                                                                                              \
	"id, provider_id, client_type_id, client_name, redirect_uris, scope, owner, "                                        \
	"status, client_id, client_secret_sealed IS NOT NULL AS client_secret_set, " RG_MANAGEABLE                           \
	" AS idp_manageable, "                                                                                               \
	"registration_client_uri, client_secret_expires_at, metadata, last_error, "                                          \
	"revision, " CLR_SQL_TS_AS("created_at") ", " CLR_SQL_TS_AS(                                                         \
	    "updated_at") ", " CLR_SQL_TS_AS("deleted_at") ", idp_attempts, " CLR_SQL_TS_AS("idp_"                           \
											    "atte"                           \
											    "mpt_"                           \
											    "at") ", " RG_GRANTS             \
												  " AS grants, " RG_WARNINGS \
												  " AS warnings"

#define RG_FULL                                                                                    \
	"SELECT id, provider_id, client_type_id, client_name, scope, status, "                     \
	"client_id, registration_client_uri, redirect_uris::text, revision, "                      \
	"client_secret_sealed, registration_access_token_sealed, "                                 \
	"idp_attempt_at IS NOT NULL, " CLR_SQL_TS_AS(                                              \
	    "idp_attempt_at") " FROM registrations WHERE id = $1"
enum {
	RG_ID,
	RG_PROVIDER,
	RG_CTYPE,
	RG_NAME,
	RG_SCOPE,
	RG_STATUS,
	RG_CLIENT_ID,
	RG_RCU,
	RG_URIS,
	RG_REV,
	RG_SECRET,
	RG_RAT,
	RG_IN_FLIGHT,
	RG_ATTEMPT_AT
};

/* clang-format off */
#define JB_VIEW                                                                 \
	"id, kind, state, attempts, max_attempts, " CLR_SQL_TS_AS("run_at") ", " \
	CLR_SQL_TS_AS("locked_until") ", last_error, error_rc, error_code, "     \
	"error_field, payload, "                                                \
	CLR_SQL_TS_AS("created_at") ", " CLR_SQL_TS_AS("updated_at")
/* clang-format on */

/* outcome_unknown: a client may exist at the IdP until an admin resolves it. */
#define LIVE_STATUSES "('pending', 'active', 'orphaned', 'outcome_unknown')"

const struct clr_db_stmt reg_stmts[] = {
    /* providers */
    {"reg_pv_list", "SELECT " PV_VIEW " FROM providers ORDER BY providers.created_at, providers.id",
     0},
    {"reg_pv_get", "SELECT " PV_VIEW " FROM providers WHERE id = $1", 1},
    {"reg_pv_full", PV_FULL, 1},
    {"reg_pv_full_lock", PV_FULL " FOR UPDATE", 1},
    {"reg_pv_insert",
     "INSERT INTO providers (id, " PV_COLS ") VALUES ($1, $2, $3, $4, $5, "
     "$6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14, $15::boolean, $16, $17, $18::boolean, $19, "
     "$20, $21, $22) "
     "RETURNING " PV_VIEW,
     22},
    {"reg_pv_update",
     "UPDATE providers SET name = $2, kind = $3, well_known_url = $4, "
     "issuer = $5, registration_endpoint = $6, registration_endpoint_override = $7, "
     "token_endpoint = $8, jwks_uri = $9, introspection_endpoint = $10, discovery = $11::jsonb, "
     "initial_access_token_sealed = $12, initial_client_id = $13, "
     "initial_client_secret_sealed = $14, tls_skip_verify = $15::boolean, ca_bundle_pem = $16, "
     "audience = $17, allow_insecure_http = $18::boolean, initial_token_scope = $21, "
     "identity_claim = $22, access_token_typ = $23, token_endpoint_auth_method = $24, "
     "discovered_at = CASE WHEN $20::boolean THEN now() ELSE discovered_at END, "
     "revision = revision + 1, updated_at = now() WHERE id = $1 AND revision = $19::int "
     "RETURNING " PV_VIEW,
     24},
    {"reg_pv_live_regs",
     "SELECT count(*) FROM registrations WHERE provider_id = $1 "
     "AND status IN " LIVE_STATUSES,
     1},
    {"reg_pv_delete", "DELETE FROM providers WHERE id = $1", 1},

    /* client types */
    {"reg_ct_insert",
     "INSERT INTO client_types (provider_id, display_name, description, "
     "response_types, grant_types, token_endpoint_auth_method, okta_application_type) "
     "VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7) RETURNING " CT_VIEW,
     7},
    {"reg_ct_get", "SELECT " CT_VIEW " FROM client_types WHERE id = $1", 1},
    {"reg_ct_get_lock", "SELECT " CT_VIEW " FROM client_types WHERE id = $1 FOR UPDATE", 1},
    {"reg_ct_list",
     "SELECT " CT_VIEW " FROM client_types WHERE provider_id = $1 "
     "ORDER BY client_types.created_at, client_types.id",
     1},
    {"reg_ct_update",
     "UPDATE client_types SET display_name = $2, description = $3, "
     "response_types = $4::jsonb, grant_types = $5::jsonb, token_endpoint_auth_method = $6, "
     "okta_application_type = $7, revision = revision + 1, updated_at = now() "
     "WHERE id = $1 RETURNING " CT_VIEW,
     7},
    {"reg_ct_in_use",
     "SELECT count(*) FROM registrations WHERE client_type_id = $1 "
     "AND status IN " LIVE_STATUSES,
     1},
    {"reg_ct_delete", "DELETE FROM client_types WHERE id = $1", 1},

    /* registrations */
    {"reg_rg_get", "SELECT " RG_VIEW " FROM registrations WHERE id = $1", 1},
    /* an admin's direct grants (grants.c) */
    {"reg_gr_check",
     "SELECT EXISTS (SELECT 1 FROM products WHERE id = $1::uuid AND deleted_at IS NULL), "
     "EXISTS (SELECT 1 FROM product_plans pp JOIN plans pl ON pl.id = pp.plan_id "
     "WHERE pp.product_id = $1::uuid AND pp.plan_id = $2::uuid AND pl.deleted_at IS NULL)",
     2},
    {"reg_gr_lock_reg", "SELECT status FROM registrations WHERE id = $1 FOR UPDATE", 1},
    {"reg_gr_delete", "DELETE FROM registration_grants WHERE registration_id = $1", 1},
    {"reg_gr_insert",
     "INSERT INTO registration_grants (registration_id, product_id, plan_id) "
     "SELECT $1, x.product_id, x.plan_id "
     "FROM jsonb_to_recordset($2::jsonb) AS x(product_id uuid, plan_id uuid)",
     2},
    {"reg_gr_list", "SELECT " RG_GRANTS " FROM registrations WHERE id = $1", 1},
    {"reg_rg_full", RG_FULL, 1},
    {"reg_rg_full_lock", RG_FULL " FOR UPDATE", 1},
    {"reg_rg_list",
     "SELECT " RG_VIEW " FROM registrations "
     "WHERE ($1::uuid IS NULL OR provider_id = $1::uuid) "
     "AND ($2::text IS NULL OR status = $2::text) "
     "AND ($3::uuid IS NULL OR client_type_id = $3::uuid) "
     "ORDER BY registrations.created_at, registrations.id LIMIT $4::int OFFSET $5::int",
     5},
    {"reg_rg_insert",
     "INSERT INTO registrations (id, provider_id, client_type_id, "
     "client_name, redirect_uris, scope, owner, status, client_id, client_secret_sealed, "
     "registration_access_token_sealed, registration_client_uri, client_secret_expires_at, "
     "metadata) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, 'active', $8, $9, $10, $11, "
     "$12::bigint, $13::jsonb) RETURNING " RG_VIEW,
     13},
    {"reg_rg_activate",
     "UPDATE registrations SET provider_id = $2, client_type_id = $3, "
     "client_name = $4, redirect_uris = $5::jsonb, scope = $6, "
     "owner = coalesce($7::jsonb, owner), status = 'active', client_id = $8, "
     "client_secret_sealed = $9, registration_access_token_sealed = $10, "
     "registration_client_uri = $11, client_secret_expires_at = $12::bigint, "
     "metadata = $13::jsonb, last_error = NULL, idp_attempt_at = NULL, revision = revision + 1, "
     "updated_at = now() WHERE id = $1 AND status = 'pending' RETURNING " RG_VIEW,
     13},
    /* A provision job's row: created once, under the id its caller chose. */
    {"reg_rg_pending_insert",
     "INSERT INTO registrations (id, provider_id, client_type_id, client_name, redirect_uris,"
     " scope, owner, status) SELECT $1::uuid, t.provider_id, t.id, $3, $4::jsonb, $5,"
     " $6::jsonb, 'pending' FROM client_types t WHERE t.id = $2::uuid"
     " ON CONFLICT (id) DO UPDATE SET id = EXCLUDED.id RETURNING id::text",
     6},
    {"reg_rg_withdraw",
     "UPDATE registrations SET status = 'orphaned', last_error = $2, revision = revision + 1,"
     " updated_at = now() WHERE id = $1::uuid AND status = 'active'",
     2},
    {"reg_rg_updated",
     "UPDATE registrations SET client_type_id = $2, client_name = $3, "
     "redirect_uris = $4::jsonb, scope = $5, "
     "client_secret_sealed = coalesce($6, client_secret_sealed), "
     "registration_access_token_sealed = coalesce($7, registration_access_token_sealed), "
     "registration_client_uri = coalesce($8, registration_client_uri), "
     /* A new secret brings its own expiry (NULL: unknown); none keeps the old. */
     "client_secret_expires_at = CASE WHEN $6::text IS NULL THEN client_secret_expires_at "
     "ELSE $9::bigint END, "
     "metadata = coalesce($10::jsonb, metadata), last_error = NULL, revision = revision + 1, "
     "updated_at = now() WHERE id = $1 RETURNING " RG_VIEW,
     10},
    {"reg_rg_rotated",
     "UPDATE registrations SET client_secret_sealed = $2, "
     "client_secret_expires_at = $3::bigint, "
     "registration_access_token_sealed = coalesce($4, registration_access_token_sealed), "
     "metadata = coalesce($5::jsonb, metadata), last_error = NULL, "
     "revision = revision + 1, updated_at = now() WHERE id = $1 RETURNING " RG_VIEW,
     5},
    {"reg_rg_deleted",
     "UPDATE registrations SET status = 'deleted', "
     "client_secret_sealed = NULL, registration_access_token_sealed = NULL, "
     "last_error = NULL, deleted_at = now(), revision = revision + 1, updated_at = now() "
     "WHERE id = $1 RETURNING " RG_VIEW,
     1},
    {"reg_rg_orphaned",
     "UPDATE registrations SET status = 'orphaned', last_error = $2, "
     "revision = revision + 1, updated_at = now() WHERE id = $1 RETURNING " RG_VIEW,
     2},
    /*
     * The rotation before a secret expires ($2, epoch seconds), where the
     * kind can rotate: 24 h before, or at 80 % of what is left when that is
     * shorter; replaces a scheduled one not yet started (jobs.c, rotate).
     */
    {"reg_rg_schedule_rotation",
     "WITH gone AS (DELETE FROM jobs WHERE kind = 'rotate' AND state = 'queued'"
     " AND payload->>'registration_id' = $1::text AND payload ? 'scheduled'),"
     " ins AS (INSERT INTO jobs (kind, payload, run_at)"
     " SELECT 'rotate', jsonb_build_object('registration_id', $1::text, 'scheduled', true,"
     " 'client_secret_expires_at', $2::bigint), greatest(now(), to_timestamp($2::bigint)"
     " - least(interval '24 hours', (to_timestamp($2::bigint) - now()) * 0.2))"
     " FROM registrations r JOIN providers pk ON pk.id = r.provider_id"
     " JOIN provider_kinds k ON k.kind = pk.kind"
     " WHERE r.id = $1::uuid AND k.can_rotate AND $2::bigint > 0 RETURNING id)"
     /* Workers sleep until the earliest run_at they know of: wake them to look. */
     " SELECT pg_notify('clearance_jobs', 'rotate') FROM ins",
     2},
    {"reg_rg_note_error",
     "UPDATE registrations SET last_error = $2, "
     "status = CASE WHEN $3::boolean THEN 'failed' ELSE status END, "
     "revision = revision + 1, updated_at = now() WHERE id = $1 AND status = 'pending'",
     3},

    /* The intent mark, committed before the IdP is asked to create a client. */
    {"reg_rg_attempt_mark",
     "UPDATE registrations SET idp_attempt_at = now(), idp_attempts = idp_attempts + 1,"
     " updated_at = now() WHERE id = $1 AND status = 'pending' AND idp_attempt_at IS NULL"
     " RETURNING id",
     1},
    /* The IdP said for certain that it created nothing: a retry may ask again. */
    {"reg_rg_attempt_clear",
     "UPDATE registrations SET idp_attempt_at = NULL, updated_at = now()"
     " WHERE id = $1 AND status = 'pending'",
     1},
    {"reg_rg_park",
     "UPDATE registrations SET status = 'outcome_unknown', last_error = $2,"
     " revision = revision + 1, updated_at = now()"
     " WHERE id = $1 AND status = 'pending' RETURNING " RG_VIEW,
     2},
    /* The HTTP route's own intent row, when the IdP refused for certain. */
    {"reg_rg_forget", "DELETE FROM registrations WHERE id = $1 AND status = 'pending'", 1},
    {"reg_rg_resolve_gone",
     "UPDATE registrations SET status = 'failed', idp_attempt_at = NULL, last_error = $2,"
     " revision = revision + 1, updated_at = now()"
     " WHERE id = $1 AND status = 'outcome_unknown' RETURNING " RG_VIEW,
     2},
    {"reg_rg_resolve_adopt",
     "UPDATE registrations SET status = 'active', client_id = $2,"
     " registration_access_token_sealed = $3, registration_client_uri = $4,"
     " client_secret_sealed = $5, idp_attempt_at = NULL, last_error = NULL,"
     " revision = revision + 1, updated_at = now()"
     " WHERE id = $1 AND status = 'outcome_unknown' RETURNING " RG_VIEW,
     5},
    {"reg_rg_pickup_set", "UPDATE registrations SET secret_pickup = true WHERE id = $1", 1},
    /* The one showing of an asynchronously created registration's secret. */
    {"reg_rg_pickup_take",
     "UPDATE registrations SET secret_pickup = false WHERE id = $1 AND secret_pickup"
     " AND status = 'active' RETURNING client_id, client_secret_sealed",
     1},
    /* What a route waiting for its job polls (waiting.c): one primary-key read. */
    {"reg_jb_outcome",
     "SELECT state, error_rc, error_code, error_field, last_error FROM jobs WHERE id = $1::uuid",
     1},
    /* A waited registration the IdP refused: the error is answered, nothing stays. */
    {"reg_rg_forget_failed",
     "DELETE FROM registrations WHERE id = $1 AND status = 'failed' AND client_id IS NULL", 1},
    {"reg_rg_count_unknown", "SELECT count(*) FROM registrations WHERE status = 'outcome_unknown'",
     0},

    /* jobs (read-only visibility for admins) */
    {"reg_jb_list",
     "SELECT " JB_VIEW " FROM jobs "
     "WHERE ($1::text IS NULL OR state = $1::text) AND ($2::text IS NULL OR kind = $2::text) "
     "ORDER BY jobs.created_at DESC, jobs.id LIMIT $3::int OFFSET $4::int",
     4},
    {"reg_jb_get", "SELECT " JB_VIEW " FROM jobs WHERE id = $1", 1},
};
const size_t reg_nstmts = sizeof(reg_stmts) / sizeof(reg_stmts[0]);

/* Type OIDs are fixed in PostgreSQL's catalog (pg_type.dat). */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_JSON 114
#define OID_JSONB 3802

static const char *col(const PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

json_t *reg_row_json(const PGresult *res, int row)
{
	json_t *o = json_object();
	int c;

	if (o == NULL)
		return NULL;
	for (c = 0; c < PQnfields(res); c++) {
		const char *v = col(res, row, c);
		json_t *jv;

		if (v == NULL) {
			jv = json_null();
		} else {
			switch (PQftype(res, c)) {
			case OID_BOOL:
				jv = json_boolean(v[0] == 't');
				break;
			case OID_INT2:
			case OID_INT4:
			case OID_INT8:
				jv = json_integer(strtoll(v, NULL, 10));
				break;
			case OID_JSON:
			case OID_JSONB:
				/* PostgreSQL wrote it, so it parses; NULL only on OOM. */
				jv = json_loads(v, JSON_DECODE_ANY, NULL);
				break;
			default:
				jv = json_string(v);
				break;
			}
		}
		if (jv == NULL || json_object_set_new(o, PQfname(res, c), jv) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *reg_rows_json(const PGresult *res)
{
	json_t *a = json_array();
	int i;

	if (a == NULL)
		return NULL;
	for (i = 0; i < PQntuples(res); i++) {
		if (json_array_append_new(a, reg_row_json(res, i)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

enum clr_rc reg_seal(const struct reg_app *app, const char *table_col, const char *id,
		     const char *pt, char **out, struct clr_err *e)
{
	enum clr_rc rc;

	*out = NULL;
	if (pt == NULL)
		return CLR_OK;
	rc = clr_seal(app->sealer, table_col, id, pt, strlen(pt), out);
	if (rc != CLR_OK)
		return clr_err_set(e, rc, "server_error", NULL, "sealing %s failed", table_col);
	return CLR_OK;
}

static enum clr_rc unseal_col(const struct reg_app *app, const char *table_col, const char *id,
			      const char *sealed, char **pt, size_t *len, struct clr_err *e)
{
	enum clr_rc rc;

	*pt = NULL;
	*len = 0;
	if (sealed == NULL)
		return CLR_OK;
	rc = clr_unseal(app->sealer, table_col, id, sealed, pt, len);
	if (rc != CLR_OK) {
		/* Wrong key set or a tampered row: the operator must act, retrying won't help. */
		clr_log(NULL, CLR_LOG_ERROR, "security: cannot unseal %s of row %s (%s)", table_col,
			id, clr_rc_name(rc));
		return clr_err_set(
		    e, CLR_ERR_INTERNAL, "server_error", NULL,
		    "a stored secret (%s) cannot be unsealed with the configured keys", table_col);
	}
	return CLR_OK;
}

void reg_provider_http_opts(const struct clr_config *cfg, int allow_http, int tls_skip_verify,
			    const char *ca_pem, struct clr_http_opts *out)
{
	memset(out, 0, sizeof(*out));
	out->allow_http = allow_http;
	out->tls_skip_verify = tls_skip_verify;
	out->ca_pem = ca_pem;
	out->connect_timeout_ms = cfg->http_connect_timeout_ms;
	out->timeout_ms = cfg->http_timeout_ms;
	out->max_response = cfg->http_max_response;
	out->proxy = cfg->http_proxy;
}

enum clr_rc reg_provider_load(const struct reg_app *app, struct clr_db *db, const char *id,
			      int for_update, int unseal, struct reg_provider *out,
			      struct clr_err *e)
{
	const char *v[1] = {id};
	PGresult *res = NULL;
	enum clr_rc rc;
	struct drv_provider *p = &out->p;

	memset(out, 0, sizeof(*out));
	rc = clr_db_exec(db, for_update ? "reg_pv_full_lock" : "reg_pv_full", 1, v, &res);
	if (rc != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "database error loading the provider");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return clr_err_set(e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such provider");
	}
	out->res = res;
	p->id = col(res, 0, PV_ID);
	if (drv_idp_kind_parse(col(res, 0, PV_KIND), &p->kind) != CLR_OK) {
		reg_provider_release(out);
		return clr_err_set(e, CLR_ERR_INTERNAL, "server_error", NULL,
				   "provider has an unknown kind");
	}
	p->issuer = col(res, 0, PV_ISSUER);
	p->registration_endpoint = col(res, 0, PV_REG_EP);
	p->token_endpoint = col(res, 0, PV_TOKEN_EP);
	p->initial_client_id = col(res, 0, PV_ICID);
	p->initial_token_scope = col(res, 0, PV_ITS);
	reg_provider_http_opts(app->cfg, col(res, 0, PV_ALLOW_HTTP)[0] == 't',
			       col(res, 0, PV_TLS_SKIP)[0] == 't', col(res, 0, PV_CA), &p->http);
	out->name = col(res, 0, PV_NAME);
	out->well_known_url = col(res, 0, PV_WK);
	out->jwks_uri = col(res, 0, PV_JWKS);
	out->registration_endpoint_override = col(res, 0, PV_REG_OVR);
	out->audience = col(res, 0, PV_AUD);
	out->identity_claim = col(res, 0, PV_IDC);
	out->access_token_typ = col(res, 0, PV_TYP);
	out->token_endpoint_auth_method = col(res, 0, PV_TAM);
	out->discovery = col(res, 0, PV_DISCO);
	out->introspection_endpoint = col(res, 0, PV_INTRO);
	out->initial_access_token_sealed = col(res, 0, PV_IAT);
	out->initial_client_secret_sealed = col(res, 0, PV_ICS);
	out->revision = atoi(col(res, 0, PV_REV));
	if (!unseal)
		return CLR_OK;
	rc = unseal_col(app, "providers.initial_access_token", p->id,
			out->initial_access_token_sealed, &out->iat, &out->iat_len, e);
	if (rc == CLR_OK)
		rc = unseal_col(app, "providers.initial_client_secret", p->id,
				out->initial_client_secret_sealed, &out->ics, &out->ics_len, e);
	if (rc != CLR_OK) {
		reg_provider_release(out);
		return rc;
	}
	p->initial_access_token = out->iat;
	p->initial_client_secret = out->ics;
	return CLR_OK;
}

void reg_provider_release(struct reg_provider *p)
{
	if (p == NULL)
		return;
	if (p->iat != NULL)
		clr_unsealed_free(p->iat, p->iat_len);
	if (p->ics != NULL)
		clr_unsealed_free(p->ics, p->ics_len);
	PQclear(p->res);
	memset(p, 0, sizeof(*p));
}

enum clr_rc reg_ctype_load(struct clr_db *db, const char *id, struct reg_ctype *out,
			   struct clr_err *e)
{
	const char *v[1] = {id};
	PGresult *res = NULL;
	enum clr_rc rc;

	memset(out, 0, sizeof(*out));
	rc = clr_db_exec(db, "reg_ct_get", 1, v, &res);
	if (rc != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "database error loading the client type");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return clr_err_set(e, CLR_ERR_NOTFOUND, "not_found", "client_type_id",
				   "no such client type");
	}
	out->res = res;
	out->id = col(res, 0, CT_ID);
	out->provider_id = col(res, 0, CT_PROVIDER);
	out->response_types = json_loads(col(res, 0, CT_RT), 0, NULL);
	out->grant_types = json_loads(col(res, 0, CT_GT), 0, NULL);
	if (out->response_types == NULL || out->grant_types == NULL) {
		reg_ctype_release(out);
		return clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
	}
	out->ct.response_types = out->response_types;
	out->ct.grant_types = out->grant_types;
	out->ct.token_endpoint_auth_method = col(res, 0, CT_AUTH);
	out->ct.okta_application_type = col(res, 0, CT_OKTA);
	out->ct.id = out->id;
	return CLR_OK;
}

void reg_ctype_release(struct reg_ctype *c)
{
	if (c == NULL)
		return;
	json_decref(c->response_types);
	json_decref(c->grant_types);
	PQclear(c->res);
	memset(c, 0, sizeof(*c));
}

enum clr_rc reg_row_load(const struct reg_app *app, struct clr_db *db, const char *id,
			 int for_update, int unseal, struct reg_row *out, struct clr_err *e)
{
	const char *v[1] = {id};
	PGresult *res = NULL;
	enum clr_rc rc;

	memset(out, 0, sizeof(*out));
	rc = clr_db_exec(db, for_update ? "reg_rg_full_lock" : "reg_rg_full", 1, v, &res);
	if (rc != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "database error loading the registration");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return clr_err_set(e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such registration");
	}
	out->res = res;
	out->id = col(res, 0, RG_ID);
	out->provider_id = col(res, 0, RG_PROVIDER);
	out->client_type_id = col(res, 0, RG_CTYPE);
	out->client_name = col(res, 0, RG_NAME);
	out->scope = col(res, 0, RG_SCOPE);
	out->status = col(res, 0, RG_STATUS);
	out->client_id = col(res, 0, RG_CLIENT_ID);
	out->registration_client_uri = col(res, 0, RG_RCU);
	out->revision = atoi(col(res, 0, RG_REV));
	out->in_flight = col(res, 0, RG_IN_FLIGHT)[0] == 't';
	out->attempt_at = col(res, 0, RG_ATTEMPT_AT);
	out->redirect_uris = json_loads(col(res, 0, RG_URIS), 0, NULL);
	if (out->redirect_uris == NULL) {
		reg_row_release(out);
		return clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
	}
	if (unseal) {
		rc = unseal_col(app, "registrations.client_secret", out->id, col(res, 0, RG_SECRET),
				&out->secret, &out->secret_len, e);
		if (rc == CLR_OK)
			rc = unseal_col(app, "registrations.registration_access_token", out->id,
					col(res, 0, RG_RAT), &out->rat, &out->rat_len, e);
		if (rc != CLR_OK) {
			reg_row_release(out);
			return rc;
		}
	}
	out->ref.client_id = out->client_id;
	out->ref.registration_client_uri = out->registration_client_uri;
	out->ref.registration_access_token = out->rat;
	return CLR_OK;
}

void reg_row_release(struct reg_row *r)
{
	if (r == NULL)
		return;
	if (r->secret != NULL)
		clr_unsealed_free(r->secret, r->secret_len);
	if (r->rat != NULL)
		clr_unsealed_free(r->rat, r->rat_len);
	json_decref(r->redirect_uris);
	PQclear(r->res);
	memset(r, 0, sizeof(*r));
}
