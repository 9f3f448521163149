/*
 * drv_keycloak.c - Keycloak's OpenID Connect client registration provider,
 * {issuer}/clients-registrations/openid-connect (Keycloak's discovery lists
 * it as registration_endpoint), with an initial access token (or anonymous,
 * when the realm's client registration policies allow it).  Management is
 * at {that}/{client_id} with the registration access token; Keycloak issues
 * a new one on every read and update and the old one stops working, so the
 * caller must persist result.registration_access_token each time.  The
 * "scope" metadata is mapped to the realm's client scopes of those names.
 * Keycloak's OIDC registration has no secret rotation.
 *
 * Listing (reconcile): the admin REST API, GET
 * {server}/admin/realms/{realm}/clients?first=N&max=100, derived from the
 * issuer {server}/realms/{realm}, with a bearer token the provider's
 * initial client obtains with client credentials: that client must be a
 * service account holding realm-management's view-clients (and
 * manage-clients to delete strays).  Keycloak's OIDC registration keeps no
 * free-form field, so its clients carry no Clearance tag unless an admin
 * wrote one into the description: clients nobody here holds are reported,
 * never touched.  Deleting a listed client is DELETE .../clients/{id} (the
 * internal id).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "driver.h"

#define KC_SUFFIX "/clients-registrations/openid-connect"

static enum clr_rc reg_url(const struct drv_provider *p, char **out, struct clr_err *e)
{
	size_t n;

	*out = NULL;
	if (p->registration_endpoint != NULL && p->registration_endpoint[0] != '\0') {
		*out = strdup(p->registration_endpoint);
	} else if (p->issuer != NULL && p->issuer[0] != '\0') {
		n = strlen(p->issuer);
		if (p->issuer[n - 1] == '/')
			n--;
		if (asprintf(out, "%.*s" KC_SUFFIX, (int)n, p->issuer) < 0)
			*out = NULL;
	} else {
		return clr_err_set(
		    e, CLR_ERR_PARAM, "invalid_request", "registration_endpoint",
		    "the provider has neither a registration endpoint nor an issuer");
	}
	if (*out == NULL)
		return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
	return CLR_OK;
}

static enum clr_rc build(enum drv_op op, const struct drv_provider *p,
			 const struct drv_client_type *ct, const struct drv_reg_input *in,
			 const struct drv_reg_ref *ref, const char *bearer,
			 struct drv_wire_req *out, struct clr_err *e)
{
	char *reg = NULL, *uri = NULL;
	enum clr_rc rc;

	if ((rc = reg_url(p, &reg, e)) != CLR_OK)
		return rc;
	if (op == DRV_OP_UPDATE || op == DRV_OP_DELETE) {
		if (ref != NULL && ref->registration_client_uri != NULL &&
		    ref->registration_client_uri[0] != '\0')
			rc = drv_client_uri(p, ref, &uri, e);
		else
			rc = drv_url_seg(reg, ref != NULL ? ref->client_id : NULL, NULL, &uri, e);
		if (rc != CLR_OK)
			goto out;
	}
	rc = drv_build_rfc7592(op, p, ct, in, ref, bearer, reg, uri, out, e);
out:
	free(reg);
	free(uri);
	return rc;
}

#define KC_PAGE 100

/* {server}/admin/realms/{realm}/clients from the issuer {server}/realms/{realm}. */
static enum clr_rc admin_clients_url(const struct drv_provider *p, char **out, struct clr_err *e)
{
	const char *iss = p->issuer, *r;
	size_t n;

	*out = NULL;
	r = iss != NULL ? strstr(iss, "/realms/") : NULL;
	if (r == NULL || r[8] == '\0')
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "issuer",
				   "a Keycloak issuer ends in /realms/<realm>");
	n = strlen(r);
	if (r[n - 1] == '/')
		n--;
	if (asprintf(out, "%.*s/admin%.*s/clients", (int)(r - iss), iss, (int)n, r) < 0) {
		*out = NULL;
		return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
	}
	return CLR_OK;
}

static enum clr_rc build_list(const struct drv_provider *p, const char *cred, const char *cursor,
			      struct drv_wire_req *out, struct clr_err *e)
{
	char *base = NULL;
	enum clr_rc rc;

	memset(out, 0, sizeof(*out));
	if ((rc = admin_clients_url(p, &base, e)) != CLR_OK)
		return rc;
	rc = drv_offset_list_req(out, base, cursor, "first", "max", KC_PAGE, "Bearer", cred, e);
	free(base);
	return rc;
}

static enum clr_rc parse_list(const struct drv_provider *p, const char *cursor,
			      const struct clr_http_resp *resp, struct drv_list_page *out,
			      struct clr_err *e)
{
	json_t *arr = NULL, *c;
	long first;
	size_t i;
	enum clr_rc rc;

	(void)p;
	memset(out, 0, sizeof(*out));
	if ((rc = drv_offset_cursor(cursor, &first, e)) != CLR_OK)
		return rc;
	if ((rc = drv_list_array(resp, &arr, e)) != CLR_OK)
		return rc;
	json_array_foreach(arr, i, c)
	{
		rc = drv_list_add(out, json_string_value(json_object_get(c, "clientId")),
				  json_string_value(json_object_get(c, "name")),
				  json_string_value(json_object_get(c, "id")),
				  json_string_value(json_object_get(c, "description")), NULL, e);
		if (rc != CLR_OK)
			goto out;
	}
	rc = drv_offset_next(first, json_array_size(arr), KC_PAGE, &out->next, e);
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
	if ((rc = admin_clients_url(p, &base, e)) != CLR_OK)
		return rc;
	out->method = "DELETE";
	rc = drv_url_seg(base, it->ref, NULL, &out->url, e);
	if (rc == CLR_OK)
		rc = drv_set_auth(out, "Authorization", "Bearer", cred, e);
	free(base);
	if (rc != CLR_OK)
		drv_wire_req_clear(out);
	return rc;
}

const struct drv_driver drv_keycloak = {
    .kind = DRV_IDP_KEYCLOAK,
    .can_rotate = 0,
    .needs_initial_token = 0,
    .build_initial_token = drv_cc_build_initial_token,
    .parse_initial_token = drv_cc_parse_initial_token,
    .build = build,
    .parse = drv_parse_rfc7592,
    .list_cc = 1,
    .build_list = build_list,
    .parse_list = parse_list,
    .build_list_delete = build_list_delete,
};
