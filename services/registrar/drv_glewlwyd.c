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
 */
#include <stdlib.h>
#include "driver.h"

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
out:
	free(uri);
	json_decref(placeholder);
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
};
