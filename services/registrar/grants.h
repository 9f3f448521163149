/*
 * grants.h - an admin's direct grants of a registration (grants.c): the
 * (product, plan) pairs written to registration_grants (sql/020), which the
 * gateway honours through the gateway_grants view, for registrations made
 * with POST /v1/registrations rather than through an access request.
 */
#ifndef CLEARANCE_REG_GRANTS_H
#define CLEARANCE_REG_GRANTS_H

#include <jansson.h>
#include "clearance/db.h"
#include "clearance/fields.h"
#include "clearance/http_in.h"
#include "clearance/rc.h"

#define REG_MAX_GRANTS 50

/*
 * Checks grants, an array of {"product_id", "plan_id"} (borrowed): both
 * uuids, nothing else, one plan per product, the product live and the plan
 * one of its live plans.  *norm (new) is the same list, ready for
 * reg_grants_replace.  CLR_ERR_PARAM (field "grants") with the reason.
 */
enum clr_rc reg_grants_check(struct clr_db *db, const json_t *grants, json_t **norm,
			     struct clr_err *e) CLR_MUSTCHECK;

/*
 * Replaces the grants of registration reg_id by norm, in one transaction
 * of its own.  CLR_ERR_NOTFOUND for no such registration, CLR_ERR_CONFLICT
 * for a deleted or failed one.
 */
enum clr_rc reg_grants_replace(struct clr_db *db, const char *reg_id, const json_t *norm,
			       struct clr_err *e) CLR_MUSTCHECK;

/* GET and PUT /v1/registrations/{id}/grants ({"grants": [...]}). */
void reg_h_grants_get(struct clr_req *r);
void reg_h_grants_put(struct clr_req *r);
extern const struct clr_body reg_body_grants_put;

#endif
