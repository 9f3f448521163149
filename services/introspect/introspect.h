/*
 * introspect.h - the introspect service's shared state and the token check
 * that /auth and /v1/introspect both use.
 *
 * Everything here is built once in main.c and shared read-mostly by the
 * FastCGI worker threads; the refresher threads (refresher.c) keep the
 * providers, catalogue and revocation set current from PostgreSQL, so no
 * request ever waits on the database.
 */
#ifndef CLR_INTROSPECT_H
#define CLR_INTROSPECT_H

#include <pthread.h>
#include <stdatomic.h>
#include "clearance/config.h"
#include "clearance/db.h"
#include "clearance/http_out.h"
#include "catalogue.h"
#include "isclients.h"
#include "providers.h"
#include "ratelimit.h"
#include "revocations.h"
#include "token_cache.h"

/* How long a verified token is trusted without re-verifying (capped by exp). */
#define CLR_IX_TOKEN_TTL_MS 60000LL
/* Largest Authorization value considered at all (a JWT is capped at 8 KiB). */
#define CLR_IX_MAX_AUTHZ 9000u

struct clr_basic;
struct clr_refresher;

struct clr_ix_app {
	const struct clr_config *cfg;
	struct clr_provreg *provs;
	struct clr_revo *revo;
	struct clr_revo *allow; /* "<provider_id> <client_id>" of active registrations */
	struct clr_isc *isc;	/* resource servers allowed at /v1/introspect */
	struct clr_rl *rl;
	struct clr_tcache *tcache;
	struct clr_basic *basic;
	struct clr_refresher *refresher;
	pthread_mutex_t cat_mu;
	struct clr_cat *cat; /* current catalogue; swap under cat_mu */
	atomic_int loaded;   /* 1 after the first complete load */
	atomic_ulong n_allow, n_invalid, n_scope, n_limited, n_revoked, n_unregistered;
};

/* New reference to the current catalogue (clr_cat_release). */
struct clr_cat *clr_ix_catalogue(struct clr_ix_app *app);
/* Swaps in c (steals the reference). */
void clr_ix_set_catalogue(struct clr_ix_app *app, struct clr_cat *c);

/*
 * Verifies a bearer token (len bytes): the cache of verified tokens first,
 * else issuer -> provider -> JWKS (refetch on unknown kid, under cooldown)
 * -> signature and claims.  On CLR_OK *out is a new reference.  Any
 * problem with the token: CLR_ERR_DENIED, *why a fixed reason for the log
 * (never the token).  Does NOT check revocation or scopes.
 */
enum clr_rc clr_ix_verify(struct clr_ix_app *app, struct clr_http_client *http, const char *token,
			  size_t len, struct clr_tok **out, const char **why) CLR_MUSTCHECK;

/*
 * 0 if the token's client must be refused although the token verified: its
 * registration is revoked (always checked), or, with
 * CLEARANCE_GATEWAY_REQUIRE_REGISTERED, it has no active registration at
 * the token's provider.  *why is a fixed reason and the matching
 * security line has been logged (rate-limited).  Cheap: two hash probes.
 */
int clr_ix_client_ok(struct clr_ix_app *app, const struct clr_tok *tok, const char *reqid,
		     const char **why);

/* Background threads: LISTEN/NOTIFY + periodic reloads, JWKS maintenance. */
enum clr_rc clr_refresher_start(struct clr_ix_app *app, struct clr_refresher **out) CLR_MUSTCHECK;
void clr_refresher_stop(struct clr_refresher *r);

/* Loads providers, catalogue and revocations once (start-up). */
enum clr_rc clr_ix_reload_all(struct clr_ix_app *app, struct clr_db *db) CLR_MUSTCHECK;

#endif
