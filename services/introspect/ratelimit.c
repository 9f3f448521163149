/*
 * ratelimit.c - see ratelimit.h.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"

#define RL_SHARDS 64

struct rl_bucket {
	struct rl_bucket *next;
	uint64_t hash;
	long limit;
	long window_s;
	long long units;   /* current fill, in units (see ratelimit.h) */
	long long last_ms; /* time of the last refill */
	char key[];	   /* client_id '\0' plan_id '\0' */
};

struct rl_shard {
	pthread_mutex_t mu;
	struct rl_bucket **tab;
	size_t cap; /* power of two */
	size_t n;
};

struct ix_rl {
	struct rl_shard shards[RL_SHARDS];
	size_t max_per_shard;
};

/* FNV-1a over both strings with a separator, so ("ab","c") != ("a","bc"). */
static uint64_t rl_hash(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)a; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ 0xffu) * 1099511628211ULL;
	for (const unsigned char *p = (const unsigned char *)b; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h ^ (h >> 29);
}

enum clr_rc ix_rl_new(size_t max_buckets, struct ix_rl **out)
{
	struct ix_rl *rl;

	*out = NULL;
	if (max_buckets == 0)
		max_buckets = (size_t)1 << 20;
	rl = calloc(1, sizeof(*rl));
	if (rl == NULL)
		return CLR_ERR_NOMEM;
	rl->max_per_shard = max_buckets / RL_SHARDS + 1;
	for (size_t i = 0; i < RL_SHARDS; i++) {
		pthread_mutex_init(&rl->shards[i].mu, NULL);
		rl->shards[i].cap = 64;
		rl->shards[i].tab = calloc(64, sizeof(struct rl_bucket *));
		if (rl->shards[i].tab == NULL) {
			ix_rl_free(rl);
			return CLR_ERR_NOMEM;
		}
	}
	*out = rl;
	return CLR_OK;
}

void ix_rl_free(struct ix_rl *rl)
{
	if (rl == NULL)
		return;
	for (size_t i = 0; i < RL_SHARDS; i++) {
		struct rl_shard *s = &rl->shards[i];
		for (size_t j = 0; s->tab != NULL && j < s->cap; j++) {
			struct rl_bucket *b = s->tab[j], *nx;
			for (; b != NULL; b = nx) {
				nx = b->next;
				free(b);
			}
		}
		free(s->tab);
		pthread_mutex_destroy(&s->mu);
	}
	free(rl);
}

static void rl_refill(struct rl_bucket *b, long long now_ms)
{
	long long cap = (long long)b->limit * b->window_s * 1000;

	if (now_ms > b->last_ms) {
		long long dt = now_ms - b->last_ms;
		/* Once full, further time adds nothing; cap dt so the product cannot overflow. */
		if (dt > (long long)b->window_s * 1000)
			dt = (long long)b->window_s * 1000;
		b->units += dt * b->limit;
		if (b->units > cap)
			b->units = cap;
	}
	b->last_ms = now_ms;
}

/* Drops buckets that have refilled completely: forgetting them changes nothing. */
static void rl_sweep(struct rl_shard *s, long long now_ms)
{
	for (size_t j = 0; j < s->cap; j++) {
		struct rl_bucket **pp = &s->tab[j];
		while (*pp != NULL) {
			struct rl_bucket *b = *pp;
			rl_refill(b, now_ms);
			if (b->units >= (long long)b->limit * b->window_s * 1000) {
				*pp = b->next;
				free(b);
				s->n--;
			} else {
				pp = &b->next;
			}
		}
	}
}

static void rl_grow(struct rl_shard *s)
{
	size_t ncap = s->cap * 2;
	struct rl_bucket **nt = calloc(ncap, sizeof(*nt));

	if (nt == NULL)
		return; /* longer chains, still correct */
	for (size_t j = 0; j < s->cap; j++) {
		struct rl_bucket *b = s->tab[j], *nx;
		for (; b != NULL; b = nx) {
			nx = b->next;
			b->next = nt[(b->hash >> 6) & (ncap - 1)];
			nt[(b->hash >> 6) & (ncap - 1)] = b;
		}
	}
	free(s->tab);
	s->tab = nt;
	s->cap = ncap;
}

enum clr_rc ix_rl_take(struct ix_rl *rl, const char *client_id, const char *plan_id, long limit,
		       long window_s, long long now_ms, struct ix_rl_result *out)
{
	uint64_t h;
	struct rl_shard *s;
	struct rl_bucket *b;
	size_t la, lb;
	long long cost, need;
	enum clr_rc rc = CLR_OK;

	memset(out, 0, sizeof(*out));
	if (limit <= 0 || window_s <= 0 || limit > 1000000000L || window_s > 100L * 365 * 86400)
		return CLR_ERR_PARAM;
	h = rl_hash(client_id, plan_id);
	s = &rl->shards[h % RL_SHARDS];
	la = strlen(client_id);
	lb = strlen(plan_id);
	cost = (long long)window_s * 1000;

	pthread_mutex_lock(&s->mu);
	for (b = s->tab[(h >> 6) & (s->cap - 1)]; b != NULL; b = b->next) {
		if (b->hash == h && strcmp(b->key, client_id) == 0 &&
		    strcmp(b->key + la + 1, plan_id) == 0)
			break;
	}
	if (b != NULL && (b->limit != limit || b->window_s != window_s)) {
		b->limit = limit;
		b->window_s = window_s;
		b->units = (long long)limit * cost;
		b->last_ms = now_ms;
	}
	if (b == NULL) {
		if (s->n >= rl->max_per_shard)
			rl_sweep(s, now_ms);
		if (s->n >= rl->max_per_shard) {
			rc = CLR_ERR_NOMEM;
			goto out;
		}
		b = malloc(sizeof(*b) + la + lb + 2);
		if (b == NULL) {
			rc = CLR_ERR_NOMEM;
			goto out;
		}
		b->hash = h;
		b->limit = limit;
		b->window_s = window_s;
		b->units = (long long)limit * cost;
		b->last_ms = now_ms;
		memcpy(b->key, client_id, la + 1);
		memcpy(b->key + la + 1, plan_id, lb + 1);
		if (s->n + 1 > s->cap)
			rl_grow(s);
		b->next = s->tab[(h >> 6) & (s->cap - 1)];
		s->tab[(h >> 6) & (s->cap - 1)] = b;
		s->n++;
	}
	rl_refill(b, now_ms);
	out->limit = limit;
	if (b->units >= cost) {
		b->units -= cost;
		out->allowed = 1;
		out->remaining = (long)(b->units / cost);
	} else {
		need = cost - b->units; /* units still missing */
		/* ms until `need` units arrive at `limit` units per ms, rounded up */
		long long ms = (need + limit - 1) / limit;
		out->allowed = 0;
		out->remaining = 0;
		out->retry_after_s = (long)((ms + 999) / 1000);
		if (out->retry_after_s < 1)
			out->retry_after_s = 1;
	}
	/* seconds until the bucket is full again (RateLimit-Reset) */
	out->reset_s =
	    (long)(((long long)limit * cost - b->units + limit - 1) / limit + 999) / 1000;
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

size_t ix_rl_count(struct ix_rl *rl)
{
	size_t n = 0;

	for (size_t i = 0; i < RL_SHARDS; i++) {
		pthread_mutex_lock(&rl->shards[i].mu);
		n += rl->shards[i].n;
		pthread_mutex_unlock(&rl->shards[i].mu);
	}
	return n;
}
