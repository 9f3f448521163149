/*
 * token_cache.c - see token_cache.h.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "token_cache.h"

#define TC_LOCKS 64

struct ix_tcache {
	pthread_mutex_t locks[TC_LOCKS];
	struct ix_tok **slots;
	size_t nslots; /* power of two */
	atomic_ulong hits, misses;
};

enum clr_rc ix_tcache_new(size_t nslots, struct ix_tcache **out)
{
	struct ix_tcache *tc;
	size_t n = 1024;

	*out = NULL;
	while (n < nslots)
		n *= 2;
	tc = calloc(1, sizeof(*tc));
	if (tc == NULL)
		return CLR_ERR_NOMEM;
	tc->slots = calloc(n, sizeof(*tc->slots));
	if (tc->slots == NULL) {
		free(tc);
		return CLR_ERR_NOMEM;
	}
	tc->nslots = n;
	for (int i = 0; i < TC_LOCKS; i++)
		pthread_mutex_init(&tc->locks[i], NULL);
	*out = tc;
	return CLR_OK;
}

void ix_tok_release(struct ix_tok *t)
{
	if (t != NULL && atomic_fetch_sub(&t->ref, 1) == 1) {
		clr_jwt_claims_clear(&t->claims);
		free(t->prov_id);
		free(t);
	}
}

void ix_tcache_free(struct ix_tcache *tc)
{
	if (tc == NULL)
		return;
	for (size_t i = 0; i < tc->nslots; i++)
		ix_tok_release(tc->slots[i]);
	for (int i = 0; i < TC_LOCKS; i++)
		pthread_mutex_destroy(&tc->locks[i]);
	free(tc->slots);
	free(tc);
}

static size_t slot_of(const struct ix_tcache *tc, const unsigned char key[32])
{
	size_t h;

	/* the key is a SHA-256: any 8 bytes of it are uniformly spread */
	memcpy(&h, key, sizeof(h));
	return h & (tc->nslots - 1);
}

struct ix_tok *ix_tcache_get(struct ix_tcache *tc, const unsigned char key[32], long long now_ms,
			     unsigned long prov_gen)
{
	size_t i = slot_of(tc, key);
	pthread_mutex_t *mu = &tc->locks[i % TC_LOCKS];
	struct ix_tok *t;

	pthread_mutex_lock(mu);
	t = tc->slots[i];
	if (t != NULL && memcmp(t->key, key, 32) == 0 && now_ms < t->until_ms &&
	    t->prov_gen == prov_gen)
		atomic_fetch_add(&t->ref, 1);
	else
		t = NULL;
	pthread_mutex_unlock(mu);
	if (t != NULL)
		atomic_fetch_add(&tc->hits, 1);
	else
		atomic_fetch_add(&tc->misses, 1);
	return t;
}

enum clr_rc ix_tcache_put(struct ix_tcache *tc, const unsigned char key[32], long long until_ms,
			  unsigned long prov_gen, unsigned long jwks_gen, const char *prov_id,
			  struct clr_jwt_claims *claims, struct ix_tok **out)
{
	size_t i = slot_of(tc, key);
	pthread_mutex_t *mu = &tc->locks[i % TC_LOCKS];
	struct ix_tok *t, *old;

	if (out != NULL)
		*out = NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return CLR_ERR_NOMEM;
	t->prov_id = strdup(prov_id);
	if (t->prov_id == NULL) {
		free(t);
		return CLR_ERR_NOMEM;
	}
	atomic_init(&t->ref, out != NULL ? 2 : 1);
	memcpy(t->key, key, 32);
	t->until_ms = until_ms;
	t->prov_gen = prov_gen;
	t->jwks_gen = jwks_gen;
	t->claims = *claims;
	memset(claims, 0, sizeof(*claims));
	pthread_mutex_lock(mu);
	old = tc->slots[i];
	tc->slots[i] = t;
	pthread_mutex_unlock(mu);
	ix_tok_release(old);
	if (out != NULL)
		*out = t;
	return CLR_OK;
}

void ix_tcache_stats(struct ix_tcache *tc, unsigned long *hits, unsigned long *misses)
{
	*hits = atomic_load(&tc->hits);
	*misses = atomic_load(&tc->misses);
}
