/*
 * catalogue.c - the product and plan operations (see catalogue.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/oauth.h"
#include "clearance/util.h"
#include "catalogue.h"
#include "util.h"

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

/* Inserts (cur NULL) or updates product id from body. */
static enum clr_rc product_store(struct clr_db *db, const char *id, const json_t *cur,
				 const json_t *body, struct clr_err *e)
{
	const char *p[7];
	char *prefixes = NULL;
	const char *scopes;
	enum clr_rc rc;
	int dcr;

	/* The rule spans two fields, old and new: check the result. */
	dcr = json_object_get(body, "dcr_enabled") != NULL
		  ? json_is_true(json_object_get(body, "dcr_enabled"))
		  : json_is_true(json_object_get(cur, "dcr_enabled"));
	scopes = json_string_value(json_object_get(body, "scopes"));
	if (scopes == NULL)
		scopes = json_string_value(json_object_get(cur, "scopes"));
	if (dcr && (scopes == NULL || scopes[0] == '\0'))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_scope", "scopes",
				   "a product with dcr_enabled needs at least one scope");
	prefixes = dump_member(body, "path_prefixes");
	p[0] = id;
	p[1] = json_string_value(json_object_get(body, "name"));
	p[2] = json_string_value(json_object_get(body, "description"));
	p[3] = prefixes;
	p[4] = bool_member(body, "dcr_enabled");
	p[5] = json_string_value(json_object_get(body, "scopes"));
	p[6] = bool_member(body, "auto_approve");
	rc = acc_db_do(db, cur != NULL ? "acc_product_update" : "acc_product_insert", 7, p, NULL,
		       "storing the product", e);
	free(prefixes);
	if (rc == CLR_ERR_CONFLICT)
		return clr_err_set(e, CLR_ERR_CONFLICT, "conflict", "name",
				   "a product with this name exists");
	if (rc != CLR_OK)
		return rc;
	return product_links(db, id, body, e);
}

/* Inserts (cur NULL) or updates plan id from body. */
static enum clr_rc plan_store(struct clr_db *db, const char *id, const json_t *cur,
			      const json_t *body, struct clr_err *e)
{
	static const char *const numf[3] = {"rate_limit_requests", "rate_limit_window_seconds",
					    "monthly_quota"};
	const char *p[10];
	char nums[3][24];
	const json_t *v, *rq, *rw;
	enum clr_rc rc;
	int i, has_rq, has_rw;

	/* A rate limit is a number of requests per window: both or neither. */
	rq = json_object_get(body, "rate_limit_requests");
	rw = json_object_get(body, "rate_limit_window_seconds");
	has_rq = rq != NULL
		     ? !json_is_null(rq)
		     : !json_is_null(json_object_get(cur, "rate_limit_requests")) && cur != NULL;
	has_rw = rw != NULL ? !json_is_null(rw)
			    : !json_is_null(json_object_get(cur, "rate_limit_window_seconds")) &&
				  cur != NULL;
	if (has_rq != has_rw)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request",
				   has_rq ? "rate_limit_window_seconds" : "rate_limit_requests",
				   "rate_limit_requests and rate_limit_window_seconds go together");
	p[0] = id;
	p[1] = json_string_value(json_object_get(body, "name"));
	p[2] = json_string_value(json_object_get(body, "description"));
	p[3] = json_string_value(json_object_get(body, "scopes"));
	for (i = 0; i < 3; i++) {
		v = json_object_get(body, numf[i]);
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
	rc = acc_db_do(db, cur != NULL ? "acc_plan_update" : "acc_plan_insert", 10, p, NULL,
		       "storing the plan", e);
	if (rc == CLR_ERR_CONFLICT)
		return clr_err_set(e, CLR_ERR_CONFLICT, "conflict", "name",
				   "a plan with this name exists");
	return rc;
}

/* The prepared statements of one kind (store.c). */
struct cat_stmts {
	const char *name, *lock, *get, *busy, *remove;
};

static const struct cat_stmts stmts[] = {
    [ACC_CAT_PRODUCT] = {"product", "acc_product_lock", "acc_product_get", "acc_product_busy",
			 "acc_product_delete"},
    [ACC_CAT_PLAN] = {"plan", "acc_plan_lock", "acc_plan_get", "acc_plan_busy", "acc_plan_delete"},
};

const char *acc_cat_name(enum acc_cat_kind k)
{
	return stmts[k].name;
}

enum clr_rc acc_cat_store(struct clr_db *db, enum acc_cat_kind k, const char *id,
			  const json_t *body, json_t **out, int *created, struct clr_err *e)
{
	const struct cat_stmts *s = &stmts[k];
	char newid[37];
	json_t *cur = NULL;
	enum clr_rc rc;

	*out = NULL;
	*created = id == NULL;
	if ((rc = scopes_check(body, e)) != CLR_OK)
		return rc;
	if (k == ACC_CAT_PRODUCT && ((rc = prefixes_check(body, e)) != CLR_OK ||
				     (rc = ids_check(body, "client_type_ids", e)) != CLR_OK ||
				     (rc = ids_check(body, "plan_ids", e)) != CLR_OK))
		return rc;
	if (id != NULL) {
		if ((rc = acc_db_json(db, s->lock, 1, &id, &cur, e)) != CLR_OK)
			return rc;
	} else {
		if ((rc = clr_uuid_new(newid)) != CLR_OK)
			return clr_err_set(e, rc, NULL, NULL, "no id could be made");
		id = newid;
	}
	rc = k == ACC_CAT_PRODUCT ? product_store(db, id, cur, body, e)
				  : plan_store(db, id, cur, body, e);
	if (rc == CLR_OK)
		rc = acc_db_json(db, s->get, 1, &id, out, e);
	json_decref(cur);
	return rc;
}

enum clr_rc acc_cat_remove(struct clr_db *db, enum acc_cat_kind k, const char *id,
			   struct clr_err *e)
{
	const struct cat_stmts *s = &stmts[k];
	enum clr_rc rc;
	int n = 0;

	if ((rc = acc_db_do(db, s->busy, 1, &id, &n, "checking requests", e)) != CLR_OK)
		return rc;
	if (n > 0)
		return clr_err_set(
		    e, CLR_ERR_CONFLICT, "conflict", NULL,
		    "the %s has pending or active access requests; revoke or reject them first",
		    s->name);
	if ((rc = acc_db_do(db, s->remove, 1, &id, &n, "deleting", e)) != CLR_OK)
		return rc;
	if (n == 0)
		return clr_err_set(e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such %s", s->name);
	return CLR_OK;
}
