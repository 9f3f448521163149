/*
 * store.h - the registrar's prepared statements (each connection, the
 * worker's too, prepares all) and the loaders of its stored rows (store.c).
 */
#ifndef CLEARANCE_REG_STORE_H
#define CLEARANCE_REG_STORE_H

#include <stddef.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "clearance/config.h"
#include "clearance/db.h"
#include "clearance/http_out.h"
#include "clearance/rc.h"
#include "driver.h"
#include "registrar.h"

extern const struct clr_db_stmt reg_stmts[];
extern const size_t reg_nstmts;

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
	const char *identity_claim;		/* the gateway's; never NULL */
	const char *access_token_typ;		/* the gateway's; never NULL */
	const char *token_endpoint_auth_method; /* the gateway's Basic exchange; never NULL */
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
	/* An IdP create call was started and its outcome never recorded. */
	int in_flight;
	const char *attempt_at; /* when, or NULL */
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

#endif
