/*
 * h_jobs.h - the admin's read-only view of the job queue (h_jobs.c)
 */
#ifndef CLEARANCE_REG_H_JOBS_H
#define CLEARANCE_REG_H_JOBS_H

#include "clearance/fields.h"
#include "clearance/http_in.h"

void reg_h_jobs_list(struct clr_req *r);
void reg_h_jobs_get(struct clr_req *r);

#endif
