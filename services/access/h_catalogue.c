/*
 * h_catalogue.c - products and plans (admins write, everyone reads) and
 * GET /v1/catalogue, what a developer may request.  The writes are
 * catalogue.c's operations, each in one transaction with its audit row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/log.h"
#include "clearance/util.h"
#include "catalogue.h"
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

/* Runs the store of kind k for row id (NULL: a new one) with its audit row. */
static void write_one(struct clr_req *r, enum acc_cat_kind k, const char *id)
{
	const char *what = acc_cat_name(k);
	struct clr_err e = {0};
	json_t *out = NULL;
	char action[32];
	int created = 0;

	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (acc_cat_store(r->db, k, id, r->json, &out, &created, &e) != CLR_OK)
		goto fail;
	snprintf(action, sizeof(action), "%s.%s", what, created ? "create" : "update");
	if ((e.rc = acc_audit(r, action, what, json_string_value(json_object_get(out, "id")),
			      json_incref(r->json))) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the %s could not be stored", what);
		goto fail;
	}
	clr_resp_json(r, created ? 201 : 200, out);
	return;
fail:
	json_decref(out);
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
}

void acc_h_products_create(struct clr_req *r)
{
	write_one(r, ACC_CAT_PRODUCT, NULL);
}

void acc_h_products_patch(struct clr_req *r)
{
	const char *id = clr_req_param_id(r, 0, "product");

	if (id != NULL)
		write_one(r, ACC_CAT_PRODUCT, id);
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
static void delete_one(struct clr_req *r, enum acc_cat_kind k)
{
	const char *what = acc_cat_name(k);
	const char *id = clr_req_param_id(r, 0, what);
	struct clr_err e = {0};
	char action[32];

	if (id == NULL)
		return;
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (acc_cat_remove(r->db, k, id, &e) != CLR_OK)
		goto fail;
	snprintf(action, sizeof(action), "%s.delete", what);
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
	delete_one(r, ACC_CAT_PRODUCT);
}

void acc_h_plans_create(struct clr_req *r)
{
	write_one(r, ACC_CAT_PLAN, NULL);
}

void acc_h_plans_patch(struct clr_req *r)
{
	const char *id = clr_req_param_id(r, 0, "plan");

	if (id != NULL)
		write_one(r, ACC_CAT_PLAN, id);
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
	delete_one(r, ACC_CAT_PLAN);
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
