/*
 * main.c - clearance-access: developers and admins, sessions, the
 * catalogue, apps, access requests and their approval workflow,
 * credentials, webhooks and the audit log, plus the job worker thread that
 * runs the access service's own job kinds (jobs.c: mail, webhooks,
 * settling requests).  The IdP work is the registrar's, through its jobs.
 */
#include "clearance/auth.h"
#include "clearance/config.h"
#include "clearance/http_in.h"
#include "clearance/jobs.h"
#include "clearance/log.h"
#include "clearance/seal.h"
#include "access.h"
#include "jobs.h"
#include "routes.h"
#include "store.h"

int main(void)
{
	struct clr_config *cfg = NULL;
	struct clr_sealer *sealer = NULL;
	struct clr_jobs_worker *worker = NULL;
	struct clr_err e = {0};
	struct acc_app app;
	struct clr_server srv = {0};
	int rc = 1;

	clr_log_init("access", CLR_LOG_INFO);
	/* Sealing: webhook secrets, and unsealing clients' secrets for their owners. */
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
	if (cfg->worker && clr_jobs_worker_start(cfg, acc_job_kinds, acc_njob_kinds, acc_stmts,
						 acc_nstmts, &app, &worker) != CLR_OK) {
		clr_log(NULL, CLR_LOG_ERROR, "the job worker could not start");
		goto out;
	}
	srv.service = "access";
	srv.cfg = cfg;
	srv.routes = acc_routes;
	srv.nroutes = acc_nroutes;
	srv.bodies = acc_route_bodies;
	srv.nbodies = acc_nroute_bodies;
	srv.job_kinds = acc_job_kinds;
	srv.njob_kinds = acc_njob_kinds;
	srv.stmts = acc_stmts;
	srv.nstmts = acc_nstmts;
	srv.app = &app;
	rc = clr_server_run(&srv);
out:
	if (worker != NULL)
		clr_jobs_worker_stop(worker);
	clr_sealer_free(sealer);
	clr_config_free(cfg);
	return rc;
}
