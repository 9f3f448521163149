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

const struct drv_driver drv_keycloak = {
    .kind = DRV_IDP_KEYCLOAK,
    .can_rotate = 0,
    .needs_initial_token = 0,
    .build_initial_token = drv_cc_build_initial_token,
    .parse_initial_token = drv_cc_parse_initial_token,
    .build = build,
    .parse = drv_parse_rfc7592,
};
