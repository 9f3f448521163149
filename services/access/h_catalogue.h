/*
 * h_catalogue.h - the product and plan routes and the developer's catalogue
 * (h_catalogue.c)
 */
#ifndef CLEARANCE_ACC_H_CATALOGUE_H
#define CLEARANCE_ACC_H_CATALOGUE_H

#include "clearance/fields.h"
#include "clearance/http_in.h"

void acc_h_products_create(struct clr_req *r);
void acc_h_products_list(struct clr_req *r);
void acc_h_products_get(struct clr_req *r);
void acc_h_products_patch(struct clr_req *r);
void acc_h_products_delete(struct clr_req *r);
void acc_h_plans_create(struct clr_req *r);
void acc_h_plans_list(struct clr_req *r);
void acc_h_plans_get(struct clr_req *r);
void acc_h_plans_patch(struct clr_req *r);
void acc_h_plans_delete(struct clr_req *r);
void acc_h_catalogue(struct clr_req *r);

/* Field tables of its json_body routes (routes.c lists them). */
extern const struct clr_body acc_body_product_create;
extern const struct clr_body acc_body_product_patch;
extern const struct clr_body acc_body_plan_create;
extern const struct clr_body acc_body_plan_patch;

#endif
