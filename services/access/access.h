/*
 * access.h - the access service's application context, shared by its
 * handlers and its job worker.  Each module has its own header: store.h,
 * routes.h, util.h, the h_*.h handler files, and the operations apps.h,
 * requests.h and jobs.h.
 *
 * Visibility rule every handler keeps: a developer's lookups always carry
 * the developer's id in the WHERE clause, so another developer's object is
 * simply "not found" (404), never "forbidden" (which would confirm that it
 * exists).
 */
#ifndef CLEARANCE_ACCESS_H
#define CLEARANCE_ACCESS_H

#include "clearance/config.h"
#include "clearance/seal.h"

/* Shared by all threads, immutable after start-up. */
struct acc_app {
	const struct clr_config *cfg;
	const struct clr_sealer *sealer;
};

#endif
