/*
 * drv_http_bridge.c - Kong Konnect's "HTTP DCR" bridge contract: a small
 * service in front of any IdP that speaks
 *   POST   {base}/                      -> 201 {client_id, client_secret, ...}
 *   DELETE {base}/{client_id}           -> 204
 *   POST   {base}/{client_id}/new-secret -> 200 {client_id, client_secret}
 * authenticated with "X-API-KEY: <key>" (the provider's
 * initial_access_token), with {"error","error_description"} error bodies.
 * The contract has no update operation, and its dates
 * (client_id_issued_at, client_secret_expires_at) are RFC 3339 strings, not
 * RFC 7591 numbers.  Scopes travel as an array ("scopes").
 *
 * The request body follows the reference bridge's ApplicationPayload
 * schema (Kong/konnect-portal-dcr-handler), which is closed
 * (additionalProperties: false) and requires, besides the RFC 7591 fields,
 * application_description and five Konnect uuids.  We have no Konnect
 * portal, organization or developer, so those are the nil uuid; the
 * provider's id stands for dcr_provider_id and the client type's id for
 * auth_strategy_id (nil when unknown).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "clearance/util.h"
#include "driver.h"

#define NIL_UUID "00000000-0000-0000-0000-000000000000"

static const char *uuid_or_nil(const char *s)
{
	return s != NULL && clr_uuid_valid(s) ? s : NIL_UUID;
}

static enum clr_rc split_scopes(const char *scope, json_t **out)
{
	json_t *a = json_array();
	const char *s = scope, *end;

	*out = NULL;
	if (a == NULL)
		return CLR_ERR_NOMEM;
	while (s != NULL && *s != '\0') {
		while (*s == ' ')
			s++;
		end = s;
		while (*end != '\0' && *end != ' ')
			end++;
		if (end > s && json_array_append_new(a, json_stringn(s, (size_t)(end - s))) != 0) {
			json_decref(a);
			return CLR_ERR_PARAM;
		}
		s = end;
	}
	*out = a;
	return CLR_OK;
}

static enum clr_rc bridge_body(const struct drv_provider *p, const struct drv_client_type *ct,
			       const struct drv_reg_input *in, json_t **out, struct clr_err *e)
{
	enum clr_rc rc;
	json_t *o, *scopes = NULL;
	int bad = 0;

	if ((rc = drv_rfc7591_body(ct, in, NULL, &o, e)) != CLR_OK)
		return rc;
	/* The bridge schema is closed (additionalProperties: false). */
	json_object_del(o, "response_types");
	json_object_del(o, "scope");
	if (json_object_get(o, "redirect_uris") == NULL)
		bad |= json_object_set_new(o, "redirect_uris", json_array());
	if (split_scopes(in->scope, &scopes) != CLR_OK)
		bad = 1;
	else
		bad |= json_object_set_new(o, "scopes", scopes);
	if (json_object_get(o, "token_endpoint_auth_method") == NULL)
		bad |= json_object_set_new(o, "token_endpoint_auth_method",
					   json_string("client_secret_basic"));
	bad |= json_object_set_new(o, "application_description", json_string(in->client_name));
	bad |= json_object_set_new(o, "portal_id", json_string(NIL_UUID));
	bad |= json_object_set_new(o, "organization_id", json_string(NIL_UUID));
	bad |= json_object_set_new(o, "developer_id", json_string(NIL_UUID));
	bad |= json_object_set_new(o, "auth_strategy_id", json_string(uuid_or_nil(ct->id)));
	bad |= json_object_set_new(o, "dcr_provider_id", json_string(uuid_or_nil(p->id)));
	if (bad) {
		json_decref(o);
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata", "scope",
				   "bridge metadata could not be encoded");
	}
	*out = o;
	return CLR_OK;
}

static enum clr_rc build(enum drv_op op, const struct drv_provider *p,
			 const struct drv_client_type *ct, const struct drv_reg_input *in,
			 const struct drv_reg_ref *ref, const char *bearer,
			 struct drv_wire_req *out, struct clr_err *e)
{
	const char *base = p->registration_endpoint;
	const char *key = op == DRV_OP_REGISTER ? bearer : p->initial_access_token;
	const char *cid = ref != NULL ? ref->client_id : NULL;
	size_t n;
	enum clr_rc rc;

	memset(out, 0, sizeof(*out));
	if (op == DRV_OP_UPDATE)
		return clr_err_set(e, CLR_ERR_CONFLICT, "unsupported_operation", NULL,
				   "the HTTP DCR bridge contract has no update operation; "
				   "delete and register the client again");
	if (base == NULL || base[0] == '\0')
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "registration_endpoint",
				   "the bridge provider has no base URL");
	if (key == NULL || key[0] == '\0')
		return clr_err_set(e, CLR_ERR_CONFLICT, "invalid_request", "initial_access_token",
				   "the bridge provider has no API key");
	if ((rc = drv_set_auth(out, "X-API-KEY", NULL, key, e)) != CLR_OK)
		goto out;
	switch (op) {
	case DRV_OP_REGISTER:
		out->method = "POST";
		n = strlen(base);
		if (asprintf(&out->url, "%s%s", base, base[n - 1] == '/' ? "" : "/") < 0) {
			out->url = NULL;
			rc = clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
			break;
		}
		rc = bridge_body(p, ct, in, &out->json, e);
		break;
	case DRV_OP_DELETE:
		out->method = "DELETE";
		rc = drv_url_seg(base, cid, NULL, &out->url, e);
		break;
	case DRV_OP_ROTATE:
		out->method = "POST";
		rc = drv_url_seg(base, cid, "/new-secret", &out->url, e);
		break;
	default:
		rc = clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL, "unknown operation");
		break;
	}
out:
	if (rc != CLR_OK)
		drv_wire_req_clear(out);
	return rc;
}

/* RFC 3339 UTC ("2024-05-01T10:00:00Z", fractions allowed) to seconds, 0 if not. */
static long long rfc3339_utc(const char *s)
{
	struct tm tm;
	const char *rest;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	rest = s != NULL ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (rest == NULL)
		return 0;
	if (*rest == '.') {
		rest++;
		while (*rest >= '0' && *rest <= '9')
			rest++;
	}
	if (strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0)
		return 0;
	t = timegm(&tm);
	return t > 0 ? (long long)t : 0;
}

static enum clr_rc parse(enum drv_op op, const struct drv_provider *p,
			 const struct clr_http_resp *resp, struct drv_reg_result *out,
			 struct clr_err *e)
{
	json_error_t jerr;
	json_t *root = NULL, *o, *exp;
	const char *cid, *sec;
	enum clr_rc rc;

	(void)p;
	memset(out, 0, sizeof(*out));
	if (op == DRV_OP_DELETE)
		return drv_parse_no_content(resp, e);
	if (op == DRV_OP_UPDATE)
		return clr_err_set(e, CLR_ERR_CONFLICT, "unsupported_operation", NULL,
				   "the HTTP DCR bridge contract has no update operation");
	if (resp->status < 200 || resp->status >= 300)
		return drv_parse_error(resp, e);
	if (resp->body != NULL && (resp->content_type == NULL || clr_http_is_json(resp)))
		root = json_loadb(resp->body, resp->body_len, JSON_REJECT_DUPLICATES, &jerr);
	o = root;
	/* Kong's own sample bridge wraps the answer as {"application": {...}}. */
	if (json_object_get(o, "client_id") == NULL &&
	    json_is_object(json_object_get(o, "application")))
		o = json_object_get(o, "application");
	cid = json_string_value(json_object_get(o, "client_id"));
	sec = json_string_value(json_object_get(o, "client_secret"));
	if (!json_is_object(o) || cid == NULL || cid[0] == '\0' || sec == NULL || sec[0] == '\0') {
		rc = clr_err_set(e, CLR_ERR_UPSTREAM, "idp_error", "client_secret",
				 "the bridge answered HTTP %ld without client_id and client_secret",
				 resp->status);
		goto out;
	}
	out->client_id = strdup(cid);
	out->client_secret = strdup(sec);
	exp = json_object_get(o, "client_secret_expires_at");
	if (json_is_integer(exp) && json_integer_value(exp) > 0)
		out->client_secret_expires_at = json_integer_value(exp);
	else if (json_is_string(exp))
		out->client_secret_expires_at = rfc3339_utc(json_string_value(exp));
	out->metadata = json_deep_copy(o);
	if (out->client_id == NULL || out->client_secret == NULL || out->metadata == NULL) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
		goto out;
	}
	json_object_del(out->metadata, "client_secret");
	rc = CLR_OK;
out:
	json_decref(root);
	if (rc != CLR_OK)
		drv_reg_result_clear(out);
	return rc;
}

const struct drv_driver drv_http_bridge = {
    .kind = DRV_IDP_HTTP_BRIDGE,
    .can_rotate = 1,
    .needs_initial_token = 1,
    .build = build,
    .parse = parse,
};
