/*
 * audit.h - the registrar's rows in the shared audit log (audit.c).
 */
#ifndef CLEARANCE_REG_AUDIT_H
#define CLEARANCE_REG_AUDIT_H

#include "clearance/http_in.h"

/*
 * The handler of every changing registrar route (routes.c): runs the real
 * handler for r's method and route from audit.c's table, then, when it
 * answered 2xx, appends an audit row (actor, action, object, request id).
 * A failed audit insert is logged, never turned into a failed request:
 * the change is already committed and answered.
 */
void reg_audited(struct clr_req *r);

#endif
