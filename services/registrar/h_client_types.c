/*
 * h_client_types.c - client types: the RFC 7591 metadata a registration on
 * a provider gets (response_types, grant_types, token_endpoint_auth_method,
 * Okta application_type).
 *
 * Values come from the IANA "OAuth Dynamic Client Registration Metadata"
 * registries, and their combination is checked as RFC 7591 s.2.1 relates
 * grant types and response types, so an inconsistent type is refused here
 * rather than by the IdP at approval time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/log.h"
#include "h_client_types.h"
#include "routes.h"
#include "store.h"
#include "validate.h"

static const struct clr_field ct_fields[] = {
    {"display_name", CLR_FT_STR, 1, 0, 1, 200, 0, 0},
    {"description", CLR_FT_STR, 0, 1, 0, 2000, 0, 1},
    {"response_types", CLR_FT_STRARR, 0, 0, 1, 64, 8, 0},
    {"grant_types", CLR_FT_STRARR, 1, 0, 1, 128, 9, 0},
    {"token_endpoint_auth_method", CLR_FT_STR, 1, 0, 1, 64, 0, 0},
    {"okta_application_type", CLR_FT_STR, 0, 1, 1, 16, 0, 0},
};
const struct clr_body reg_body_ctype_create = CLR_BODY(ct_fields, 0, "invalid_client_metadata");
const struct clr_body reg_body_ctype_patch = CLR_BODY(ct_fields, 1, "invalid_client_metadata");

static void reply_row(struct clr_req *r, int status, PGresult *res)
{
	if (PQntuples(res) != 1)
		clr_resp_error(r, 404, "not_found", "no such client type");
	else
		clr_resp_json(r, status, reg_row_json(res, 0));
}

/* Runs a statement returning one client type row and answers with it. */
static void write_ct(struct clr_req *r, const char *stmt, const char *const *p, int status)
{
	PGresult *res = NULL;
	struct clr_err e = {0};
	enum clr_rc rc = clr_db_exec(r->db, stmt, 7, p, &res);

	if (rc == CLR_ERR_CONFLICT) {
		clr_resp_error(r, 409, "conflict",
			       "the provider already has a client type with this display_name");
		return;
	}
	if (rc != CLR_OK) {
		clr_err_set(&e, rc, NULL, NULL, "storing the client type failed");
		clr_resp_fail(r, &e);
		return;
	}
	reply_row(r, status, res);
	PQclear(res);
}

void reg_h_ctypes_create(struct clr_req *r)
{
	const char *pid = clr_req_param_id(r, 0, "provider");
	const json_t *b = r->json;
	struct clr_err e = {0};
	json_t *rt = NULL;
	char *rts = NULL, *gts = NULL;
	const char *v[1], *p[7];
	PGresult *res = NULL;

	if (pid == NULL)
		return;
	rt = json_object_get(b, "response_types");
	rt = rt != NULL ? json_incref(rt) : json_array();
	if (reg_ctype_validate(rt, json_object_get(b, "grant_types"),
			       json_string_value(json_object_get(b, "token_endpoint_auth_method")),
			       json_string_value(json_object_get(b, "okta_application_type")),
			       &e) != CLR_OK)
		goto fail;
	v[0] = pid;
	if ((e.rc = clr_db_exec(r->db, "reg_pv_get", 1, v, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "reading the provider failed");
		goto fail;
	}
	if (PQntuples(res) != 1) {
		clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such provider");
		goto fail;
	}
	rts = json_dumps(rt, JSON_COMPACT);
	gts = json_dumps(json_object_get(b, "grant_types"), JSON_COMPACT);
	if (rts == NULL || gts == NULL) {
		clr_err_set(&e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto fail;
	}
	p[0] = pid;
	p[1] = json_string_value(json_object_get(b, "display_name"));
	p[2] = json_string_value(json_object_get(b, "description"));
	if (p[2] == NULL)
		p[2] = "";
	p[3] = rts;
	p[4] = gts;
	p[5] = json_string_value(json_object_get(b, "token_endpoint_auth_method"));
	p[6] = json_string_value(json_object_get(b, "okta_application_type"));
	write_ct(r, "reg_ct_insert", p, 201);
	goto out;
fail:
	clr_resp_fail(r, &e);
out:
	PQclear(res);
	json_decref(rt);
	free(rts);
	free(gts);
}

void reg_h_ctypes_list(struct clr_req *r)
{
	const char *pid = clr_req_param_id(r, 0, "provider");
	const char *v[1];
	PGresult *res = NULL;
	struct clr_err e = {0};

	if (pid == NULL)
		return;
	v[0] = pid;
	if ((e.rc = clr_db_exec(r->db, "reg_pv_get", 1, v, &res)) != CLR_OK)
		goto dbfail;
	if (PQntuples(res) != 1) {
		clr_resp_error(r, 404, "not_found", "no such provider");
		goto out;
	}
	PQclear(res);
	res = NULL;
	if ((e.rc = clr_db_exec(r->db, "reg_ct_list", 1, v, &res)) != CLR_OK)
		goto dbfail;
	clr_resp_json(r, 200, json_pack("{s:o}", "client_types", reg_rows_json(res)));
	goto out;
dbfail:
	clr_err_set(&e, e.rc, NULL, NULL, "listing client types failed");
	clr_resp_fail(r, &e);
out:
	PQclear(res);
}

void reg_h_ctypes_get(struct clr_req *r)
{
	reg_get_one(r, "client type", "reg_ct_get");
}

void reg_h_ctypes_patch(struct clr_req *r)
{
	const char *id = clr_req_param_id(r, 0, "client type");
	const json_t *b = r->json;
	const char *v[1], *p[7];
	PGresult *res = NULL;
	struct clr_err e = {0};
	json_t *cur = NULL, *rt, *gt, *j;
	char *rts = NULL, *gts = NULL;
	const char *auth, *okta;

	if (id == NULL)
		return;
	if (json_is_null(json_object_get(b, "display_name"))) {
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_client_metadata", "display_name",
			    "display_name cannot be removed");
		goto fail;
	}
	if (clr_db_begin(r->db) != CLR_OK) {
		clr_err_set(&e, CLR_ERR_DB, NULL, NULL, "database unavailable");
		goto fail;
	}
	v[0] = id;
	if ((e.rc = clr_db_exec(r->db, "reg_ct_get_lock", 1, v, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "reading the client type failed");
		goto fail;
	}
	if (PQntuples(res) != 1) {
		clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such client type");
		goto fail;
	}
	cur = reg_row_json(res, 0);
	if (cur == NULL) {
		clr_err_set(&e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto fail;
	}
	/* Merge: fields present in the body win, null clears the optional ones. */
	json_object_update_existing(cur, (json_t *)b);
	if (json_is_null(json_object_get(cur, "description")))
		json_object_set_new(cur, "description", json_string(""));
	rt = json_object_get(cur, "response_types");
	gt = json_object_get(cur, "grant_types");
	auth = json_string_value(json_object_get(cur, "token_endpoint_auth_method"));
	j = json_object_get(cur, "okta_application_type");
	okta = json_string_value(j);
	if (reg_ctype_validate(rt, gt, auth, okta, &e) != CLR_OK)
		goto fail;
	rts = json_dumps(rt, JSON_COMPACT);
	gts = json_dumps(gt, JSON_COMPACT);
	if (rts == NULL || gts == NULL) {
		clr_err_set(&e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto fail;
	}
	p[0] = id;
	p[1] = json_string_value(json_object_get(cur, "display_name"));
	p[2] = json_string_value(json_object_get(cur, "description"));
	p[3] = rts;
	p[4] = gts;
	p[5] = auth;
	p[6] = okta;
	PQclear(res);
	res = NULL;
	if ((e.rc = clr_db_exec(r->db, "reg_ct_update", 7, p, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, e.rc == CLR_ERR_CONFLICT ? "conflict" : NULL, NULL,
			    e.rc == CLR_ERR_CONFLICT
				? "the provider already has a client type with this display_name"
				: "storing the client type failed");
		goto fail;
	}
	if ((e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "storing the client type failed");
		goto fail;
	}
	/* Existing registrations keep their IdP metadata until they are updated (PUT). */
	reply_row(r, 200, res);
	goto out;
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	PQclear(res);
	json_decref(cur);
	free(rts);
	free(gts);
}

void reg_h_ctypes_delete(struct clr_req *r)
{
	const char *id = clr_req_param_id(r, 0, "client type");
	const char *v[1];
	PGresult *res = NULL;
	struct clr_err e = {0};
	long live;

	if (id == NULL)
		return;
	v[0] = id;
	if (clr_db_begin(r->db) != CLR_OK) {
		clr_err_set(&e, CLR_ERR_DB, NULL, NULL, "database unavailable");
		goto fail;
	}
	if ((e.rc = clr_db_exec(r->db, "reg_ct_get_lock", 1, v, &res)) != CLR_OK)
		goto dbfail;
	if (PQntuples(res) != 1) {
		clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such client type");
		goto fail;
	}
	PQclear(res);
	res = NULL;
	if ((e.rc = clr_db_exec(r->db, "reg_ct_in_use", 1, v, &res)) != CLR_OK)
		goto dbfail;
	live = atol(PQgetvalue(res, 0, 0));
	if (live > 0) {
		clr_err_set(&e, CLR_ERR_CONFLICT, "conflict", NULL,
			    "%ld pending, active or orphaned registrations use this client type",
			    live);
		goto fail;
	}
	if ((e.rc = clr_db_exec(r->db, "reg_ct_delete", 1, v, NULL)) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK)
		goto dbfail;
	clr_log_req(r, CLR_LOG_INFO, "client type %s deleted by %s", id, r->who.name);
	clr_resp_empty(r, 204);
	goto out;
dbfail:
	clr_err_set(&e, e.rc, NULL, NULL, "deleting the client type failed");
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	PQclear(res);
}
