/*
 * h_accounts.h - developers, admins and sessions: sign-up, login, logout, /v1/me and the
 * developer administration routes (h_accounts.c)
 */
#ifndef CLEARANCE_ACC_H_ACCOUNTS_H
#define CLEARANCE_ACC_H_ACCOUNTS_H

#include "clearance/fields.h"
#include "clearance/http_in.h"

void acc_h_signup(struct clr_req *r);
void acc_h_devs_list(struct clr_req *r);
void acc_h_devs_get(struct clr_req *r);
void acc_h_devs_patch(struct clr_req *r);
void acc_h_login(struct clr_req *r);
void acc_h_logout(struct clr_req *r);
void acc_h_me(struct clr_req *r);

/* Field tables of its json_body routes (routes.c lists them). */
extern const struct clr_body acc_body_signup;
extern const struct clr_body acc_body_login;
extern const struct clr_body acc_body_dev_patch;

#endif
