/*
 * main.c - clearance-registrar: IdP providers, client types and client
 * registrations (RFC 7591/7592) over FastCGI, plus the job worker thread
 * that runs the registrar's own job kinds (jobs.c) and no others.
 */
#include <stdlib.h>

#include "clearance/auth.h"
#include "clearance/config.h"
#include "clearance/http_in.h"
#include "clearance/jobs.h"
#include "clearance/log.h"
#include "clearance/seal.h"
#include "jobs.h"
#include "kinds.h"
#include "registrar.h"
#include "registrations.h"
#include "routes.h"
#include "store.h"

int main(void)
{
	struct clr_config *cfg = NULL;
	struct clr_sealer *sealer = NULL;
	struct clr_jobs_worker *worker = NULL;
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
	/* Not fatal: rotation is refused elsewhere until the next start says it may. */
	if (reg_kinds_publish(cfg) != CLR_OK)
		clr_log(NULL, CLR_LOG_ERROR,
			"the provider kinds' capabilities could not be stored");
	if (cfg->worker && clr_jobs_worker_start(cfg, reg_job_kinds, reg_njob_kinds, reg_stmts,
						 reg_nstmts, &app, &worker) != CLR_OK) {
		clr_log(NULL, CLR_LOG_ERROR, "the job worker could not start");
		goto out;
	}
	srv.service = "registrar";
	srv.cfg = cfg;
	srv.routes = reg_routes;
	srv.nroutes = reg_nroutes;
	srv.bodies = reg_route_bodies;
	srv.nbodies = reg_nroute_bodies;
	srv.stmts = reg_stmts;
	srv.nstmts = reg_nstmts;
	srv.app = &app;
	rc = clr_server_run(&srv);
out:
	if (worker != NULL)
		clr_jobs_worker_stop(worker);
	clr_sealer_free(sealer);
	clr_config_free(cfg);
	return rc;
}
