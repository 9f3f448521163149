/*
 * h_registrations.c - the /v1/registrations routes: parse, call one
 * operation of registrations.c, render.  The client secret is shown in
 * exactly two responses: creation and rotation.
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

/* Adds the secret to view and answers; wipes the secret. */
static void reply_with_secret(struct clr_req *r, int status, json_t *view, char *secret)
{
	if (secret != NULL) {
		json_object_set_new(view, "client_secret", json_string(secret));
		clr_unsealed_free(secret, strlen(secret));
	}
	clr_resp_json(r, status, view);
}

/* RFC 7240: "Prefer: respond-async" asks for 202 and a job instead of waiting on the IdP. */
static int prefers_async(struct clr_req *r)
{
	const char *v = clr_req_env(r, "HTTP_PREFER");

	return v != NULL && strstr(v, "respond-async") != NULL;
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

/* The registration queued as a register job; answered at once with 202. */
static void create_async(struct clr_req *r, const struct reg_request *req, json_t *grants)
{
	struct clr_err e = {0};
	json_t *view = NULL;
	char job[37], loc[64];

	if (reg_op_register_async(r->app, r->db, req, &view, job, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	store_grants(r, view, grants);
	json_object_set_new(view, "job_id", json_string(job));
	snprintf(loc, sizeof(loc), "/v1/registrations/%s",
		 json_string_value(json_object_get(view, "id")));
	clr_resp_header(r, "Location", loc);
	clr_resp_header(r, "Preference-Applied", "respond-async");
	clr_resp_json(r, 202, view);
}

void reg_h_regs_create(struct clr_req *r)
{
	const struct reg_app *app = r->app;
	struct clr_err e = {0};
	struct reg_request req = {0};
	json_t *view = NULL, *grants = NULL;
	char *secret = NULL;

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
	if (prefers_async(r)) {
		create_async(r, &req, grants);
		goto out;
	}
	if (reg_op_register(app, r->db, r->http, NULL, &req, &view, &secret, &e) != CLR_OK) {
		if (strcmp(e.error, "outcome_unknown") == 0)
			reg_unknown_refresh(app, r->db);
		clr_resp_fail(r, &e);
		goto out;
	}
	store_grants(r, view, grants);
	reply_with_secret(r, 201, view, secret);
out:
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
	const char *id = clr_req_param_id(r, 0, "registration");
	struct reg_request req = {0};
	struct clr_err e = {0};
	json_t *view = NULL;
	char *secret = NULL;

	if (id == NULL)
		return;
	/* RFC 7592 replaces the metadata: what is absent is cleared. */
	req.client_type_id = json_string_value(json_object_get(r->json, "client_type_id"));
	req.client_name = json_string_value(json_object_get(r->json, "client_name"));
	req.redirect_uris = json_object_get(r->json, "redirect_uris");
	if (!json_is_array(req.redirect_uris))
		req.redirect_uris = NULL;
	req.scope = json_string_value(json_object_get(r->json, "scope"));
	if (reg_op_update_secret(r->app, r->db, r->http, id, &req, &view, &secret, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	clr_log_req(r, CLR_LOG_INFO, "registration %s updated by %s", id, r->who.name);
	reply_with_secret(r, 200, view, secret);
}

void reg_h_regs_delete(struct clr_req *r)
{
	const char *id = clr_req_param_id(r, 0, "registration");
	struct clr_err e = {0};
	json_t *view = NULL;
	int orphaned = 0;

	if (id == NULL)
		return;
	if (reg_op_delete(r->app, r->db, r->http, id, &orphaned, &view, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	if (orphaned) {
		/* Not deleted at the IdP, but out of service here: the admin must know. */
		clr_resp_json(r, 200, view);
		return;
	}
	json_decref(view);
	clr_resp_empty(r, 204);
}

void reg_h_regs_rotate(struct clr_req *r)
{
	const char *id = clr_req_param_id(r, 0, "registration");
	struct clr_err e = {0};
	json_t *view = NULL;
	char *secret = NULL;

	if (id == NULL)
		return;
	if (prefers_async(r)) {
		char job[37], loc[64];

		if (reg_op_rotate_async(r->app, r->db, id, job, &e) != CLR_OK) {
			clr_resp_fail(r, &e);
			return;
		}
		snprintf(loc, sizeof(loc), "/v1/jobs/%s", job);
		clr_resp_header(r, "Location", loc);
		clr_resp_header(r, "Preference-Applied", "respond-async");
		clr_resp_json(r, 202, json_pack("{s:s, s:s}", "id", id, "job_id", job));
		return;
	}
	if (reg_op_rotate(r->app, r->db, r->http, id, &view, &secret, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	reply_with_secret(r, 200, view, secret);
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
