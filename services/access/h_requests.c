/*
 * h_requests.c - the /v1/access-requests routes (the state machine itself
 * is in requests.c).
 *
 * Every transition locks the row (SELECT ... FOR UPDATE) and checks the
 * state inside one transaction, so a replayed or skipped transition is a
 * 409 and two admins clicking at once cannot both win.  The IdP work is
 * queued in the same transaction (the registrar's `provision` job), so the
 * job exists exactly when the approval committed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/jobs.h"
#include "clearance/log.h"
#include "clearance/util.h"
#include "apps.h"
#include "h_requests.h"
#include "requests.h"
#include "util.h"
#include "web.h"

static const struct clr_field create_fields[] = {
    {"product_id", CLR_FT_STR, 1, 0, 36, 36, 0, 0},
    {"plan_id", CLR_FT_STR, 1, 0, 36, 36, 0, 0},
    {"client_type_id", CLR_FT_STR, 1, 0, 36, 36, 0, 0},
    {"app_id", CLR_FT_STR, 0, 0, 36, 36, 0, 0},
    {"app", CLR_FT_OBJ, 0, 0, 0, 0, 0, 0},
};

static const struct clr_field reject_fields[] = {
    {"reason", CLR_FT_STR, 1, 0, 1, 2000, 0, 0},
};

static const struct clr_field revoke_fields[] = {
    {"reason", CLR_FT_STR, 0, 0, 1, 2000, 0, 0},
};
static const struct clr_body revoke_body = CLR_BODY(revoke_fields, 0, NULL);

const struct clr_body acc_body_request_create = CLR_BODY(create_fields, 0, NULL);
const struct clr_body acc_body_request_reject = CLR_BODY(reject_fields, 0, NULL);

static const char *str_of(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "";
}

/* Locks request id as the caller may see it; *out its view (new). */
static enum clr_rc req_lock(struct clr_req *r, const char *id, json_t **out, struct clr_err *e)
{
	const char *p[2] = {id, acc_dev_id(r)};
	enum clr_rc rc;

	if (!acc_is_admin(r) && p[1] == NULL)
		return clr_err_set(e, CLR_ERR_NOTFOUND, "not_found", NULL,
				   "no such access request");
	rc = acc_db_json(r->db, "acc_req_lock", 2, p, out, e);
	if (rc == CLR_ERR_NOTFOUND)
		clr_err_set(e, rc, "not_found", NULL, "no such access request");
	return rc;
}

static enum clr_rc req_view(struct clr_req *r, const char *id, json_t **out, struct clr_err *e)
{
	const char *p[2] = {id, acc_dev_id(r)};

	return acc_db_json(r->db, "acc_req_get", 2, p, out, e);
}

void acc_h_reqs_create(struct clr_req *r)
{
	struct clr_err e = {0};
	const json_t *appo = json_object_get(r->json, "app");
	const char *app_id = json_string_value(json_object_get(r->json, "app_id"));
	const char *p[5];
	char id[37];
	json_t *app = NULL, *rq = NULL, *vars = NULL;
	PGresult *combo = NULL, *admins = NULL;
	int autoapp, i;

	if (!acc_is_dev(r)) {
		clr_resp_error(r, 403, "forbidden", "only developers request access");
		return;
	}
	if (!acc_web_require_verified(r)) /* web.c; answers 403 itself */
		return;
	if ((app_id == NULL) == (appo == NULL)) {
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", "app_id",
			    "give exactly one of app_id and app");
		goto fail;
	}
	for (i = 0; i < 4; i++) {
		static const char *const f[4] = {"product_id", "plan_id", "client_type_id",
						 "app_id"};
		const char *v = json_string_value(json_object_get(r->json, f[i]));

		if (v != NULL && !clr_uuid_valid(v)) {
			clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", f[i], "%s must be an id",
				    f[i]);
			goto fail;
		}
	}
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (appo != NULL) {
		if (acc_app_insert(r->db, acc_dev_id(r), appo, &app, &e) != CLR_OK)
			goto fail;
		app_id = json_string_value(json_object_get(app, "id"));
	} else {
		/*
		 * Locked, not just read: an app deletion running at the same time
		 * lists the app's live requests and would miss this one, leaving
		 * a live request (and later a client) on a deleted app.  Holding
		 * the lock makes the deletion wait, or this see it as gone.
		 */
		p[0] = app_id;
		p[1] = acc_dev_id(r);
		if (acc_db_json(r->db, "acc_app_lock", 2, p, &app, &e) != CLR_OK) {
			if (e.rc == CLR_ERR_NOTFOUND)
				clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", "app_id",
					    "no such app");
			goto fail;
		}
	}
	p[0] = json_string_value(json_object_get(r->json, "product_id"));
	p[1] = json_string_value(json_object_get(r->json, "plan_id"));
	p[2] = json_string_value(json_object_get(r->json, "client_type_id"));
	if ((e.rc = clr_db_exec(r->db, "acc_combo", 3, p, &combo)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "checking the product failed");
		goto fail;
	}
	if (PQntuples(combo) != 1) {
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", "product_id",
			    "the product does not exist, is not open for requests, or does not "
			    "offer this plan or client type");
		goto fail;
	}
	autoapp = strcmp(PQgetvalue(combo, 0, 0), "t") == 0;
	if (strcmp(PQgetvalue(combo, 0, 1), "t") == 0 &&
	    json_array_size(json_object_get(app, "redirect_uris")) == 0) {
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_redirect_uri", "redirect_uris",
			    "this client type signs users in through a redirect: give the app "
			    "at least one redirect URI first");
		goto fail;
	}
	if ((e.rc = clr_uuid_new(id)) != CLR_OK)
		goto fail;
	{
		const char *q[6] = {id, acc_dev_id(r), app_id, p[0], p[1], p[2]};

		if (acc_db_do(r->db, "acc_req_insert", 6, q, NULL, "storing the request", &e) !=
		    CLR_OK) {
			if (e.rc == CLR_ERR_CONFLICT)
				clr_err_set(&e, CLR_ERR_CONFLICT, "conflict", "product_id",
					    "this app already has a live request for this product");
			goto fail;
		}
	}
	if (autoapp) {
		if (acc_req_provision(r->db, id, "auto_approve", &e) != CLR_OK)
			goto fail;
	}
	{
		const char *q[2] = {id, NULL};

		if (acc_db_json(r->db, "acc_req_get", 2, q, &rq, &e) != CLR_OK)
			goto fail;
	}
	if ((e.rc = acc_emit(r->db, "access_request.created", rq)) != CLR_OK)
		goto store;
	if (autoapp) {
		if ((e.rc = acc_emit(r->db, "access_request.approved", rq)) != CLR_OK)
			goto store;
	} else {
		if ((e.rc = clr_db_exec(r->db, "acc_admin_emails", 0, NULL, &admins)) != CLR_OK)
			goto store;
		vars = acc_req_mail_vars(rq, NULL);
		for (i = 0; vars != NULL && i < PQntuples(admins); i++) {
			if ((e.rc = acc_mail(r->db, PQgetvalue(admins, i, 0), "request_submitted",
					     vars)) != CLR_OK)
				goto store;
		}
	}
	if ((e.rc = clr_db_commit(r->db)) != CLR_OK)
		goto store;
	clr_log_req(r, CLR_LOG_INFO, "access request %s created by developer %s%s", id,
		    acc_dev_id(r), autoapp ? " (auto-approved)" : "");
	clr_resp_json(r, 201, rq);
	rq = NULL;
	goto out;
store:
	clr_err_set(&e, e.rc ? e.rc : CLR_ERR_NOMEM, NULL, NULL, "the request could not be stored");
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	PQclear(combo);
	PQclear(admins);
	json_decref(app);
	json_decref(rq);
	json_decref(vars);
}

void acc_h_reqs_list(struct clr_req *r)
{
	static const char *const states[] = {"pending", "provisioning", "active",
					     "failed",	"rejected",	"revoked"};
	struct clr_err e = {0};
	char lim[16], off[16], *status = NULL, *app = NULL;
	const char *p[5];
	json_t *out = NULL;

	if (!acc_is_admin(r) && acc_dev_id(r) == NULL) {
		clr_resp_error(r, 403, "forbidden", "no account behind this token");
		return;
	}
	if (clr_req_paging(r, lim, off, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	if (clr_req_query_enum(r, "status", states, 6, &status, &e) != CLR_OK)
		goto fail;
	if (clr_req_query(r, "app_id", &app) != CLR_OK) {
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", "app_id",
			    "malformed query string");
		goto fail;
	}
	if (app != NULL && !clr_uuid_valid(app)) {
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", "app_id", "app_id must be an id");
		goto fail;
	}
	p[0] = acc_dev_id(r);
	p[1] = status;
	p[2] = app;
	p[3] = lim;
	p[4] = off;
	if (acc_db_json_list(r->db, "acc_reqs_list", 5, p, &out, &e) != CLR_OK)
		goto fail;
	clr_resp_json(r, 200, json_pack("{s:o}", "access_requests", out));
	goto out;
fail:
	clr_resp_fail(r, &e);
out:
	free(status);
	free(app);
}

void acc_h_reqs_get(struct clr_req *r)
{
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, "access request");
	json_t *out = NULL;

	if (id == NULL)
		return;
	if (!acc_is_admin(r) && acc_dev_id(r) == NULL) {
		clr_resp_error(r, 404, "not_found", "no such access request");
		return;
	}
	if (req_view(r, id, &out, &e) != CLR_OK) {
		if (e.rc == CLR_ERR_NOTFOUND)
			clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", NULL,
				    "no such access request");
		clr_resp_fail(r, &e);
		return;
	}
	clr_resp_json(r, 200, out);
}

/*
 * The shared shape of a transition: lock, check the state is `from`, do
 * `step`, audit, commit, answer with the new view.
 */
typedef enum clr_rc (*transition_fn)(struct clr_req *r, const char *id, json_t *rq,
				     const json_t *body, struct clr_err *e);

static void transition(struct clr_req *r, const char *from, const char *action, const json_t *body,
		       transition_fn step)
{
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, "access request");
	json_t *rq = NULL, *out = NULL;
	const char *status;

	if (id == NULL)
		return;
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (req_lock(r, id, &rq, &e) != CLR_OK)
		goto fail;
	status = str_of(rq, "status");
	if (strcmp(status, from) != 0) {
		clr_err_set(&e, CLR_ERR_CONFLICT, "conflict", "status",
			    "the request is %s; this needs it %s", status, from);
		goto fail;
	}
	if (step(r, id, rq, body, &e) != CLR_OK)
		goto fail;
	if (req_view(r, id, &out, &e) != CLR_OK)
		goto fail;
	if ((e.rc = acc_audit(r, action, "access_request", id,
			      body != NULL ? json_deep_copy(body) : NULL)) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the change could not be stored");
		goto fail;
	}
	clr_log_req(r, CLR_LOG_INFO, "access request %s: %s by %s", id, action, r->who.token_id);
	clr_resp_json(r, 200, out);
	out = NULL;
	goto out;
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	json_decref(rq);
	json_decref(out);
}

static enum clr_rc step_approve(struct clr_req *r, const char *id, json_t *rq, const json_t *body,
				struct clr_err *e)
{
	enum clr_rc rc;

	(void)body;
	if ((rc = acc_req_provision(r->db, id, r->who.name, e)) != CLR_OK)
		return rc;
	if ((rc = acc_emit(r->db, "access_request.approved", rq)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "queueing the event failed");
	return CLR_OK;
}

static enum clr_rc step_reject(struct clr_req *r, const char *id, json_t *rq, const json_t *body,
			       struct clr_err *e)
{
	const char *p[3] = {id, str_of(body, "reason"), r->who.name};
	enum clr_rc rc;

	if ((rc = acc_db_do(r->db, "acc_req_reject", 3, p, NULL, "rejecting", e)) != CLR_OK)
		return rc;
	json_object_set_new(rq, "status", json_string("rejected"));
	json_object_set_new(rq, "reason", json_string(p[1]));
	if ((rc = acc_req_notify(r->db, rq, "request_rejected", "access_request.rejected", p[1])) !=
	    CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "queueing the notifications failed");
	return CLR_OK;
}

static enum clr_rc step_revoke(struct clr_req *r, const char *id, json_t *rq, const json_t *body,
			       struct clr_err *e)
{
	(void)rq;
	return acc_req_revoke(r->db, id, body != NULL ? str_of(body, "reason") : NULL, r->who.name,
			      e);
}

static enum clr_rc step_retry(struct clr_req *r, const char *id, json_t *rq, const json_t *body,
			      struct clr_err *e)
{
	(void)rq;
	(void)body;
	return acc_req_provision(r->db, id, r->who.name, e);
}

void acc_h_reqs_approve(struct clr_req *r)
{
	transition(r, "pending", "access_request.approve", NULL, step_approve);
}

void acc_h_reqs_reject(struct clr_req *r)
{
	transition(r, "pending", "access_request.reject", r->json, step_reject);
}

void acc_h_reqs_revoke(struct clr_req *r)
{
	struct clr_err e = {0};
	json_t *body = NULL;

	if (acc_optional_body(r, &body, &e) != CLR_OK ||
	    (body != NULL && clr_fields_check(body, &revoke_body, &e) != CLR_OK)) {
		json_decref(body);
		clr_resp_fail(r, &e);
		return;
	}
	transition(r, "active", "access_request.revoke", body, step_revoke);
	json_decref(body);
}

void acc_h_reqs_retry(struct clr_req *r)
{
	transition(r, "failed", "access_request.retry", NULL, step_retry);
}
