/*
 * routes.h - the registrar's route table, the field tables dispatch checks
 * before the handlers, and the helpers its handlers share (routes.c).
 */
#ifndef CLEARANCE_REG_ROUTES_H
#define CLEARANCE_REG_ROUTES_H

#include <stddef.h>
#include <jansson.h>
#include "clearance/http_in.h"
#include "clearance/rc.h"

extern const struct clr_route reg_routes[];
extern const size_t reg_nroutes;
extern const struct clr_route_body reg_route_bodies[];
extern const size_t reg_nroute_bodies;

/*
 * Checks an endpoint URL: parses with libcurl's URL API, https (or http when
 * allow_http), a host, no user info, no fragment, at most 2048 bytes.
 */
enum clr_rc reg_url_check(const char *url, int allow_http, const char *field,
			  const char *error_code, struct clr_err *e) CLR_MUSTCHECK;

/*
 * GET of one row by the uuid in path parameter 0: runs `stmt` (one
 * parameter, the id) and answers 200 with the row, or 404 "no such <what>".
 */
void reg_get_one(struct clr_req *r, const char *what, const char *stmt);

/* 1 if s (nullable) is a JSON string array containing v. */
int reg_strarr_has(const json_t *arr, const char *v);

#endif
