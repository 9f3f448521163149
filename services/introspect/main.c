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

#include "clearance/auth.h"
#include "clearance/config.h"
#include "clearance/http_in.h"
#include "clearance/log.h"
#include "clearance/util.h"
#include "basic_exchange.h"
#include "handlers.h"
#include "introspect.h"
#include "seclog.h"

/*
 * Per provider: fetch outcomes, whether a usable set is held and its age,
 * so an alert can name the IdP whose keys are failing.  new, or NULL.
 */
static char *jwks_metrics(struct ix_jwks_cache **caches, char (*ids)[64], size_t n)
{
	static const char head[] =
	    "# HELP clearance_jwks_provider_fetches_total JWKS fetches per provider by "
	    "result (new set, not modified, failed).\n"
	    "# TYPE clearance_jwks_provider_fetches_total counter\n"
	    "# HELP clearance_jwks_usable Whether the gateway holds a usable key set of the "
	    "provider (1) or not (0).\n"
	    "# TYPE clearance_jwks_usable gauge\n"
	    "# HELP clearance_jwks_age_seconds Seconds since the provider's key set was "
	    "fetched or confirmed.\n"
	    "# TYPE clearance_jwks_age_seconds gauge\n";
	struct ix_jwks_stats st;
	long long now = clr_now_ms();
	char *out = NULL, *line = NULL, *grown;
	size_t len = 0, ll;

	if ((out = strdup(head)) == NULL)
		return NULL;
	len = strlen(out);
	for (size_t i = 0; i < n; i++) {
		ix_jwks_cache_stats(caches[i], now, &st);
		if (asprintf(
			&line,
			"clearance_jwks_provider_fetches_total{provider=\"%s\",result=\"new\"} "
			"%lu\n"
			"clearance_jwks_provider_fetches_total{provider=\"%s\",result=\"not_"
			"modified\"} %lu\n"
			"clearance_jwks_provider_fetches_total{provider=\"%s\",result=\"failed\"} "
			"%lu\n"
			"clearance_jwks_usable{provider=\"%s\"} %d\n"
			"clearance_jwks_age_seconds{provider=\"%s\"} %lld\n",
			ids[i], st.fresh, ids[i], st.not_modified, ids[i], st.failed, ids[i],
			st.usable, ids[i], st.age_s < 0 ? 0 : st.age_s) < 0)
			goto fail;
		ll = strlen(line);
		if ((grown = realloc(out, len + ll + 1)) == NULL)
			goto fail;
		out = grown;
		memcpy(out + len, line, ll + 1);
		len += ll;
		free(line);
		line = NULL;
	}
	return out;
fail:
	free(line);
	free(out);
	return NULL;
}

static char *metrics(void *arg)
{
	struct ix_app *app = arg;
	unsigned long hits, misses, sup[IX_SECLOG__MAX], w, v[IX_VERDICT__MAX],
	    fetches = 0, rejected = 0, lim_rate, lim_quota, lim_closed;
	struct ix_jwks_cache *caches[256];
	char ids[256][64];
	struct ix_grants *g = ix_grants_current(app);
	size_t nc = ix_provreg_caches(app->provs, caches, ids, 256),
	       nclients = ix_grants_nclients(g);
	char *s = NULL, *per = NULL;

	ix_grants_release(g);
	ix_tcache_stats(app->tcache, &hits, &misses);
	for (int i = 0; i < IX_SECLOG__MAX; i++)
		ix_seclog_stats((enum ix_seclog_reason)i, &w, &sup[i]);
	for (int i = 0; i < IX_VERDICT__MAX; i++)
		v[i] = atomic_load(&app->n_verdict[i]);
	/* IX_DENY_LIMITED split by cause (clamped: causes are counted before the verdict) */
	lim_quota = atomic_load(&app->n_quota_exhausted);
	lim_closed = atomic_load(&app->n_store_closed);
	lim_rate = v[IX_DENY_LIMITED] > lim_quota + lim_closed
		       ? v[IX_DENY_LIMITED] - lim_quota - lim_closed
		       : 0;
	for (size_t i = 0; i < nc; i++) {
		fetches += ix_jwks_cache_fetches(caches[i]);
		rejected += ix_jwks_cache_rejected(caches[i]);
	}
	if ((per = jwks_metrics(caches, ids, nc)) == NULL)
		return NULL;
	if (asprintf(
		&s,
		"# HELP clearance_auth_total Gateway decisions (/auth and /v1/introspect) by "
		"outcome.\n"
		"# TYPE clearance_auth_total counter\n"
		"clearance_auth_total{result=\"allow\"} %lu\n"
		"clearance_auth_total{result=\"invalid_token\"} %lu\n"
		"clearance_auth_total{result=\"revoked\"} %lu\n"
		"clearance_auth_total{result=\"unregistered\"} %lu\n"
		"clearance_auth_total{result=\"not_granted\"} %lu\n"
		"clearance_auth_total{result=\"insufficient_scope\"} %lu\n"
		"clearance_auth_total{result=\"rate_limited\"} %lu\n"
		"clearance_auth_total{result=\"quota_exhausted\"} %lu\n"
		"clearance_auth_total{result=\"limits_unavailable\"} %lu\n"
		"# HELP clearance_token_cache_total Verified-token cache lookups by result.\n"
		"# TYPE clearance_token_cache_total counter\n"
		"clearance_token_cache_total{result=\"hit\"} %lu\n"
		"clearance_token_cache_total{result=\"miss\"} %lu\n"
		"# HELP clearance_jwks_fetches_total JWKS fetches from the IdPs (every provider).\n"
		"# TYPE clearance_jwks_fetches_total counter\n"
		"clearance_jwks_fetches_total %lu\n"
		"# HELP clearance_jwks_rejected_total JWKS documents refused whole (private "
		"members, repeated kid).\n"
		"# TYPE clearance_jwks_rejected_total counter\n"
		"clearance_jwks_rejected_total %lu\n"
		"# HELP clearance_security_log_suppressed_total Security log lines held back by "
		"the per-reason rate limit.\n"
		"# TYPE clearance_security_log_suppressed_total counter\n"
		"clearance_security_log_suppressed_total{reason=\"token_refused\"} %lu\n"
		"clearance_security_log_suppressed_total{reason=\"revoked\"} %lu\n"
		"clearance_security_log_suppressed_total{reason=\"unregistered\"} %lu\n"
		"clearance_security_log_suppressed_total{reason=\"introspect_auth\"} %lu\n"
		"clearance_security_log_suppressed_total{reason=\"basic\"} %lu\n"
		"# HELP clearance_revoked_clients Clients in the revocation set.\n"
		"# TYPE clearance_revoked_clients gauge\n"
		"clearance_revoked_clients %zu\n"
		"# HELP clearance_registered_clients Clients with an active registration "
		"(grants).\n"
		"# TYPE clearance_registered_clients gauge\n"
		"clearance_registered_clients %zu\n"
		"# HELP clearance_ratelimit_buckets Local token buckets held (PostgreSQL "
		"unreachable fallback).\n"
		"# TYPE clearance_ratelimit_buckets gauge\n"
		"clearance_ratelimit_buckets %zu\n"
		"# HELP clearance_limit_leases Leased blocks of shared rate-limit and quota "
		"counters held.\n"
		"# TYPE clearance_limit_leases gauge\n"
		"clearance_limit_leases %zu\n"
		"# HELP clearance_limits_degraded_total Limit decisions taken without PostgreSQL "
		"(plan policy applied).\n"
		"# TYPE clearance_limits_degraded_total counter\n"
		"clearance_limits_degraded_total %lu\n"
		"# HELP clearance_introspect_limited_total POST /v1/introspect calls refused by "
		"the per-caller limit.\n"
		"# TYPE clearance_introspect_limited_total counter\n"
		"clearance_introspect_limited_total %lu\n%s",
		v[IX_ALLOW], v[IX_DENY_INVALID], v[IX_DENY_REVOKED], v[IX_DENY_UNREGISTERED],
		v[IX_DENY_NOT_GRANTED], v[IX_DENY_SCOPE], lim_rate, lim_quota, lim_closed, hits,
		misses, fetches, rejected, sup[IX_SECLOG_TOKEN_REFUSED], sup[IX_SECLOG_REVOKED],
		sup[IX_SECLOG_UNREGISTERED], sup[IX_SECLOG_INTROSPECT_AUTH], sup[IX_SECLOG_BASIC],
		ix_denyset_count(app->deny), nclients, ix_rl_count(app->rl),
		ix_limits_count(app->limits), atomic_load(&app->n_degraded),
		atomic_load(&app->n_introspect_limited), per) < 0)
		s = NULL;
	free(per);
	return s;
}

int main(void)
{
	struct clr_config *cfg = NULL;
	struct ix_app app;
	struct ix_jwks_cache_cfg jcfg;
	struct clr_http_opts hdef;
	struct ix_cat *empty = NULL;
	struct clr_db *db = NULL;
	struct clr_server srv;
	int status = 1;

	clr_log_init("introspect", CLR_LOG_INFO);
	if (clr_config_load(CLR_CFG_NEED_DB, &cfg) != CLR_OK)
		return 1;
	if (clr_token_pepper_startup(cfg) != CLR_OK) {
		clr_config_free(cfg);
		return 1;
	}
	clr_log_set_level(cfg->log_level);
	memset(&app, 0, sizeof(app));
	app.cfg = cfg;
	app.lease = ix_lease_pg;
	pthread_mutex_init(&app.snap_mu, NULL);
	jcfg.min_ttl_s = cfg->jwks_min_ttl_s;
	jcfg.max_ttl_s = cfg->jwks_max_ttl_s;
	jcfg.cooldown_s = cfg->jwks_cooldown_s;
	jcfg.stale_s = cfg->jwks_stale_s;
	jcfg.retry_ms = 1000;
	jcfg.miss_wait_ms = IX_JWKS_MISS_WAIT_MS;
	memset(&hdef, 0, sizeof(hdef));
	hdef.connect_timeout_ms = cfg->http_connect_timeout_ms;
	hdef.timeout_ms = cfg->http_timeout_ms;
	hdef.max_response = cfg->http_max_response;
	if (ix_provreg_new(&jcfg, &hdef, &app.provs) != CLR_OK ||
	    ix_denyset_new(&app.deny) != CLR_OK || ix_isc_new(&app.isc) != CLR_OK ||
	    ix_rl_new(0, &app.rl) != CLR_OK || ix_limits_new(0, &app.limits) != CLR_OK ||
	    ix_tcache_new((size_t)cfg->gateway_token_cache, &app.tcache) != CLR_OK ||
	    ix_basic_new(1 << 12, &app.basic) != CLR_OK ||
	    ix_cat_build(NULL, 0, NULL, 0, &empty) != CLR_OK ||
	    ix_grants_build(NULL, 0, &app.grants) != CLR_OK) {
		clr_log(NULL, CLR_LOG_ERROR, "introspect: out of memory at start");
		goto out;
	}
	ix_set_catalogue(&app, empty);
	/* A first load now, so the gateway starts with its state; if PostgreSQL
	 * is still coming up the refresher keeps trying. */
	if (clr_db_open(cfg->database_url, NULL, 0, &db) == CLR_OK &&
	    ix_reload_all(&app, db) != CLR_OK)
		clr_log(NULL, CLR_LOG_WARN, "introspect: initial load failed; will retry");
	clr_db_close(db);
	if (ix_refresher_start(&app, &app.refresher) != CLR_OK) {
		clr_log(NULL, CLR_LOG_ERROR, "introspect: cannot start the refresher");
		goto out;
	}
	memset(&srv, 0, sizeof(srv));
	srv.service = "introspect";
	srv.cfg = cfg;
	srv.routes = ix_routes;
	srv.nroutes = ix_nroutes;
	srv.stmts = ix_stmts;
	srv.nstmts = ix_nstmts;
	srv.app = &app;
	srv.metrics = metrics;
	status = clr_server_run(&srv);
out:
	ix_refresher_stop(app.refresher);
	ix_basic_free(app.basic);
	ix_tcache_free(app.tcache);
	ix_rl_free(app.rl);
	ix_limits_free(app.limits);
	ix_denyset_free(app.deny);
	ix_grants_release(app.grants);
	ix_isc_free(app.isc);
	ix_provreg_free(app.provs);
	ix_cat_release(app.cat);
	pthread_mutex_destroy(&app.snap_mu);
	clr_config_free(cfg);
	return status;
}
