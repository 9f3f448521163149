/*
 * main.c - clearance-introspect: the gateway's token check.
 *
 * Serves nginx auth_request (GET /auth), RFC 7662 introspection and the
 * JWKS cache admin view over FastCGI.  Providers, the catalogue and the
 * revocation set are loaded into memory at start and kept current by the
 * refresher threads (refresher.c); a request touches PostgreSQL only for a
 * Basic credentials exchange that is not cached yet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/config.h"
#include "clearance/http_in.h"
#include "clearance/log.h"
#include "basic_exchange.h"
#include "handlers.h"
#include "introspect.h"
#include "seclog.h"

static const struct clr_route routes[] = {
    {"GET", "/auth", clr_h_auth, CLR_AUTH_NONE, 0},
    /* public: the handler accepts introspection-client Basic or an admin token */
    {"POST", "/v1/introspect", clr_h_introspect, CLR_AUTH_NONE, 0},
    {"POST", "/v1/introspection-clients", clr_h_isc_create, CLR_AUTH_ADMIN, 1},
    {"GET", "/v1/introspection-clients", clr_h_isc_list, CLR_AUTH_ADMIN, 0},
    {"DELETE", "/v1/introspection-clients/{}", clr_h_isc_delete, CLR_AUTH_ADMIN, 0},
    {"GET", "/v1/providers/{}/jwks", clr_h_jwks_get, CLR_AUTH_ADMIN, 0},
    {"POST", "/v1/providers/{}/jwks/refresh", clr_h_jwks_refresh, CLR_AUTH_ADMIN, 0},
};

static const struct clr_db_stmt stmts[] = {
    {CLR_BASIC_STMT_NAME, CLR_BASIC_STMT_SQL, 1},
    /* timestamps in RFC 3339 UTC, like the registrar's */
    {"ix_isc_insert",
     "INSERT INTO introspection_clients (name, secret_hash) VALUES ($1, $2) RETURNING"
     " id::text, name, to_char((created_at) AT TIME ZONE 'UTC', "
     "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
     " to_char((revoked_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
     2},
    {"ix_isc_list",
     "SELECT"
     " id::text, name, to_char((created_at) AT TIME ZONE 'UTC', "
     "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
     " to_char((revoked_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
     " FROM introspection_clients ORDER BY created_at, id",
     0},
    {"ix_isc_revoke",
     "UPDATE introspection_clients SET revoked_at = coalesce(revoked_at, now())"
     " WHERE id = $1::uuid RETURNING id::text",
     1},
};

static char *metrics(void *arg)
{
	struct clr_ix_app *app = arg;
	unsigned long hits, misses, w[CLR_SECLOG__MAX], sup[CLR_SECLOG__MAX];
	char *s = NULL;

	clr_tcache_stats(app->tcache, &hits, &misses);
	clr_seclog_stats(CLR_SECLOG_TOKEN_REFUSED, &w[0], &sup[0]);
	clr_seclog_stats(CLR_SECLOG_REVOKED, &w[1], &sup[1]);
	clr_seclog_stats(CLR_SECLOG_UNREGISTERED, &w[2], &sup[2]);
	clr_seclog_stats(CLR_SECLOG_INTROSPECT_AUTH, &w[3], &sup[3]);
	clr_seclog_stats(CLR_SECLOG_BASIC, &w[4], &sup[4]);
	if (asprintf(&s,
		     "# TYPE clearance_auth_total counter\n"
		     "clearance_auth_total{result=\"allow\"} %lu\n"
		     "clearance_auth_total{result=\"invalid_token\"} %lu\n"
		     "clearance_auth_total{result=\"insufficient_scope\"} %lu\n"
		     "clearance_auth_total{result=\"rate_limited\"} %lu\n"
		     "clearance_auth_total{result=\"revoked\"} %lu\n"
		     "clearance_auth_total{result=\"unregistered\"} %lu\n"
		     "# TYPE clearance_token_cache_total counter\n"
		     "clearance_token_cache_total{result=\"hit\"} %lu\n"
		     "clearance_token_cache_total{result=\"miss\"} %lu\n"
		     "# TYPE clearance_security_log_suppressed_total counter\n"
		     "clearance_security_log_suppressed_total{reason=\"token_refused\"} %lu\n"
		     "clearance_security_log_suppressed_total{reason=\"revoked\"} %lu\n"
		     "clearance_security_log_suppressed_total{reason=\"unregistered\"} %lu\n"
		     "clearance_security_log_suppressed_total{reason=\"introspect_auth\"} %lu\n"
		     "clearance_security_log_suppressed_total{reason=\"basic\"} %lu\n"
		     "# TYPE clearance_revoked_clients gauge\n"
		     "clearance_revoked_clients %zu\n"
		     "# TYPE clearance_ratelimit_buckets gauge\n"
		     "clearance_ratelimit_buckets %zu\n",
		     atomic_load(&app->n_allow), atomic_load(&app->n_invalid),
		     atomic_load(&app->n_scope), atomic_load(&app->n_limited),
		     atomic_load(&app->n_revoked), atomic_load(&app->n_unregistered), hits, misses,
		     sup[0], sup[1], sup[2], sup[3], sup[4], clr_revo_count(app->revo),
		     clr_rl_count(app->rl)) < 0)
		return NULL;
	return s;
}

int main(void)
{
	struct clr_config *cfg = NULL;
	struct clr_ix_app app;
	struct clr_jwks_cache_cfg jcfg;
	struct clr_http_opts hdef;
	struct clr_cat *empty = NULL;
	struct clr_db *db = NULL;
	struct clr_server srv;
	int status = 1;

	clr_log_init("introspect", CLR_LOG_INFO);
	if (clr_config_load(CLR_CFG_NEED_DB, &cfg) != CLR_OK)
		return 1;
	clr_log_set_level(cfg->log_level);
	memset(&app, 0, sizeof(app));
	app.cfg = cfg;
	pthread_mutex_init(&app.cat_mu, NULL);
	jcfg.min_ttl_s = cfg->jwks_min_ttl_s;
	jcfg.max_ttl_s = cfg->jwks_max_ttl_s;
	jcfg.cooldown_s = cfg->jwks_cooldown_s;
	jcfg.stale_s = cfg->jwks_stale_s;
	jcfg.retry_ms = 1000;
	memset(&hdef, 0, sizeof(hdef));
	hdef.connect_timeout_ms = cfg->http_connect_timeout_ms;
	hdef.timeout_ms = cfg->http_timeout_ms;
	hdef.max_response = cfg->http_max_response;
	if (clr_provreg_new(&jcfg, &hdef, &app.provs) != CLR_OK ||
	    clr_revo_new(&app.revo) != CLR_OK || clr_revo_new(&app.allow) != CLR_OK ||
	    clr_isc_new(&app.isc) != CLR_OK || clr_rl_new(0, &app.rl) != CLR_OK ||
	    clr_tcache_new((size_t)cfg->gateway_token_cache, &app.tcache) != CLR_OK ||
	    clr_basic_new(1 << 12, &app.basic) != CLR_OK ||
	    clr_cat_build(NULL, 0, NULL, 0, &empty) != CLR_OK) {
		clr_log(NULL, CLR_LOG_ERROR, "introspect: out of memory at start");
		goto out;
	}
	clr_ix_set_catalogue(&app, empty);
	/* A first load now, so the gateway starts with its state; if PostgreSQL
	 * is still coming up the refresher keeps trying. */
	if (clr_db_open(cfg->database_url, NULL, 0, &db) == CLR_OK &&
	    clr_ix_reload_all(&app, db) != CLR_OK)
		clr_log(NULL, CLR_LOG_WARN, "introspect: initial load failed; will retry");
	clr_db_close(db);
	if (clr_refresher_start(&app, &app.refresher) != CLR_OK) {
		clr_log(NULL, CLR_LOG_ERROR, "introspect: cannot start the refresher");
		goto out;
	}
	memset(&srv, 0, sizeof(srv));
	srv.service = "introspect";
	srv.cfg = cfg;
	srv.routes = routes;
	srv.nroutes = sizeof(routes) / sizeof(routes[0]);
	srv.stmts = stmts;
	srv.nstmts = sizeof(stmts) / sizeof(stmts[0]);
	srv.app = &app;
	srv.metrics = metrics;
	status = clr_server_run(&srv);
out:
	clr_refresher_stop(app.refresher);
	clr_basic_free(app.basic);
	clr_tcache_free(app.tcache);
	clr_rl_free(app.rl);
	clr_revo_free(app.revo);
	clr_revo_free(app.allow);
	clr_isc_free(app.isc);
	clr_provreg_free(app.provs);
	clr_cat_release(app.cat);
	pthread_mutex_destroy(&app.cat_mu);
	clr_config_free(cfg);
	return status;
}
