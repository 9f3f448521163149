/*
 * jobs.c - the access service's background jobs, run by its own worker
 * (which claims only these kinds):
 *
 *   email           {to, template, vars}: one templated mail (mail.h)
 *   webhook         {webhook_id, event, data}: one signed delivery, each
 *                   attempt recorded in webhook_deliveries, retried up to
 *                   CLEARANCE_WEBHOOK_MAX_ATTEMPTS
 *   request_settle  {access_request_id, registration_id, rotated}: queued
 *                   by the trigger on registrations (sql/010) when the
 *                   registration a request asked for changed; see
 *                   acc_req_settle
 *
 * Failure policy, as jobs.h defines it: CLR_ERR_PARAM ends a job at once
 * (it can never succeed: bad payload, row gone, template missing); any
 * other error is retried with backoff.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "clearance/http_out.h"
#include "clearance/log.h"
#include "clearance/mail.h"
#include "clearance/seal.h"
#include "clearance/util.h"
#include "access.h"
#include "jobs.h"
#include "requests.h"

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
	const struct acc_app *app = appv;
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

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Webhook deliveries keep trying for a day and more (a receiver down for
 * maintenance overnight), not the few attempts other jobs get: the job's
 * own max_attempts becomes cfg->webhook_max_attempts, with the queue's
 * doubling backoff (capped at 24 h).  The worker reads the limit at each
 * claim, so this counts from the next attempt on (a first attempt is
 * final only when CLEARANCE_JOB_MAX_ATTEMPTS is 1).
 */
static void own_schedule(const struct acc_app *app, struct clr_db *db, const struct clr_job *job)
{
	char n[16];
	const char *p[2] = {job->id, n};

	if (job->max_attempts == app->cfg->webhook_max_attempts)
		return;
	snprintf(n, sizeof(n), "%d", app->cfg->webhook_max_attempts);
	if (clr_db_exec_sql(db, "UPDATE jobs SET max_attempts = $2::int WHERE id = $1::uuid", 2, p,
			    NULL) != CLR_OK)
		clr_log(NULL, CLR_LOG_WARN, "webhook job %s: its retry limit could not be set",
			job->id);
}

/* One row of the webhook's delivery history; best effort (a deleted webhook has none). */
static void record_attempt(struct clr_db *db, const char *wid, const struct clr_job *job,
			   const char *event, long status, long long ms, const char *err)
{
	char attempt[16], st[24], dur[24];
	const char *p[8];

	snprintf(attempt, sizeof(attempt), "%d", job->attempt);
	snprintf(st, sizeof(st), "%ld", status);
	snprintf(dur, sizeof(dur), "%lld", ms > 0 ? ms : 0);
	p[0] = wid;
	p[1] = job->id;
	p[2] = event;
	p[3] = attempt;
	p[4] = status > 0 ? st : NULL;
	p[5] = dur;
	p[6] = err == NULL ? "true" : "false";
	p[7] = err;
	if (clr_db_exec(db, "acc_webhook_delivery_insert", 8, p, NULL) != CLR_OK)
		clr_log(NULL, CLR_LOG_WARN, "webhook %s: delivery attempt of job %s not recorded",
			wid, job->id);
}

static enum clr_rc job_webhook(void *appv, struct clr_db *db, const struct clr_job *job,
			       struct clr_err *e)
{
	const struct acc_app *app = appv;
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
	long long t0;
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
	own_schedule(app, db, job);
	t0 = now_ms();
	rc = clr_http_do(http, &opts, "POST", url, h, 4, body, strlen(body), &resp, e);
	if (rc == CLR_OK && (resp.status < 200 || resp.status > 299))
		rc = clr_err_set(e, CLR_ERR_UPSTREAM, "webhook_error", NULL,
				 "the receiver answered HTTP %ld", resp.status);
	record_attempt(db, wid, job, event, resp.status, now_ms() - t0,
		       rc == CLR_OK ? NULL : e->msg);
	if (rc != CLR_OK)
		goto out;
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

/* ---- request_settle ------------------------------------------------------ */

static enum clr_rc job_settle(void *appv, struct clr_db *db, const struct clr_job *job,
			      struct clr_err *e)
{
	const char *id = payload_uuid(job, "access_request_id", e);
	const char *reg_id = id != NULL ? payload_uuid(job, "registration_id", e) : NULL;

	(void)appv;
	if (reg_id == NULL)
		return CLR_ERR_PARAM;
	return acc_req_settle(db, id, reg_id,
			      json_is_true(json_object_get(job->payload, "rotated")), e);
}

const struct clr_job_kind acc_job_kinds[] = {
    {"email", job_email},
    {"webhook", job_webhook},
    {"request_settle", job_settle},
};
const size_t acc_njob_kinds = sizeof(acc_job_kinds) / sizeof(acc_job_kinds[0]);
