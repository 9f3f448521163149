/*
 * jobs_access.c - the access service's jobs (see jobs_access.h).
 *
 * The worker's connection prepares only the registrar's statement table,
 * so the few queries on the access tables here go through
 * clr_db_exec_sql, always with parameters.
 *
 * Failure policy, as jobs.h defines it: CLR_ERR_PARAM ends a job at once
 * (it can never succeed: bad payload, row gone, template missing); any
 * other error is retried with backoff.  A provision job records every
 * error on the access request, and marks the request failed when the
 * error is final or the attempts are used up, so the developer and the
 * admin see why; an admin retry starts over with a fresh registration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "clearance/http_out.h"
#include "clearance/log.h"
#include "clearance/mail.h"
#include "clearance/seal.h"
#include "clearance/util.h"
#include "jobs_access.h"
#include "registrar.h"

static const char *payload_uuid(const struct clr_job *job, const char *k, struct clr_err *e)
{
	const char *id = json_string_value(json_object_get(job->payload, k));

	if (id == NULL || !clr_uuid_valid(id)) {
		clr_err_set(e, CLR_ERR_PARAM, "invalid_request", k,
			    "%s job: payload has no valid %s", job->kind, k);
		return NULL;
	}
	return id;
}

/* ---- email ---------------------------------------------------------------- */

static enum clr_rc job_email(void *appv, struct clr_db *db, const struct clr_job *job,
			     struct clr_err *e)
{
	const struct reg_app *app = appv;
	const char *to = json_string_value(json_object_get(job->payload, "to"));
	const char *tpl = json_string_value(json_object_get(job->payload, "template"));
	const json_t *vars = json_object_get(job->payload, "vars");
	enum clr_rc rc;

	(void)db;
	if (to == NULL || tpl == NULL || (vars != NULL && !json_is_object(vars)))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
				   "email job: payload needs to, template and an object vars");
	rc = clr_mail_send_template(app->cfg, to, tpl, vars, e);
	if (rc == CLR_OK)
		clr_log(NULL, CLR_LOG_INFO, "mail %s sent (job %s)", tpl, job->id);
	return rc;
}

/* ---- webhook -------------------------------------------------------------- */

static enum clr_rc job_webhook(void *appv, struct clr_db *db, const struct clr_job *job,
			       struct clr_err *e)
{
	const struct reg_app *app = appv;
	const char *wid = payload_uuid(job, "webhook_id", e);
	const char *event = json_string_value(json_object_get(job->payload, "event"));
	const json_t *data = json_object_get(job->payload, "data");
	struct clr_http_client *http = NULL;
	struct clr_http_opts opts = {0};
	struct clr_http_resp resp = {0};
	struct clr_http_header h[4];
	unsigned char mac[EVP_MAX_MD_SIZE];
	char sig[7 + 2 * EVP_MAX_MD_SIZE + 1], *secret = NULL, *body = NULL;
	const char *url;
	size_t maclen = 0, slen = 0, i;
	PGresult *res = NULL;
	json_t *doc = NULL;
	enum clr_rc rc;

	if (wid == NULL)
		return CLR_ERR_PARAM;
	if (event == NULL || data == NULL)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
				   "webhook job: payload needs event and data");
	if ((rc = clr_db_exec_sql(db, "SELECT url, secret_sealed FROM webhooks WHERE id = $1::uuid",
				  1, &wid, &res)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "reading the webhook failed");
	if (PQntuples(res) != 1) {
		rc = clr_err_set(e, CLR_ERR_PARAM, "not_found", NULL, "the webhook was deleted");
		goto out;
	}
	url = PQgetvalue(res, 0, 0);
	if ((rc = clr_unseal(app->sealer, "webhooks.secret", wid, PQgetvalue(res, 0, 1), &secret,
			     &slen)) != CLR_OK) {
		rc = clr_err_set(e, CLR_ERR_PARAM, "server_error", NULL,
				 "the webhook's secret cannot be unsealed");
		goto out;
	}
	/* The job id names the delivery: a retry sends the same bytes again. */
	doc = json_pack("{s:s, s:s, s:O}", "id", job->id, "event", event, "data", data);
	body = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (body == NULL) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, slen, (unsigned char *)body,
		      strlen(body), mac, sizeof(mac), &maclen) == NULL) {
		rc = clr_err_set(e, CLR_ERR_INTERNAL, NULL, NULL, "HMAC failed");
		goto out;
	}
	memcpy(sig, "sha256=", 7);
	for (i = 0; i < maclen; i++)
		snprintf(sig + 7 + 2 * i, 3, "%02x", mac[i]);
	h[0] = (struct clr_http_header){"Content-Type", "application/json"};
	h[1] = (struct clr_http_header){"X-Clearance-Event", event};
	h[2] = (struct clr_http_header){"X-Clearance-Delivery", job->id};
	h[3] = (struct clr_http_header){"X-Clearance-Signature", sig};
	/* http is allowed only because the URL passed the loopback rule when stored. */
	opts.allow_http = strncmp(url, "http://", 7) == 0;
	opts.connect_timeout_ms = app->cfg->http_connect_timeout_ms;
	opts.timeout_ms = app->cfg->http_timeout_ms;
	opts.max_response = 64 * 1024;
	if ((rc = clr_http_client_new(&http)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "no HTTP client");
		goto out;
	}
	if ((rc = clr_http_do(http, &opts, "POST", url, h, 4, body, strlen(body), &resp, e)) !=
	    CLR_OK)
		goto out;
	if (resp.status < 200 || resp.status > 299) {
		rc = clr_err_set(e, CLR_ERR_UPSTREAM, "webhook_error", NULL,
				 "the receiver answered HTTP %ld", resp.status);
		goto out;
	}
	clr_log(NULL, CLR_LOG_INFO, "webhook %s: %s delivered (job %s)", wid, event, job->id);
out:
	clr_http_resp_clear(&resp);
	clr_http_client_free(http);
	if (secret != NULL)
		clr_unsealed_free(secret, slen);
	OPENSSL_cleanse(mac, sizeof(mac));
	free(body);
	json_decref(doc);
	PQclear(res);
	return rc;
}

/* One webhook job per subscriber of event (in the caller's tx). */
static enum clr_rc emit(struct clr_db *db, const char *event, const json_t *data)
{
	PGresult *res = NULL;
	json_t *payload;
	enum clr_rc rc;
	int i;

	if ((rc = clr_db_exec_sql(db, "SELECT id::text FROM webhooks WHERE $1 = ANY (events)", 1,
				  &event, &res)) != CLR_OK)
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

/* The request as events and mails describe it (no secrets). */
static const char req_view_sql[] =
    "SELECT json_build_object('id', r.id, 'status', r.status, 'developer_id', r.developer_id,"
    " 'developer_email', d.email, 'developer_name', d.name, 'app_id', r.app_id,"
    " 'app_name', a.name, 'product_id', r.product_id, 'product_name', p.name,"
    " 'plan_id', r.plan_id, 'plan_name', l.name, 'client_type_id', r.client_type_id,"
    " 'client_id', g.client_id, 'reason', r.reason, 'last_error', r.last_error)"
    " FROM access_requests r JOIN accounts d ON d.id = r.developer_id"
    " JOIN apps a ON a.id = r.app_id JOIN products p ON p.id = r.product_id"
    " JOIN plans l ON l.id = r.plan_id LEFT JOIN registrations g ON g.id = r.registration_id"
    " WHERE r.id = $1::uuid";

static json_t *req_view(struct clr_db *db, const char *id)
{
	PGresult *res = NULL;
	json_t *o = NULL;

	if (clr_db_exec_sql(db, req_view_sql, 1, &id, &res) == CLR_OK && PQntuples(res) == 1)
		o = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	PQclear(res);
	return o;
}

static const char *s_of(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "";
}

/* ---- provision ------------------------------------------------------------ */

/* Records err on the request; final also marks it failed. */
static void note_request(struct clr_db *db, const char *id, const char *msg, int final)
{
	const char *p[3] = {id, msg, final ? "true" : "false"};

	if (clr_db_exec_sql(db,
			    "UPDATE access_requests SET last_error = $2,"
			    " status = CASE WHEN $3::boolean THEN 'failed' ELSE status END,"
			    " updated_at = now() WHERE id = $1::uuid AND status = 'provisioning'",
			    3, p, NULL) != CLR_OK)
		clr_log(NULL, CLR_LOG_WARN, "access request %s: its error could not be recorded",
			id);
}

/* The client exists: the request becomes active, the developer hears of it. */
static enum clr_rc provision_done(struct clr_db *db, const char *id, const char *reg_id,
				  struct clr_err *e)
{
	PGresult *res = NULL;
	json_t *rq = NULL, *vars = NULL, *payload = NULL;
	enum clr_rc rc;

	if ((rc = clr_db_begin(db)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "database unavailable");
	rc = clr_db_exec_sql(db,
			     "UPDATE access_requests SET status = 'active', last_error = NULL,"
			     " updated_at = now() WHERE id = $1::uuid AND status = 'provisioning'"
			     " RETURNING id",
			     1, &id, &res);
	if (rc != CLR_OK)
		goto out;
	if (PQntuples(res) != 1) {
		/* Withdrawn while the IdP worked (app deleted): do not leave a client behind. */
		payload = json_pack("{s:s}", "registration_id", reg_id);
		rc = payload != NULL ? clr_jobs_enqueue(db, "deregister", payload, NULL)
				     : CLR_ERR_NOMEM;
		if (rc == CLR_OK)
			rc = clr_db_commit(db);
		clr_log(NULL, CLR_LOG_INFO,
			"access request %s was withdrawn; its client is "
			"deregistered",
			id);
		goto out;
	}
	rq = req_view(db, id);
	if (rq == NULL) {
		rc = CLR_ERR_DB;
		goto out;
	}
	vars =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "request_id", id, "developer_email",
		      s_of(rq, "developer_email"), "developer_name", s_of(rq, "developer_name"),
		      "product_name", s_of(rq, "product_name"), "plan_name", s_of(rq, "plan_name"),
		      "app_name", s_of(rq, "app_name"), "app_id", s_of(rq, "app_id"));
	payload = vars != NULL ? json_pack("{s:s, s:s, s:O}", "to", s_of(rq, "developer_email"),
					   "template", "request_approved", "vars", vars)
			       : NULL;
	if (payload == NULL) {
		rc = CLR_ERR_NOMEM;
		goto out;
	}
	if ((rc = clr_jobs_enqueue(db, "email", payload, NULL)) != CLR_OK ||
	    (rc = emit(db, "credential.created", rq)) != CLR_OK ||
	    (rc = clr_db_commit(db)) != CLR_OK)
		goto out;
	clr_log(NULL, CLR_LOG_INFO, "access request %s is active (client %s)", id,
		s_of(rq, "client_id"));
out:
	if (rc != CLR_OK)
		clr_err_set(e, rc, NULL, NULL, "the request's new state could not be stored");
	clr_db_rollback(db);
	PQclear(res);
	json_decref(rq);
	json_decref(vars);
	json_decref(payload);
	return rc;
}

static enum clr_rc job_provision(void *appv, struct clr_db *db, const struct clr_job *job,
				 struct clr_err *e)
{
	const struct reg_app *app = appv;
	const char *id = payload_uuid(job, "access_request_id", e);
	struct clr_http_client *http = NULL;
	struct reg_request req = {0};
	json_t *uris = NULL, *owner = NULL, *view = NULL;
	char *secret = NULL, reg_id[37] = "";
	const char *rstatus, *gstatus;
	PGresult *res = NULL;
	enum clr_rc rc;
	int final;

	if (id == NULL)
		return CLR_ERR_PARAM;
	rc = clr_db_exec_sql(db,
			     "SELECT r.status, g.id::text, g.status, g.client_type_id::text,"
			     " g.client_name, g.redirect_uris::text, g.scope, g.owner::text"
			     " FROM access_requests r LEFT JOIN registrations g"
			     " ON g.id = r.registration_id WHERE r.id = $1::uuid",
			     1, &id, &res);
	if (rc != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "reading the access request failed");
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 1)) {
		rc = clr_err_set(e, CLR_ERR_PARAM, "not_found", NULL,
				 "the access request or its registration does not exist");
		goto out;
	}
	rstatus = PQgetvalue(res, 0, 0);
	snprintf(reg_id, sizeof(reg_id), "%s", PQgetvalue(res, 0, 1));
	gstatus = PQgetvalue(res, 0, 2);
	if (strcmp(rstatus, "provisioning") != 0) {
		if (strcmp(gstatus, "pending") == 0)
			reg_op_note_failure(db, reg_id, "the access request was withdrawn", 1);
		else if (strcmp(gstatus, "active") == 0)
			rc = provision_done(db, id, reg_id, e);
		goto out;
	}
	if (strcmp(gstatus, "pending") == 0) {
		uris = json_loads(PQgetvalue(res, 0, 5), 0, NULL);
		owner = PQgetisnull(res, 0, 7) ? NULL : json_loads(PQgetvalue(res, 0, 7), 0, NULL);
		req.client_type_id = PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3);
		req.client_name = PQgetvalue(res, 0, 4);
		req.redirect_uris = uris;
		req.scope = PQgetisnull(res, 0, 6) ? NULL : PQgetvalue(res, 0, 6);
		req.owner = owner;
		if ((rc = clr_http_client_new(&http)) != CLR_OK) {
			clr_err_set(e, rc, NULL, NULL, "no HTTP client");
			goto out;
		}
		rc = reg_op_register(app, db, http, reg_id, &req, &view, &secret, e);
		if (rc == CLR_ERR_NOTFOUND)
			rc = CLR_ERR_PARAM;
		if (rc != CLR_OK) {
			final = rc == CLR_ERR_PARAM || job->attempt >= job->max_attempts;
			reg_op_note_failure(db, reg_id, e->msg, final);
			note_request(db, id, e->msg, final);
			clr_log(NULL, CLR_LOG_WARN,
				"access request %s: provisioning attempt %d/%d "
				"failed: %s",
				id, job->attempt, job->max_attempts, e->msg);
			goto out;
		}
	} else if (strcmp(gstatus, "active") != 0) {
		note_request(db, id, "the registration is no longer pending", 1);
		rc = clr_err_set(e, CLR_ERR_PARAM, "conflict", NULL, "the registration is %s",
				 gstatus);
		goto out;
	}
	rc = provision_done(db, id, reg_id, e);
out:
	if (secret != NULL)
		clr_unsealed_free(secret, strlen(secret));
	json_decref(view);
	json_decref(uris);
	json_decref(owner);
	clr_http_client_free(http);
	PQclear(res);
	return rc;
}

/* ---- access_rotate -------------------------------------------------------- */

static enum clr_rc job_access_rotate(void *appv, struct clr_db *db, const struct clr_job *job,
				     struct clr_err *e)
{
	const char *id = payload_uuid(job, "access_request_id", e);
	struct clr_http_client *http = NULL;
	json_t *view = NULL, *rq = NULL;
	char *secret = NULL, reg_id[37];
	PGresult *res = NULL;
	enum clr_rc rc;

	if (id == NULL)
		return CLR_ERR_PARAM;
	if ((rc = clr_db_exec_sql(db,
				  "SELECT registration_id::text FROM access_requests"
				  " WHERE id = $1::uuid AND status = 'active'"
				  " AND registration_id IS NOT NULL",
				  1, &id, &res)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "reading the access request failed");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return clr_err_set(e, CLR_ERR_PARAM, "conflict", NULL,
				   "the access request is no longer active");
	}
	snprintf(reg_id, sizeof(reg_id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if ((rc = clr_http_client_new(&http)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "no HTTP client");
	rc = reg_op_rotate(appv, db, http, reg_id, &view, &secret, e);
	if (secret != NULL)
		clr_unsealed_free(secret, strlen(secret));
	json_decref(view);
	clr_http_client_free(http);
	if (rc == CLR_ERR_NOTFOUND || rc == CLR_ERR_CONFLICT)
		return CLR_ERR_PARAM;
	if (rc != CLR_OK)
		return rc;
	/* The secret is rotated and stored; the event is best effort from here. */
	rq = req_view(db, id);
	if (rq != NULL && clr_db_begin(db) == CLR_OK) {
		if (emit(db, "credential.rotated", rq) != CLR_OK || clr_db_commit(db) != CLR_OK)
			clr_log(NULL, CLR_LOG_WARN,
				"access request %s: the rotation event was lost", id);
		clr_db_rollback(db);
	}
	json_decref(rq);
	return CLR_OK;
}

/* ---- client_update -------------------------------------------------------- */

static enum clr_rc job_client_update(void *appv, struct clr_db *db, const struct clr_job *job,
				     struct clr_err *e)
{
	const struct reg_app *app = appv;
	const char *id = payload_uuid(job, "registration_id", e);
	const json_t *uris = json_object_get(job->payload, "redirect_uris");
	struct clr_http_client *http = NULL;
	struct reg_row row = {0};
	struct reg_ctype ct = {0};
	struct reg_provider pv = {0};
	struct reg_request req = {0};
	struct clr_reg_input in = {0};
	struct clr_reg_result res = {0};
	struct clr_err de = {0};
	char *sec = NULL, *rat = NULL, *meta = NULL, *uris_s = NULL, exp[24];
	const char *p[10];
	enum clr_rc rc;

	if (id == NULL)
		return CLR_ERR_PARAM;
	if (!json_is_array(uris))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "redirect_uris",
				   "client_update job: redirect_uris must be an array");
	if ((rc = clr_http_client_new(&http)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "no HTTP client");
	if ((rc = clr_db_begin(db)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "database unavailable");
		goto out;
	}
	if ((rc = reg_row_load(app, db, id, 1, 1, &row, e)) != CLR_OK)
		goto out;
	if (strcmp(row.status, "active") != 0 || row.client_type_id == NULL) {
		rc = CLR_OK; /* revoked meanwhile: nothing to update */
		goto out;
	}
	if ((rc = reg_ctype_load(db, row.client_type_id, &ct, e)) != CLR_OK)
		goto out;
	req.client_type_id = row.client_type_id;
	req.client_name = row.client_name;
	req.redirect_uris = uris;
	req.scope = row.scope;
	if ((rc = reg_request_check(&req, &ct, e)) != CLR_OK ||
	    (rc = reg_provider_load(app, db, row.provider_id, 0, 1, &pv, e)) != CLR_OK)
		goto out;
	in.client_name = row.client_name;
	in.redirect_uris = uris;
	in.scope = row.scope;
	if ((rc = clr_drv_update(http, &pv.p, &ct.ct, &in, &row.ref, &res, &de)) != CLR_OK) {
		*e = de;
		goto out;
	}
	if ((rc = reg_seal(app, "registrations.client_secret", id, res.client_secret, &sec, e)) !=
		CLR_OK ||
	    (rc = reg_seal(app, "registrations.registration_access_token", id,
			   res.registration_access_token, &rat, e)) != CLR_OK)
		goto lost;
	if (res.metadata != NULL) {
		json_object_del(res.metadata, "client_secret");
		json_object_del(res.metadata, "registration_access_token");
		meta = json_dumps(res.metadata, JSON_COMPACT);
	}
	uris_s = json_dumps(uris, JSON_COMPACT);
	snprintf(exp, sizeof(exp), "%lld", res.client_secret_expires_at);
	p[0] = id;
	p[1] = row.client_type_id;
	p[2] = row.client_name;
	p[3] = uris_s;
	p[4] = row.scope;
	p[5] = sec;
	p[6] = rat;
	p[7] = res.registration_client_uri;
	p[8] = res.client_secret_expires_at != 0 ? exp : NULL;
	p[9] = meta;
	if (uris_s == NULL || (rc = clr_db_exec(db, "reg_rg_updated", 10, p, NULL)) != CLR_OK ||
	    (rc = clr_db_commit(db)) != CLR_OK) {
		if (rc == CLR_OK)
			rc = CLR_ERR_NOMEM;
		clr_err_set(e, rc, NULL, NULL, "the update could not be stored");
		goto lost;
	}
	clr_log(NULL, CLR_LOG_INFO, "registration %s (client %s): redirect URIs updated", id,
		row.client_id);
	goto out;
lost:
	clr_log(NULL, CLR_LOG_ERROR, "registration %s: updated at the IdP but not stored", id);
out:
	clr_db_rollback(db);
	free(sec);
	free(rat);
	free(meta);
	free(uris_s);
	clr_reg_result_clear(&res);
	reg_provider_release(&pv);
	reg_ctype_release(&ct);
	reg_row_release(&row);
	clr_http_client_free(http);
	return rc == CLR_ERR_NOTFOUND ? CLR_ERR_PARAM : rc;
}

const struct clr_job_kind acc_job_kinds[] = {
    {"email", job_email},
    {"webhook", job_webhook},
    {"provision", job_provision},
    {"access_rotate", job_access_rotate},
    {"client_update", job_client_update},
};
const size_t acc_njob_kinds = sizeof(acc_job_kinds) / sizeof(acc_job_kinds[0]);

const struct clr_job_kind *reg_all_job_kinds(size_t *n)
{
	static struct clr_job_kind all[32];
	static size_t nall;
	size_t i;

	if (nall == 0) {
		for (i = 0; i < reg_njob_kinds && nall < 32; i++)
			all[nall++] = reg_job_kinds[i];
		for (i = 0; i < acc_njob_kinds && nall < 32; i++)
			all[nall++] = acc_job_kinds[i];
	}
	*n = nall;
	return all;
}
