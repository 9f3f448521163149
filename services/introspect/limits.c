/*
 * limits.c - see limits.h.  Entries live in mutex-protected shards of
 * chained hash buckets; an entry whose period has ended is dropped when its
 * shard needs room.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clearance/log.h"
#include "limits.h"

#define LM_SHARDS 64
#define LM_BUCKETS 1024 /* per shard */
#define LM_FAST_MS 250	/* a block that lasted less: double it */
#define LM_SLOW_MS 2000 /* a block that lasted more: halve it */

const char *const ix_limit_kind_name[IX_LIMIT__MAX] = {"rate", "month"};

struct lm_entry {
	struct lm_entry *next;
	uint64_t hash;
	enum ix_limit_kind kind;
	long long period;
	long long local;      /* leased to us, not spent yet */
	long long global;     /* the shared counter after our last lease */
	long long block;      /* next lease size */
	long long leased_ms;  /* when the last lease arrived */
	long long expires_ms; /* the period's end (for eviction) */
	char key[];	      /* issuer \x01 client \x01 plan */
};

struct lm_shard {
	pthread_mutex_t mu;
	struct lm_entry *b[LM_BUCKETS];
	size_t n;
};

struct ix_limits {
	struct lm_shard shards[LM_SHARDS];
	size_t max_per_shard;
};

static uint64_t lm_hash(const char *s, size_t n, enum ix_limit_kind kind)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h ^ (h >> 29);
}

enum clr_rc ix_limits_new(size_t max_entries, struct ix_limits **out)
{
	struct ix_limits *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (l == NULL)
		return CLR_ERR_NOMEM;
	if (max_entries == 0)
		max_entries = 1u << 20;
	l->max_per_shard = max_entries / LM_SHARDS ? max_entries / LM_SHARDS : 1;
	for (int i = 0; i < LM_SHARDS; i++)
		pthread_mutex_init(&l->shards[i].mu, NULL);
	*out = l;
	return CLR_OK;
}

void ix_limits_free(struct ix_limits *l)
{
	if (l == NULL)
		return;
	for (int i = 0; i < LM_SHARDS; i++) {
		for (int j = 0; j < LM_BUCKETS; j++) {
			struct lm_entry *e = l->shards[i].b[j], *nx;
			for (; e != NULL; e = nx) {
				nx = e->next;
				free(e);
			}
		}
		pthread_mutex_destroy(&l->shards[i].mu);
	}
	free(l);
}

size_t ix_limits_count(struct ix_limits *l)
{
	size_t n = 0;

	for (int i = 0; i < LM_SHARDS; i++) {
		pthread_mutex_lock(&l->shards[i].mu);
		n += l->shards[i].n;
		pthread_mutex_unlock(&l->shards[i].mu);
	}
	return n;
}

/* Drops entries whose period has ended; called with the shard locked. */
static void lm_sweep(struct lm_shard *s, long long now_ms)
{
	for (int j = 0; j < LM_BUCKETS; j++) {
		struct lm_entry **pp = &s->b[j];
		while (*pp != NULL) {
			struct lm_entry *e = *pp;
			if (e->expires_ms <= now_ms) {
				*pp = e->next;
				free(e);
				s->n--;
			} else {
				pp = &e->next;
			}
		}
	}
}

long long ix_limit_period(enum ix_limit_kind kind, long window_s, long long now_ms, long *reset_s)
{
	time_t now = (time_t)(now_ms / 1000);
	struct tm tm;

	if (kind == IX_LIMIT_RATE) {
		long long w = window_s > 0 ? window_s : 1, p = (long long)now / w;
		*reset_s = (long)((p + 1) * w - (long long)now);
		return p;
	}
	gmtime_r(&now, &tm);
	{
		struct tm next = tm;
		next.tm_mday = 1;
		next.tm_hour = next.tm_min = next.tm_sec = 0;
		next.tm_mon += 1; /* timegm normalises December + 1 */
		*reset_s = (long)(timegm(&next) - now);
	}
	return (long long)(tm.tm_year + 1900) * 100 + tm.tm_mon + 1;
}

/* Spends one local unit of e if there is one; fills out. */
static int lm_spend(struct lm_entry *e, long long limit, long reset_s, struct ix_limit_take *out)
{
	out->limit = limit;
	out->reset_s = reset_s;
	if (e->local <= 0) {
		out->allowed = 0;
		out->remaining = 0;
		return 0;
	}
	e->local--;
	out->allowed = 1;
	out->remaining = limit - e->global + e->local;
	if (out->remaining < 0)
		out->remaining = 0;
	return 1;
}

enum clr_rc ix_limits_take(struct ix_limits *l, ix_lease_fn lease, void *ctx, const char *issuer,
			   const char *client_id, const char *plan_id, enum ix_limit_kind kind,
			   long long limit, long long period, long reset_s, long long now_ms,
			   struct ix_limit_take *out)
{
	size_t a = strlen(issuer), b = strlen(client_id), c = strlen(plan_id), klen = a + b + c + 2;
	char stackkey[512], *key = klen < sizeof(stackkey) ? stackkey : malloc(klen + 1);
	struct ix_lease_req q;
	struct lm_shard *s;
	struct lm_entry *e;
	long long want, cap, granted = 0, used = 0;
	uint64_t h;
	enum clr_rc rc = CLR_OK;

	memset(out, 0, sizeof(*out));
	if (key == NULL)
		return CLR_ERR_NOMEM;
	memcpy(key, issuer, a);
	key[a] = '\x01';
	memcpy(key + a + 1, client_id, b);
	key[a + 1 + b] = '\x01';
	memcpy(key + a + b + 2, plan_id, c + 1);
	h = lm_hash(key, klen, kind);
	s = &l->shards[h % LM_SHARDS];

	pthread_mutex_lock(&s->mu);
	for (e = s->b[(h >> 8) % LM_BUCKETS]; e != NULL; e = e->next)
		if (e->hash == h && e->kind == kind && strcmp(e->key, key) == 0)
			break;
	if (e == NULL) {
		if (s->n >= l->max_per_shard)
			lm_sweep(s, now_ms);
		if (s->n >= l->max_per_shard || (e = calloc(1, sizeof(*e) + klen + 1)) == NULL) {
			pthread_mutex_unlock(&s->mu);
			rc = CLR_ERR_NOMEM;
			goto out;
		}
		e->hash = h;
		e->kind = kind;
		e->period = period;
		e->block = 1;
		memcpy(e->key, key, klen + 1);
		e->next = s->b[(h >> 8) % LM_BUCKETS];
		s->b[(h >> 8) % LM_BUCKETS] = e;
		s->n++;
	}
	if (e->period != period) {
		/* a new period: what was left of the old lease is gone */
		e->period = period;
		e->local = 0;
		e->global = 0;
	}
	e->expires_ms = now_ms + (long long)reset_s * 1000;
	if (lm_spend(e, limit, reset_s, out)) {
		pthread_mutex_unlock(&s->mu);
		goto out;
	}
	/* Size the next lease: the rate since the last one, within the caps. */
	cap = kind == IX_LIMIT_RATE ? limit / 20 : limit / 200;
	if (cap < 1)
		cap = 1;
	if (e->leased_ms > 0 && now_ms - e->leased_ms < LM_FAST_MS)
		e->block *= 2;
	else if (e->leased_ms > 0 && now_ms - e->leased_ms > LM_SLOW_MS)
		e->block /= 2;
	if (e->block > cap)
		e->block = cap;
	if (e->block < 1)
		e->block = 1;
	want = e->block;
	if ((limit - e->global) / 4 < want)
		want = (limit - e->global) / 4 > 0 ? (limit - e->global) / 4 : 1;
	pthread_mutex_unlock(&s->mu);

	/* never hold the shard across a round trip */
	memset(&q, 0, sizeof(q));
	q.issuer = issuer;
	q.client_id = client_id;
	q.plan_id = plan_id;
	q.kind = kind;
	q.period = period;
	q.want = want;
	q.limit = limit;
	rc = lease(ctx, &q, &granted, &used);
	if (rc != CLR_OK)
		goto out;

	pthread_mutex_lock(&s->mu);
	/* the entry may have been swept meanwhile: look it up again */
	for (e = s->b[(h >> 8) % LM_BUCKETS]; e != NULL; e = e->next)
		if (e->hash == h && e->kind == kind && strcmp(e->key, key) == 0)
			break;
	if (e != NULL && e->period == period) {
		e->local += granted;
		if (used > e->global)
			e->global = used;
		e->leased_ms = now_ms;
		(void)lm_spend(e, limit, reset_s, out);
	} else {
		/* spend directly from the grant; the rest is lost with the period */
		out->limit = limit;
		out->reset_s = reset_s;
		out->allowed = granted > 0;
		out->remaining = limit - used;
	}
	pthread_mutex_unlock(&s->mu);
out:
	if (key != stackkey)
		free(key);
	return rc;
}

enum clr_rc ix_lease_pg(void *ctx, const struct ix_lease_req *q, long long *granted,
			long long *used)
{
	struct clr_db *db = ctx;
	char period[32], want[32], limit[32];
	const char *v[7];
	PGresult *res = NULL;
	enum clr_rc rc;

	*granted = 0;
	*used = 0;
	if (db == NULL)
		return CLR_ERR_DB;
	snprintf(period, sizeof(period), "%lld", q->period);
	snprintf(want, sizeof(want), "%lld", q->want);
	snprintf(limit, sizeof(limit), "%lld", q->limit);
	v[0] = q->issuer;
	v[1] = q->client_id;
	v[2] = q->plan_id;
	v[3] = ix_limit_kind_name[q->kind];
	v[4] = period;
	v[5] = want;
	v[6] = limit;
	rc = clr_db_exec(db, "ix_lease", 7, v, &res);
	if (rc == CLR_OK && PQntuples(res) == 1) {
		*granted = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		*used = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	} else if (rc == CLR_OK) {
		rc = CLR_ERR_DB;
	}
	PQclear(res);
	return rc;
}
