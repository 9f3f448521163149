/*
 * token_cache.c - the in-memory cache of initial access tokens (see
 * token_cache.h).  A small fixed table under one mutex: there are few
 * providers, and a lookup happens once per registration, never on a hot
 * path.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "token_cache.h"

#define ITC_SLOTS 64
#define ITC_MARGIN_MIN 30

struct itc_entry {
	unsigned char key[32];
	char *token; /* NULL and !single_use: slot free */
	time_t until;
	int single_use; /* learnt: this key's tokens work once; never cache them */
};

static pthread_mutex_t itc_mu = PTHREAD_MUTEX_INITIALIZER;
static struct itc_entry itc[ITC_SLOTS];
static atomic_long itc_fetches;

long drv_itc_ttl(long expires_in)
{
	long margin;

	if (expires_in <= 0)
		return 0;
	margin = expires_in / 10;
	if (margin < ITC_MARGIN_MIN)
		margin = ITC_MARGIN_MIN;
	return expires_in > margin ? expires_in - margin : 0;
}

/* Length-prefixed, so ("ab","c") and ("a","bc") never hash alike. */
static int feed(EVP_MD_CTX *md, const char *s)
{
	uint32_t n = s != NULL ? (uint32_t)strlen(s) : UINT32_MAX;
	unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
				(unsigned char)(n >> 8), (unsigned char)n};

	return EVP_DigestUpdate(md, len, sizeof(len)) == 1 &&
	       (s == NULL || EVP_DigestUpdate(md, s, strlen(s)) == 1);
}

static int key_of(const struct drv_provider *p, unsigned char key[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	const char *kind = drv_idp_kind_name(p->kind);
	unsigned int n = 0;
	int ok;

	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && feed(md, p->id) &&
	     feed(md, kind) && feed(md, p->token_endpoint) && feed(md, p->initial_client_id) &&
	     feed(md, p->initial_client_secret) && feed(md, p->initial_token_scope) &&
	     EVP_DigestFinal_ex(md, key, &n) == 1 && n == 32;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

static void slot_free(struct itc_entry *s)
{
	if (s->token != NULL)
		OPENSSL_clear_free(s->token, strlen(s->token));
	memset(s, 0, sizeof(*s));
}

static struct itc_entry *find(const unsigned char key[32])
{
	size_t i;

	for (i = 0; i < ITC_SLOTS; i++)
		if ((itc[i].token != NULL || itc[i].single_use) &&
		    CRYPTO_memcmp(itc[i].key, key, 32) == 0)
			return &itc[i];
	return NULL;
}

int drv_itc_get(const struct drv_provider *p, time_t now, char **token)
{
	unsigned char key[32];
	struct itc_entry *s;

	*token = NULL;
	if (p == NULL || key_of(p, key) != 0)
		return 0;
	pthread_mutex_lock(&itc_mu);
	s = find(key);
	if (s != NULL && s->token != NULL && s->until <= now) {
		OPENSSL_clear_free(s->token, strlen(s->token));
		s->token = NULL;
		if (!s->single_use)
			memset(s, 0, sizeof(*s));
	}
	if (s != NULL && s->token != NULL)
		*token = strdup(s->token);
	pthread_mutex_unlock(&itc_mu);
	return *token != NULL;
}

void drv_itc_put(const struct drv_provider *p, const char *token, long expires_in, time_t now)
{
	unsigned char key[32];
	struct itc_entry *s;
	long ttl = drv_itc_ttl(expires_in);
	char *copy;
	size_t i;

	if (p == NULL || token == NULL || ttl <= 0 || key_of(p, key) != 0)
		return;
	if ((copy = strdup(token)) == NULL)
		return;
	pthread_mutex_lock(&itc_mu);
	s = find(key);
	if (s != NULL && s->single_use) {
		pthread_mutex_unlock(&itc_mu);
		OPENSSL_clear_free(copy, strlen(copy));
		return;
	}
	/* Else a free or expired slot, else the one that expires first. */
	for (i = 0; s == NULL && i < ITC_SLOTS; i++)
		if ((itc[i].token == NULL && !itc[i].single_use) || itc[i].until <= now)
			s = &itc[i];
	if (s == NULL) {
		s = &itc[0];
		for (i = 1; i < ITC_SLOTS; i++)
			if (itc[i].until < s->until)
				s = &itc[i];
	}
	slot_free(s);
	memcpy(s->key, key, sizeof(key));
	s->token = copy;
	s->until = now + (time_t)ttl;
	pthread_mutex_unlock(&itc_mu);
}

void drv_itc_drop(const struct drv_provider *p, const char *token)
{
	unsigned char key[32];
	struct itc_entry *s;

	if (p == NULL || key_of(p, key) != 0)
		return;
	pthread_mutex_lock(&itc_mu);
	s = find(key);
	/* Another thread may have put a fresh one meanwhile: keep that. */
	if (s != NULL && s->token != NULL && (token == NULL || strcmp(s->token, token) == 0)) {
		OPENSSL_clear_free(s->token, strlen(s->token));
		s->token = NULL;
		if (!s->single_use)
			memset(s, 0, sizeof(*s));
	}
	pthread_mutex_unlock(&itc_mu);
}

void drv_itc_mark_single_use(const struct drv_provider *p)
{
	unsigned char key[32];
	struct itc_entry *s;
	size_t i;

	if (p == NULL || key_of(p, key) != 0)
		return;
	pthread_mutex_lock(&itc_mu);
	s = find(key);
	for (i = 0; s == NULL && i < ITC_SLOTS; i++)
		if (itc[i].token == NULL && !itc[i].single_use)
			s = &itc[i];
	if (s == NULL)
		s = &itc[0]; /* a full table: forgetting another key costs one fetch */
	if (CRYPTO_memcmp(s->key, key, 32) != 0)
		slot_free(s);
	else if (s->token != NULL) {
		OPENSSL_clear_free(s->token, strlen(s->token));
		s->token = NULL;
	}
	memcpy(s->key, key, sizeof(key));
	s->single_use = 1;
	s->until = 0;
	pthread_mutex_unlock(&itc_mu);
}

int drv_itc_is_single_use(const struct drv_provider *p)
{
	unsigned char key[32];
	struct itc_entry *s;
	int r;

	if (p == NULL || key_of(p, key) != 0)
		return 0;
	pthread_mutex_lock(&itc_mu);
	s = find(key);
	r = s != NULL && s->single_use;
	pthread_mutex_unlock(&itc_mu);
	return r;
}

void drv_itc_clear(void)
{
	size_t i;

	pthread_mutex_lock(&itc_mu);
	for (i = 0; i < ITC_SLOTS; i++)
		slot_free(&itc[i]);
	pthread_mutex_unlock(&itc_mu);
}

void drv_itc_count_fetch(void)
{
	atomic_fetch_add(&itc_fetches, 1);
}

long drv_itc_fetches(void)
{
	return atomic_load(&itc_fetches);
}
