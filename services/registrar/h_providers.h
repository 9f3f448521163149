/*
 * h_providers.h - the /v1/providers routes (h_providers.c)
 */
#ifndef CLEARANCE_REG_H_PROVIDERS_H
#define CLEARANCE_REG_H_PROVIDERS_H

#include "clearance/fields.h"
#include "clearance/http_in.h"

void reg_h_providers_create(struct clr_req *r);
void reg_h_providers_list(struct clr_req *r);
void reg_h_providers_get(struct clr_req *r);
void reg_h_providers_patch(struct clr_req *r);
void reg_h_providers_delete(struct clr_req *r);
void reg_h_providers_discover(struct clr_req *r);
void reg_h_providers_verify(struct clr_req *r);

/* Field tables of its json_body routes (routes.c lists them). */
extern const struct clr_body reg_body_provider_create;
extern const struct clr_body reg_body_provider_patch;

#endif
