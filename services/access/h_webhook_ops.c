/*
 * h_webhook_ops.c - changing a webhook after creation and looking at its
 * deliveries (admins only): PATCH (url, events), a new signing secret
 * (shown once), a test delivery, and the delivery history.
 *
 * Every change is audited in the same transaction.  A retry of a delivery
 * queued before a secret rotation is signed with the new secret: the
 * receiver sees the same delivery id under the new key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/jobs.h"
#include "clearance/log.h"
#include "clearance/seal.h"
#include "clearance/util.h"
#include "access.h"
#include "h_webhooks.h"
#include "util.h"

void acc_h_webhooks_patch(struct clr_req *r)
{
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, "webhook");
	const json_t *events = json_object_get(r->json, "events");
	const char *p[3];
	char *ev = NULL;
	json_t *out = NULL;

	if (id == NULL)
		return;
	if (acc_webhook_check(r->json, &e) != CLR_OK)
		goto fail;
	if (events != NULL && (ev = json_dumps(events, JSON_COMPACT)) == NULL) {
		clr_err_set(&e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto fail;
	}
	p[0] = id;
	p[1] = json_string_value(json_object_get(r->json, "url"));
	p[2] = ev;
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (acc_db_json(r->db, "acc_webhook_update", 3, p, &out, &e) != CLR_OK) {
		if (e.rc == CLR_ERR_NOTFOUND)
			clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such webhook");
		goto fail;
	}
	if ((e.rc = acc_audit(r, "webhook.update", "webhook", id,
			      json_pack("{s:O, s:O}", "url", json_object_get(out, "url"), "events",
					json_object_get(out, "events")))) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the webhook could not be stored");
		goto fail;
	}
	clr_resp_json(r, 200, out);
	out = NULL;
	goto out;
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	json_decref(out);
	free(ev);
}

void acc_h_webhooks_rotate(struct clr_req *r)
{
	const struct acc_app *app = r->app;
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, "webhook");
	const char *p[2];
	char *secret = NULL, *sealed = NULL;
	json_t *out = NULL;

	if (id == NULL)
		return;
	if (acc_webhook_secret_new(app, id, &secret, &sealed, &e) != CLR_OK)
		goto fail;
	p[0] = id;
	p[1] = sealed;
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (acc_db_json(r->db, "acc_webhook_set_secret", 2, p, &out, &e) != CLR_OK) {
		if (e.rc == CLR_ERR_NOTFOUND)
			clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such webhook");
		goto fail;
	}
	if ((e.rc = acc_audit(r, "webhook.rotate_secret", "webhook", id, NULL)) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the new secret could not be stored");
		goto fail;
	}
	acc_webhook_secret_reply(r, 200, out, secret);
	out = NULL;
	goto out;
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	json_decref(out);
	acc_webhook_secret_free(secret, sealed);
}

void acc_h_webhooks_test(struct clr_req *r)
{
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, "webhook");
	char job[37];
	json_t *out = NULL, *payload = NULL;

	if (id == NULL)
		return;
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (acc_db_json(r->db, "acc_webhook_get", 1, &id, &out, &e) != CLR_OK) {
		if (e.rc == CLR_ERR_NOTFOUND)
			clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such webhook");
		goto fail;
	}
	/* Signed and retried like any delivery; the event says it is a test. */
	payload = json_pack("{s:s, s:s, s:{s:b, s:s}}", "webhook_id", id, "event", "webhook.test",
			    "data", "test", 1, "request_id", r->reqid);
	if (payload == NULL) {
		clr_err_set(&e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto fail;
	}
	if ((e.rc = clr_jobs_enqueue(r->db, "webhook", payload, job)) != CLR_OK ||
	    (e.rc = acc_audit(r, "webhook.test", "webhook", id,
			      json_pack("{s:s}", "job_id", job))) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the test delivery could not be queued");
		goto fail;
	}
	clr_resp_json(r, 202, json_pack("{s:s, s:s}", "job_id", job, "event", "webhook.test"));
	goto out;
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	json_decref(out);
	json_decref(payload);
}

void acc_h_webhooks_deliveries(struct clr_req *r)
{
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, "webhook");
	char lim[16], off[16], next[128];
	const char *p[3];
	json_t *out = NULL;
	json_int_t total;
	long o;

	if (id == NULL)
		return;
	if (clr_req_paging(r, lim, off, &e) != CLR_OK)
		goto fail;
	p[0] = id;
	p[1] = lim;
	p[2] = off;
	if (acc_db_json(r->db, "acc_webhook_deliveries", 3, p, &out, &e) != CLR_OK) {
		if (e.rc == CLR_ERR_NOTFOUND)
			clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such webhook");
		goto fail;
	}
	total = json_integer_value(json_object_get(out, "total"));
	o = atol(off) + (long)json_array_size(json_object_get(out, "deliveries"));
	if (json_array_size(json_object_get(out, "deliveries")) > 0 && o < (long)total) {
		snprintf(next, sizeof(next), "/v1/webhooks/%s/deliveries?limit=%s&offset=%ld", id,
			 lim, o);
		json_object_set_new(out, "next", json_string(next));
	} else {
		json_object_set_new(out, "next", json_null());
	}
	clr_resp_json(r, 200, out);
	return;
fail:
	json_decref(out);
	clr_resp_fail(r, &e);
}
