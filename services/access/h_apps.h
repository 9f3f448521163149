/*
 * h_apps.h - the app and credential routes (h_apps.c)
 */
#ifndef CLEARANCE_ACC_H_APPS_H
#define CLEARANCE_ACC_H_APPS_H

#include "clearance/fields.h"
#include "clearance/http_in.h"

void acc_h_apps_create(struct clr_req *r);
void acc_h_apps_list(struct clr_req *r);
void acc_h_apps_get(struct clr_req *r);
void acc_h_apps_patch(struct clr_req *r);
void acc_h_apps_delete(struct clr_req *r);
void acc_h_creds_get(struct clr_req *r);
void acc_h_creds_rotate(struct clr_req *r);

#endif
