/*
 * drv_other.c - plain RFC 7591 registration and RFC 7592 management, for
 * any IdP without a driver of its own (oidc-provider in our tests).
 */
#include <stdlib.h>
#include "driver.h"

static enum clr_rc build(enum drv_op op, const struct drv_provider *p,
			 const struct drv_client_type *ct, const struct drv_reg_input *in,
			 const struct drv_reg_ref *ref, const char *bearer,
			 struct drv_wire_req *out, struct clr_err *e)
{
	char *uri = NULL;
	enum clr_rc rc;

	if ((op == DRV_OP_UPDATE || op == DRV_OP_DELETE) &&
	    (rc = drv_client_uri(p, ref, &uri, e)) != CLR_OK)
		return rc;
	rc = drv_build_rfc7592(op, p, ct, in, ref, bearer, p->registration_endpoint, uri, out, e);
	free(uri);
	return rc;
}

const struct drv_driver drv_other = {
    .kind = DRV_IDP_OTHER,
    .can_rotate = 0,
    .needs_initial_token = 0,
    .build_initial_token = drv_cc_build_initial_token,
    .parse_initial_token = drv_cc_parse_initial_token,
    .build = build,
    .parse = drv_parse_rfc7592,
};
