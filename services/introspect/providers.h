/*
 * providers.h - the IdP providers as the gateway needs them: issuer ->
 * verification policy and JWKS cache, held in memory so the hot path never
 * asks PostgreSQL.
 *
 * A snapshot is immutable and reference-counted; the refresher reloads it
 * on NOTIFY clearance_providers (sql/004_introspect.sql) and periodically.
 * Each provider's JWKS cache outlives snapshots (it is found again by
 * provider id on reload, and re-pointed if its jwks_uri or TLS settings
 * changed), so a reload never throws fetched keys away.
 */
#ifndef CLR_INTROSPECT_PROVIDERS_H
#define CLR_INTROSPECT_PROVIDERS_H

#include "clearance/rc.h"
#include "clearance/db.h"
#include "clearance/http_out.h"
#include "jwks_cache.h"

struct clr_prov {
	char *id;
	char *issuer;
	char *token_endpoint;
	char *audience;	      /* NULL: aud not checked */
	char *identity_claim; /* NULL: client_id, azp, sub */
	unsigned alg_mask;
	struct clr_http_opts http;   /* ca_pem owned by the snapshot */
	struct clr_jwks_cache *jwks; /* borrowed from the registry, lives until it is freed */
};

struct clr_provs {
	unsigned long gen; /* changes whenever any provider's policy changes */
	size_t n;
	struct clr_prov *v;
};

struct clr_provreg;

/* *out new.  jcfg and http_defaults (timeouts, caps) are copied. */
enum clr_rc clr_provreg_new(const struct clr_jwks_cache_cfg *jcfg,
			    const struct clr_http_opts *http_defaults,
			    struct clr_provreg **out) CLR_MUSTCHECK;
void clr_provreg_free(struct clr_provreg *r);

/* Reloads from PostgreSQL and swaps the snapshot in. */
enum clr_rc clr_provreg_reload(struct clr_provreg *r, struct clr_db *db) CLR_MUSTCHECK;

/* Current snapshot, new reference (clr_provs_release); never NULL after new. */
struct clr_provs *clr_provreg_get(struct clr_provreg *r);
void clr_provs_release(struct clr_provs *p);

/* Provider by exact issuer or by id; borrowed from p. */
const struct clr_prov *clr_provs_by_issuer(const struct clr_provs *p, const char *iss);
const struct clr_prov *clr_provs_by_id(const struct clr_provs *p, const char *id);

/* Every JWKS cache ever created (background maintenance); borrowed. */
size_t clr_provreg_caches(struct clr_provreg *r, struct clr_jwks_cache **out, size_t max);

#endif
