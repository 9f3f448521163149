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

/*
 * An admin's answer for a registration parked as outcome_unknown: adopt
 * (the client the lost attempt created, found at the IdP: client_id
 * required, the rest as the IdP shows them, may be NULL) or declare it
 * gone (status failed).  All strings borrowed.
 */
struct reg_resolution {
	int adopt;
	const char *client_id;
	const char *registration_access_token;
	const char *registration_client_uri;
	const char *client_secret;
};

/*
 * Resolves parked registration id; CLR_ERR_CONFLICT when it is not
 * outcome_unknown (or another row holds the client), CLR_ERR_NOTFOUND.
 * On CLR_OK *view is the row (new).
 */
enum clr_rc reg_op_resolve(const struct reg_app *app, struct clr_db *db, const char *id,
			   const struct reg_resolution *how, json_t **view,
			   struct clr_err *e) CLR_MUSTCHECK;

/* How a queued registration or rotation runs (the job's kind and retries). */
enum reg_queue {
	REG_QUEUE_RETRY,  /* Prefer: respond-async: kind register/rotate, retried with backoff */
	REG_QUEUE_ONCE,	  /* the default route answering 202 at once: one attempt, as the
			     synchronous call made (payload no_retry) */
	REG_QUEUE_WAITED, /* the default route waiting for it: one attempt, kind
			     register_waited/rotate_waited/deregister_waited/
			     client_update_waited, run by the waiters' own workers */
};

/*
 * Queues a registration (the HTTP route; `how` above): checks
 * req like reg_op_register, then commits the pending row and its register
 * job together, and marks its secret for one pickup
 * (reg_op_take_secret).  *view the pending row (new), job_id the job.
 */
enum clr_rc reg_op_register_async(const struct reg_app *app, struct clr_db *db,
				  const struct reg_request *req, enum reg_queue how, json_t **view,
				  char job_id[37], struct clr_err *e) CLR_MUSTCHECK;

/*
 * The one showing of a queued registration's secret once it is active:
 * *out {client_id, client_secret} (new).  CLR_ERR_NOTFOUND when none waits.
 */
enum clr_rc reg_op_take_secret(const struct reg_app *app, struct clr_db *db, const char *id,
			       json_t **out, struct clr_err *e) CLR_MUSTCHECK;

/*
 * Queues a secret rotation (`how` as above): the row must be
 * active and its IdP family able to rotate (else CLR_ERR_CONFLICT).  The
 * rotate job offers the new secret for one pickup (reg_op_take_secret).
 */
enum clr_rc reg_op_rotate_async(const struct reg_app *app, struct clr_db *db, const char *id,
				enum reg_queue how, char job_id[37],
				struct clr_err *e) CLR_MUSTCHECK;

/*
 * Queues the deletion of registration id at the IdP (a deregister job, `how`
 * as above; CLR_ERR_NOTFOUND when there is no such row).  A row deleted
 * already queues nothing: CLR_OK with job_id "".
 */
enum clr_rc reg_op_delete_async(const struct reg_app *app, struct clr_db *db, const char *id,
				enum reg_queue how, char job_id[37],
				struct clr_err *e) CLR_MUSTCHECK;

/*
 * Queues the PUT route's RFC 7592 update of registration id (a
 * client_update job with "replace": the metadata of req, borrowed; `how` as
 * above) after the checks reg_op_update makes, so bad input is refused
 * before anything is queued (CLR_ERR_PARAM, CLR_ERR_CONFLICT when not
 * active, CLR_ERR_NOTFOUND).  A secret the IdP issues with the update is
 * offered for one pickup.
 */
enum clr_rc reg_op_update_async(const struct reg_app *app, struct clr_db *db, const char *id,
				const struct reg_request *req, enum reg_queue how, char job_id[37],
				struct clr_err *e) CLR_MUSTCHECK;

/* Offers registration id's current secret for one pickup (best effort). */
void reg_op_secret_pickup(struct clr_db *db, const char *id);

/* How many registrations are parked as outcome_unknown; -1 on error. */
long reg_count_unknown(struct clr_db *db);

/* Records a pending registration's failure (final: status failed). */
void reg_op_note_failure(struct clr_db *db, const char *id, const char *msg, int final);

#endif
