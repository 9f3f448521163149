/*
 * jobs.h - the job kinds the registrar's worker runs (jobs.c), and no
 * others: provision, register, deregister, rotate, client_update.
 */
#ifndef CLEARANCE_REG_JOBS_H
#define CLEARANCE_REG_JOBS_H

#include <stddef.h>
#include "clearance/jobs.h"

extern const struct clr_job_kind reg_job_kinds[];
extern const size_t reg_njob_kinds;

#endif
