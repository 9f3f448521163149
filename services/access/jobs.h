/*
 * jobs.h - the job kinds the access service's worker runs (jobs.c).  Its
 * worker claims only these; the registrar's kinds run in the registrar.
 */
#ifndef CLEARANCE_ACC_JOBS_H
#define CLEARANCE_ACC_JOBS_H

#include <stddef.h>
#include "clearance/jobs.h"

extern const struct clr_job_kind acc_job_kinds[];
extern const size_t acc_njob_kinds;

#endif
