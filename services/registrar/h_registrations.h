/*
 * h_registrations.h - the /v1/registrations routes (h_registrations.c)
 */
#ifndef CLEARANCE_REG_H_REGISTRATIONS_H
#define CLEARANCE_REG_H_REGISTRATIONS_H

#include "clearance/fields.h"
#include "clearance/http_in.h"

void reg_h_regs_create(struct clr_req *r);
void reg_h_regs_list(struct clr_req *r);
void reg_h_regs_get(struct clr_req *r);
void reg_h_regs_put(struct clr_req *r);
void reg_h_regs_delete(struct clr_req *r);
void reg_h_regs_rotate(struct clr_req *r);
/* POST /v1/registrations/{id}/resolve: an admin settles an unknown outcome. */
void reg_h_regs_resolve(struct clr_req *r);
/* POST /v1/registrations/{id}/client-secret: the one showing after a 202 create. */
void reg_h_regs_secret(struct clr_req *r);

/* Field tables of its json_body routes (routes.c lists them). */
extern const struct clr_body reg_body_registration_create;
extern const struct clr_body reg_body_registration_put;
extern const struct clr_body reg_body_registration_resolve;

#endif
