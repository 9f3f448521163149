/*
 * registrar.h - the registrar's application context, shared by its
 * handlers and its job worker.  Each module has its own header: store.h,
 * routes.h, validate.h, driver.h, registrations.h (the operations), jobs.h,
 * kinds.h and the h_*.h handler files.  Nothing here is part of
 * libclearance; symbols are hidden like every other.
 */
#ifndef CLEARANCE_REGISTRAR_H
#define CLEARANCE_REGISTRAR_H

#include <stdatomic.h>
#include "clearance/config.h"
#include "clearance/seal.h"

/* Shared by all threads, immutable after start-up. */
struct reg_app {
	const struct clr_config *cfg;
	const struct clr_sealer *sealer;
	/* Registrations parked as outcome_unknown, for /metrics (-1: not known yet). */
	atomic_long *n_unknown;
};

/* Re-counts the parked registrations into app->n_unknown (best effort). */
struct clr_db;
void reg_unknown_refresh(const struct reg_app *app, struct clr_db *db);

#endif
