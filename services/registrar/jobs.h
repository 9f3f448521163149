/*
 * jobs.h - the job kinds the registrar's worker runs (jobs.c), and no
 * others: provision, register, deregister, rotate, client_update, and
 * register_waited, rotate_waited, deregister_waited and client_update_waited
 * (waiting.h).
 */
#ifndef CLEARANCE_REG_JOBS_H
#define CLEARANCE_REG_JOBS_H

#include <stddef.h>
#include "clearance/jobs.h"

/* Every kind (what /metrics counts); the last REG_NWAITED_KINDS are the waited ones. */
extern const struct clr_job_kind reg_job_kinds[];
extern const size_t reg_njob_kinds;
#define REG_NWAITED_KINDS 4

#endif
