/*
 * drv_gluu.c - Gluu Server (oxAuth): RFC 7591 at registration_endpoint
 * (usually /oxauth/restv1/register), an initial access token only when
 * the server is set up to want one, and RFC 7592 management at the
 * registration_client_uri it returns, which carries the client id as a
 * query parameter (".../register?client_id=...") rather than a path
 * segment.  No secret rotation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include "driver.h"

/* Gluu's own layout when no registration_client_uri was stored. */
static enum clr_rc client_uri(const struct drv_provider *p, const struct drv_reg_ref *ref,
			      char **out, struct clr_err *e)
{
	char *esc;
	int n;

	*out = NULL;
	if (ref != NULL && ref->registration_client_uri != NULL &&
	    ref->registration_client_uri[0] != '\0')
		return drv_client_uri(p, ref, out, e);
	if (ref == NULL || ref->client_id == NULL || ref->client_id[0] == '\0')
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "client_id",
				   "client_id is required");
	if (p->registration_endpoint == NULL || p->registration_endpoint[0] == '\0')
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "registration_endpoint",
				   "the provider has no registration endpoint");
	esc = curl_easy_escape(NULL, ref->client_id, 0);
	if (esc == NULL)
		return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
	n = asprintf(out, "%s?client_id=%s", p->registration_endpoint, esc);
	curl_free(esc);
	if (n < 0) {
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
	char *uri = NULL;
	enum clr_rc rc;

	if ((op == DRV_OP_UPDATE || op == DRV_OP_DELETE) &&
	    (rc = client_uri(p, ref, &uri, e)) != CLR_OK)
		return rc;
	rc = drv_build_rfc7592(op, p, ct, in, ref, bearer, p->registration_endpoint, uri, out, e);
	free(uri);
	return rc;
}

const struct drv_driver drv_gluu = {
    .kind = DRV_IDP_GLUU,
    .can_rotate = 0,
    .needs_initial_token = 0,
    .build_initial_token = drv_cc_build_initial_token,
    .parse_initial_token = drv_cc_parse_initial_token,
    .build = build,
    .parse = drv_parse_rfc7592,
};
