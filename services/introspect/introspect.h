/*
 * introspect.h - the introspect service's shared state (the decision that
 * /auth and /v1/introspect both use is in decide.h).
 *
 * Everything here is built once in main.c and shared read-mostly by the
 * FastCGI worker threads; the refresher threads (refresher.c) keep the
 * providers, catalogue, grants and deny set current from PostgreSQL, so no
 * request ever waits on the database.
 */
#ifndef IX_INTROSPECT_H
#define IX_INTROSPECT_H

#include <pthread.h>
#include <stdatomic.h>
#include "clearance/config.h"
#include "clearance/db.h"
#include "clearance/http_out.h"
#include "catalogue.h"
#include "decide.h"
#include "grants.h"
#include "isclients.h"
#include "providers.h"
#include "ratelimit.h"
#include "denyset.h"
#include "token_cache.h"

/* How long a verified token is trusted without re-verifying (capped by exp). */
#define IX_TOKEN_TTL_MS 60000LL
/* RFC 7662 calls per caller (introspection client or admin token) and copy. */
#define IX_INTROSPECT_RATE 100
#define IX_INTROSPECT_WINDOW_S 10
/* Largest Authorization value considered at all (a JWT is capped at 8 KiB). */
#define IX_MAX_AUTHZ 9000u

struct ix_basic;
struct ix_refresher;

struct ix_app {
	const struct clr_config *cfg;
	struct ix_provreg *provs;
	struct ix_denyset *deny;  /* client ids of revoked registrations */
	struct ix_isc *isc;	  /* resource servers allowed at /v1/introspect */
	struct ix_rl *rl;	  /* per-copy buckets: the fallback while PostgreSQL is away */
	struct ix_limits *limits; /* leases of the shared counters */
	ix_lease_fn lease;	  /* ix_lease_pg (tests: a fake) */
	struct ix_tcache *tcache;
	struct ix_basic *basic;
	struct ix_refresher *refresher;
	pthread_mutex_t snap_mu;
	struct ix_cat *cat;	  /* current catalogue; swap under snap_mu */
	struct ix_grants *grants; /* current grants; swap under snap_mu */
	atomic_int loaded;	  /* 1 after the first complete load */
	atomic_ulong n_verdict[IX_VERDICT__MAX];
	atomic_ulong n_introspect_limited;
	atomic_ulong n_degraded;	/* limit decisions taken without PostgreSQL */
	atomic_ulong n_quota_exhausted; /* IX_DENY_LIMITED by the monthly quota */
	atomic_ulong n_store_closed;	/* IX_DENY_LIMITED by a 'closed' plan, store down */
};

/* New reference to the current catalogue (ix_cat_release). */
struct ix_cat *ix_catalogue(struct ix_app *app);
/* Swaps in c (steals the reference). */
void ix_set_catalogue(struct ix_app *app, struct ix_cat *c);
/* New reference to the current grants (ix_grants_release). */
struct ix_grants *ix_grants_current(struct ix_app *app);
/* Swaps in g (steals the reference). */
void ix_set_grants(struct ix_app *app, struct ix_grants *g);

/* Background threads: LISTEN/NOTIFY + periodic reloads, JWKS maintenance. */
enum clr_rc ix_refresher_start(struct ix_app *app, struct ix_refresher **out) CLR_MUSTCHECK;
void ix_refresher_stop(struct ix_refresher *r);

/* Loads providers, catalogue, grants and revocations once (start-up). */
enum clr_rc ix_reload_all(struct ix_app *app, struct clr_db *db) CLR_MUSTCHECK;

#endif
