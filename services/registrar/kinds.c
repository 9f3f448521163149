/*
 * kinds.c - publishes what the drivers can do, one provider_kinds row per
 * provider kind (sql/010), so other services read the capability instead
 * of keeping a copy of the driver table.
 */
#include "clearance/db.h"
#include "clearance/log.h"
#include "driver.h"
#include "kinds.h"

enum clr_rc reg_kinds_publish(const struct clr_config *cfg)
{
	struct clr_db *db = NULL;
	const char *p[2];
	enum clr_rc rc;
	int k;

	if ((rc = clr_db_open(cfg->database_url, NULL, 0, &db)) != CLR_OK)
		return rc;
	if ((rc = clr_db_begin(db)) != CLR_OK)
		goto out;
	for (k = 0; k < DRV_IDP__MAX && rc == CLR_OK; k++) {
		p[0] = drv_idp_kind_name((enum drv_idp_kind)k);
		p[1] = drv_get((enum drv_idp_kind)k)->can_rotate ? "true" : "false";
		rc = clr_db_exec_sql(
		    db,
		    "INSERT INTO provider_kinds (kind, can_rotate) VALUES ($1, $2::boolean)"
		    " ON CONFLICT (kind) DO UPDATE SET can_rotate = EXCLUDED.can_rotate,"
		    " updated_at = now()"
		    " WHERE provider_kinds.can_rotate <> EXCLUDED.can_rotate",
		    2, p, NULL);
	}
	if (rc == CLR_OK)
		rc = clr_db_commit(db);
out:
	clr_db_rollback(db);
	clr_db_close(db);
	return rc;
}
