/*
 * handlers.h - the introspect service's endpoints (one h_*.c each), its
 * route table (routes.c) and statements (store.c).
 */
#ifndef IX_HANDLERS_H
#define IX_HANDLERS_H

#include "clearance/db.h"
#include "clearance/http_in.h"

/* routes.c */
extern const struct clr_route ix_routes[];
extern const size_t ix_nroutes;
/* store.c: the prepared statements */
extern const struct clr_db_stmt ix_stmts[];
extern const size_t ix_nstmts;

/* GET /auth - nginx auth_request; answers only 204, 401 or 403. */
void ix_h_auth(struct clr_req *r);
/* POST /v1/introspect - RFC 7662. */
void ix_h_introspect(struct clr_req *r);
/* GET /v1/providers/{id}/jwks and POST /v1/providers/{id}/jwks/refresh (admin). */
void ix_h_jwks_get(struct clr_req *r);
void ix_h_jwks_refresh(struct clr_req *r);
/* POST/GET /v1/introspection-clients, DELETE /v1/introspection-clients/{id} (admin). */
void ix_h_isc_create(struct clr_req *r);
void ix_h_isc_list(struct clr_req *r);
void ix_h_isc_delete(struct clr_req *r);
/* GET /v1/usage (admin): quota use per client and plan this month. */
void ix_h_usage(struct clr_req *r);

#endif
