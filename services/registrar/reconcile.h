/*
 * reconcile.h - comparing what an IdP holds with what Clearance stores
 * (issue 13), for the families that can list their clients (drv_list).
 *
 * A run of one provider loads the provider's registrations, then lists
 * the IdP's clients, and sorts every listed client into
 *   matched   a registration holds its client_id (active, orphaned);
 *   stray     it carries Clearance's tag (DRV_TAG_PREFIX) naming a
 *             registration of this provider that does not hold it (deleted,
 *             failed, or a second client of one intent);
 *   unknown_found  its tag names a registration parked as outcome_unknown:
 *             the client the lost attempt created;
 *   in_flight its tag names a registration still pending (an attempt under
 *             way): left alone;
 *   foreign   no tag, or a tag naming no registration here: never touched;
 * and counts as missing the active registrations whose client is not
 * listed.  The policy (the provider's reconcile_policy, or the caller's)
 * decides what is done: report changes nothing; delete deletes strays and
 * unknown_found clients at the IdP (the parked registration is resolved as
 * gone), deletes the still-listed clients of orphaned registrations through
 * the listing API and retires those rows (status deleted: retired), and
 * marks missing registrations orphaned; adopt makes each
 * unknown_found client its registration's client (reg_op_resolve) and marks
 * missing registrations orphaned.  With delete and adopt, a parked
 * registration of a tagging family (drv_driver.list_tagged) whose attempt
 * is older than REG_RECONCILE_GRACE_S and whose tag no listed client
 * carries is resolved as gone (unknown_gone).  dry_run sorts and counts but
 * changes nothing.  Each run is stored in provider_reconcile (sql/075) and
 * exported on /metrics.
 */
#ifndef CLEARANCE_REG_RECONCILE_H
#define CLEARANCE_REG_RECONCILE_H

#include <jansson.h>
#include "clearance/db.h"
#include "clearance/http_out.h"
#include "clearance/jobs.h"
#include "clearance/rc.h"
#include "driver.h"
#include "registrar.h"

/* A parked attempt younger than this may still be creating its client. */
#define REG_RECONCILE_GRACE_S 300

/* 1 for "report", "delete", "adopt". */
int reg_reconcile_policy_valid(const char *s);

/*
 * Reconciles provider_id (a valid uuid) once.  policy NULL: the provider's
 * own.  *report (new) is the stored run: {provider_id, ran_at, status
 * ("ok", "unsupported", "error"), policy, dry_run, counts, last_error}.
 * A listing or IdP failure is a stored run with status "error" and still
 * CLR_OK; errors are CLR_ERR_NOTFOUND (no provider), CLR_ERR_CONFLICT
 * (a run of this provider is under way), CLR_ERR_PARAM (bad policy),
 * database errors.
 */
enum clr_rc reg_reconcile_provider(const struct reg_app *app, struct clr_db *db,
				   struct clr_http_client *http, const char *provider_id,
				   const char *policy, int dry_run, json_t **report,
				   struct clr_err *e) CLR_MUSTCHECK;

/*
 * The retry hook of an attempt whose outcome is unknown: registration id
 * has just been parked as outcome_unknown; when p's family lists tagged
 * clients and one carries id's tag, it is adopted at once.  Returns 1 when
 * adopted, 0 otherwise (never fails: the registration stays parked).
 */
int reg_reconcile_lookup_adopt(const struct reg_app *app, struct clr_db *db,
			       struct clr_http_client *http, const struct drv_provider *p,
			       const char *id);

/*
 * The "reconcile" job: payload {"provider_id"?, "policy"?, "dry_run"?,
 * "periodic"?}; without provider_id every provider is reconciled.  A
 * periodic job queues the next one cfg->reconcile_interval_s later.
 */
enum clr_rc reg_job_reconcile(void *app, struct clr_db *db, const struct clr_job *job,
			      struct clr_err *e);

/* Queues the periodic job unless one is queued (interval 0: nothing). */
void reg_reconcile_schedule(const struct reg_app *app, struct clr_db *db, long delay_s);

/* The reconcile series for /metrics (new), or NULL; refresh re-reads them. */
char *reg_reconcile_metrics(void);
void reg_reconcile_metrics_refresh(struct clr_db *db);

#endif
