/*
 * util.c - request helpers shared by the access service's handlers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "clearance/jobs.h"
#include "clearance/log.h"
#include "clearance/util.h"
#include "util.h"

static enum clr_rc db_fail(enum clr_rc rc, const char *what, struct clr_err *e)
{
	if (rc == CLR_ERR_CONFLICT)
		return clr_err_set(e, rc, "conflict", NULL, "%s: it conflicts with an existing one",
				   what);
	if (rc == CLR_ERR_PARAM)
		return clr_err_set(e, rc, "invalid_request", NULL,
				   "%s: a referenced object does not exist or a value is invalid",
				   what);
	return clr_err_set(e, rc, NULL, NULL, "%s failed", what);
}

static enum clr_rc parse_one(PGresult *res, json_t **out, struct clr_err *e)
{
	json_error_t jerr;

	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		return clr_err_set(e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such object");
	*out = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
	if (*out == NULL)
		return clr_err_set(e, CLR_ERR_INTERNAL, NULL, NULL, "bad JSON from the database");
	return CLR_OK;
}

enum clr_rc acc_db_json(struct clr_db *db, const char *name, int n, const char *const *v,
			json_t **out, struct clr_err *e)
{
	PGresult *res = NULL;
	enum clr_rc rc;

	*out = NULL;
	if ((rc = clr_db_exec(db, name, n, v, &res)) != CLR_OK)
		return db_fail(rc, name, e);
	rc = parse_one(res, out, e);
	PQclear(res);
	return rc;
}

enum clr_rc acc_db_json_list(struct clr_db *db, const char *name, int n, const char *const *v,
			     json_t **out, struct clr_err *e)
{
	enum clr_rc rc = acc_db_json(db, name, n, v, out, e);

	if (rc == CLR_ERR_NOTFOUND) {
		*out = json_array();
		rc = *out != NULL ? CLR_OK
				  : clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
	}
	return rc;
}

enum clr_rc acc_db_do(struct clr_db *db, const char *name, int n, const char *const *v,
		      int *affected, const char *what, struct clr_err *e)
{
	PGresult *res = NULL;
	enum clr_rc rc;

	if ((rc = clr_db_exec(db, name, n, v, &res)) != CLR_OK)
		return db_fail(rc, what, e);
	if (affected != NULL)
		*affected = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res)
								   : atoi(PQcmdTuples(res));
	PQclear(res);
	return CLR_OK;
}

int acc_is_admin(const struct clr_req *r)
{
	return r->who.role == CLR_ROLE_ADMIN;
}

int acc_is_dev(const struct clr_req *r)
{
	return r->who.role == CLR_ROLE_DEVELOPER && r->who.subject_id[0] != '\0';
}

const char *acc_dev_id(const struct clr_req *r)
{
	return acc_is_dev(r) ? r->who.subject_id : NULL;
}

enum clr_rc acc_audit_as(struct clr_req *r, const char *role, const char *actor_id,
			 const char *actor_name, const char *action, const char *target_type,
			 const char *target_id, json_t *detail_take)
{
	const char *p[8];
	char *d = NULL;
	enum clr_rc rc;

	if (detail_take != NULL) {
		d = json_dumps(detail_take, JSON_COMPACT);
		json_decref(detail_take);
		if (d == NULL)
			return CLR_ERR_NOMEM;
	}
	p[0] = role;
	p[1] = actor_id;
	p[2] = actor_name;
	p[3] = action;
	p[4] = target_type;
	p[5] = target_id;
	p[6] = d != NULL ? d : "{}";
	p[7] = r->reqid[0] != '\0' ? r->reqid : NULL;
	rc = clr_db_exec(r->db, "acc_audit_insert", 8, p, NULL);
	if (rc != CLR_OK)
		clr_log_req(r, CLR_LOG_ERROR, "audit row for %s could not be written", action);
	free(d);
	return rc;
}

enum clr_rc acc_audit(struct clr_req *r, const char *action, const char *target_type,
		      const char *target_id, json_t *detail_take)
{
	return acc_audit_as(r, clr_role_name(r->who.role),
			    r->who.subject_id[0] != '\0' ? r->who.subject_id : NULL,
			    r->who.name[0] != '\0' ? r->who.name : r->who.token_id, action,
			    target_type, target_id, detail_take);
}

enum clr_rc acc_emit(struct clr_db *db, const char *event, const json_t *data)
{
	PGresult *res = NULL;
	const char *p[1] = {event};
	json_t *payload = NULL;
	enum clr_rc rc;
	int i;

	if ((rc = clr_db_exec(db, "acc_webhooks_for_event", 1, p, &res)) != CLR_OK)
		return rc;
	for (i = 0; i < PQntuples(res) && rc == CLR_OK; i++) {
		payload = json_pack("{s:s, s:s, s:O}", "webhook_id", PQgetvalue(res, i, 0), "event",
				    event, "data", data);
		rc = payload != NULL ? clr_jobs_enqueue(db, "webhook", payload, NULL)
				     : CLR_ERR_NOMEM;
		json_decref(payload);
	}
	PQclear(res);
	return rc;
}

enum clr_rc acc_mail(struct clr_db *db, const char *to, const char *tpl, const json_t *vars)
{
	json_t *payload = json_pack("{s:s, s:s, s:O}", "to", to, "template", tpl, "vars", vars);
	enum clr_rc rc;

	if (payload == NULL)
		return CLR_ERR_NOMEM;
	rc = clr_jobs_enqueue(db, "email", payload, NULL);
	json_decref(payload);
	return rc;
}

enum clr_rc acc_optional_body(struct clr_req *r, json_t **out, struct clr_err *e)
{
	json_error_t jerr;

	*out = NULL;
	if (r->body.len == 0)
		return CLR_OK;
	*out = json_loadb(r->body.p, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (*out == NULL || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
				   "the body must be a JSON object");
	}
	return CLR_OK;
}
