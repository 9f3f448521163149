/*
 * registrar.h - internals of the registrar service shared by its files:
 * the application context, the statement table, the loaders of stored
 * rows, request helpers and the handlers.  The registration operations
 * that the routes and the job worker both run are in registrations.h.
 *
 * Nothing here is part of libclearance; symbols are hidden like every other.
 */
#ifndef CLEARANCE_REGISTRAR_H
#define CLEARANCE_REGISTRAR_H

#include <stddef.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "clearance/rc.h"
#include "clearance/config.h"
#include "clearance/db.h"
#include "clearance/http_in.h"
#include "clearance/http_out.h"
#include "clearance/jobs.h"
#include "clearance/seal.h"
#include "driver.h"

/* Shared by all threads, immutable after start-up. */
struct reg_app {
	const struct clr_config *cfg;
	const struct clr_sealer *sealer;
};

/* store.c: the prepared statements (each connection prepares all). */
extern const struct clr_db_stmt reg_stmts[];
extern const size_t reg_nstmts;

/* routes.c: the routes and the field tables dispatch checks first */
extern const struct clr_route reg_routes[];
extern const size_t reg_nroutes;
extern const struct clr_route_body reg_route_bodies[];
extern const size_t reg_nroute_bodies;

/* The bodies of the json_body routes (next to each handler's field table). */
extern const struct clr_body reg_body_provider_create, reg_body_provider_patch;
extern const struct clr_body reg_body_ctype_create, reg_body_ctype_patch;
extern const struct clr_body reg_body_registration_create, reg_body_registration_put;

/* jobs.c: the kinds the registrar's worker runs (see jobs.c). */
extern const struct clr_job_kind reg_job_kinds[];
extern const size_t reg_njob_kinds;

/*
 * kinds.c: writes one provider_kinds row per driver (kind, can_rotate), so
 * other services read the drivers' capabilities as data.  Own connection.
 */
enum clr_rc reg_kinds_publish(const struct clr_config *cfg) CLR_MUSTCHECK;

/* ---- store.c: rows ------------------------------------------------------ */

/*
 * A provider with its secrets unsealed, as the drivers want it.  All
 * strings point into res or into the unsealed buffers; release with
 * reg_provider_release (wipes the secrets).
 */
struct reg_provider {
	PGresult *res;
	struct drv_provider p;
	const char *name;
	const char *well_known_url;
	const char *jwks_uri;
	const char *registration_endpoint_override;
	const char *audience;
	const char *initial_access_token_sealed;  /* as stored, may be NULL */
	const char *initial_client_secret_sealed; /* as stored, may be NULL */
	const char *discovery;			  /* jsonb text */
	const char *introspection_endpoint;
	int revision;
	char *iat;
	size_t iat_len;
	char *ics;
	size_t ics_len;
};

/*
 * Loads provider `id` (a valid uuid).  for_update locks the row (caller
 * has a transaction open).  unseal=0 skips unsealing (p.initial_* NULL).
 * CLR_ERR_NOTFOUND with e filled when there is no such row.
 */
enum clr_rc reg_provider_load(const struct reg_app *app, struct clr_db *db, const char *id,
			      int for_update, int unseal, struct reg_provider *out,
			      struct clr_err *e) CLR_MUSTCHECK;
void reg_provider_release(struct reg_provider *p);

/* The http options every outgoing call for this provider uses. */
void reg_provider_http_opts(const struct clr_config *cfg, int allow_http, int tls_skip_verify,
			    const char *ca_pem, struct clr_http_opts *out);

/* A client type; arrays are new references, strings point into res. */
struct reg_ctype {
	PGresult *res;
	const char *id;
	const char *provider_id;
	json_t *response_types;
	json_t *grant_types;
	struct drv_client_type ct;
};
enum clr_rc reg_ctype_load(struct clr_db *db, const char *id, struct reg_ctype *out,
			   struct clr_err *e) CLR_MUSTCHECK;
void reg_ctype_release(struct reg_ctype *c);

/* A registration with its secrets unsealed (when asked). */
struct reg_row {
	PGresult *res;
	const char *id;
	const char *provider_id;
	const char *client_type_id; /* NULL if the type was deleted */
	const char *client_name;
	const char *scope;
	const char *status;
	const char *client_id;
	const char *registration_client_uri;
	json_t *redirect_uris; /* new reference */
	int revision;
	char *secret;
	size_t secret_len;
	char *rat;
	size_t rat_len;
	struct drv_reg_ref ref; /* points at the above */
};
enum clr_rc reg_row_load(const struct reg_app *app, struct clr_db *db, const char *id,
			 int for_update, int unseal, struct reg_row *out,
			 struct clr_err *e) CLR_MUSTCHECK;
void reg_row_release(struct reg_row *r);

/*
 * One result row as a JSON object: column names as keys, types from the
 * column OIDs (bool, integers, json/jsonb parsed, everything else text,
 * SQL NULL -> null).  New reference, NULL on allocation failure.
 */
json_t *reg_row_json(const PGresult *res, int row);
/* All rows as an array (new). */
json_t *reg_rows_json(const PGresult *res);

/* Seals plaintext for table_col of row id into *out (new). */
enum clr_rc reg_seal(const struct reg_app *app, const char *table_col, const char *id,
		     const char *pt, char **out, struct clr_err *e) CLR_MUSTCHECK;

/* ---- routes.c: request helpers ------------------------------------------ */

/*
 * Checks an endpoint URL: parses with libcurl's URL API, https (or http when
 * allow_http), a host, no user info, no fragment, at most 2048 bytes.
 */
enum clr_rc reg_url_check(const char *url, int allow_http, const char *field,
			  const char *error_code, struct clr_err *e) CLR_MUSTCHECK;

/*
 * GET of one row by the uuid in path parameter 0: runs `stmt` (one
 * parameter, the id) and answers 200 with the row, or 404 "no such <what>".
 */
void reg_get_one(struct clr_req *r, const char *what, const char *stmt);

/* 1 if s (nullable) is a JSON string array containing v. */
int reg_strarr_has(const json_t *arr, const char *v);

/* ---- handlers ----------------------------------------------------------- */

void reg_h_providers_create(struct clr_req *r);
void reg_h_providers_list(struct clr_req *r);
void reg_h_providers_get(struct clr_req *r);
void reg_h_providers_patch(struct clr_req *r);
void reg_h_providers_delete(struct clr_req *r);
void reg_h_providers_discover(struct clr_req *r);
void reg_h_providers_verify(struct clr_req *r);

void reg_h_ctypes_create(struct clr_req *r);
void reg_h_ctypes_list(struct clr_req *r);
void reg_h_ctypes_get(struct clr_req *r);
void reg_h_ctypes_patch(struct clr_req *r);
void reg_h_ctypes_delete(struct clr_req *r);

void reg_h_regs_create(struct clr_req *r);
void reg_h_regs_list(struct clr_req *r);
void reg_h_regs_get(struct clr_req *r);
void reg_h_regs_put(struct clr_req *r);
void reg_h_regs_delete(struct clr_req *r);
void reg_h_regs_rotate(struct clr_req *r);

void reg_h_jobs_list(struct clr_req *r);
void reg_h_jobs_get(struct clr_req *r);

#endif
