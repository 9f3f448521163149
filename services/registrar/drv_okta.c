/*
 * drv_okta.c - Okta's Dynamic Client Registration API,
 * {org}/oauth2/v1/clients, authorised with an Okta API token
 * ("Authorization: SSWS <token>") for every operation: Okta issues no
 * registration access token.  The body is Okta's subset of RFC 7591 plus
 * its own application_type ("service" for machine-to-machine, "web"...);
 * Okta has no "scope" client metadata (scopes are granted by the
 * authorization server's policies), so none is sent.  Secret rotation is
 * POST /oauth2/v1/clients/{id}/lifecycle/newSecret, which answers with the
 * client and its new client_secret.  The org URL comes from
 * registration_endpoint when it is Okta's, else from the issuer with any
 * "/oauth2/<server>" suffix removed.
 *
 * Listing (reconcile): Okta's Apps API, GET {org}/api/v1/apps?limit=200
 * with the same API token, paged with after=<id of the last app of the
 * page>; an OAuth app's client_id is credentials.oauthClient.client_id, its
 * label the client_name.  Okta's DCR body has no free-form field, so an Okta
 * client carries no Clearance tag: a listing matches client_ids only, and
 * clients nobody here holds are reported, never touched.  A listed client
 * is deleted through the DCR API with the API token (drv_delete).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "driver.h"

#define OKTA_CLIENTS "/oauth2/v1/clients"

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static enum clr_rc clients_url(const struct drv_provider *p, char **out, struct clr_err *e)
{
	const char *iss = p->issuer, *cut;
	size_t n;

	*out = NULL;
	if (p->registration_endpoint != NULL && ends_with(p->registration_endpoint, OKTA_CLIENTS)) {
		*out = strdup(p->registration_endpoint);
	} else if (iss != NULL && iss[0] != '\0') {
		/* https://org.okta.com/oauth2/default -> https://org.okta.com */
		cut = strstr(iss, "/oauth2");
		n = cut != NULL && (cut[7] == '/' || cut[7] == '\0') ? (size_t)(cut - iss)
								     : strlen(iss);
		while (n > 0 && iss[n - 1] == '/')
			n--;
		if (asprintf(out, "%.*s" OKTA_CLIENTS, (int)n, iss) < 0)
			*out = NULL;
	} else if (p->registration_endpoint != NULL && p->registration_endpoint[0] != '\0') {
		*out = strdup(p->registration_endpoint);
	} else {
		return clr_err_set(
		    e, CLR_ERR_PARAM, "invalid_request", "issuer",
		    "the Okta provider has neither an issuer nor a registration endpoint");
	}
	if (*out == NULL)
		return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
	return CLR_OK;
}

/* "service" for a machine-to-machine type, "web" otherwise, unless set. */
static const char *app_type(const struct drv_client_type *ct)
{
	const char *g;

	if (ct->okta_application_type != NULL && ct->okta_application_type[0] != '\0')
		return ct->okta_application_type;
	g = json_string_value(json_array_get(ct->grant_types, 0));
	if (json_array_size(ct->grant_types) == 1 && g != NULL &&
	    strcmp(g, "client_credentials") == 0)
		return "service";
	return "web";
}

static enum clr_rc okta_body(const struct drv_client_type *ct, const struct drv_reg_input *in,
			     const char *client_id, json_t **out, struct clr_err *e)
{
	enum clr_rc rc;
	const char *at;
	json_t *o;
	int bad = 0;

	if ((rc = drv_rfc7591_body(ct, in, client_id, &o, e)) != CLR_OK)
		return rc;
	at = app_type(ct);
	json_object_del(o, "scope");
	if (json_array_size(json_object_get(o, "response_types")) == 0) {
		/* Okta's service apps take "token"; others get Okta's default. */
		if (strcmp(at, "service") == 0)
			bad |= json_object_set_new(o, "response_types", json_pack("[s]", "token"));
		else
			json_object_del(o, "response_types");
	}
	bad |= json_object_set_new(o, "application_type", json_string(at));
	if (bad) {
		json_decref(o);
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata",
				   "okta_application_type",
				   "Okta client metadata could not be encoded");
	}
	*out = o;
	return CLR_OK;
}

static enum clr_rc build(enum drv_op op, const struct drv_provider *p,
			 const struct drv_client_type *ct, const struct drv_reg_input *in,
			 const struct drv_reg_ref *ref, const char *bearer,
			 struct drv_wire_req *out, struct clr_err *e)
{
	char *base = NULL;
	const char *token = op == DRV_OP_REGISTER ? bearer : p->initial_access_token;
	enum clr_rc rc;

	(void)bearer;
	memset(out, 0, sizeof(*out));
	if (token == NULL || token[0] == '\0')
		return clr_err_set(e, CLR_ERR_CONFLICT, "invalid_request", "initial_access_token",
				   "the Okta provider has no API token");
	if ((rc = clients_url(p, &base, e)) != CLR_OK)
		return rc;
	if ((rc = drv_set_auth(out, "Authorization", "SSWS", token, e)) != CLR_OK)
		goto out;
	switch (op) {
	case DRV_OP_REGISTER:
		out->method = "POST";
		out->url = base;
		base = NULL;
		rc = okta_body(ct, in, NULL, &out->json, e);
		break;
	case DRV_OP_UPDATE:
		out->method = "PUT";
		rc = drv_url_seg(base, ref != NULL ? ref->client_id : NULL, NULL, &out->url, e);
		if (rc == CLR_OK)
			rc = okta_body(ct, in, ref->client_id, &out->json, e);
		break;
	case DRV_OP_DELETE:
		out->method = "DELETE";
		rc = drv_url_seg(base, ref != NULL ? ref->client_id : NULL, NULL, &out->url, e);
		break;
	case DRV_OP_ROTATE:
		out->method = "POST";
		rc = drv_url_seg(base, ref != NULL ? ref->client_id : NULL, "/lifecycle/newSecret",
				 &out->url, e);
		break;
	default:
		rc = clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL, "unknown operation");
		break;
	}
out:
	free(base);
	if (rc != CLR_OK)
		drv_wire_req_clear(out);
	return rc;
}

static enum clr_rc parse(enum drv_op op, const struct drv_provider *p,
			 const struct clr_http_resp *resp, struct drv_reg_result *out,
			 struct clr_err *e)
{
	enum clr_rc rc;

	(void)p;
	memset(out, 0, sizeof(*out));
	if (op == DRV_OP_DELETE)
		return drv_parse_no_content(resp, e);
	if ((rc = drv_parse_rfc7591(resp, out, e)) != CLR_OK)
		return rc;
	if (op == DRV_OP_ROTATE && out->client_secret == NULL) {
		drv_reg_result_clear(out);
		return clr_err_set(e, CLR_ERR_UPSTREAM, "idp_error", "client_secret",
				   "Okta's newSecret answer has no client_secret");
	}
	return CLR_OK;
}

#define OKTA_PAGE 200

static enum clr_rc build_list(const struct drv_provider *p, const char *cred, const char *cursor,
			      struct drv_wire_req *out, struct clr_err *e)
{
	char *clients = NULL;
	size_t n;
	enum clr_rc rc;

	memset(out, 0, sizeof(*out));
	if ((rc = clients_url(p, &clients, e)) != CLR_OK)
		return rc;
	/* {org}/oauth2/v1/clients -> {org}/api/v1/apps */
	n = strlen(clients);
	if (ends_with(clients, OKTA_CLIENTS))
		n -= strlen(OKTA_CLIENTS);
	if (cursor != NULL) {
		/* An app id is [0-9A-Za-z]; never let it add query parameters. */
		for (const char *c = cursor; *c != '\0'; c++) {
			if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
			      (*c >= 'A' && *c <= 'Z'))) {
				rc = clr_err_set(e, CLR_ERR_UPSTREAM, "idp_error", "after",
						 "Okta's app id is not alphanumeric");
				goto out;
			}
		}
	}
	if (asprintf(&out->url, "%.*s/api/v1/apps?limit=%d%s%s", (int)n, clients, OKTA_PAGE,
		     cursor != NULL ? "&after=" : "", cursor != NULL ? cursor : "") < 0) {
		out->url = NULL;
		rc = clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
		goto out;
	}
	out->method = "GET";
	rc = drv_set_auth(out, "Authorization", "SSWS", cred, e);
out:
	free(clients);
	if (rc != CLR_OK)
		drv_wire_req_clear(out);
	return rc;
}

static enum clr_rc parse_list(const struct drv_provider *p, const char *cursor,
			      const struct clr_http_resp *resp, struct drv_list_page *out,
			      struct clr_err *e)
{
	json_t *arr = NULL, *app;
	const char *last = NULL;
	size_t i;
	enum clr_rc rc;

	(void)p;
	(void)cursor;
	memset(out, 0, sizeof(*out));
	if ((rc = drv_list_array(resp, &arr, e)) != CLR_OK)
		return rc;
	json_array_foreach(arr, i, app)
	{
		const char *id = json_string_value(json_object_get(app, "id"));
		json_t *oc = json_object_get(json_object_get(app, "credentials"), "oauthClient");

		last = id;
		/* SAML, bookmark and other non-OAuth apps have no oauthClient. */
		rc = drv_list_add(out, json_string_value(json_object_get(oc, "client_id")),
				  json_string_value(json_object_get(app, "label")), id, NULL, NULL,
				  e);
		if (rc != CLR_OK)
			goto out;
	}
	if (json_array_size(arr) >= OKTA_PAGE && last != NULL && last[0] != '\0' &&
	    (out->next = strdup(last)) == NULL)
		rc = clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
out:
	json_decref(arr);
	if (rc != CLR_OK)
		drv_list_page_clear(out);
	return rc;
}

const struct drv_driver drv_okta = {
    .kind = DRV_IDP_OKTA,
    .can_rotate = 1,
    .needs_initial_token = 1,
    .build = build,
    .parse = parse,
    .build_list = build_list,
    .parse_list = parse_list,
};
