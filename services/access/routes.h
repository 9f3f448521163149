/*
 * routes.h - the access service's route table and the field tables that
 * dispatch checks before the handlers (routes.c).
 */
#ifndef CLEARANCE_ACC_ROUTES_H
#define CLEARANCE_ACC_ROUTES_H

#include <stddef.h>
#include "clearance/http_in.h"

extern const struct clr_route acc_routes[];
extern const size_t acc_nroutes;
extern const struct clr_route_body acc_route_bodies[];
extern const size_t acc_nroute_bodies;

#endif
