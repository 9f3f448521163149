/*
 * h_retire.h - POST /v1/registrations/{id}/retire: an admin records that an
 * orphaned registration's client was removed at the IdP by hand (h_retire.c).
 */
#ifndef CLEARANCE_REG_H_RETIRE_H
#define CLEARANCE_REG_H_RETIRE_H

#include "clearance/http_in.h"

void reg_h_regs_retire(struct clr_req *r);

#endif
