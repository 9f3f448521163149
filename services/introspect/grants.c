/*
 * grants.c - see grants.h.  Clients sit in one array (each owns its key
 * "<issuer>\x01<client_id>" and a run of the grants array) behind an
 * open-addressing index; nothing is edited after build.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/log.h"
#include "grants.h"

struct gr_client {
	char *key;
	size_t first, n; /* run in grants[] */
};

struct ix_grants {
	atomic_int ref;
	struct gr_client *clients;
	size_t nclients;
	struct ix_grant *grants;
	size_t ngrants;
	size_t *index; /* icap slots of client index + 1; 0 = empty */
	size_t icap;   /* power of two, at least 2 * nclients */
};

static uint64_t gr_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h ^ (h >> 31);
}

static void grants_free(struct ix_grants *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->nclients; i++)
		free(g->clients[i].key);
	free(g->clients);
	free(g->grants);
	free(g->index);
	free(g);
}

void ix_grants_retain(struct ix_grants *g)
{
	if (g != NULL)
		atomic_fetch_add(&g->ref, 1);
}

void ix_grants_release(struct ix_grants *g)
{
	if (g != NULL && atomic_fetch_sub(&g->ref, 1) == 1)
		grants_free(g);
}

size_t ix_grants_nclients(const struct ix_grants *g)
{
	return g != NULL ? g->nclients : 0;
}

/* Row order for grouping: issuer, then client id. */
static int row_cmp(const void *a, const void *b)
{
	const struct ix_grants_row *x = *(const struct ix_grants_row *const *)a;
	const struct ix_grants_row *y = *(const struct ix_grants_row *const *)b;
	int c = strcmp(x->issuer, y->issuer);

	return c != 0 ? c : strcmp(x->client_id, y->client_id);
}

/* A uuid text fits the fixed fields; anything else is not a grant of ours. */
static int uuid_ok(const char *s)
{
	return s != NULL && strlen(s) == IX_UUID_LEN;
}

static char *make_key(const char *issuer, const char *client_id, size_t *len)
{
	size_t a = strlen(issuer), b = strlen(client_id);
	char *k = malloc(a + b + 2);

	if (k == NULL)
		return NULL;
	memcpy(k, issuer, a);
	k[a] = '\x01';
	memcpy(k + a + 1, client_id, b + 1);
	*len = a + b + 1;
	return k;
}

enum clr_rc ix_grants_build(const struct ix_grants_row *rows, size_t n, struct ix_grants **out)
{
	const struct ix_grants_row **v = NULL;
	struct ix_grants *g;
	enum clr_rc rc = CLR_ERR_NOMEM;
	size_t cap = 16, nv = 0;

	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return CLR_ERR_NOMEM;
	atomic_init(&g->ref, 1);
	v = calloc(n ? n : 1, sizeof(*v));
	g->clients = calloc(n ? n : 1, sizeof(*g->clients));
	g->grants = calloc(n ? n : 1, sizeof(*g->grants));
	while (cap < 2 * n + 2)
		cap *= 2;
	g->index = calloc(cap, sizeof(*g->index));
	g->icap = cap;
	if (v == NULL || g->clients == NULL || g->grants == NULL || g->index == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (rows[i].issuer != NULL && rows[i].client_id != NULL &&
		    rows[i].client_id[0] != '\0')
			v[nv++] = &rows[i];
	qsort(v, nv, sizeof(*v), row_cmp);
	for (size_t i = 0; i < nv; i++) {
		struct gr_client *c;
		int dup = 0;

		if (i == 0 || row_cmp(&v[i], &v[i - 1]) != 0) {
			size_t klen, h;
			c = &g->clients[g->nclients];
			if ((c->key = make_key(v[i]->issuer, v[i]->client_id, &klen)) == NULL)
				goto out;
			c->first = g->ngrants;
			c->n = 0;
			g->nclients++;
			for (h = gr_hash(c->key, klen) & (cap - 1); g->index[h] != 0;
			     h = (h + 1) & (cap - 1))
				;
			g->index[h] = g->nclients;
		}
		c = &g->clients[g->nclients - 1];
		if (!uuid_ok(v[i]->product_id) || !uuid_ok(v[i]->plan_id))
			continue;
		for (size_t j = c->first; j < c->first + c->n; j++)
			if (strcmp(g->grants[j].product_id, v[i]->product_id) == 0 &&
			    strcmp(g->grants[j].plan_id, v[i]->plan_id) == 0)
				dup = 1;
		if (dup)
			continue;
		memcpy(g->grants[g->ngrants].product_id, v[i]->product_id, IX_UUID_LEN + 1);
		memcpy(g->grants[g->ngrants].plan_id, v[i]->plan_id, IX_UUID_LEN + 1);
		g->ngrants++;
		c->n++;
	}
	*out = g;
	g = NULL;
	rc = CLR_OK;
out:
	free(v);
	grants_free(g);
	return rc;
}

const struct ix_grant *ix_grants_find(const struct ix_grants *g, const char *issuer,
				      const char *client_id, size_t *n)
{
	size_t a, b, h;
	uint64_t hv = 1469598103934665603ULL;

	*n = 0;
	if (g == NULL || issuer == NULL || client_id == NULL || g->nclients == 0)
		return NULL;
	a = strlen(issuer);
	b = strlen(client_id);
	/* the hash of "<issuer>\x01<client_id>" without building the key */
	for (size_t i = 0; i < a; i++)
		hv = (hv ^ (unsigned char)issuer[i]) * 1099511628211ULL;
	hv = (hv ^ 1u) * 1099511628211ULL;
	for (size_t i = 0; i < b; i++)
		hv = (hv ^ (unsigned char)client_id[i]) * 1099511628211ULL;
	hv ^= hv >> 31;
	for (h = hv & (g->icap - 1); g->index[h] != 0; h = (h + 1) & (g->icap - 1)) {
		const struct gr_client *c = &g->clients[g->index[h] - 1];
		if (memcmp(c->key, issuer, a) == 0 && c->key[a] == '\x01' &&
		    strcmp(c->key + a + 1, client_id) == 0) {
			*n = c->n;
			/* non-NULL even with no grants: the client is registered */
			return &g->grants[c->first < g->ngrants ? c->first : 0];
		}
	}
	return NULL;
}

enum clr_rc ix_grants_load(struct clr_db *db, struct ix_grants **out)
{
	/*
	 * Every active registration with a client id, with its grants if any
	 * (LEFT JOIN), under its provider's issuer.
	 */
	static const char q[] = "SELECT p.issuer, r.client_id, g.product_id::text, g.plan_id::text"
				" FROM registrations r JOIN providers p ON p.id = r.provider_id"
				" LEFT JOIN gateway_grants g ON g.registration_id = r.id"
				" WHERE r.status = 'active' AND r.client_id IS NOT NULL";
	PGresult *res = NULL;
	struct ix_grants_row *rows = NULL;
	enum clr_rc rc;
	int n;

	*out = NULL;
	if ((rc = clr_db_exec_sql(db, q, 0, NULL, &res)) != CLR_OK)
		return rc;
	n = PQntuples(res);
	rows = calloc((size_t)n + 1, sizeof(*rows));
	if (rows == NULL) {
		rc = CLR_ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		rows[i].issuer = PQgetvalue(res, i, 0);
		rows[i].client_id = PQgetvalue(res, i, 1);
		rows[i].product_id = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2);
		rows[i].plan_id = PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3);
	}
	rc = ix_grants_build(rows, (size_t)n, out);
out:
	free(rows);
	PQclear(res);
	if (rc != CLR_OK && rc != CLR_ERR_DB)
		clr_log(NULL, CLR_LOG_ERROR, "grants: load failed: %s", clr_rc_name(rc));
	return rc;
}
