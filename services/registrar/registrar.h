/*
 * registrar.h - the registrar's application context, shared by its
 * handlers and its job worker.  Each module has its own header: store.h,
 * routes.h, validate.h, driver.h, registrations.h (the operations), jobs.h,
 * kinds.h and the h_*.h handler files.  Nothing here is part of
 * libclearance; symbols are hidden like every other.
 */
#ifndef CLEARANCE_REGISTRAR_H
#define CLEARANCE_REGISTRAR_H

#include "clearance/config.h"
#include "clearance/seal.h"

/* Shared by all threads, immutable after start-up. */
struct reg_app {
	const struct clr_config *cfg;
	const struct clr_sealer *sealer;
};

#endif
