/*
 * h_webhooks.c - webhook subscriptions (admins only).
 *
 * A webhook's signing secret is made here, shown once in the creation
 * answer, and stored sealed; deliveries (jobs run by the registrar's
 * worker) sign the body with it and never carry it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "clearance/log.h"
#include "clearance/seal.h"
#include "clearance/util.h"
#include "clearance/oauth.h"
#include "access.h"
#include "h_webhooks.h"
#include "util.h"

static const char *const acc_events[] = {
    "access_request.created", "access_request.approved", "access_request.rejected",
    "access_request.revoked", "credential.created",	 "credential.rotated",
};
#define NEVENTS (sizeof(acc_events) / sizeof(acc_events[0]))

static const struct clr_field webhook_fields[] = {
    {"url", CLR_FT_STR, 1, 0, 1, 2048, 0, 0},
    {"events", CLR_FT_STRARR, 1, 0, 1, 64, NEVENTS, 0},
};

const struct clr_body acc_body_webhook_create = CLR_BODY(webhook_fields, 0, NULL);

const struct clr_body acc_body_webhook_patch = CLR_BODY(webhook_fields, 1, NULL);

enum clr_rc acc_webhook_check(const json_t *body, struct clr_err *e)
{
	const json_t *events = json_object_get(body, "events"), *v;
	const json_t *url = json_object_get(body, "url");
	size_t i, j;

	if (events != NULL && json_array_size(events) == 0)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "events",
				   "events must name at least one event");
	json_array_foreach(events, i, v)
	{
		for (j = 0; j < NEVENTS && strcmp(acc_events[j], json_string_value(v)) != 0; j++)
			;
		if (j == NEVENTS)
			return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "events",
					   "unknown event \"%.64s\"", json_string_value(v));
	}
	/* Same rule as redirect URIs: https, or http to a loopback receiver. */
	if (url != NULL && clr_redirect_uri_check(json_string_value(url), "url", e) != CLR_OK) {
		snprintf(e->error, sizeof(e->error), "invalid_request");
		return CLR_ERR_PARAM;
	}
	return CLR_OK;
}

enum clr_rc acc_webhook_secret_new(const struct acc_app *app, const char *id, char **secret,
				   char **sealed, struct clr_err *e)
{
	enum clr_rc rc;

	*secret = *sealed = NULL;
	if ((rc = clr_random_token("whsec_", 32, secret)) != CLR_OK ||
	    (rc = clr_seal(app->sealer, "webhooks.secret", id, *secret, strlen(*secret), sealed)) !=
		CLR_OK) {
		acc_webhook_secret_free(*secret, *sealed);
		*secret = *sealed = NULL;
		return clr_err_set(e, rc, NULL, NULL, "the signing secret could not be made");
	}
	return CLR_OK;
}

void acc_webhook_secret_free(char *secret, char *sealed)
{
	if (secret != NULL) {
		OPENSSL_cleanse(secret, strlen(secret));
		free(secret);
	}
	free(sealed);
}

void acc_webhook_secret_reply(struct clr_req *r, int status, json_t *out_take, const char *secret)
{
	/* The only time the secret leaves the database. */
	json_object_set_new(out_take, "secret", json_string(secret));
	clr_resp_header(r, "Cache-Control", "no-store");
	clr_resp_json(r, status, out_take);
}

void acc_h_webhooks_create(struct clr_req *r)
{
	const struct acc_app *app = r->app;
	struct clr_err e = {0};
	const json_t *events = json_object_get(r->json, "events");
	const char *p[4];
	char id[37], *secret = NULL, *sealed = NULL, *ev = NULL;
	json_t *out = NULL;

	if (acc_webhook_check(r->json, &e) != CLR_OK)
		goto fail;
	if ((e.rc = clr_uuid_new(id)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "no id could be made");
		goto fail;
	}
	if (acc_webhook_secret_new(app, id, &secret, &sealed, &e) != CLR_OK)
		goto fail;
	ev = json_dumps(events, JSON_COMPACT);
	if (ev == NULL) {
		clr_err_set(&e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto fail;
	}
	p[0] = id;
	p[1] = json_string_value(json_object_get(r->json, "url"));
	p[2] = ev;
	p[3] = sealed;
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (acc_db_json(r->db, "acc_webhook_insert", 4, p, &out, &e) != CLR_OK)
		goto fail;
	if ((e.rc = acc_audit(r, "webhook.create", "webhook", id,
			      json_pack("{s:s, s:O}", "url", p[1], "events", events))) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the webhook could not be stored");
		goto fail;
	}
	acc_webhook_secret_reply(r, 201, out, secret);
	out = NULL;
	goto out;
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	json_decref(out);
	acc_webhook_secret_free(secret, sealed);
	free(ev);
}

void acc_h_webhooks_list(struct clr_req *r)
{
	struct clr_err e = {0};
	json_t *out = NULL;

	if (acc_db_json_list(r->db, "acc_webhooks_list", 0, NULL, &out, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	clr_resp_json(r, 200, json_pack("{s:o}", "webhooks", out));
}

void acc_h_webhooks_get(struct clr_req *r)
{
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, "webhook");
	json_t *out = NULL;

	if (id == NULL)
		return;
	if (acc_db_json(r->db, "acc_webhook_get", 1, &id, &out, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	clr_resp_json(r, 200, out);
}

void acc_h_webhooks_delete(struct clr_req *r)
{
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, "webhook");
	int n = 0;

	if (id == NULL)
		return;
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (acc_db_do(r->db, "acc_webhook_delete", 1, &id, &n, "deleting the webhook", &e) !=
	    CLR_OK)
		goto fail;
	if (n == 0) {
		clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such webhook");
		goto fail;
	}
	if ((e.rc = acc_audit(r, "webhook.delete", "webhook", id, NULL)) != CLR_OK ||
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
