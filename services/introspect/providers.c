/*
 * providers.c - see providers.h.
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/jwk.h"
#include "clearance/log.h"
#include "providers.h"

struct provs_impl {
	struct ix_provs pub; /* first: the public view */
	atomic_int ref;
};

struct cache_slot {
	char id[64];
	struct ix_jwks_cache *c;
};

struct ix_provreg {
	pthread_mutex_t mu;
	struct provs_impl *cur;
	struct ix_jwks_cache_cfg jcfg;
	struct clr_http_opts http;
	struct cache_slot *caches;
	size_t ncaches, capcaches;
	unsigned char digest[32];
	unsigned long gen;
};

static void provs_free(struct provs_impl *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->pub.n; i++) {
		struct ix_prov *v = &p->pub.v[i];
		free(v->id);
		free(v->issuer);
		free(v->token_endpoint);
		free(v->audience);
		free(v->identity_claim);
		free(v->typs);
		free((char *)v->http.ca_pem);
	}
	free(p->pub.v);
	free(p);
}

void ix_provs_release(struct ix_provs *p)
{
	struct provs_impl *pi = (struct provs_impl *)p;

	if (pi != NULL && atomic_fetch_sub(&pi->ref, 1) == 1)
		provs_free(pi);
}

struct ix_provs *ix_provreg_get(struct ix_provreg *r)
{
	struct provs_impl *p;

	pthread_mutex_lock(&r->mu);
	p = r->cur;
	atomic_fetch_add(&p->ref, 1);
	pthread_mutex_unlock(&r->mu);
	return &p->pub;
}

enum clr_rc ix_provreg_new(const struct ix_jwks_cache_cfg *jcfg,
			   const struct clr_http_opts *http_defaults, struct ix_provreg **out)
{
	struct ix_provreg *r;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return CLR_ERR_NOMEM;
	r->cur = calloc(1, sizeof(*r->cur));
	if (r->cur == NULL) {
		free(r);
		return CLR_ERR_NOMEM;
	}
	atomic_init(&r->cur->ref, 1);
	r->jcfg = *jcfg;
	r->http = *http_defaults;
	r->http.ca_pem = NULL;
	pthread_mutex_init(&r->mu, NULL);
	*out = r;
	return CLR_OK;
}

void ix_provreg_free(struct ix_provreg *r)
{
	if (r == NULL)
		return;
	ix_provs_release(&r->cur->pub);
	for (size_t i = 0; i < r->ncaches; i++)
		ix_jwks_cache_free(r->caches[i].c);
	free(r->caches);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* Finds or creates the cache for a provider id; called with r->mu held. */
static enum clr_rc cache_for(struct ix_provreg *r, const char *id, const char *uri,
			     const struct clr_http_opts *http, struct ix_jwks_cache **out)
{
	enum clr_rc rc;

	for (size_t i = 0; i < r->ncaches; i++) {
		if (strcmp(r->caches[i].id, id) == 0) {
			*out = r->caches[i].c;
			return ix_jwks_cache_set_source(*out, uri, http);
		}
	}
	if (r->ncaches == r->capcaches) {
		size_t nc = r->capcaches ? 2 * r->capcaches : 8;
		struct cache_slot *ns = realloc(r->caches, nc * sizeof(*ns));
		if (ns == NULL)
			return CLR_ERR_NOMEM;
		r->caches = ns;
		r->capcaches = nc;
	}
	if ((rc = ix_jwks_cache_new(&r->jcfg, uri, http, out)) != CLR_OK)
		return rc;
	snprintf(r->caches[r->ncaches].id, sizeof(r->caches[0].id), "%s", id);
	r->caches[r->ncaches++].c = *out;
	return CLR_OK;
}

static char *dup_or_null(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col) || PQgetvalue(res, row, col)[0] == '\0')
		return NULL;
	return strdup(PQgetvalue(res, row, col));
}

enum clr_rc ix_provreg_reload(struct ix_provreg *r, struct clr_db *db)
{
	static const char q[] =
	    "SELECT id::text, issuer, jwks_uri, token_endpoint, audience, alg_allowlist,"
	    /* Okta's access tokens name the client in "cid", not "client_id" */
	    " CASE WHEN kind = 'okta' AND identity_claim = 'client_id' THEN 'cid'"
	    " ELSE identity_claim END, allow_insecure_http::int::text,"
	    " tls_skip_verify::int::text, ca_bundle_pem, access_token_typ,"
	    " (token_endpoint_auth_method = 'client_secret_post')::int::text"
	    " FROM providers ORDER BY id";
	enum {
		C_ID,
		C_ISS,
		C_JWKS,
		C_TOKEN,
		C_AUD,
		C_ALGS,
		C_IDC,
		C_HTTP,
		C_SKIP,
		C_CA,
		C_TYP,
		C_TAM
	};
	PGresult *res = NULL;
	struct provs_impl *np = NULL;
	unsigned char dg[32];
	unsigned int dlen = 0;
	EVP_MD_CTX *md = NULL;
	enum clr_rc rc;
	int n;

	if ((rc = clr_db_exec_sql(db, q, 0, NULL, &res)) != CLR_OK)
		return rc;
	n = PQntuples(res);
	rc = CLR_ERR_NOMEM;
	np = calloc(1, sizeof(*np));
	md = EVP_MD_CTX_new();
	if (np == NULL || md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		goto out;
	atomic_init(&np->ref, 1);
	np->pub.v = calloc((size_t)n + 1, sizeof(struct ix_prov));
	if (np->pub.v == NULL)
		goto out;
	/*
	 * The digest of every column decides whether cached verdicts stay valid
	 * (C_TAM is left out: it changes no verdict).
	 */
	for (int i = 0; i < n; i++)
		for (int j = 0; j <= C_TYP; j++)
			EVP_DigestUpdate(md, PQgetvalue(res, i, j),
					 (size_t)PQgetlength(res, i, j) + 1);
	EVP_DigestFinal_ex(md, dg, &dlen);

	pthread_mutex_lock(&r->mu);
	for (int i = 0; i < n; i++) {
		struct ix_prov *p = &np->pub.v[np->pub.n];
		struct clr_err e;
		const char *algs = PQgetvalue(res, i, C_ALGS);

		memset(&e, 0, sizeof(e));
		if (clr_jws_alg_mask_parse(algs, &p->alg_mask, &e) != CLR_OK) {
			/* A provider we cannot check safely verifies nothing. */
			clr_log(NULL, CLR_LOG_ERROR, "providers: %s: bad alg_allowlist: %s",
				PQgetvalue(res, i, C_ID), e.msg);
			continue;
		}
		p->id = strdup(PQgetvalue(res, i, C_ID));
		p->issuer = strdup(PQgetvalue(res, i, C_ISS));
		p->token_endpoint = dup_or_null(res, i, C_TOKEN);
		p->audience = dup_or_null(res, i, C_AUD);
		p->identity_claim = dup_or_null(res, i, C_IDC);
		p->typs = dup_or_null(res, i, C_TYP);
		p->token_auth_post = strcmp(PQgetvalue(res, i, C_TAM), "1") == 0;
		p->http = r->http;
		p->http.allow_http = strcmp(PQgetvalue(res, i, C_HTTP), "1") == 0;
		p->http.tls_skip_verify = strcmp(PQgetvalue(res, i, C_SKIP), "1") == 0;
		p->http.ca_pem = dup_or_null(res, i, C_CA);
		np->pub.n++;
		if (p->id == NULL || p->issuer == NULL) {
			pthread_mutex_unlock(&r->mu);
			goto out;
		}
		if ((rc = cache_for(r, p->id, PQgetvalue(res, i, C_JWKS), &p->http, &p->jwks)) !=
		    CLR_OK) {
			pthread_mutex_unlock(&r->mu);
			goto out;
		}
		rc = CLR_ERR_NOMEM;
	}
	if (memcmp(dg, r->digest, sizeof(dg)) != 0) {
		memcpy(r->digest, dg, sizeof(dg));
		r->gen++;
	}
	np->pub.gen = r->gen;
	{
		struct provs_impl *old = r->cur;
		r->cur = np;
		np = NULL;
		pthread_mutex_unlock(&r->mu);
		ix_provs_release(&old->pub);
	}
	rc = CLR_OK;
out:
	provs_free(np);
	EVP_MD_CTX_free(md);
	PQclear(res);
	return rc;
}

const struct ix_prov *ix_provs_by_issuer(const struct ix_provs *p, const char *iss)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].issuer, iss) == 0)
			return &p->v[i];
	return NULL;
}

const struct ix_prov *ix_provs_by_id(const struct ix_provs *p, const char *id)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].id, id) == 0)
			return &p->v[i];
	return NULL;
}

size_t ix_provreg_caches(struct ix_provreg *r, struct ix_jwks_cache **out, char (*ids)[64],
			 size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&r->mu);
	for (; n < r->ncaches && n < max; n++) {
		out[n] = r->caches[n].c;
		if (ids != NULL)
			memcpy(ids[n], r->caches[n].id, sizeof(ids[n]));
	}
	pthread_mutex_unlock(&r->mu);
	return n;
}
