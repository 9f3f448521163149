/*
 * jobs.c - the registrar's background jobs, run by its own worker (which
 * claims only these kinds) with the same operations as the HTTP routes.
 *
 * Payloads (enqueued by other services inside their own transactions):
 *   register:      {"registration_id": <pending row>, "client_type_id",
 *                   "client_name", "redirect_uris"?, "scope"?, "owner"?}
 *   provision:     the same, but the pending row of that id is created
 *                  first when it does not exist yet (the caller picks the
 *                  id, so a retried job finds its row again)
 *   deregister:    {"registration_id", "withdraw"?: true}: withdraw first
 *                  takes an active row out of service at once, then the
 *                  client is deleted at the IdP
 *   rotate:        {"registration_id", "pickup"?: true}: pickup offers the new
 *                  secret once (POST /v1/registrations/{id}/client-secret);
 *                  "scheduled": true (with "client_secret_expires_at") is
 *                  the rotation the registrar queued itself, with a run_at,
 *                  before an expiring secret expires (registrations.c)
 *   client_update: {"registration_id", "redirect_uris"}: RFC 7592 update
 *                  of the redirect URIs, name and scope kept; with
 *                  "replace": true (the PUT route) the whole metadata
 *                  ("client_type_id", "client_name", "scope"), and
 *                  "pickup" offers a secret the IdP issued with it once
 *   register_waited, rotate_waited, deregister_waited, client_update_waited:
 *                  the same, queued by a route that waits for them
 *                  (waiting.h), with "no_retry": true; run by workers of
 *                  their own so that queued work of a slow IdP never
 *                  stands between a route and its answer
 *   reconcile:     {"provider_id"?, "policy"?, "dry_run"?, "periodic"?}
 *                  (reconcile.h)
 *
 * The registrar reports back only through its registrations rows; whoever
 * asked reads them (the access service's trigger, sql/010).
 * A job that can never succeed (bad payload, row gone, operation not
 * supported) returns CLR_ERR_PARAM so the queue fails it at once; IdP or
 * database trouble returns its rc and is retried with backoff.  A failing
 * register job also writes its error to the registration row, and marks it
 * 'failed' on the last attempt, so the state is visible where people look.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/log.h"
#include "clearance/util.h"
#include "jobs.h"
#include "reconcile.h"
#include "registrar.h"
#include "registrations.h"
#include "store.h"

static const char *payload_id(const struct clr_job *job, struct clr_err *e)
{
	const char *id = json_string_value(json_object_get(job->payload, "registration_id"));

	if (id == NULL || !clr_uuid_valid(id)) {
		clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "registration_id",
			    "%s job: payload has no valid registration_id", job->kind);
		return NULL;
	}
	return id;
}

/* Optional string member: absent and null both mean "not given". */
static enum clr_rc opt_str(const json_t *o, const char *k, const char **out, struct clr_err *e)
{
	json_t *v = json_object_get(o, k);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return CLR_OK;
	if (!json_is_string(v))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", k,
				   "register job: %s must be a string", k);
	*out = json_string_value(v);
	return CLR_OK;
}

/* Creates the pending row `id` for a provision job unless it exists. */
static enum clr_rc pending_insert(struct clr_db *db, const char *id, const struct reg_request *req,
				  struct clr_err *e)
{
	char *uris = NULL, *owner = NULL;
	const char *p[6];
	PGresult *res = NULL;
	enum clr_rc rc;

	if (req->client_type_id == NULL || !clr_uuid_valid(req->client_type_id) ||
	    req->client_name == NULL)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "client_type_id",
				   "provision job: client_type_id and client_name are required");
	if (req->redirect_uris != NULL && !json_is_array(req->redirect_uris))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "redirect_uris",
				   "provision job: redirect_uris must be an array");
	uris = req->redirect_uris != NULL ? json_dumps(req->redirect_uris, JSON_COMPACT)
					  : strdup("[]");
	owner = req->owner != NULL ? json_dumps(req->owner, JSON_COMPACT) : NULL;
	if (uris == NULL || (req->owner != NULL && owner == NULL)) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	p[0] = id;
	p[1] = req->client_type_id;
	p[2] = req->client_name;
	p[3] = uris;
	p[4] = req->scope;
	p[5] = owner;
	if ((rc = clr_db_exec(db, "reg_rg_pending_insert", 6, p, &res)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "the pending registration could not be stored");
		goto out;
	}
	if (PQntuples(res) != 1)
		rc = clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "client_type_id",
				 "provision job: the client type no longer exists");
out:
	PQclear(res);
	free(uris);
	free(owner);
	return rc;
}

static enum clr_rc register_or_provision(void *appv, struct clr_db *db, const struct clr_job *job,
					 int create, struct clr_err *e)
{
	const struct reg_app *app = appv;
	struct clr_http_client *http = NULL;
	struct reg_request req = {0};
	const char *id = payload_id(job, e);
	json_t *view = NULL, *v;
	char *secret = NULL;
	enum clr_rc rc;
	int final;

	if (id == NULL)
		return CLR_ERR_PARAM;
	if ((rc = opt_str(job->payload, "client_type_id", &req.client_type_id, e)) != CLR_OK ||
	    (rc = opt_str(job->payload, "client_name", &req.client_name, e)) != CLR_OK ||
	    (rc = opt_str(job->payload, "scope", &req.scope, e)) != CLR_OK)
		goto done;
	v = json_object_get(job->payload, "redirect_uris");
	req.redirect_uris = json_is_null(v) ? NULL : v;
	v = json_object_get(job->payload, "owner");
	if (v != NULL && !json_is_null(v) && !json_is_object(v)) {
		rc = clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "owner",
				 "register job: owner must be an object");
		goto done;
	}
	req.owner = json_is_object(v) ? v : NULL;
	if (create && (rc = pending_insert(db, id, &req, e)) != CLR_OK)
		goto done;
	if ((rc = clr_http_client_new(&http)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "no HTTP client");
		goto done;
	}
	rc = reg_op_register(app, db, http, id, &req, &view, &secret, e);
	reg_unknown_refresh(app, db);
done:
	if (rc == CLR_ERR_NOTFOUND)
		rc = CLR_ERR_PARAM;
	if (rc != CLR_OK) {
		final = rc == CLR_ERR_PARAM || job->attempt >= job->max_attempts;
		reg_op_note_failure(db, id, e->msg, final);
	}
	if (secret != NULL)
		clr_unsealed_free(secret, strlen(secret));
	json_decref(view);
	clr_http_client_free(http);
	return rc;
}

static enum clr_rc job_register(void *appv, struct clr_db *db, const struct clr_job *job,
				struct clr_err *e)
{
	return register_or_provision(appv, db, job, 0, e);
}

static enum clr_rc job_provision(void *appv, struct clr_db *db, const struct clr_job *job,
				 struct clr_err *e)
{
	return register_or_provision(appv, db, job, 1, e);
}

static enum clr_rc job_deregister(void *appv, struct clr_db *db, const struct clr_job *job,
				  struct clr_err *e)
{
	struct clr_http_client *http = NULL;
	const char *id = payload_id(job, e);
	enum clr_rc rc;
	int orphaned = 0;

	if (id == NULL)
		return CLR_ERR_PARAM;
	if (json_is_true(json_object_get(job->payload, "withdraw")) &&
	    (rc = reg_op_withdraw(
		 appv, db, id, "withdrawn by its owner; deletion at the IdP queued", e)) != CLR_OK)
		return rc;
	if ((rc = clr_http_client_new(&http)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "no HTTP client");
	/* An IdP that refuses (orphaned) is a final answer too: no retry loop. */
	rc = reg_op_delete(appv, db, http, id, &orphaned, NULL, e);
	clr_http_client_free(http);
	return rc == CLR_ERR_NOTFOUND ? CLR_ERR_PARAM : rc;
}

static enum clr_rc job_rotate(void *appv, struct clr_db *db, const struct clr_job *job,
			      struct clr_err *e)
{
	struct clr_http_client *http = NULL;
	const char *id = payload_id(job, e);
	json_t *view = NULL;
	char *secret = NULL;
	enum clr_rc rc;

	if (id == NULL)
		return CLR_ERR_PARAM;
	if ((rc = clr_http_client_new(&http)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "no HTTP client");
	/* The new secret is stored sealed; its owner reads it from there. */
	rc = reg_op_rotate(appv, db, http, id, &view, &secret, e);
	/* Asked for through the admin API with Prefer: respond-async. */
	if (rc == CLR_OK && json_is_true(json_object_get(job->payload, "pickup")))
		reg_op_secret_pickup(db, id);
	if (secret != NULL)
		clr_unsealed_free(secret, strlen(secret));
	json_decref(view);
	clr_http_client_free(http);
	/* A scheduled rotation of a registration no longer active: nothing to do. */
	if (rc == CLR_ERR_CONFLICT && json_is_true(json_object_get(job->payload, "scheduled"))) {
		clr_log(NULL, CLR_LOG_INFO, "registration %s: scheduled rotation skipped: %s", id,
			e->msg);
		return CLR_OK;
	}
	if (rc == CLR_ERR_NOTFOUND || rc == CLR_ERR_CONFLICT)
		return CLR_ERR_PARAM;
	return rc;
}

/* The PUT route's full replacement ("replace"): its answer waits for this. */
static enum clr_rc client_replace(void *appv, struct clr_db *db, const struct clr_job *job,
				  const char *id, struct clr_err *e)
{
	struct clr_http_client *http = NULL;
	struct reg_request req = {0};
	json_t *view = NULL, *v;
	char *secret = NULL;
	enum clr_rc rc;

	if ((rc = opt_str(job->payload, "client_type_id", &req.client_type_id, e)) != CLR_OK ||
	    (rc = opt_str(job->payload, "client_name", &req.client_name, e)) != CLR_OK ||
	    (rc = opt_str(job->payload, "scope", &req.scope, e)) != CLR_OK)
		return CLR_ERR_PARAM;
	v = json_object_get(job->payload, "redirect_uris");
	req.redirect_uris = json_is_array(v) ? v : NULL;
	if ((rc = clr_http_client_new(&http)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "no HTTP client");
	rc = reg_op_update_secret(appv, db, http, id, &req, &view, &secret, e);
	/* A secret the IdP issued with the update (Glewlwyd): shown once, as PUT did. */
	if (rc == CLR_OK && secret != NULL && json_is_true(json_object_get(job->payload, "pickup")))
		reg_op_secret_pickup(db, id);
	if (secret != NULL)
		clr_unsealed_free(secret, strlen(secret));
	json_decref(view);
	clr_http_client_free(http);
	/* Not there or not active: final (e keeps the 404 or 409 for whoever waits). */
	return rc == CLR_ERR_NOTFOUND || rc == CLR_ERR_CONFLICT ? CLR_ERR_PARAM : rc;
}

static enum clr_rc job_client_update(void *appv, struct clr_db *db, const struct clr_job *job,
				     struct clr_err *e)
{
	struct clr_http_client *http = NULL;
	struct reg_request req = {0};
	const char *id = payload_id(job, e);
	json_t *view = NULL;
	enum clr_rc rc;

	if (id == NULL)
		return CLR_ERR_PARAM;
	if (json_is_true(json_object_get(job->payload, "replace")))
		return client_replace(appv, db, job, id, e);
	req.redirect_uris = json_object_get(job->payload, "redirect_uris");
	if (!json_is_array(req.redirect_uris))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "redirect_uris",
				   "client_update job: redirect_uris must be an array");
	if ((rc = clr_http_client_new(&http)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "no HTTP client");
	rc = reg_op_update(appv, db, http, id, &req, REG_KEEP_NAME | REG_KEEP_SCOPE, &view, e);
	json_decref(view);
	clr_http_client_free(http);
	/* Not active any more (revoked meanwhile): nothing left to update. */
	if (rc == CLR_ERR_CONFLICT)
		return CLR_OK;
	return rc == CLR_ERR_NOTFOUND ? CLR_ERR_PARAM : rc;
}

const struct clr_job_kind reg_job_kinds[] = {
    {"register", job_register},
    {"provision", job_provision},
    {"deregister", job_deregister},
    {"rotate", job_rotate},
    {"client_update", job_client_update},
    {"reconcile", reg_job_reconcile},
    /* REG_NWAITED_KINDS: what a route waits for, run by workers of their own. */
    {"register_waited", job_register},
    {"rotate_waited", job_rotate},
    {"deregister_waited", job_deregister},
    {"client_update_waited", job_client_update},
};
const size_t reg_njob_kinds = sizeof(reg_job_kinds) / sizeof(reg_job_kinds[0]);
