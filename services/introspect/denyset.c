/*
 * revocations.c - see denyset.h.  An open-addressing string set that
 * is rebuilt (not edited in place) on a full reload.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/log.h"
#include "denyset.h"

struct rv_table {
	char **slots;
	size_t cap; /* power of two, at least 2 * n */
	size_t n;
};

struct ix_denyset {
	pthread_rwlock_t lock;
	struct rv_table t;
};

static uint64_t rv_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h ^ (h >> 31);
}

static void rv_table_clear(struct rv_table *t)
{
	for (size_t i = 0; t->slots != NULL && i < t->cap; i++)
		free(t->slots[i]);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static int rv_table_find(const struct rv_table *t, const char *id)
{
	if (t->cap == 0)
		return 0;
	for (size_t i = rv_hash(id) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		if (t->slots[i] == NULL)
			return 0;
		if (strcmp(t->slots[i], id) == 0)
			return 1;
	}
}

/* Inserts a new copy of id; the table must have room (n + 1 <= cap / 2). */
static enum clr_rc rv_table_put(struct rv_table *t, const char *id)
{
	size_t i;

	for (i = rv_hash(id) & (t->cap - 1); t->slots[i] != NULL; i = (i + 1) & (t->cap - 1))
		if (strcmp(t->slots[i], id) == 0)
			return CLR_OK;
	t->slots[i] = strdup(id);
	if (t->slots[i] == NULL)
		return CLR_ERR_NOMEM;
	t->n++;
	return CLR_OK;
}

static enum clr_rc rv_table_init(struct rv_table *t, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n + 2)
		cap *= 2;
	t->slots = calloc(cap, sizeof(char *));
	t->cap = t->slots ? cap : 0;
	t->n = 0;
	return t->slots ? CLR_OK : CLR_ERR_NOMEM;
}

enum clr_rc ix_denyset_new(struct ix_denyset **out)
{
	struct ix_denyset *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return CLR_ERR_NOMEM;
	if (rv_table_init(&s->t, 0) != CLR_OK) {
		free(s);
		return CLR_ERR_NOMEM;
	}
	pthread_rwlock_init(&s->lock, NULL);
	*out = s;
	return CLR_OK;
}

void ix_denyset_free(struct ix_denyset *s)
{
	if (s == NULL)
		return;
	rv_table_clear(&s->t);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

int ix_denyset_has(struct ix_denyset *s, const char *client_id)
{
	int r;

	pthread_rwlock_rdlock(&s->lock);
	r = rv_table_find(&s->t, client_id);
	pthread_rwlock_unlock(&s->lock);
	return r;
}

enum clr_rc ix_denyset_add(struct ix_denyset *s, const char *client_id)
{
	enum clr_rc rc = CLR_OK;

	if (client_id == NULL || client_id[0] == '\0')
		return CLR_ERR_PARAM;
	pthread_rwlock_wrlock(&s->lock);
	if (2 * (s->t.n + 1) > s->t.cap) {
		struct rv_table nt;
		if ((rc = rv_table_init(&nt, 2 * s->t.n + 2)) != CLR_OK)
			goto out;
		for (size_t i = 0; i < s->t.cap; i++) {
			if (s->t.slots[i] == NULL)
				continue;
			/* move, not copy: the pointers change tables */
			size_t j = rv_hash(s->t.slots[i]) & (nt.cap - 1);
			while (nt.slots[j] != NULL)
				j = (j + 1) & (nt.cap - 1);
			nt.slots[j] = s->t.slots[i];
			nt.n++;
		}
		free(s->t.slots);
		s->t = nt;
	}
	rc = rv_table_put(&s->t, client_id);
out:
	pthread_rwlock_unlock(&s->lock);
	return rc;
}

enum clr_rc ix_denyset_replace(struct ix_denyset *s, const char *const *ids, size_t n)
{
	struct rv_table nt, old;
	enum clr_rc rc;

	if ((rc = rv_table_init(&nt, n)) != CLR_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] == NULL || ids[i][0] == '\0')
			continue;
		if ((rc = rv_table_put(&nt, ids[i])) != CLR_OK) {
			rv_table_clear(&nt);
			return rc;
		}
	}
	pthread_rwlock_wrlock(&s->lock);
	old = s->t;
	s->t = nt;
	pthread_rwlock_unlock(&s->lock);
	rv_table_clear(&old);
	return CLR_OK;
}

enum clr_rc ix_denyset_reload(struct ix_denyset *s, struct clr_db *db)
{
	/*
	 * A client id is refused when some registration holding it is not
	 * active and none (at the same provider) is active.
	 */
	static const char q[] =
	    "SELECT DISTINCT r.client_id FROM registrations r"
	    " WHERE r.client_id IS NOT NULL AND r.status <> 'active'"
	    " AND NOT EXISTS (SELECT 1 FROM registrations a"
	    "  WHERE a.client_id = r.client_id AND a.provider_id = r.provider_id"
	    "  AND a.status = 'active')";
	PGresult *res = NULL;
	const char **ids = NULL;
	int n;
	enum clr_rc rc;

	if ((rc = clr_db_exec_sql(db, q, 0, NULL, &res)) != CLR_OK)
		return rc;
	n = PQntuples(res);
	ids = calloc((size_t)n + 1, sizeof(*ids));
	if (ids == NULL) {
		rc = CLR_ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++)
		ids[i] = PQgetvalue(res, i, 0);
	rc = ix_denyset_replace(s, ids, (size_t)n);
out:
	free(ids);
	PQclear(res);
	return rc;
}

size_t ix_denyset_count(struct ix_denyset *s)
{
	size_t n;

	pthread_rwlock_rdlock(&s->lock);
	n = s->t.n;
	pthread_rwlock_unlock(&s->lock);
	return n;
}
