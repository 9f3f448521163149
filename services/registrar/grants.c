/*
 * grants.c - an admin's direct grants of a registration (see grants.h).
 * The registrar owns registration_grants; the products and plans it points
 * at are the access service's rows, read only to refuse a grant the
 * gateway could never apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clearance/log.h"
#include "clearance/util.h"
#include "grants.h"
#include "registrar.h"

static const struct clr_field gr_fields[] = {
    {"grants", CLR_FT_OBJARR, 1, 0, 0, 0, REG_MAX_GRANTS, 0},
};
const struct clr_body reg_body_grants_put = CLR_BODY(gr_fields, 0, NULL);

static enum clr_rc bad(struct clr_err *e, size_t i, const char *why)
{
	return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "grants", "grants[%zu]: %s", i,
			   why);
}

enum clr_rc reg_grants_check(struct clr_db *db, const json_t *grants, json_t **norm,
			     struct clr_err *e)
{
	json_t *out = NULL, *it;
	PGresult *res = NULL;
	const char *pr, *pl, *p[2];
	size_t i, j;
	enum clr_rc rc;

	*norm = NULL;
	if (!json_is_array(grants) || json_array_size(grants) > REG_MAX_GRANTS)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "grants",
				   "grants must be an array of at most %d {product_id, plan_id}",
				   REG_MAX_GRANTS);
	if ((out = json_array()) == NULL)
		return clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
	json_array_foreach(grants, i, it)
	{
		pr = json_string_value(json_object_get(it, "product_id"));
		pl = json_string_value(json_object_get(it, "plan_id"));
		if (!json_is_object(it) || json_object_size(it) != 2 || pr == NULL || pl == NULL) {
			rc = bad(e, i, "must be {\"product_id\": ..., \"plan_id\": ...}");
			goto fail;
		}
		if (!clr_uuid_valid(pr) || !clr_uuid_valid(pl)) {
			rc = bad(e, i, "product_id and plan_id must be ids");
			goto fail;
		}
		for (j = 0; j < i; j++)
			if (strcasecmp(pr, json_string_value(json_object_get(
					       json_array_get(grants, j), "product_id"))) == 0) {
				rc = bad(e, i, "one plan per product: the product is named twice");
				goto fail;
			}
		p[0] = pr;
		p[1] = pl;
		if ((rc = clr_db_exec(db, "reg_gr_check", 2, p, &res)) != CLR_OK) {
			clr_err_set(e, rc, NULL, NULL, "checking the grants failed");
			goto fail;
		}
		if (PQgetvalue(res, 0, 0)[0] != 't') {
			rc = bad(e, i, "no such product");
			goto fail;
		}
		if (PQgetvalue(res, 0, 1)[0] != 't') {
			rc = bad(e, i, "the plan is not one of the product's plans");
			goto fail;
		}
		PQclear(res);
		res = NULL;
		if (json_array_append_new(
			out, json_pack("{s:s, s:s}", "product_id", pr, "plan_id", pl)) != 0) {
			rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
			goto fail;
		}
	}
	*norm = out;
	return CLR_OK;
fail:
	PQclear(res);
	json_decref(out);
	return rc;
}

enum clr_rc reg_grants_replace(struct clr_db *db, const char *reg_id, const json_t *norm,
			       struct clr_err *e)
{
	PGresult *res = NULL;
	char *text = json_dumps(norm, JSON_COMPACT);
	const char *p[2] = {reg_id, text};
	const char *status;
	enum clr_rc rc;

	if (text == NULL)
		return clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
	if ((rc = clr_db_begin(db)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "database unavailable");
		goto out;
	}
	if ((rc = clr_db_exec(db, "reg_gr_lock_reg", 1, p, &res)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "reading the registration failed");
		goto out;
	}
	if (PQntuples(res) != 1) {
		rc = clr_err_set(e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such registration");
		goto out;
	}
	status = PQgetvalue(res, 0, 0);
	if (strcmp(status, "deleted") == 0 || strcmp(status, "failed") == 0) {
		rc = clr_err_set(e, CLR_ERR_CONFLICT, "conflict", NULL,
				 "the registration is %s: it can hold no grants", status);
		goto out;
	}
	if ((rc = clr_db_exec(db, "reg_gr_delete", 1, p, NULL)) != CLR_OK ||
	    (rc = clr_db_exec(db, "reg_gr_insert", 2, p, NULL)) != CLR_OK ||
	    (rc = clr_db_commit(db)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "storing the grants failed");
		goto out;
	}
out:
	clr_db_rollback(db);
	PQclear(res);
	free(text);
	return rc;
}

static json_t *load(struct clr_db *db, const char *id, struct clr_err *e)
{
	PGresult *res = NULL;
	json_t *j = NULL;
	json_error_t jerr;
	enum clr_rc rc;

	if ((rc = clr_db_exec(db, "reg_gr_list", 1, &id, &res)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "reading the grants failed");
		return NULL;
	}
	if (PQntuples(res) != 1)
		clr_err_set(e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such registration");
	else if ((j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr)) == NULL)
		clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
	PQclear(res);
	return j;
}

void reg_h_grants_get(struct clr_req *r)
{
	const char *id = clr_req_param_id(r, 0, "registration");
	struct clr_err e = {0};
	json_t *g;

	if (id == NULL)
		return;
	if ((g = load(r->db, id, &e)) == NULL) {
		clr_resp_fail(r, &e);
		return;
	}
	clr_resp_json(r, 200, json_pack("{s:o}", "grants", g));
}

void reg_h_grants_put(struct clr_req *r)
{
	const char *id = clr_req_param_id(r, 0, "registration");
	struct clr_err e = {0};
	json_t *norm = NULL, *g;

	if (id == NULL)
		return;
	if (reg_grants_check(r->db, json_object_get(r->json, "grants"), &norm, &e) != CLR_OK ||
	    reg_grants_replace(r->db, id, norm, &e) != CLR_OK ||
	    (g = load(r->db, id, &e)) == NULL) {
		clr_resp_fail(r, &e);
		goto out;
	}
	clr_log_req(r, CLR_LOG_INFO, "registration %s: %zu grants set by %s", id,
		    json_array_size(norm), r->who.name);
	clr_resp_json(r, 200, json_pack("{s:o}", "grants", g));
out:
	json_decref(norm);
}
