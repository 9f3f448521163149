/*
 * kinds.h - the drivers' capabilities as data (kinds.c, sql/010).
 */
#ifndef CLEARANCE_REG_KINDS_H
#define CLEARANCE_REG_KINDS_H

#include "clearance/config.h"
#include "clearance/rc.h"

/*
 * Writes one provider_kinds row per driver (kind, can_rotate), so other
 * services read the drivers' capabilities as data.  Own connection.
 */
enum clr_rc reg_kinds_publish(const struct clr_config *cfg) CLR_MUSTCHECK;

#endif
