/*
 * jobs_registrar.c - the registrar's background jobs (register, deregister,
 * rotate), run by the jobs worker with the same operations as the HTTP
 * routes, and the admin's read-only view of the queue (GET /v1/jobs).
 *
 * Payloads (enqueued by the access service inside its own transaction):
 *   register:   {"registration_id": <pending row>, "client_type_id",
 *                "client_name", "redirect_uris"?, "scope"?, "owner"?}
 *   deregister: {"registration_id"}
 *   rotate:     {"registration_id"}
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
#include "registrar.h"

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

static enum clr_rc job_register(void *appv, struct clr_db *db, const struct clr_job *job,
				struct clr_err *e)
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
	if ((rc = clr_http_client_new(&http)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "no HTTP client");
		goto done;
	}
	rc = reg_op_register(app, db, http, id, &req, &view, &secret, e);
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

static enum clr_rc job_deregister(void *appv, struct clr_db *db, const struct clr_job *job,
				  struct clr_err *e)
{
	struct clr_http_client *http = NULL;
	const char *id = payload_id(job, e);
	enum clr_rc rc;
	int orphaned = 0;

	if (id == NULL)
		return CLR_ERR_PARAM;
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
	if (secret != NULL)
		clr_unsealed_free(secret, strlen(secret));
	json_decref(view);
	clr_http_client_free(http);
	if (rc == CLR_ERR_NOTFOUND || rc == CLR_ERR_CONFLICT)
		return CLR_ERR_PARAM;
	return rc;
}

const struct clr_job_kind reg_job_kinds[] = {
    {"register", job_register},
    {"deregister", job_deregister},
    {"rotate", job_rotate},
};
const size_t reg_njob_kinds = sizeof(reg_job_kinds) / sizeof(reg_job_kinds[0]);

/* ---- GET /v1/jobs ------------------------------------------------------- */

void reg_h_jobs_list(struct clr_req *r)
{
	static const char *const states[] = {"queued", "running", "done", "failed"};
	char *state = NULL, *kind = NULL, *limit = NULL, *offset = NULL, *end;
	char lim[16] = "100", off[16] = "0";
	const char *p[4];
	PGresult *res = NULL;
	struct clr_err e = {0};
	size_t i;
	long n;

	if (clr_req_query(r, "state", &state) != CLR_OK ||
	    clr_req_query(r, "kind", &kind) != CLR_OK ||
	    clr_req_query(r, "limit", &limit) != CLR_OK ||
	    clr_req_query(r, "offset", &offset) != CLR_OK) {
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", NULL, "malformed query string");
		goto fail;
	}
	if (state != NULL) {
		for (i = 0; i < 4 && strcmp(state, states[i]) != 0; i++)
			;
		if (i == 4) {
			clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", "state",
				    "state must be queued, running, done or failed");
			goto fail;
		}
	}
	if (kind != NULL && strlen(kind) > 64) {
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", "kind", "kind is too long");
		goto fail;
	}
	if (limit != NULL) {
		n = strtol(limit, &end, 10);
		if (limit[0] == '\0' || *end != '\0' || n < 1 || n > 1000) {
			clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", "limit",
				    "limit must be 1..1000");
			goto fail;
		}
		snprintf(lim, sizeof(lim), "%ld", n);
	}
	if (offset != NULL) {
		n = strtol(offset, &end, 10);
		if (offset[0] == '\0' || *end != '\0' || n < 0 || n > 1000000) {
			clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", "offset",
				    "offset must be 0..1000000");
			goto fail;
		}
		snprintf(off, sizeof(off), "%ld", n);
	}
	p[0] = state;
	p[1] = kind;
	p[2] = lim;
	p[3] = off;
	if ((e.rc = clr_db_exec(r->db, "reg_jb_list", 4, p, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "listing jobs failed");
		goto fail;
	}
	clr_resp_json(r, 200, json_pack("{s:o}", "jobs", reg_rows_json(res)));
	goto out;
fail:
	reg_reply_err(r, &e);
out:
	PQclear(res);
	free(state);
	free(kind);
	free(limit);
	free(offset);
}

void reg_h_jobs_get(struct clr_req *r)
{
	reg_get_one(r, "job", "reg_jb_get");
}
