/*
 * h_reconcile.c - the reconcile routes (see h_reconcile.h and
 * reconcile.h).  A run talks to the IdP, so POST only queues a reconcile
 * job and answers 202 with it (the request threads never wait on an IdP);
 * GET shows the last stored run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/jobs.h"
#include "clearance/log.h"
#include "h_reconcile.h"
#include "reconcile.h"
#include "registrar.h"
#include "store.h"

static const struct clr_field put_fields[] = {
    {"policy", CLR_FT_STR, 0, 0, 1, 16, 0, 0},
    /* The listing API's credential (Glewlwyd: an admin API key); null clears it. */
    {"credential", CLR_FT_STR, 0, 1, 1, 4096, 0, 0},
};
const struct clr_body reg_body_reconcile_put = CLR_BODY(put_fields, 1, "invalid_request");

/* {provider_id, kind, policy, has_credential, can_list, last_run} of id (new). */
static enum clr_rc view_of(struct clr_db *db, const char *id, json_t **out, struct clr_err *e)
{
	PGresult *res = NULL;
	struct drv_provider p = {0};
	enum drv_idp_kind k;
	enum clr_rc rc;
	json_t *v = NULL, *last = NULL;

	*out = NULL;
	rc = clr_db_exec_sql(
	    db,
	    "SELECT p.id::text AS provider_id, p.kind, p.reconcile_policy AS policy,"
	    " p.reconcile_credential_sealed IS NOT NULL AS has_credential,"
	    " r.ran_at, r.status, r.policy AS run_policy, r.dry_run, r.counts,"
	    " r.last_error, r.provider_id IS NOT NULL AS ran"
	    " FROM providers p LEFT JOIN provider_reconcile r ON r.provider_id = p.id"
	    " WHERE p.id = $1::uuid",
	    1, &id, &res);
	if (rc != CLR_OK) {
		PQclear(res);
		return clr_err_set(e, rc, NULL, NULL, "reading the provider failed");
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		return clr_err_set(e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such provider");
	}
	v = reg_row_json(res, 0);
	PQclear(res);
	if (v == NULL)
		return clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
	p.kind = drv_idp_kind_parse(json_string_value(json_object_get(v, "kind")), &k) == CLR_OK
		     ? k
		     : DRV_IDP__MAX;
	json_object_set_new(v, "can_list", json_boolean(drv_can_list(&p)));
	if (json_is_true(json_object_get(v, "ran")))
		last =
		    json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}", "ran_at",
			      json_object_get(v, "ran_at"), "status", json_object_get(v, "status"),
			      "policy", json_object_get(v, "run_policy"), "dry_run",
			      json_object_get(v, "dry_run"), "counts", json_object_get(v, "counts"),
			      "last_error", json_object_get(v, "last_error"));
	json_object_set_new(v, "last_run", last != NULL ? last : json_null());
	for (const char *const *f =
		 (const char *const[]){"ran_at", "status", "run_policy", "dry_run", "counts",
				       "last_error", "ran", NULL};
	     *f != NULL; f++)
		json_object_del(v, *f);
	*out = v;
	return CLR_OK;
}

void reg_h_reconcile_get(struct clr_req *r)
{
	const char *id = clr_req_param_id(r, 0, "provider");
	struct clr_err e = {0};
	json_t *v = NULL;

	if (id == NULL)
		return;
	if (view_of(r->db, id, &v, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	clr_resp_json(r, 200, v);
}

void reg_h_reconcile_put(struct clr_req *r)
{
	const struct reg_app *app = r->app;
	const char *id = clr_req_param_id(r, 0, "provider");
	const char *policy = json_string_value(json_object_get(r->json, "policy"));
	json_t *cred = json_object_get(r->json, "credential");
	char *sealed = NULL;
	const char *p[4];
	PGresult *res = NULL;
	struct clr_err e = {0};
	json_t *v = NULL;

	if (id == NULL)
		return;
	if (policy != NULL && !reg_reconcile_policy_valid(policy)) {
		clr_resp_error(r, 400, "invalid_request", "policy must be report, delete or adopt");
		return;
	}
	if (json_is_string(cred) && reg_seal(app, "providers.reconcile_credential", id,
					     json_string_value(cred), &sealed, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	p[0] = id;
	p[1] = policy;
	p[2] = cred != NULL ? "true" : "false";
	p[3] = sealed;
	e.rc = clr_db_exec_sql(
	    r->db,
	    "UPDATE providers SET reconcile_policy = coalesce($2, reconcile_policy),"
	    " reconcile_credential_sealed = CASE WHEN $3::boolean THEN $4"
	    " ELSE reconcile_credential_sealed END,"
	    " revision = revision + 1, updated_at = now() WHERE id = $1::uuid",
	    4, p, &res);
	free(sealed);
	if (e.rc != CLR_OK) {
		PQclear(res);
		clr_err_set(&e, e.rc, NULL, NULL, "storing the reconcile settings failed");
		clr_resp_fail(r, &e);
		return;
	}
	if (strcmp(PQcmdTuples(res), "1") != 0) {
		PQclear(res);
		clr_resp_error(r, 404, "not_found", "no such provider");
		return;
	}
	PQclear(res);
	clr_log_req(r, CLR_LOG_INFO, "provider %s: reconcile settings changed%s", id,
		    cred != NULL ? " (credential replaced)" : "");
	if (view_of(r->db, id, &v, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	clr_resp_json(r, 200, v);
}

void reg_h_reconcile_run(struct clr_req *r)
{
	const char *id = clr_req_param_id(r, 0, "provider");
	char *policy = NULL, *dry = NULL, job[37], loc[64];
	struct clr_err e = {0};
	json_t *payload = NULL, *v = NULL;
	int dry_run = 0;

	if (id == NULL)
		return;
	if (clr_req_query(r, "policy", &policy) != CLR_OK ||
	    clr_req_query(r, "dry_run", &dry) != CLR_OK) {
		clr_resp_error(r, 400, "invalid_request", "unreadable query");
		goto out;
	}
	if (policy != NULL && !reg_reconcile_policy_valid(policy)) {
		clr_resp_error(r, 400, "invalid_request", "policy must be report, delete or adopt");
		goto out;
	}
	if (dry != NULL && strcmp(dry, "true") != 0 && strcmp(dry, "false") != 0) {
		clr_resp_error(r, 400, "invalid_request", "dry_run must be true or false");
		goto out;
	}
	dry_run = dry != NULL && strcmp(dry, "true") == 0;
	if (view_of(r->db, id, &v, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		goto out;
	}
	payload = json_pack("{s:s, s:b}", "provider_id", id, "dry_run", dry_run);
	if (payload == NULL ||
	    (policy != NULL && json_object_set_new(payload, "policy", json_string(policy)) != 0)) {
		clr_resp_error(r, 500, "server_error", "out of memory");
		goto out;
	}
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK ||
	    (e.rc = clr_jobs_enqueue(r->db, "reconcile", payload, job)) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_db_rollback(r->db);
		clr_err_set(&e, e.rc, NULL, NULL, "the reconcile job could not be queued");
		clr_resp_fail(r, &e);
		goto out;
	}
	snprintf(loc, sizeof(loc), "/v1/jobs/%s", job);
	clr_resp_header(r, "Location", loc);
	clr_resp_json(r, 202, json_pack("{s:s, s:s}", "provider_id", id, "job_id", job));
out:
	json_decref(payload);
	json_decref(v);
	free(policy);
	free(dry);
}
