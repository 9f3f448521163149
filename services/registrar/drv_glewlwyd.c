/*
 * drv_glewlwyd.c - Glewlwyd 2.x (its oidc plugin).  Plain RFC 7591/7592,
 * with two habits of its own:
 *   - it refuses every registration without redirect_uris ("redirect_uris is
 *     mandatory"), also for a client-credentials-only client, so such a
 *     client gets DRV_PLACEHOLDER_REDIRECT_URI (unreachable by design: no
 *     authorization flow is enabled for it);
 *   - its initial access token is usually a one-use token that lives an
 *     hour, obtained with client credentials and the plugin's
 *     register-client-auth-scope (provider initial_client_id /
 *     initial_client_secret / initial_token_scope); driver.c caches it, and
 *     once a cached one is refused (401/403) and retried with a fresh one,
 *     fetches one for every registration (token_cache.h).
 * It issues a new client secret on every RFC 7592 PUT (the RFC allows it):
 * drv_update's out->client_secret carries it.
 *
 * Clearance's tag: Glewlwyd copies the whole registration request into the
 * client it creates, and its client store keeps the core field
 * "description", so a registration sends description = DRV_TAG_PREFIX +
 * the registration's uuid.
 *
 * Listing (reconcile): the admin API, GET {server}/api/client/?offset=N&limit=100,
 * authorised with an admin API key ("Authorization: token <key>", with
 * admin_session_authentication including api_key; the provider's
 * reconcile credential); {server}/api is the part of the issuer before the
 * plugin name.  A listed client is deleted with DELETE /api/client/{client_id}
 * (which disables it in Glewlwyd 2.7).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "driver.h"

#define GLW_PAGE 100

/* {server}/api from the issuer {server}/api/{plugin}. */
static enum clr_rc api_base(const struct drv_provider *p, char **out, struct clr_err *e)
{
	const char *iss = p->issuer, *a;

	*out = NULL;
	a = iss != NULL ? strstr(iss, "/api/") : NULL;
	if (a == NULL)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "issuer",
				   "a Glewlwyd issuer is <server>/api/<plugin>");
	if (asprintf(out, "%.*s/api", (int)(a - iss), iss) < 0) {
		*out = NULL;
		return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
	}
	return CLR_OK;
}

static enum clr_rc build(enum drv_op op, const struct drv_provider *p,
			 const struct drv_client_type *ct, const struct drv_reg_input *in,
			 const struct drv_reg_ref *ref, const char *bearer,
			 struct drv_wire_req *out, struct clr_err *e)
{
	struct drv_reg_input sub;
	json_t *placeholder = NULL;
	char *uri = NULL;
	enum clr_rc rc;

	if (op == DRV_OP_REGISTER && (bearer == NULL || bearer[0] == '\0'))
		return clr_err_set(
		    e, CLR_ERR_CONFLICT, "invalid_request", "initial_access_token",
		    "Glewlwyd registration needs an initial access token (or initial_client_id "
		    "and initial_client_secret to obtain one)");
	if ((op == DRV_OP_REGISTER || op == DRV_OP_UPDATE) && in != NULL &&
	    json_array_size(in->redirect_uris) == 0) {
		placeholder = json_pack("[s]", DRV_PLACEHOLDER_REDIRECT_URI);
		if (placeholder == NULL)
			return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
		sub = *in;
		sub.redirect_uris = placeholder;
		in = &sub;
	}
	if ((op == DRV_OP_UPDATE || op == DRV_OP_DELETE) &&
	    (rc = drv_client_uri(p, ref, &uri, e)) != CLR_OK)
		goto out;
	rc = drv_build_rfc7592(op, p, ct, in, ref, bearer, p->registration_endpoint, uri, out, e);
	if (rc == CLR_OK && out->json != NULL && in != NULL && in->tag != NULL) {
		char *d = NULL;
		if (asprintf(&d, DRV_TAG_PREFIX "%s", in->tag) < 0 ||
		    json_object_set_new(out->json, "description", json_string(d)) != 0) {
			drv_wire_req_clear(out);
			rc = clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
		}
		free(d);
	}
out:
	free(uri);
	json_decref(placeholder);
	return rc;
}

static enum clr_rc build_list(const struct drv_provider *p, const char *cred, const char *cursor,
			      struct drv_wire_req *out, struct clr_err *e)
{
	char *base = NULL, *url = NULL;
	enum clr_rc rc;

	memset(out, 0, sizeof(*out));
	if ((rc = api_base(p, &base, e)) != CLR_OK)
		return rc;
	if (asprintf(&url, "%s/client/", base) < 0) {
		free(base);
		return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
	}
	rc = drv_offset_list_req(out, url, cursor, "offset", "limit", GLW_PAGE, "token", cred, e);
	free(url);
	free(base);
	return rc;
}

static enum clr_rc parse_list(const struct drv_provider *p, const char *cursor,
			      const struct clr_http_resp *resp, struct drv_list_page *out,
			      struct clr_err *e)
{
	json_t *arr = NULL, *c;
	long off;
	size_t i;
	enum clr_rc rc;

	(void)p;
	memset(out, 0, sizeof(*out));
	if ((rc = drv_offset_cursor(cursor, &off, e)) != CLR_OK)
		return rc;
	if ((rc = drv_list_array(resp, &arr, e)) != CLR_OK)
		return rc;
	json_array_foreach(arr, i, c)
	{
		/* A deleted client is only disabled in Glewlwyd: it is gone for us. */
		if (json_is_false(json_object_get(c, "enabled")))
			continue;
		rc = drv_list_add(out, json_string_value(json_object_get(c, "client_id")),
				  json_string_value(json_object_get(c, "name")), NULL,
				  json_string_value(json_object_get(c, "description")),
				  json_string_value(json_object_get(c, "client_secret")), e);
		if (rc != CLR_OK)
			goto out;
	}
	rc = drv_offset_next(off, json_array_size(arr), GLW_PAGE, &out->next, e);
out:
	json_decref(arr);
	if (rc != CLR_OK)
		drv_list_page_clear(out);
	return rc;
}

static enum clr_rc build_list_delete(const struct drv_provider *p, const char *cred,
				     const struct drv_listed *it, struct drv_wire_req *out,
				     struct clr_err *e)
{
	char *base = NULL;
	enum clr_rc rc;

	memset(out, 0, sizeof(*out));
	if ((rc = api_base(p, &base, e)) != CLR_OK)
		return rc;
	out->method = "DELETE";
	rc = drv_url_seg(base, "client", NULL, &out->url, e);
	if (rc == CLR_OK) {
		char *u = out->url;
		out->url = NULL;
		rc = drv_url_seg(u, it->client_id, NULL, &out->url, e);
		free(u);
	}
	if (rc == CLR_OK)
		rc = drv_set_auth(out, "Authorization", "token", cred, e);
	free(base);
	if (rc != CLR_OK)
		drv_wire_req_clear(out);
	return rc;
}

const struct drv_driver drv_glewlwyd = {
    .kind = DRV_IDP_GLEWLWYD,
    .can_rotate = 0,
    .needs_initial_token = 1,
    .build_initial_token = drv_cc_build_initial_token,
    .parse_initial_token = drv_cc_parse_initial_token,
    .build = build,
    .parse = drv_parse_rfc7592,
    .list_tagged = 1,
    .list_own_credential = 1,
    .build_list = build_list,
    .parse_list = parse_list,
    .build_list_delete = build_list_delete,
};
