/*
 * h_client_types.h - the client type routes (h_client_types.c)
 */
#ifndef CLEARANCE_REG_H_CLIENT_TYPES_H
#define CLEARANCE_REG_H_CLIENT_TYPES_H

#include "clearance/fields.h"
#include "clearance/http_in.h"

void reg_h_ctypes_create(struct clr_req *r);
void reg_h_ctypes_list(struct clr_req *r);
void reg_h_ctypes_get(struct clr_req *r);
void reg_h_ctypes_patch(struct clr_req *r);
void reg_h_ctypes_delete(struct clr_req *r);

/* Field tables of its json_body routes (routes.c lists them). */
extern const struct clr_body reg_body_ctype_create;
extern const struct clr_body reg_body_ctype_patch;

#endif
