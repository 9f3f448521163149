/*
 * h_reconcile.h - /v1/providers/{id}/reconcile: a provider's reconcile
 * settings and last run (GET), its settings (PUT), a run queued now (POST).
 */
#ifndef CLEARANCE_REG_H_RECONCILE_H
#define CLEARANCE_REG_H_RECONCILE_H

#include "clearance/fields.h"
#include "clearance/http_in.h"

extern const struct clr_body reg_body_reconcile_put;

void reg_h_reconcile_get(struct clr_req *r);
void reg_h_reconcile_put(struct clr_req *r);
void reg_h_reconcile_run(struct clr_req *r);

#endif
