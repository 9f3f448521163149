/*
 * requests.c - the access-request operations (see requests.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/log.h"
#include "clearance/util.h"
#include "requests.h"
#include "util.h"

static const char *str_of(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "";
}

json_t *acc_req_mail_vars(const json_t *rq, const char *reason)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "request_id", str_of(rq, "id"),
			 "developer_email", str_of(rq, "developer_email"), "developer_name",
			 str_of(rq, "developer_name"), "product_name", str_of(rq, "product_name"),
			 "plan_name", str_of(rq, "plan_name"), "app_name", str_of(rq, "app_name"),
			 "app_id", str_of(rq, "app_id"), "reason",
			 reason != NULL && *reason ? reason : "no reason given");
}

enum clr_rc acc_req_notify(struct clr_db *db, const json_t *rq, const char *tpl, const char *event,
			   const char *reason)
{
	json_t *vars = acc_req_mail_vars(rq, reason);
	enum clr_rc rc = vars != NULL ? CLR_OK : CLR_ERR_NOMEM;

	if (rc == CLR_OK && tpl != NULL && *str_of(rq, "developer_email"))
		rc = acc_mail(db, str_of(rq, "developer_email"), tpl, vars);
	if (rc == CLR_OK && event != NULL)
		rc = acc_emit(db, event, rq);
	json_decref(vars);
	return rc;
}

/* The full view of request id (no visibility filter); *out new. */
static enum clr_rc view(struct clr_db *db, const char *id, json_t **out, struct clr_err *e)
{
	const char *p[2] = {id, NULL};

	return acc_db_json(db, "acc_req_get", 2, p, out, e);
}

enum clr_rc acc_req_provision(struct clr_db *db, const char *id, const char *by, struct clr_err *e)
{
	json_t *payload = NULL;
	const char *p[3];
	char reg_id[37];
	enum clr_rc rc;

	rc = acc_db_json(db, "acc_req_client_meta", 1, &id, &payload, e);
	if (rc == CLR_ERR_NOTFOUND)
		return clr_err_set(e, CLR_ERR_CONFLICT, "conflict", "client_type_id",
				   "the request's client type no longer exists");
	if (rc != CLR_OK)
		return rc;
	if ((rc = clr_uuid_new(reg_id)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "no randomness for an id");
		goto out;
	}
	p[0] = id;
	p[1] = reg_id;
	p[2] = by;
	if ((rc = acc_db_do(db, "acc_req_provisioning", 3, p, NULL, "updating the request", e)) !=
	    CLR_OK)
		goto out;
	/* The registrar creates registration reg_id; a retried job finds it again. */
	if (json_object_set_new(payload, "access_request_id", json_string(id)) != 0 ||
	    json_object_set_new(payload, "registration_id", json_string(reg_id)) != 0) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	if ((rc = clr_jobs_enqueue(db, "provision", payload, NULL)) != CLR_OK)
		clr_err_set(e, rc, NULL, NULL, "queueing the provisioning failed");
out:
	json_decref(payload);
	return rc;
}

/* Queues the registrar's deregistration of reg_id, out of service at once. */
static enum clr_rc deregister(struct clr_db *db, const char *reg_id)
{
	json_t *payload = json_pack("{s:s, s:b}", "registration_id", reg_id, "withdraw", 1);
	enum clr_rc rc =
	    payload != NULL ? clr_jobs_enqueue(db, "deregister", payload, NULL) : CLR_ERR_NOMEM;

	json_decref(payload);
	return rc;
}

enum clr_rc acc_req_revoke(struct clr_db *db, const char *id, const char *reason, const char *by,
			   struct clr_err *e)
{
	PGresult *res = NULL;
	json_t *rq = NULL;
	const char *p[3] = {id, reason, by};
	enum clr_rc rc;
	int was_active;

	if ((rc = clr_db_exec(db, "acc_req_revoke", 3, p, &res)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "revoking failed");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return clr_err_set(e, CLR_ERR_CONFLICT, "conflict", "status",
				   "the request is no longer live");
	}
	was_active = strcmp(PQgetvalue(res, 0, 0), "active") == 0;
	/*
	 * The gateway honours only active requests, so the client is refused
	 * from this commit on; the registrar's job then takes the
	 * registration out of service and deletes the client at the IdP.
	 */
	if (!PQgetisnull(res, 0, 1) && (rc = deregister(db, PQgetvalue(res, 0, 1))) != CLR_OK)
		goto out;
	if ((rc = view(db, id, &rq, e)) != CLR_OK)
		goto out;
	rc = acc_req_notify(db, rq, was_active ? "request_revoked" : NULL, "access_request.revoked",
			    reason);
out:
	if (rc != CLR_OK && e->rc == CLR_OK)
		clr_err_set(e, rc, NULL, NULL, "revoking failed");
	PQclear(res);
	json_decref(rq);
	return rc;
}

/* Request id is active now: mail the developer, tell the subscribers. */
static enum clr_rc activated(struct clr_db *db, const char *id, struct clr_err *e)
{
	json_t *rq = NULL, *vars = NULL;
	enum clr_rc rc;

	if ((rc = view(db, id, &rq, e)) != CLR_OK)
		return rc;
	vars = acc_req_mail_vars(rq, NULL);
	if (vars == NULL)
		rc = CLR_ERR_NOMEM;
	else if (*str_of(rq, "developer_email"))
		rc = acc_mail(db, str_of(rq, "developer_email"), "request_approved", vars);
	if (rc == CLR_OK)
		rc = acc_emit(db, "credential.created", rq);
	if (rc == CLR_OK)
		clr_log(NULL, CLR_LOG_INFO, "access request %s is active (client %s)", id,
			str_of(rq, "client_id"));
	json_decref(rq);
	json_decref(vars);
	return rc;
}

enum clr_rc acc_req_settle(struct clr_db *db, const char *id, const char *reg_id, int rotated,
			   struct clr_err *e)
{
	const char *p[3] = {id, reg_id, NULL};
	const char *rstatus, *gstatus, *gerr;
	char why[700];
	PGresult *res = NULL;
	json_t *rq = NULL;
	enum clr_rc rc;
	int current;

	if ((rc = clr_db_begin(db)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "database unavailable");
	if ((rc = clr_db_exec(db, "acc_settle_lock", 2, p, &res)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "reading the access request failed");
		goto out;
	}
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 2))
		goto commit; /* the request or the registration is gone: nothing to settle */
	rstatus = PQgetvalue(res, 0, 0);
	current = !PQgetisnull(res, 0, 1) && strcmp(PQgetvalue(res, 0, 1), reg_id) == 0;
	gstatus = PQgetvalue(res, 0, 2);
	gerr = PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3);
	if (!current || (strcmp(rstatus, "provisioning") != 0 && strcmp(rstatus, "active") != 0)) {
		/* Withdrawn while the IdP worked: do not leave a client behind. */
		if (strcmp(gstatus, "active") == 0) {
			if ((rc = deregister(db, reg_id)) != CLR_OK) {
				clr_err_set(e, rc, NULL, NULL,
					    "queueing the deregistration failed");
				goto out;
			}
			clr_log(NULL, CLR_LOG_INFO,
				"access request %s was withdrawn; its client (registration %s) is "
				"deregistered",
				id, reg_id);
		}
		goto commit;
	}
	if (strcmp(rstatus, "active") == 0) {
		if (rotated && strcmp(gstatus, "active") == 0) {
			if ((rc = view(db, id, &rq, e)) != CLR_OK ||
			    (rc = acc_emit(db, "credential.rotated", rq)) != CLR_OK)
				goto out;
		}
		goto commit;
	}
	/* provisioning */
	if (strcmp(gstatus, "active") == 0) {
		p[1] = "active";
		p[2] = NULL;
		if ((rc = acc_db_do(db, "acc_req_settled", 3, p, NULL, "activating the request",
				    e)) != CLR_OK ||
		    (rc = activated(db, id, e)) != CLR_OK)
			goto out;
	} else if (strcmp(gstatus, "pending") == 0) {
		if (gerr == NULL)
			goto commit;
		/* Still trying: the developer and the admin see why it takes long. */
		p[1] = "provisioning";
		p[2] = gerr;
		if ((rc = acc_db_do(db, "acc_req_settled", 3, p, NULL, "recording the error", e)) !=
		    CLR_OK)
			goto out;
		clr_log(NULL, CLR_LOG_WARN, "access request %s: provisioning attempt failed: %s",
			id, gerr);
	} else if (strcmp(gstatus, "outcome_unknown") == 0) {
		/*
		 * The IdP may hold a client for it: neither active nor failed
		 * until an admin resolves the registration (adopt: active here
		 * too; gone: failed, and the approval may be retried).
		 */
		snprintf(why, sizeof(why),
			 "needs an admin: the IdP's answer was lost, so it may hold a client for "
			 "this request; resolve registration %s (POST /v1/registrations/%s/resolve "
			 "with adopt or gone)%s%.300s",
			 reg_id, reg_id, gerr != NULL ? ": " : "", gerr != NULL ? gerr : "");
		p[1] = "provisioning";
		p[2] = why;
		if ((rc = acc_db_do(db, "acc_req_settled", 3, p, NULL, "recording the error", e)) !=
		    CLR_OK)
			goto out;
		clr_log(NULL, CLR_LOG_WARN,
			"access request %s: registration %s parked for an admin", id, reg_id);
	} else {
		/* failed (or taken away before it was ever active): an admin may retry */
		p[1] = "failed";
		p[2] = gerr != NULL ? gerr : "the registration is no longer pending";
		if ((rc = acc_db_do(db, "acc_req_settled", 3, p, NULL, "recording the failure",
				    e)) != CLR_OK)
			goto out;
		clr_log(NULL, CLR_LOG_WARN, "access request %s failed: %s", id, p[2]);
	}
commit:
	if ((rc = clr_db_commit(db)) != CLR_OK)
		clr_err_set(e, rc, NULL, NULL, "the request's new state could not be stored");
out:
	clr_db_rollback(db);
	PQclear(res);
	json_decref(rq);
	return rc;
}
