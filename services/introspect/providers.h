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
#ifndef IX_PROVIDERS_H
#define IX_PROVIDERS_H

#include "clearance/rc.h"
#include "clearance/db.h"
#include "clearance/http_out.h"
#include "jwks_cache.h"

struct ix_prov {
	char *id;
	char *issuer;
	char *token_endpoint;
	char *audience;	      /* NULL: aud not checked */
	char *identity_claim; /* NULL: client_id, azp, sub; okta: cid by default */
	char *typs;	      /* accepted header typ values (providers.access_token_typ) */
	unsigned alg_mask;
	int token_auth_post;	    /* Basic exchange sends id and secret in the body (sql/065) */
	struct clr_http_opts http;  /* ca_pem owned by the snapshot */
	struct ix_jwks_cache *jwks; /* borrowed from the registry, lives until it is freed */
};

struct ix_provs {
	unsigned long gen; /* changes whenever any provider's policy changes */
	size_t n;
	struct ix_prov *v;
};

struct ix_provreg;

/* *out new.  jcfg and http_defaults (timeouts, caps) are copied. */
enum clr_rc ix_provreg_new(const struct ix_jwks_cache_cfg *jcfg,
			   const struct clr_http_opts *http_defaults,
			   struct ix_provreg **out) CLR_MUSTCHECK;
void ix_provreg_free(struct ix_provreg *r);

/* Reloads from PostgreSQL and swaps the snapshot in. */
enum clr_rc ix_provreg_reload(struct ix_provreg *r, struct clr_db *db) CLR_MUSTCHECK;

/* Current snapshot, new reference (ix_provs_release); never NULL after new. */
struct ix_provs *ix_provreg_get(struct ix_provreg *r);
void ix_provs_release(struct ix_provs *p);

/* Provider by exact issuer or by id; borrowed from p. */
const struct ix_prov *ix_provs_by_issuer(const struct ix_provs *p, const char *iss);
const struct ix_prov *ix_provs_by_id(const struct ix_provs *p, const char *id);

/*
 * Every JWKS cache ever created (background maintenance, metrics);
 * borrowed: a cache lives as long as r.  ids, when not NULL, receives the
 * provider id of each.
 */
size_t ix_provreg_caches(struct ix_provreg *r, struct ix_jwks_cache **out, char (*ids)[64],
			 size_t max);

#endif
