/*
 * routes.c - the introspect service's route table.  /healthz, /readyz and
 * /metrics are answered by http_in itself.
 */
#include "handlers.h"

const struct clr_route ix_routes[] = {
    {"GET", "/auth", ix_h_auth, CLR_AUTH_NONE, 0},
    /* public: the handler accepts introspection-client Basic or an admin token */
    {"POST", "/v1/introspect", ix_h_introspect, CLR_AUTH_NONE, 0},
    {"POST", "/v1/introspection-clients", ix_h_isc_create, CLR_AUTH_ADMIN, 1},
    {"GET", "/v1/introspection-clients", ix_h_isc_list, CLR_AUTH_ADMIN, 0},
    {"DELETE", "/v1/introspection-clients/{}", ix_h_isc_delete, CLR_AUTH_ADMIN, 0},
    {"GET", "/v1/usage", ix_h_usage, CLR_AUTH_ADMIN, 0},
    {"GET", "/v1/providers/{}/jwks", ix_h_jwks_get, CLR_AUTH_ADMIN, 0},
    {"POST", "/v1/providers/{}/jwks/refresh", ix_h_jwks_refresh, CLR_AUTH_ADMIN, 0},
};
const size_t ix_nroutes = sizeof(ix_routes) / sizeof(ix_routes[0]);
