/*
 * main.c - clearance-registrar: IdP providers, client types and client
 * registrations (RFC 7591/7592) over FastCGI, plus the job worker thread
 * that runs the registrar's own job kinds (jobs.c) and no others.
 */
#include <stdio.h>
#include <stdlib.h>

#include "clearance/auth.h"
#include "clearance/config.h"
#include "clearance/http_in.h"
#include "clearance/jobs.h"
#include "clearance/log.h"
#include "clearance/seal.h"
#include "jobs.h"
#include "kinds.h"
#include "reconcile.h"
#include "registrar.h"
#include "registrations.h"
#include "routes.h"
#include "store.h"
#include "token_cache.h"

/* Job workers: registrations on a slow IdP do not queue behind each other. */
#define REG_WORKERS 4

/* Counted at every scrape (a partial index): never lags a change in any process. */
static char *metrics(void *arg, struct clr_db *db)
{
	const struct reg_app *app = arg;
	long n;
	char *s = NULL, *rec = NULL;

	reg_unknown_refresh(app, db);
	n = atomic_load(app->n_unknown);
	rec = reg_reconcile_metrics();
	if (n < 0) {
		/* Not counted (database away): the reconcile series alone. */
		return rec;
	}
	if (asprintf(&s,
		     "# HELP clearance_registrations_outcome_unknown Registrations whose IdP "
		     "outcome is unknown, parked for an admin.\n"
		     "# TYPE clearance_registrations_outcome_unknown gauge\n"
		     "clearance_registrations_outcome_unknown %ld\n"
		     "# HELP clearance_initial_token_fetches_total Initial access tokens asked "
		     "of a token endpoint with client credentials (the rest came from the cache).\n"
		     "# TYPE clearance_initial_token_fetches_total counter\n"
		     "clearance_initial_token_fetches_total %ld\n%s",
		     n, drv_itc_fetches(), rec != NULL ? rec : "") < 0)
		s = NULL;
	free(rec);
	return s;
}

int main(void)
{
	static atomic_long n_unknown = -1;
	struct clr_db *db = NULL;
	struct clr_config *cfg = NULL;
	struct clr_sealer *sealer = NULL;
	/*
	 * IdP calls run on a pool of job workers of their own, never on the
	 * threads that serve requests; one slow IdP holds one of them.
	 */
	struct clr_jobs_worker *worker[REG_WORKERS] = {NULL};
	/* The waited kinds' own workers: one per request thread that may wait (waiting.h). */
	struct clr_jobs_worker *waited[128] = {NULL};
	size_t i, nwaited = 0;
	struct clr_err e = {0};
	struct reg_app app;
	struct clr_server srv = {0};
	int rc = 1;

	clr_log_init("registrar", CLR_LOG_INFO);
	if (clr_config_load(CLR_CFG_NEED_DB | CLR_CFG_NEED_SEAL, &cfg) != CLR_OK)
		return 1;
	if (clr_token_pepper_startup(cfg) != CLR_OK) {
		clr_config_free(cfg);
		return 1;
	}
	clr_log_set_level(cfg->log_level);
	if (clr_sealer_new(cfg->seal_keys, &sealer, &e) != CLR_OK) {
		clr_log(NULL, CLR_LOG_ERROR, "CLEARANCE_SEAL_KEYS: %s", e.msg);
		goto out;
	}
	app.cfg = cfg;
	app.sealer = sealer;
	app.n_unknown = &n_unknown;
	if (clr_db_open(cfg->database_url, reg_stmts, reg_nstmts, &db) == CLR_OK) {
		reg_unknown_refresh(&app, db);
		reg_reconcile_metrics_refresh(db);
		/* The first periodic reconcile a minute after start (or sooner). */
		if (cfg->worker)
			reg_reconcile_schedule(
			    &app, db,
			    cfg->reconcile_interval_s < 60 ? cfg->reconcile_interval_s : 60);
	}
	clr_db_close(db);
	/* Not fatal: rotation is refused elsewhere until the next start says it may. */
	if (reg_kinds_publish(cfg) != CLR_OK)
		clr_log(NULL, CLR_LOG_ERROR,
			"the provider kinds' capabilities could not be stored");
	for (i = 0; cfg->worker && i < REG_WORKERS; i++) {
		if (clr_jobs_worker_start(cfg, reg_job_kinds, reg_njob_kinds - REG_NWAITED_KINDS,
					  reg_stmts, reg_nstmts, &app, &worker[i]) != CLR_OK) {
			clr_log(NULL, CLR_LOG_ERROR, "the job worker could not start");
			goto out;
		}
	}
	nwaited = cfg->threads / 2 > 1 ? (size_t)cfg->threads / 2 : 1;
	for (i = 0; cfg->worker && i < nwaited; i++) {
		if (clr_jobs_worker_start(cfg, reg_job_kinds + reg_njob_kinds - REG_NWAITED_KINDS,
					  REG_NWAITED_KINDS, reg_stmts, reg_nstmts, &app,
					  &waited[i]) != CLR_OK) {
			clr_log(NULL, CLR_LOG_ERROR, "the job worker could not start");
			goto out;
		}
	}
	srv.service = "registrar";
	srv.cfg = cfg;
	srv.routes = reg_routes;
	srv.nroutes = reg_nroutes;
	srv.bodies = reg_route_bodies;
	srv.nbodies = reg_nroute_bodies;
	srv.job_kinds = reg_job_kinds;
	srv.njob_kinds = reg_njob_kinds;
	srv.stmts = reg_stmts;
	srv.nstmts = reg_nstmts;
	srv.app = &app;
	srv.metrics_db = metrics;
	rc = clr_server_run(&srv);
out:
	for (i = 0; i < REG_WORKERS; i++)
		clr_jobs_worker_stop(worker[i]);
	for (i = 0; i < nwaited; i++)
		clr_jobs_worker_stop(waited[i]);
	clr_sealer_free(sealer);
	clr_config_free(cfg);
	return rc;
}
