/*
 * h_apps.c - a developer's apps and their credentials.
 *
 * Developers see and change only their own apps (the developer id is in
 * every WHERE clause: another developer's app is a 404).  Admins may read
 * apps but not change them, and never see credentials: those are for the
 * app's owner alone, and every read or rotation is audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/jobs.h"
#include "clearance/log.h"
#include "clearance/seal.h"
#include "clearance/util.h"
#include "access.h"
#include "apps.h"
#include "h_apps.h"
#include "requests.h"
#include "util.h"

static int dev_only(struct clr_req *r)
{
	if (acc_is_dev(r))
		return 1;
	clr_resp_error(r, 403, "forbidden", "only developers own apps");
	return 0;
}

void acc_h_apps_create(struct clr_req *r)
{
	struct clr_err e = {0};
	json_t *out = NULL;

	if (!dev_only(r))
		return;
	if (acc_app_insert(r->db, acc_dev_id(r), r->json, &out, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	/* The app is stored already: a failed audit row is logged, not answered. */
	if (acc_audit(r, "app.create", "app", json_string_value(json_object_get(out, "id")),
		      json_pack("{s:O?}", "name", json_object_get(out, "name"))) != CLR_OK)
		clr_log_req(r, CLR_LOG_WARN, "app created without its audit row");
	clr_resp_json(r, 201, out);
}

void acc_h_apps_list(struct clr_req *r)
{
	struct clr_err e = {0};
	char lim[16], off[16];
	const char *p[3];
	json_t *out = NULL;

	if (clr_req_paging(r, lim, off, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	p[0] = acc_dev_id(r);
	p[1] = lim;
	p[2] = off;
	if (!acc_is_admin(r) && p[0] == NULL) {
		clr_resp_error(r, 403, "forbidden", "no account behind this token");
		return;
	}
	if (acc_db_json_list(r->db, "acc_apps_list", 3, p, &out, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	clr_resp_json(r, 200, json_pack("{s:o}", "apps", out));
}

/* Loads app id as the caller may see it (developer: own only). */
static enum clr_rc app_load(struct clr_req *r, const char *id, const char *stmt, json_t **out,
			    struct clr_err *e)
{
	const char *p[2] = {id, acc_dev_id(r)};
	enum clr_rc rc;

	if (!acc_is_admin(r) && p[1] == NULL)
		return clr_err_set(e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such app");
	rc = acc_db_json(r->db, stmt, 2, p, out, e);
	if (rc == CLR_ERR_NOTFOUND)
		clr_err_set(e, rc, "not_found", NULL, "no such app");
	return rc;
}

void acc_h_apps_get(struct clr_req *r)
{
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, "app");
	json_t *out = NULL;

	if (id == NULL)
		return;
	if (app_load(r, id, "acc_app_get", &out, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	clr_resp_json(r, 200, out);
}

void acc_h_apps_patch(struct clr_req *r)
{
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, "app");
	const char *p[5];
	char *uris = NULL;
	json_t *out = NULL, *cur = NULL, *nu;

	if (id == NULL || !dev_only(r))
		return;
	if (acc_app_check(r->json, 1, &e) != CLR_OK)
		goto fail;
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (app_load(r, id, "acc_app_lock", &cur, &e) != CLR_OK)
		goto fail;
	nu = json_object_get(r->json, "redirect_uris");
	if (nu != NULL && (uris = json_dumps(nu, JSON_COMPACT)) == NULL) {
		clr_err_set(&e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto fail;
	}
	p[0] = id;
	p[1] = acc_dev_id(r);
	p[2] = json_string_value(json_object_get(r->json, "name"));
	p[3] = json_string_value(json_object_get(r->json, "description"));
	p[4] = uris;
	if (acc_db_json(r->db, "acc_app_update", 5, p, &out, &e) != CLR_OK)
		goto fail;
	if (nu != NULL && !json_equal(nu, json_object_get(cur, "redirect_uris")) &&
	    acc_app_update_clients(r->db, id, nu, &e) != CLR_OK)
		goto fail;
	if ((e.rc = acc_audit(r, "app.update", "app", id, NULL)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the audit row could not be written");
		goto fail;
	}
	if ((e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the app could not be stored");
		goto fail;
	}
	clr_resp_json(r, 200, out);
	out = NULL;
	goto out;
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	json_decref(out);
	json_decref(cur);
	free(uris);
}

void acc_h_apps_delete(struct clr_req *r)
{
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, "app");
	const char *p[2];
	PGresult *res = NULL;
	json_t *cur = NULL;
	int i;

	if (id == NULL || !dev_only(r))
		return;
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (app_load(r, id, "acc_app_lock", &cur, &e) != CLR_OK)
		goto fail;
	/* Every live request of the app ends with it; active ones lose their client. */
	if ((e.rc = clr_db_exec(r->db, "acc_app_live_requests", 1, &id, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "listing the app's requests failed");
		goto fail;
	}
	for (i = 0; i < PQntuples(res); i++) {
		if (acc_req_revoke(r->db, PQgetvalue(res, i, 0), "the app was deleted", r->who.name,
				   &e) != CLR_OK)
			goto fail;
	}
	p[0] = id;
	p[1] = acc_dev_id(r);
	if (acc_db_do(r->db, "acc_app_delete", 2, p, NULL, "deleting the app", &e) != CLR_OK)
		goto fail;
	if ((e.rc = acc_audit(r, "app.delete", "app", id,
			      json_pack("{s:O?}", "name", json_object_get(cur, "name")))) !=
	    CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the audit row could not be written");
		goto fail;
	}
	if ((e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the deletion could not be stored");
		goto fail;
	}
	clr_resp_empty(r, 204);
	goto out;
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	PQclear(res);
	json_decref(cur);
}

/* ---- credentials --------------------------------------------------------- */

void acc_h_creds_get(struct clr_req *r)
{
	const struct acc_app *app = r->app;
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, "app");
	const char *p[2];
	json_t *list = NULL, *cur = NULL, *c;
	char *secret = NULL;
	size_t i, slen = 0;
	const char *sealed, *reg_id;

	if (id == NULL)
		return;
	if (!acc_is_dev(r)) {
		clr_resp_error(r, 403, "forbidden",
			       "credentials are shown only to the app's owner");
		return;
	}
	if (app_load(r, id, "acc_app_get", &cur, &e) != CLR_OK)
		goto fail;
	p[0] = id;
	p[1] = acc_dev_id(r);
	if (acc_db_json_list(r->db, "acc_creds", 2, p, &list, &e) != CLR_OK)
		goto fail;
	json_array_foreach(list, i, c)
	{
		sealed = json_string_value(json_object_get(c, "client_secret_sealed"));
		reg_id = json_string_value(json_object_get(c, "registration_id"));
		if (sealed != NULL && reg_id != NULL) {
			if (clr_unseal(app->sealer, "registrations.client_secret", reg_id, sealed,
				       &secret, &slen) != CLR_OK) {
				clr_err_set(&e, CLR_ERR_INTERNAL, NULL, NULL,
					    "a stored client secret could not be unsealed");
				goto fail;
			}
			json_object_set_new(c, "client_secret", json_stringn(secret, slen));
			clr_unsealed_free(secret, slen);
			secret = NULL;
		} else {
			json_object_set_new(c, "client_secret", json_null());
		}
		json_object_del(c, "client_secret_sealed");
	}
	if ((e.rc = acc_audit(r, "credentials.read", "app", id,
			      json_pack("{s:I}", "clients", (json_int_t)json_array_size(list)))) !=
	    CLR_OK) {
		/* No audit row, no secrets: the trail must be complete. */
		clr_err_set(&e, e.rc, NULL, NULL, "the read could not be audited");
		goto fail;
	}
	clr_resp_header(r, "Cache-Control", "no-store");
	clr_resp_json(r, 200, json_pack("{s:s, s:o}", "app_id", id, "credentials", list));
	list = NULL;
	goto out;
fail:
	clr_resp_fail(r, &e);
out:
	json_decref(list);
	json_decref(cur);
}

void acc_h_creds_rotate(struct clr_req *r)
{
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, "app");
	const char *req_id = id != NULL ? clr_req_param_id(r, 1, "credential") : NULL;
	const char *p[3];
	char job_id[37];
	json_t *cur = NULL, *payload = NULL;

	if (req_id == NULL)
		return;
	if (!acc_is_dev(r)) {
		clr_resp_error(r, 403, "forbidden",
			       "credentials are rotated only by the app's owner");
		return;
	}
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	p[0] = id;
	p[1] = acc_dev_id(r);
	p[2] = req_id;
	if (acc_db_json(r->db, "acc_cred_lock", 3, p, &cur, &e) != CLR_OK) {
		if (e.rc == CLR_ERR_NOTFOUND)
			clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such credential");
		goto fail;
	}
	/* The job checks again; this only spares the developer a job bound to fail. */
	if (!json_is_true(json_object_get(cur, "can_rotate"))) {
		clr_err_set(&e, CLR_ERR_CONFLICT, "unsupported", NULL,
			    "this client's identity provider does not support secret rotation");
		goto fail;
	}
	/* The registrar rotates; the new secret's trigger settles credential.rotated. */
	payload = json_pack("{s:s}", "registration_id",
			    json_string_value(json_object_get(cur, "registration_id")));
	if (payload == NULL ||
	    (e.rc = clr_jobs_enqueue(r->db, "rotate", payload, job_id)) != CLR_OK) {
		clr_err_set(&e, payload == NULL ? CLR_ERR_NOMEM : e.rc, NULL, NULL,
			    "queueing the rotation failed");
		goto fail;
	}
	if ((e.rc = acc_audit(r, "credentials.rotate", "access_request", req_id,
			      json_pack("{s:s}", "app_id", id))) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the rotation could not be queued");
		goto fail;
	}
	clr_resp_json(r, 202,
		      json_pack("{s:s, s:s, s:s}", "job_id", job_id, "access_request_id", req_id,
				"status", "queued"));
	goto out;
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	json_decref(cur);
	json_decref(payload);
}
