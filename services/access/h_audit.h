/*
 * h_audit.h - GET /v1/audit, the filterable, paged audit log (h_audit.c)
 */
#ifndef CLEARANCE_ACC_H_AUDIT_H
#define CLEARANCE_ACC_H_AUDIT_H

#include "clearance/http_in.h"

void acc_h_audit_list(struct clr_req *r);

/*
 * 1 when s is an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS, optional
 * fraction of up to 6 digits, then Z or +HH:MM/-HH:MM) naming a real day.
 */
int acc_rfc3339_valid(const char *s);

#endif
