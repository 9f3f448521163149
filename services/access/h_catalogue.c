/*
 * h_catalogue.c - products and plans (admins write, everyone reads) and
 * GET /v1/catalogue, what a developer may request.
 *
 * A product's plan and client-type links are replaced as a whole when
 * given, inside the same transaction as the product row, so a bad id
 * leaves nothing half-applied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/log.h"
#include "clearance/util.h"
#include "clearance/oauth.h"
#include "h_catalogue.h"
#include "util.h"

static const struct clr_field product_fields[] = {
    {"name", CLR_FT_STR, 1, 0, 1, 200, 0, 0},
    {"description", CLR_FT_STR, 0, 0, 0, 4000, 0, 1},
    {"path_prefixes", CLR_FT_STRARR, 0, 0, 1, 512, 32, 0},
    {"dcr_enabled", CLR_FT_BOOL, 0, 0, 0, 0, 0, 0},
    {"scopes", CLR_FT_STR, 0, 0, 0, 2000, 0, 0},
    {"client_type_ids", CLR_FT_STRARR, 0, 0, 36, 36, 64, 0},
    {"plan_ids", CLR_FT_STRARR, 0, 0, 36, 36, 64, 0},
    {"auto_approve", CLR_FT_BOOL, 0, 0, 0, 0, 0, 0},
};
#define NPRODUCT (sizeof(product_fields) / sizeof(product_fields[0]))

static const struct clr_field plan_fields[] = {
    {"name", CLR_FT_STR, 1, 0, 1, 200, 0, 0},
    {"description", CLR_FT_STR, 0, 0, 0, 4000, 0, 1},
    {"scopes", CLR_FT_STR, 0, 0, 0, 2000, 0, 0},
    {"rate_limit_requests", CLR_FT_INT, 0, 1, 1, 1000000000, 0, 0},
    {"rate_limit_window_seconds", CLR_FT_INT, 0, 1, 1, 31L * 86400, 0, 0},
    {"monthly_quota", CLR_FT_INT, 0, 1, 1, 1000000000000L, 0, 0},
};
#define NPLAN (sizeof(plan_fields) / sizeof(plan_fields[0]))

const struct clr_body acc_body_product_create = CLR_BODY(product_fields, 0, NULL);
const struct clr_body acc_body_product_patch = CLR_BODY(product_fields, 1, NULL);
const struct clr_body acc_body_plan_create = CLR_BODY(plan_fields, 0, NULL);
const struct clr_body acc_body_plan_patch = CLR_BODY(plan_fields, 1, NULL);

static enum clr_rc scopes_check(const json_t *body, struct clr_err *e)
{
	const char *s = json_string_value(json_object_get(body, "scopes"));

	if (s != NULL && !clr_scope_valid(s))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_scope", "scopes",
				   "scopes must be scope tokens separated by single spaces");
	return CLR_OK;
}

static enum clr_rc ids_check(const json_t *body, const char *field, struct clr_err *e)
{
	const json_t *a = json_object_get(body, field), *v;
	size_t i;

	json_array_foreach(a, i, v)
	{
		if (!clr_uuid_valid(json_string_value(v)))
			return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", field,
					   "%s must hold ids", field);
	}
	return CLR_OK;
}

static enum clr_rc prefixes_check(const json_t *body, struct clr_err *e)
{
	const json_t *a = json_object_get(body, "path_prefixes"), *v;
	const char *s;
	size_t i;

	json_array_foreach(a, i, v)
	{
		s = json_string_value(v);
		if (s[0] != '/' || strstr(s, "..") != NULL || strstr(s, "//") != NULL ||
		    strpbrk(s, "?# ") != NULL)
			return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "path_prefixes",
					   "path prefixes are absolute paths such as /payments/ "
					   "(no .., //, ?, # or spaces)");
	}
	return CLR_OK;
}

/* JSON text of member k, or NULL when absent. new (free()). */
static char *dump_member(const json_t *body, const char *k)
{
	const json_t *v = json_object_get(body, k);

	return v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static const char *bool_member(const json_t *body, const char *k)
{
	const json_t *v = json_object_get(body, k);

	return v == NULL ? NULL : json_is_true(v) ? "true" : "false";
}

/* Replaces the plan and client-type links that body names (in a tx). */
static enum clr_rc product_links(struct clr_db *db, const char *id, const json_t *body,
				 struct clr_err *e)
{
	char *ct = dump_member(body, "client_type_ids");
	char *pl = dump_member(body, "plan_ids");
	const char *p[2] = {id, NULL};
	enum clr_rc rc = CLR_OK;

	if (ct != NULL) {
		p[1] = ct;
		rc = acc_db_do(db, "acc_product_set_ctypes", 2, p, NULL, "linking client types", e);
		if (rc == CLR_ERR_PARAM)
			clr_err_set(e, rc, "invalid_request", "client_type_ids",
				    "client_type_ids names a client type that does not exist");
	}
	if (rc == CLR_OK && pl != NULL) {
		p[1] = pl;
		rc = acc_db_do(db, "acc_product_set_plans", 2, p, NULL, "linking plans", e);
		if (rc == CLR_OK) {
			int n = 0;

			rc = acc_db_do(db, "acc_product_plans_dead", 1, p, &n, "checking plans", e);
			if (rc == CLR_OK && n > 0)
				rc = CLR_ERR_PARAM;
		}
		if (rc == CLR_ERR_PARAM)
			clr_err_set(e, rc, "invalid_request", "plan_ids",
				    "plan_ids names a plan that does not exist");
	}
	free(ct);
	free(pl);
	return rc;
}

static void product_write(struct clr_req *r, const char *id)
{
	struct clr_err e = {0};
	const char *p[7];
	char *prefixes = NULL, newid[37];
	json_t *out = NULL, *cur = NULL;
	const char *scopes;
	int dcr;

	if (scopes_check(r->json, &e) != CLR_OK || prefixes_check(r->json, &e) != CLR_OK ||
	    ids_check(r->json, "client_type_ids", &e) != CLR_OK ||
	    ids_check(r->json, "plan_ids", &e) != CLR_OK)
		goto fail;
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (id != NULL) {
		if (acc_db_json(r->db, "acc_product_lock", 1, &id, &cur, &e) != CLR_OK)
			goto fail;
	} else {
		if ((e.rc = clr_uuid_new(newid)) != CLR_OK)
			goto fail;
		id = newid;
	}
	/* The rule spans two fields, old and new: check the result. */
	dcr = json_object_get(r->json, "dcr_enabled") != NULL
		  ? json_is_true(json_object_get(r->json, "dcr_enabled"))
		  : json_is_true(json_object_get(cur, "dcr_enabled"));
	scopes = json_string_value(json_object_get(r->json, "scopes"));
	if (scopes == NULL)
		scopes = json_string_value(json_object_get(cur, "scopes"));
	if (dcr && (scopes == NULL || scopes[0] == '\0')) {
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_scope", "scopes",
			    "a product with dcr_enabled needs at least one scope");
		goto fail;
	}
	prefixes = dump_member(r->json, "path_prefixes");
	p[0] = id;
	p[1] = json_string_value(json_object_get(r->json, "name"));
	p[2] = json_string_value(json_object_get(r->json, "description"));
	p[3] = prefixes;
	p[4] = bool_member(r->json, "dcr_enabled");
	p[5] = json_string_value(json_object_get(r->json, "scopes"));
	p[6] = bool_member(r->json, "auto_approve");
	if (acc_db_do(r->db, cur != NULL ? "acc_product_update" : "acc_product_insert", 7, p, NULL,
		      "storing the product", &e) != CLR_OK) {
		if (e.rc == CLR_ERR_CONFLICT)
			clr_err_set(&e, CLR_ERR_CONFLICT, "conflict", "name",
				    "a product with this name exists");
		goto fail;
	}
	if (product_links(r->db, id, r->json, &e) != CLR_OK)
		goto fail;
	if (acc_db_json(r->db, "acc_product_get", 1, &id, &out, &e) != CLR_OK)
		goto fail;
	if ((e.rc = acc_audit(r, cur != NULL ? "product.update" : "product.create", "product", id,
			      json_incref(r->json))) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the product could not be stored");
		goto fail;
	}
	clr_resp_json(r, cur != NULL ? 200 : 201, out);
	out = NULL;
	goto out;
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	json_decref(out);
	json_decref(cur);
	free(prefixes);
}

void acc_h_products_create(struct clr_req *r)
{
	product_write(r, NULL);
}

void acc_h_products_patch(struct clr_req *r)
{
	const char *id = clr_req_param_id(r, 0, "product");

	if (id != NULL)
		product_write(r, id);
}

static void get_one(struct clr_req *r, const char *what, const char *stmt)
{
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, what);
	json_t *out = NULL;

	if (id == NULL)
		return;
	if (acc_db_json(r->db, stmt, 1, &id, &out, &e) != CLR_OK) {
		if (e.rc == CLR_ERR_NOTFOUND)
			clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such %s", what);
		clr_resp_fail(r, &e);
		return;
	}
	clr_resp_json(r, 200, out);
}

static void list_all(struct clr_req *r, const char *key, const char *stmt)
{
	struct clr_err e = {0};
	char lim[16], off[16];
	const char *p[2] = {lim, off};
	json_t *out = NULL;

	if (clr_req_paging(r, lim, off, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	if (acc_db_json_list(r->db, stmt, 2, p, &out, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	clr_resp_json(r, 200, json_pack("{s:o}", key, out));
}

void acc_h_products_get(struct clr_req *r)
{
	get_one(r, "product", "acc_product_get");
}

void acc_h_products_list(struct clr_req *r)
{
	list_all(r, "products", "acc_products_list");
}

/* Soft delete, refused while requests for it are live. */
static void delete_one(struct clr_req *r, const char *what, const char *stmt_busy,
		       const char *stmt_delete, const char *action)
{
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, what);
	int n = 0;

	if (id == NULL)
		return;
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (acc_db_do(r->db, stmt_busy, 1, &id, &n, "checking requests", &e) != CLR_OK)
		goto fail;
	if (n > 0) {
		clr_err_set(
		    &e, CLR_ERR_CONFLICT, "conflict", NULL,
		    "the %s has pending or active access requests; revoke or reject them first",
		    what);
		goto fail;
	}
	if (acc_db_do(r->db, stmt_delete, 1, &id, &n, "deleting", &e) != CLR_OK)
		goto fail;
	if (n == 0) {
		clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such %s", what);
		goto fail;
	}
	if ((e.rc = acc_audit(r, action, what, id, NULL)) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the deletion could not be stored");
		goto fail;
	}
	clr_resp_empty(r, 204);
	return;
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
}

void acc_h_products_delete(struct clr_req *r)
{
	delete_one(r, "product", "acc_product_busy", "acc_product_delete", "product.delete");
}

static void plan_write(struct clr_req *r, const char *id)
{
	struct clr_err e = {0};
	const char *p[10];
	char newid[37], nums[3][24];
	static const char *const numf[3] = {"rate_limit_requests", "rate_limit_window_seconds",
					    "monthly_quota"};
	json_t *out = NULL, *cur = NULL, *v, *rq, *rw;
	int i, has_rq, has_rw;

	if (scopes_check(r->json, &e) != CLR_OK)
		goto fail;
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (id != NULL) {
		if (acc_db_json(r->db, "acc_plan_lock", 1, &id, &cur, &e) != CLR_OK)
			goto fail;
	} else {
		if ((e.rc = clr_uuid_new(newid)) != CLR_OK)
			goto fail;
		id = newid;
	}
	/* A rate limit is a number of requests per window: both or neither. */
	rq = json_object_get(r->json, "rate_limit_requests");
	rw = json_object_get(r->json, "rate_limit_window_seconds");
	has_rq = rq != NULL
		     ? !json_is_null(rq)
		     : !json_is_null(json_object_get(cur, "rate_limit_requests")) && cur != NULL;
	has_rw = rw != NULL ? !json_is_null(rw)
			    : !json_is_null(json_object_get(cur, "rate_limit_window_seconds")) &&
				  cur != NULL;
	if (has_rq != has_rw) {
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_request",
			    has_rq ? "rate_limit_window_seconds" : "rate_limit_requests",
			    "rate_limit_requests and rate_limit_window_seconds go together");
		goto fail;
	}
	p[0] = id;
	p[1] = json_string_value(json_object_get(r->json, "name"));
	p[2] = json_string_value(json_object_get(r->json, "description"));
	p[3] = json_string_value(json_object_get(r->json, "scopes"));
	for (i = 0; i < 3; i++) {
		v = json_object_get(r->json, numf[i]);
		/* p[4+2i]: "given" flag, p[5+2i]: the value (NULL clears). */
		p[4 + 2 * i] = v != NULL ? "true" : "false";
		if (json_is_integer(v)) {
			snprintf(nums[i], sizeof(nums[i]), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(v));
			p[5 + 2 * i] = nums[i];
		} else {
			p[5 + 2 * i] = NULL;
		}
	}
	if (acc_db_do(r->db, cur != NULL ? "acc_plan_update" : "acc_plan_insert", 10, p, NULL,
		      "storing the plan", &e) != CLR_OK) {
		if (e.rc == CLR_ERR_CONFLICT)
			clr_err_set(&e, CLR_ERR_CONFLICT, "conflict", "name",
				    "a plan with this name exists");
		goto fail;
	}
	if (acc_db_json(r->db, "acc_plan_get", 1, &id, &out, &e) != CLR_OK)
		goto fail;
	if ((e.rc = acc_audit(r, cur != NULL ? "plan.update" : "plan.create", "plan", id,
			      json_incref(r->json))) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the plan could not be stored");
		goto fail;
	}
	clr_resp_json(r, cur != NULL ? 200 : 201, out);
	out = NULL;
	goto out;
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	json_decref(out);
	json_decref(cur);
}

void acc_h_plans_create(struct clr_req *r)
{
	plan_write(r, NULL);
}

void acc_h_plans_patch(struct clr_req *r)
{
	const char *id = clr_req_param_id(r, 0, "plan");

	if (id != NULL)
		plan_write(r, id);
}

void acc_h_plans_get(struct clr_req *r)
{
	get_one(r, "plan", "acc_plan_get");
}

void acc_h_plans_list(struct clr_req *r)
{
	list_all(r, "plans", "acc_plans_list");
}

void acc_h_plans_delete(struct clr_req *r)
{
	delete_one(r, "plan", "acc_plan_busy", "acc_plan_delete", "plan.delete");
}

void acc_h_catalogue(struct clr_req *r)
{
	struct clr_err e = {0};
	json_t *out = NULL;

	if (acc_db_json_list(r->db, "acc_catalogue", 0, NULL, &out, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	clr_resp_json(r, 200, json_pack("{s:o}", "products", out));
}
