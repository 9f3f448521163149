/*
 * reconcile.h - `clearance-ctl reconcile`: queues the registrar's
 * reconcile job for one provider or all, waits for the runs and prints
 * what each found (sql/075 provider_reconcile).  The registrar does the
 * work (it holds the IdP credentials and the drivers); this command only
 * asks and reports, so it needs the database and a running registrar.
 */
#ifndef CLEARANCE_CTL_RECONCILE_H
#define CLEARANCE_CTL_RECONCILE_H

#include <stdio.h>
#include "clearance/db.h"

/*
 * argv: [--provider ID] [--policy report|delete|adopt] [--dry-run]
 * [--wait SECONDS] (default 120).  Returns the exit status: 0 every run ok
 * or unsupported, 1 a run failed or did not finish in time, 2 usage.
 */
int ctl_reconcile(struct clr_db *db, int argc, char **argv, FILE *out);

/* 1 when argv is a valid reconcile command line (checked before connecting). */
int ctl_reconcile_args_ok(int argc, char **argv);

#endif
