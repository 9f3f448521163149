/*
 * refresher.c - keeps the in-memory state current, off the request path.
 *
 * Thread "listen": one PostgreSQL connection that LISTENs on
 * clearance_revocations (payload: a client id, added to the deny set at
 * once), clearance_catalogue, clearance_providers and clearance_grants
 * (reload that part; sql/020_gateway_grants.sql),
 * and reloads everything every cfg->revocation_refresh_s as a safety net
 * (a lost notification, a connection that was down).  After a reconnect it
 * LISTENs again and reloads everything, since notifications sent while it
 * was away are gone.  It wakes at least every 200 ms, so a revocation is
 * applied well within the one second the gateway promises.
 *
 * Thread "jwks": every second, lets each provider's JWKS cache refresh
 * itself if due.  Separate from "listen" so a slow IdP cannot delay a
 * revocation.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/log.h"
#include "clearance/util.h"
#include "introspect.h"
#include "seclog.h"

struct ix_refresher {
	struct ix_app *app;
	pthread_t listen_thr, jwks_thr;
	int listen_started, jwks_started;
	atomic_int stop;
};

static enum clr_rc reload_grants(struct ix_app *app, struct clr_db *db)
{
	struct ix_grants *g = NULL;
	enum clr_rc rc = ix_grants_load(db, &g);

	if (rc == CLR_OK)
		ix_set_grants(app, g);
	return rc;
}

enum clr_rc ix_reload_all(struct ix_app *app, struct clr_db *db)
{
	struct ix_cat *cat = NULL;
	enum clr_rc rc;

	if ((rc = ix_provreg_reload(app->provs, db)) != CLR_OK)
		return rc;
	if ((rc = ix_cat_load(db, &cat)) != CLR_OK)
		return rc;
	ix_set_catalogue(app, cat);
	if ((rc = ix_denyset_reload(app->deny, db)) != CLR_OK)
		return rc;
	if ((rc = reload_grants(app, db)) != CLR_OK)
		return rc;
	if ((rc = ix_isc_reload(app->isc, db)) != CLR_OK)
		return rc;
	atomic_store(&app->loaded, 1);
	return CLR_OK;
}

static const char *const channels[] = {
    "LISTEN clearance_revocations", "LISTEN clearance_catalogue",
    "LISTEN clearance_providers",   "LISTEN clearance_registrations_active",
    "LISTEN clearance_grants",	    "LISTEN clearance_introspection_clients",
};

static void sleep_ms(struct ix_refresher *r, long ms)
{
	for (; ms > 0 && !atomic_load(&r->stop); ms -= 100)
		poll(NULL, 0, ms < 100 ? (int)ms : 100);
}

static void *listen_main(void *arg)
{
	struct ix_refresher *r = arg;
	struct ix_app *app = r->app;
	struct clr_db *db = NULL;
	int listened_pid = 0;
	long long next_full = 0;
	long period_ms = app->cfg->revocation_refresh_s * 1000L;

	if (period_ms <= 0)
		period_ms = 60000;
	if (clr_db_open(app->cfg->database_url, NULL, 0, &db) != CLR_OK) {
		clr_log(NULL, CLR_LOG_ERROR, "refresher: cannot create a database handle");
		return NULL;
	}
	while (!atomic_load(&r->stop)) {
		PGconn *pc = clr_db_conn(db);
		int reload_cat = 0, reload_prov = 0, reload_isc = 0, reload_revo = 0,
		    reload_grants_ = 0, full = 0, redo = 0;
		PGnotify *nf;
		struct pollfd pfd;

		if (pc == NULL || PQstatus(pc) != CONNECTION_OK ||
		    PQbackendPID(pc) != listened_pid) {
			size_t i;
			if (clr_db_ping(db) != CLR_OK) {
				listened_pid = 0;
				sleep_ms(r, 500);
				continue;
			}
			pc = clr_db_conn(db);
			for (i = 0; i < sizeof(channels) / sizeof(channels[0]); i++)
				if (clr_db_exec_sql(db, channels[i], 0, NULL, NULL) != CLR_OK)
					break;
			if (i < sizeof(channels) / sizeof(channels[0]) || pc == NULL) {
				sleep_ms(r, 500);
				continue;
			}
			listened_pid = PQbackendPID(pc);
			full = 1;
		}
		if (full || clr_now_ms() >= next_full) {
			if (ix_reload_all(app, db) == CLR_OK)
				next_full = clr_now_ms() + period_ms;
			else
				next_full = clr_now_ms() + 1000;
		}
		pfd.fd = PQsocket(pc);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (pfd.fd >= 0)
			(void)poll(&pfd, 1, 200);
		if (!PQconsumeInput(pc)) {
			listened_pid = 0; /* broken: reconnect and reload next round */
			continue;
		}
		while ((nf = PQnotifies(pc)) != NULL) {
			if (strcmp(nf->relname, "clearance_revocations") == 0) {
				if (ix_denyset_add(app->deny, nf->extra) != CLR_OK)
					redo = 1; /* could not add one: reload them all */
			} else if (strcmp(nf->relname, "clearance_catalogue") == 0) {
				reload_cat = 1;
			} else if (strcmp(nf->relname, "clearance_providers") == 0) {
				reload_prov = 1;
			} else if (strcmp(nf->relname, "clearance_registrations_active") == 0) {
				/*
				 * The deny set may still hold this id from an earlier
				 * revocation, so rebuild it; the grants come with it.
				 */
				reload_revo = 1;
				reload_grants_ = 1;
			} else if (strcmp(nf->relname, "clearance_grants") == 0) {
				reload_grants_ = 1;
			} else if (strcmp(nf->relname, "clearance_introspection_clients") == 0) {
				reload_isc = 1;
			}
			PQfreemem(nf);
		}
		if (reload_isc && ix_isc_reload(app->isc, db) != CLR_OK)
			next_full = 0;
		if (reload_revo && ix_denyset_reload(app->deny, db) != CLR_OK)
			next_full = 0;
		if (reload_grants_ && reload_grants(app, db) != CLR_OK)
			next_full = 0;
		if (reload_prov && ix_provreg_reload(app->provs, db) != CLR_OK)
			next_full = 0;
		if (reload_cat) {
			struct ix_cat *cat = NULL;
			if (ix_cat_load(db, &cat) == CLR_OK)
				ix_set_catalogue(app, cat);
			else
				next_full = 0;
		}
		if (redo)
			next_full = 0;
	}
	clr_db_close(db);
	return NULL;
}

static void *jwks_main(void *arg)
{
	struct ix_refresher *r = arg;
	struct clr_http_client *http = NULL;
	struct ix_jwks_cache *caches[256];

	if (clr_http_client_new(&http) != CLR_OK) {
		clr_log(NULL, CLR_LOG_ERROR, "refresher: cannot create an HTTP client");
		return NULL;
	}
	while (!atomic_load(&r->stop)) {
		size_t n = ix_provreg_caches(r->app->provs, caches, NULL, 256);
		for (size_t i = 0; i < n && !atomic_load(&r->stop); i++)
			ix_jwks_cache_maintain(caches[i], http, clr_now_ms());
		ix_seclog_flush(clr_now_ms());
		sleep_ms(r, 1000);
	}
	clr_http_client_free(http);
	return NULL;
}

enum clr_rc ix_refresher_start(struct ix_app *app, struct ix_refresher **out)
{
	struct ix_refresher *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (r == NULL)
		return CLR_ERR_NOMEM;
	r->app = app;
	atomic_init(&r->stop, 0);
	if (pthread_create(&r->listen_thr, NULL, listen_main, r) != 0)
		goto fail;
	r->listen_started = 1;
	if (pthread_create(&r->jwks_thr, NULL, jwks_main, r) != 0)
		goto fail;
	r->jwks_started = 1;
	*out = r;
	return CLR_OK;
fail:
	ix_refresher_stop(r);
	return CLR_ERR_INTERNAL;
}

void ix_refresher_stop(struct ix_refresher *r)
{
	if (r == NULL)
		return;
	atomic_store(&r->stop, 1);
	if (r->listen_started)
		pthread_join(r->listen_thr, NULL);
	if (r->jwks_started)
		pthread_join(r->jwks_thr, NULL);
	free(r);
}
