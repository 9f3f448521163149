/*
 * drv_other.c - plain RFC 7591 registration and RFC 7592 management, for
 * any IdP without a driver of its own (oidc-provider in our tests).
 */
#include <stdlib.h>

#include "driver.h"

static enum clr_rc build(enum clr_drv_op op, const struct clr_provider *p,
			 const struct clr_client_type *ct, const struct clr_reg_input *in,
			 const struct clr_reg_ref *ref, const char *bearer,
			 struct clr_wire_req *out, struct clr_err *e)
{
	char *uri = NULL;
	enum clr_rc rc;

	if ((op == CLR_OP_UPDATE || op == CLR_OP_DELETE) &&
	    (rc = clr_drv_client_uri(p, ref, &uri, e)) != CLR_OK)
		return rc;
	rc = clr_drv_build_rfc7592(op, p, ct, in, ref, bearer, p->registration_endpoint, uri, out,
				   e);
	free(uri);
	return rc;
}

const struct clr_driver clr_drv_other = {
    .kind = CLR_IDP_OTHER,
    .can_rotate = 0,
    .needs_initial_token = 0,
    .build = build,
    .parse = clr_drv_parse_rfc7592,
};
