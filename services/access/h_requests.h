/*
 * h_requests.h - the access-request routes (h_requests.c)
 */
#ifndef CLEARANCE_ACC_H_REQUESTS_H
#define CLEARANCE_ACC_H_REQUESTS_H

#include "clearance/fields.h"
#include "clearance/http_in.h"

void acc_h_reqs_create(struct clr_req *r);
void acc_h_reqs_list(struct clr_req *r);
void acc_h_reqs_get(struct clr_req *r);
void acc_h_reqs_approve(struct clr_req *r);
void acc_h_reqs_reject(struct clr_req *r);
void acc_h_reqs_revoke(struct clr_req *r);
void acc_h_reqs_retry(struct clr_req *r);

/* Field tables of its json_body routes (routes.c lists them). */
extern const struct clr_body acc_body_request_create;
extern const struct clr_body acc_body_request_reject;

#endif
