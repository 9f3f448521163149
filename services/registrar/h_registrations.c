/*
 * h_registrations.c - the /v1/registrations routes: parse, call one
 * operation of registrations.c, render.  The client secret is shown in
 * exactly two responses: creation and rotation (or, when those answered
 * 202, once by POST /v1/registrations/{id}/client-secret; a PUT shows a
 * secret the IdP issued with the update the same way).  Creation, update,
 * rotation and deletion never call the IdP on the request thread: they
 * queue the job that does and wait a bounded time for it (waiting.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/log.h"
#include "clearance/util.h"
#include "grants.h"
#include "h_registrations.h"
#include "registrar.h"
#include "registrations.h"
#include "routes.h"
#include "store.h"
#include "validate.h"
#include "waiting.h"

static const struct clr_field rg_fields[] = {
    {"client_type_id", CLR_FT_STR, 1, 0, 1, 64, 0, 0},
    {"client_name", CLR_FT_STR, 1, 0, 1, 200, 0, 0},
    {"redirect_uris", CLR_FT_STRARR, 0, 1, 1, 2048, REG_MAX_REDIRECT_URIS, 0},
    {"scope", CLR_FT_STR, 0, 1, 0, 1000, 0, 0},
    {"grants", CLR_FT_OBJARR, 0, 0, 0, 0, REG_MAX_GRANTS, 0},
};
const struct clr_body reg_body_registration_create =
    CLR_BODY(rg_fields, 0, "invalid_client_metadata");

/* ---- handlers ------------------------------------------------------------ */

/* Registration id's view (new), or NULL. */
static json_t *view_of(struct clr_db *db, const char *id)
{
	const char *v[1] = {id};
	PGresult *res = NULL;
	json_t *o = NULL;

	if (clr_db_exec(db, "reg_rg_get", 1, v, &res) == CLR_OK && PQntuples(res) == 1)
		o = reg_row_json(res, 0);
	PQclear(res);
	return o;
}

/*
 * Stores the checked grants (borrowed, may be NULL) of the new registration
 * `view` and shows them in it.  The client exists at the IdP and here
 * whatever happens: a failure only leaves its grants to be set again.
 */
static void store_grants(struct clr_req *r, json_t *view, json_t *grants)
{
	struct clr_err e = {0};

	if (grants == NULL)
		return;
	if (reg_grants_replace(r->db, json_string_value(json_object_get(view, "id")), grants, &e) !=
	    CLR_OK) {
		clr_log_req(r, CLR_LOG_ERROR, "registration %s: grants not stored: %s",
			    json_string_value(json_object_get(view, "id")), e.msg);
		json_object_set_new(view, "grants_error",
				    json_string("the grants could not be stored; set them "
						"with PUT /v1/registrations/{id}/grants"));
	} else {
		json_object_set(view, "grants", grants);
	}
}

/* Answers 202 for the queued registration `view` (steals it) and its job. */
/*
 * How the route's IdP job is queued: REG_QUEUE_WAITED when the route may
 * wait (*budget ms) and got a waiting slot (give it back with
 * reg_slot_leave), REG_QUEUE_RETRY for "Prefer: respond-async" alone,
 * REG_QUEUE_ONCE for a default request that answers 202 at once.
 * *asked: the client sent respond-async.
 */
static enum reg_queue plan_queue(struct clr_req *r, long *budget, int *asked)
{
	const struct reg_app *app = r->app;

	*budget = reg_wait_budget(r, app->cfg, asked);
	if (*budget > 0 && reg_slot_enter(app->cfg))
		return REG_QUEUE_WAITED;
	return *asked && *budget == 0 ? REG_QUEUE_RETRY : REG_QUEUE_ONCE;
}

static void reply_queued(struct clr_req *r, json_t *view, const char *job, int asked_async)
{
	char loc[64];

	json_object_set_new(view, "job_id", json_string(job));
	snprintf(loc, sizeof(loc), "/v1/registrations/%s",
		 json_string_value(json_object_get(view, "id")));
	clr_resp_header(r, "Location", loc);
	if (asked_async)
		clr_resp_header(r, "Preference-Applied", "respond-async");
	clr_resp_json(r, 202, view);
}

/*
 * The answer for a registration whose job the route waited for: 201 with
 * the secret (taken with the one-time pickup, so it is shown only here),
 * the job's error as the synchronous call gave it (a refused registration
 * leaves nothing behind), or 202 while it runs.  queued (steals) is the
 * view as queued, with its grants.
 */
static void reply_waited(struct clr_req *r, json_t *queued, const char *job, long budget)
{
	const char *id = json_string_value(json_object_get(queued, "id"));
	const char *p[1] = {id};
	struct clr_err e = {0};
	json_t *view = NULL, *sec = NULL;

	switch (reg_wait_job(r->db, job, budget, &e)) {
	case REG_WAIT_FAILED:
		if (clr_db_exec(r->db, "reg_rg_forget_failed", 1, p, NULL) != CLR_OK)
			clr_log_req(r, CLR_LOG_WARN, "registration %s: failed row not removed", id);
		clr_resp_fail(r, &e);
		break;
	case REG_WAIT_DONE:
		/* Done but not active (parked when a crashed run resumed): 202 shows the row. */
		if (reg_op_take_secret(r->app, r->db, id, &sec, &e) == CLR_OK) {
			/* Taken: it must go out now, on the queued view if need be. */
			if ((view = view_of(r->db, id)) == NULL)
				view = json_incref(queued);
			json_object_set(view, "client_secret",
					json_object_get(sec, "client_secret"));
			json_object_del(view, "grants");
			if (json_object_get(queued, "grants") != NULL)
				json_object_set(view, "grants", json_object_get(queued, "grants"));
			if (json_object_get(queued, "grants_error") != NULL)
				json_object_set(view, "grants_error",
						json_object_get(queued, "grants_error"));
			clr_resp_json(r, 201, view);
			break;
		}
		/* fall through */
	case REG_WAIT_PENDING:
		view = view_of(r->db, id);
		reply_queued(r, view != NULL ? view : json_incref(queued), job, 0);
		break;
	}
	json_decref(sec);
	json_decref(queued);
}

/*
 * The registration queued as a register job (the IdP is never called on
 * this thread): answered 202 at once (Prefer: respond-async, or every
 * waiting slot taken), or after waiting up to `budget` ms for the job.
 */
static void create_queued(struct clr_req *r, const struct reg_request *req, json_t *grants)
{
	const struct reg_app *app = r->app;
	struct clr_err e = {0};
	json_t *view = NULL;
	enum reg_queue how;
	char job[37];
	int asked = 0, waiting;
	long budget;

	how = plan_queue(r, &budget, &asked);
	waiting = how == REG_QUEUE_WAITED;
	if (reg_op_register_async(app, r->db, req, how, &view, job, &e) != CLR_OK) {
		if (waiting)
			reg_slot_leave();
		clr_resp_fail(r, &e);
		return;
	}
	store_grants(r, view, grants);
	if (!waiting) {
		reply_queued(r, view, job, asked);
		return;
	}
	reply_waited(r, view, job, budget);
	reg_slot_leave();
}

void reg_h_regs_create(struct clr_req *r)
{
	struct clr_err e = {0};
	struct reg_request req = {0};
	json_t *grants = NULL;

	req.client_type_id = json_string_value(json_object_get(r->json, "client_type_id"));
	req.client_name = json_string_value(json_object_get(r->json, "client_name"));
	req.redirect_uris = json_object_get(r->json, "redirect_uris");
	if (json_is_null(req.redirect_uris))
		req.redirect_uris = NULL;
	req.scope = json_string_value(json_object_get(r->json, "scope"));
	/* Grants are checked before the IdP is asked, stored once the row exists. */
	if (json_object_get(r->json, "grants") != NULL &&
	    reg_grants_check(r->db, json_object_get(r->json, "grants"), &grants, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	create_queued(r, &req, grants);
	json_decref(grants);
}

void reg_h_regs_list(struct clr_req *r)
{
	static const char *const names[3] = {"provider_id", "status", "client_type_id"};
	static const char *const statuses[] = {"pending", "active",   "failed",
					       "deleted", "orphaned", "outcome_unknown"};
	char *q[3] = {NULL}, lim[16], off[16];
	const char *p[5];
	PGresult *res = NULL;
	struct clr_err e = {0};
	size_t i;

	if (clr_req_query_enum(r, "status", statuses, 6, &q[1], &e) != CLR_OK)
		goto fail;
	for (i = 0; i < 3; i += 2) {
		if (clr_req_query(r, names[i], &q[i]) != CLR_OK) {
			clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", names[i],
				    "query parameter %s is malformed", names[i]);
			goto fail;
		}
	}
	for (i = 0; i < 3; i += 2) {
		if (q[i] != NULL && !clr_uuid_valid(q[i])) {
			clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", names[i],
				    "%s must be a uuid", names[i]);
			goto fail;
		}
	}
	if (clr_req_paging(r, lim, off, &e) != CLR_OK)
		goto fail;
	p[0] = q[0];
	p[1] = q[1];
	p[2] = q[2];
	p[3] = lim;
	p[4] = off;
	if ((e.rc = clr_db_exec(r->db, "reg_rg_list", 5, p, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "listing registrations failed");
		goto fail;
	}
	clr_resp_json(r, 200, json_pack("{s:o}", "registrations", reg_rows_json(res)));
	goto out;
fail:
	clr_resp_fail(r, &e);
out:
	PQclear(res);
	for (i = 0; i < 3; i++)
		free(q[i]);
}

void reg_h_regs_get(struct clr_req *r)
{
	reg_get_one(r, "registration", "reg_rg_get");
}

static const struct clr_field put_fields[] = {
    {"client_type_id", CLR_FT_STR, 0, 0, 1, 64, 0, 0},
    {"client_name", CLR_FT_STR, 1, 0, 1, 200, 0, 0},
    {"redirect_uris", CLR_FT_STRARR, 0, 1, 1, 2048, REG_MAX_REDIRECT_URIS, 0},
    {"scope", CLR_FT_STR, 0, 1, 0, 1000, 0, 0},
};

const struct clr_body reg_body_registration_put =
    CLR_BODY(put_fields, 0, "invalid_client_metadata");

void reg_h_regs_put(struct clr_req *r)
{
	const struct reg_app *app = r->app;
	const char *id = clr_req_param_id(r, 0, "registration");
	struct reg_request req = {0};
	struct clr_err e = {0};
	enum reg_wait_end end = REG_WAIT_PENDING;
	enum reg_queue how;
	json_t *view = NULL, *sec = NULL;
	char job[37], loc[64];
	int asked = 0, waiting;
	long budget;

	if (id == NULL)
		return;
	/* RFC 7592 replaces the metadata: what is absent is cleared. */
	req.client_type_id = json_string_value(json_object_get(r->json, "client_type_id"));
	req.client_name = json_string_value(json_object_get(r->json, "client_name"));
	req.redirect_uris = json_object_get(r->json, "redirect_uris");
	if (!json_is_array(req.redirect_uris))
		req.redirect_uris = NULL;
	req.scope = json_string_value(json_object_get(r->json, "scope"));
	/* Queued like a registration (create_queued): the IdP is called by a job worker. */
	how = plan_queue(r, &budget, &asked);
	waiting = how == REG_QUEUE_WAITED;
	if (reg_op_update_async(app, r->db, id, &req, how, job, &e) != CLR_OK) {
		if (waiting)
			reg_slot_leave();
		clr_resp_fail(r, &e);
		return;
	}
	if (waiting) {
		end = reg_wait_job(r->db, job, budget, &e);
		reg_slot_leave();
	}
	if (end == REG_WAIT_FAILED) {
		clr_resp_fail(r, &e);
		return;
	}
	if (end == REG_WAIT_DONE && (view = view_of(r->db, id)) != NULL) {
		/* A secret the IdP issued with the update (Glewlwyd), shown here once. */
		if (reg_op_take_secret(app, r->db, id, &sec, &e) == CLR_OK)
			json_object_set(view, "client_secret",
					json_object_get(sec, "client_secret"));
		json_decref(sec);
		clr_log_req(r, CLR_LOG_INFO, "registration %s updated by %s", id, r->who.name);
		clr_resp_json(r, 200, view);
		return;
	}
	snprintf(loc, sizeof(loc), "/v1/jobs/%s", job);
	clr_resp_header(r, "Location", loc);
	if (asked)
		clr_resp_header(r, "Preference-Applied", "respond-async");
	clr_resp_json(r, 202, json_pack("{s:s, s:s}", "id", id, "job_id", job));
}

void reg_h_regs_delete(struct clr_req *r)
{
	const struct reg_app *app = r->app;
	const char *id = clr_req_param_id(r, 0, "registration");
	struct clr_err e = {0};
	enum reg_wait_end end = REG_WAIT_PENDING;
	enum reg_queue how;
	json_t *view = NULL;
	char job[37], loc[64];
	int asked = 0, waiting;
	long budget;

	if (id == NULL)
		return;
	/* Queued like a registration (create_queued): the IdP is called by a job worker. */
	how = plan_queue(r, &budget, &asked);
	waiting = how == REG_QUEUE_WAITED;
	if (reg_op_delete_async(app, r->db, id, how, job, &e) != CLR_OK) {
		if (waiting)
			reg_slot_leave();
		clr_resp_fail(r, &e);
		return;
	}
	if (job[0] == '\0') {
		end = REG_WAIT_DONE; /* deleted already */
	} else if (waiting) {
		end = reg_wait_job(r->db, job, budget, &e);
	}
	if (waiting)
		reg_slot_leave();
	if (end == REG_WAIT_FAILED) {
		clr_resp_fail(r, &e);
		return;
	}
	if (end == REG_WAIT_DONE) {
		const char *st;

		view = view_of(r->db, id);
		st = json_string_value(json_object_get(view, "status"));
		/* Not deleted at the IdP, but out of service here: the admin must know. */
		if (st != NULL && strcmp(st, "orphaned") == 0) {
			clr_resp_json(r, 200, view);
			return;
		}
		json_decref(view);
		clr_resp_empty(r, 204);
		return;
	}
	snprintf(loc, sizeof(loc), "/v1/jobs/%s", job);
	clr_resp_header(r, "Location", loc);
	if (asked)
		clr_resp_header(r, "Preference-Applied", "respond-async");
	clr_resp_json(r, 202, json_pack("{s:s, s:s}", "id", id, "job_id", job));
}

void reg_h_regs_rotate(struct clr_req *r)
{
	const struct reg_app *app = r->app;
	const char *id = clr_req_param_id(r, 0, "registration");
	struct clr_err e = {0};
	json_t *view = NULL, *sec = NULL;
	enum reg_wait_end end = REG_WAIT_PENDING;
	enum reg_queue how;
	char job[37], loc[64];
	int asked = 0, waiting;
	long budget;

	if (id == NULL)
		return;
	/* Queued like a registration (create_queued): the IdP is called by a job worker. */
	how = plan_queue(r, &budget, &asked);
	waiting = how == REG_QUEUE_WAITED;
	if (reg_op_rotate_async(app, r->db, id, how, job, &e) != CLR_OK) {
		if (waiting)
			reg_slot_leave();
		clr_resp_fail(r, &e);
		return;
	}
	if (waiting) {
		end = reg_wait_job(r->db, job, budget, &e);
		reg_slot_leave();
	}
	if (end == REG_WAIT_FAILED) {
		clr_resp_fail(r, &e);
		return;
	}
	/* The new secret, shown here once (the job offered it for one pickup). */
	if (end == REG_WAIT_DONE && reg_op_take_secret(app, r->db, id, &sec, &e) == CLR_OK) {
		if ((view = view_of(r->db, id)) == NULL)
			view = json_pack("{s:s}", "id", id);
		json_object_set(view, "client_secret", json_object_get(sec, "client_secret"));
		json_decref(sec);
		clr_resp_json(r, 200, view);
		return;
	}
	json_decref(sec);
	snprintf(loc, sizeof(loc), "/v1/jobs/%s", job);
	clr_resp_header(r, "Location", loc);
	if (asked)
		clr_resp_header(r, "Preference-Applied", "respond-async");
	clr_resp_json(r, 202, json_pack("{s:s, s:s}", "id", id, "job_id", job));
}

static const struct clr_field resolve_fields[] = {
    {"action", CLR_FT_STR, 1, 0, 1, 16, 0, 0},
    {"client_id", CLR_FT_STR, 0, 1, 1, 512, 0, 0},
    {"registration_access_token", CLR_FT_STR, 0, 1, 1, 4096, 0, 0},
    {"registration_client_uri", CLR_FT_STR, 0, 1, 1, 2048, 0, 0},
    {"client_secret", CLR_FT_STR, 0, 1, 1, 1024, 0, 0},
};
const struct clr_body reg_body_registration_resolve =
    CLR_BODY(resolve_fields, 0, "invalid_request");

void reg_h_regs_resolve(struct clr_req *r)
{
	const char *id = clr_req_param_id(r, 0, "registration");
	const char *action;
	struct reg_resolution how = {0};
	struct clr_err e = {0};
	json_t *view = NULL;

	if (id == NULL)
		return;
	action = json_string_value(json_object_get(r->json, "action"));
	if (action == NULL || (strcmp(action, "adopt") != 0 && strcmp(action, "gone") != 0)) {
		clr_resp_error(r, 400, "invalid_request", "action must be \"adopt\" or \"gone\"");
		return;
	}
	how.adopt = strcmp(action, "adopt") == 0;
	how.client_id = json_string_value(json_object_get(r->json, "client_id"));
	how.registration_access_token =
	    json_string_value(json_object_get(r->json, "registration_access_token"));
	how.registration_client_uri =
	    json_string_value(json_object_get(r->json, "registration_client_uri"));
	how.client_secret = json_string_value(json_object_get(r->json, "client_secret"));
	if (reg_op_resolve(r->app, r->db, id, &how, &view, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	clr_log_req(r, CLR_LOG_INFO, "registration %s resolved (%s) by %s", id, action,
		    r->who.name);
	clr_resp_json(r, 200, view);
}

void reg_h_regs_secret(struct clr_req *r)
{
	const char *id = clr_req_param_id(r, 0, "registration");
	struct clr_err e = {0};
	json_t *out = NULL;

	if (id == NULL)
		return;
	if (reg_op_take_secret(r->app, r->db, id, &out, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	clr_log_req(r, CLR_LOG_INFO, "registration %s: client secret shown to %s", id, r->who.name);
	clr_resp_json(r, 200, out);
}
