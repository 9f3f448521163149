/*
 * registrations.h - the registrar's registration operations: what the
 * /v1/registrations routes (h_registrations.c) and the job worker (jobs.c)
 * both run.  Each manages its own transaction(s) on db.
 */
#ifndef CLEARANCE_REG_REGISTRATIONS_H
#define CLEARANCE_REG_REGISTRATIONS_H

#include <jansson.h>
#include "clearance/db.h"
#include "clearance/http_out.h"
#include "clearance/rc.h"
#include "registrar.h"
#include "store.h"

/* What to register. */
struct reg_request {
	const char *client_type_id;
	const char *client_name;
	const json_t *redirect_uris; /* array or NULL */
	const char *scope;	     /* NULL or space separated */
	const json_t *owner;	     /* object or NULL (jobs only) */
};

/* Validates req against the RFC 7591 rules and its client type. */
enum clr_rc reg_request_check(const struct reg_request *req, const struct reg_ctype *ct,
			      struct clr_err *e) CLR_MUSTCHECK;

/*
 * Registers a client at the IdP and stores it as 'active'.  pending_id
 * NULL: a new row is inserted (the HTTP route); otherwise the 'pending'
 * row of that id is completed (the register job).  If the row cannot be
 * stored after the IdP created the client, the client is deleted at the
 * IdP again.  On CLR_OK *view is the stored row as JSON (new) and
 * *secret the client secret (new, wipe with clr_unsealed_free(secret,
 * strlen)) or NULL.  e->error is one of idp_rejected, invalid_client_metadata,
 * idp_error, not_found, invalid_request...
 */
enum clr_rc reg_op_register(const struct reg_app *app, struct clr_db *db,
			    struct clr_http_client *http, const char *pending_id,
			    const struct reg_request *req, json_t **view, char **secret,
			    struct clr_err *e) CLR_MUSTCHECK;

/*
 * Deletes the client at the IdP (RFC 7592) and marks the row deleted; an
 * IdP 401/403 marks it orphaned instead (CLR_OK, *orphaned = 1).  IdP
 * down: error, row unchanged.  *view (may be NULL) gets the row (new).
 */
enum clr_rc reg_op_delete(const struct reg_app *app, struct clr_db *db,
			  struct clr_http_client *http, const char *id, int *orphaned,
			  json_t **view, struct clr_err *e) CLR_MUSTCHECK;

/* Rotates the client secret; *secret new (see reg_op_register). */
enum clr_rc reg_op_rotate(const struct reg_app *app, struct clr_db *db,
			  struct clr_http_client *http, const char *id, json_t **view,
			  char **secret, struct clr_err *e) CLR_MUSTCHECK;

/* Flags of reg_op_update: keep the stored value instead of the given one. */
#define REG_KEEP_NAME 1u
#define REG_KEEP_SCOPE 2u

/*
 * RFC 7592 update of an active registration (the PUT route and the
 * client_update job): req->client_type_id NULL keeps the row's type (which
 * must belong to the row's provider); redirect_uris NULL means none; keep
 * takes the client name and/or scope from the row instead of req.  Holds
 * the row lock across the IdP call.  CLR_ERR_CONFLICT when the row is not
 * active.  On CLR_OK *view is the stored row (new).
 */
enum clr_rc reg_op_update(const struct reg_app *app, struct clr_db *db,
			  struct clr_http_client *http, const char *id,
			  const struct reg_request *req, unsigned keep, json_t **view,
			  struct clr_err *e) CLR_MUSTCHECK;

/*
 * reg_op_update for the PUT route: *secret (new, or NULL) is the client
 * secret the IdP issued with the update (Glewlwyd does on every PUT), to be
 * shown once as create and rotate do.
 */
enum clr_rc reg_op_update_secret(const struct reg_app *app, struct clr_db *db,
				 struct clr_http_client *http, const char *id,
				 const struct reg_request *req, json_t **view, char **secret,
				 struct clr_err *e) CLR_MUSTCHECK;

/*
 * Takes an active registration out of service at once (status orphaned,
 * `why` as last_error), before its deletion at the IdP: the gateway stops
 * honouring the client even while the IdP is down.  Not active: no change.
 */
enum clr_rc reg_op_withdraw(const struct reg_app *app, struct clr_db *db, const char *id,
			    const char *why, struct clr_err *e) CLR_MUSTCHECK;

/* Records a pending registration's failure (final: status failed). */
void reg_op_note_failure(struct clr_db *db, const char *id, const char *msg, int final);

#endif
