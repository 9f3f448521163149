/*
 * main.c - clearance-introspect.  For now only the health endpoints (/healthz,
 * /readyz, /metrics) that http_in answers itself; its routes arrive with
 * the introspect issue.
 */
#include "clearance/config.h"
#include "clearance/http_in.h"
#include "clearance/log.h"

int main(void)
{
	struct clr_config *cfg = NULL;
	struct clr_server srv = { 0 };
	int rc;

	clr_log_init("introspect", CLR_LOG_INFO);
	if (clr_config_load(CLR_CFG_NEED_DB, &cfg) != CLR_OK)
		return 1;
	clr_log_set_level(cfg->log_level);
	srv.service = "introspect";
	srv.cfg = cfg;
	srv.routes = NULL;
	srv.nroutes = 0;
	rc = clr_server_run(&srv);
	clr_config_free(cfg);
	return rc;
}
