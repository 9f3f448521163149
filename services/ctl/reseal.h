/*
 * reseal.h - `clearance-ctl reseal`: every sealed value re-encrypted under
 * the current seal key, so an old key can leave CLEARANCE_SEAL_KEYS.
 *
 * Each value is read, unsealed with whichever listed key sealed it, sealed
 * again under the first key and written back only if nobody changed it in
 * between (compare-and-set), one row at a time and in id order.  So a run
 * can be stopped at any point and run again (resumable), and a second run
 * finds nothing to do (idempotent); the services keep running meanwhile.
 */
#ifndef CLEARANCE_CTL_RESEAL_H
#define CLEARANCE_CTL_RESEAL_H

#include <stdio.h>

#include "clearance/db.h"
#include "clearance/seal.h"

/*
 * Reseals (or, with check_only, only verifies and counts) every sealed
 * column, printing one line per column to out (may be NULL):
 *   "providers.initial_access_token: 2 resealed, 1 already current,
 *    0 changed meanwhile, 0 unreadable"
 * and setting *unreadable to the number of values no listed key opens.
 * Returns CLR_OK when every value was readable; CLR_ERR_PARAM when some
 * were not (the key that sealed them is missing: do not drop keys yet);
 * CLR_ERR_CONFLICT when the schema holds a *_sealed column this command
 * does not know (nothing is changed then); CLR_ERR_DB on database errors.
 */
enum clr_rc ctl_reseal(struct clr_db *db, const struct clr_sealer *s, int check_only, FILE *out,
		       long *unreadable) CLR_MUSTCHECK;

#endif
