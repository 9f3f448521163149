/*
 * handlers.h - the introspect service's endpoints (one h_*.c each).
 */
#ifndef CLR_INTROSPECT_HANDLERS_H
#define CLR_INTROSPECT_HANDLERS_H

#include "clearance/http_in.h"

/* GET /auth - nginx auth_request; answers only 204, 401 or 403. */
void clr_h_auth(struct clr_req *r);
/* POST /v1/introspect - RFC 7662. */
void clr_h_introspect(struct clr_req *r);
/* GET /v1/providers/{id}/jwks and POST /v1/providers/{id}/jwks/refresh (admin). */
void clr_h_jwks_get(struct clr_req *r);
void clr_h_jwks_refresh(struct clr_req *r);
/* POST/GET /v1/introspection-clients, DELETE /v1/introspection-clients/{id} (admin). */
void clr_h_isc_create(struct clr_req *r);
void clr_h_isc_list(struct clr_req *r);
void clr_h_isc_delete(struct clr_req *r);

#endif
