/*
 * catalogue.c - see catalogue.h.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "clearance/log.h"
#include "catalogue.h"

/* One (prefix, product) pair of the path index. */
struct cat_pfx {
	const char *prefix; /* borrowed from the product */
	size_t len;
	size_t product;
	size_t next; /* chain in the bucket: index + 1, 0 = end */
};

struct ix_cat {
	atomic_int ref;
	struct ix_cat_product *products;
	size_t nproducts;
	struct ix_cat_plan *plans;
	size_t nplans;
	/* path index: prefix text -> products, so finding a path's owners costs
	 * one probe per segment boundary, not one per product */
	struct cat_pfx *pfx;
	size_t npfx;
	size_t *buckets; /* nbuckets heads: pfx index + 1, 0 = empty */
	size_t nbuckets; /* power of two */
};

static uint64_t pfx_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h ^ (h >> 31);
}

static enum clr_rc index_prefixes(struct ix_cat *c)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < c->nproducts; i++)
		n += c->products[i].nprefixes;
	c->nbuckets = 16;
	while (c->nbuckets < 2 * n)
		c->nbuckets *= 2;
	c->pfx = calloc(n ? n : 1, sizeof(*c->pfx));
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (c->pfx == NULL || c->buckets == NULL)
		return CLR_ERR_NOMEM;
	for (size_t i = 0; i < c->nproducts; i++) {
		for (size_t j = 0; j < c->products[i].nprefixes; j++, k++) {
			struct cat_pfx *e = &c->pfx[k];
			size_t b;
			e->prefix = c->products[i].prefixes[j];
			e->len = strlen(e->prefix);
			e->product = i;
			b = pfx_hash(e->prefix, e->len) & (c->nbuckets - 1);
			e->next = c->buckets[b];
			c->buckets[b] = k + 1;
		}
	}
	c->npfx = k;
	return CLR_OK;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

/* Splits a space separated list into a new vector; duplicates kept once. */
static enum clr_rc split_scopes(const char *s, char ***out, size_t *n)
{
	size_t cap = 0, cnt = 0;
	char **v = NULL;
	const char *p = s ? s : "";

	*out = NULL;
	*n = 0;
	while (*p) {
		size_t len;
		int dup = 0;
		while (*p == ' ' || *p == '\t')
			p++;
		len = strcspn(p, " \t");
		if (len == 0)
			break;
		for (size_t i = 0; i < cnt; i++)
			if (strlen(v[i]) == len && memcmp(v[i], p, len) == 0)
				dup = 1;
		if (!dup) {
			if (cnt == cap) {
				size_t nc = cap ? cap * 2 : 4;
				char **nv = realloc(v, nc * sizeof(*nv));
				if (nv == NULL)
					goto nomem;
				v = nv;
				cap = nc;
			}
			v[cnt] = strndup(p, len);
			if (v[cnt] == NULL)
				goto nomem;
			cnt++;
		}
		p += len;
	}
	*out = v;
	*n = cnt;
	return CLR_OK;
nomem:
	free_strv(v, cnt);
	return CLR_ERR_NOMEM;
}

static void cat_free(struct ix_cat *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nproducts; i++) {
		struct ix_cat_product *p = &c->products[i];
		free(p->id);
		free(p->name);
		free_strv(p->scopes, p->nscopes);
		free_strv(p->prefixes, p->nprefixes);
		free(p->plans);
	}
	for (size_t i = 0; i < c->nplans; i++) {
		struct ix_cat_plan *p = &c->plans[i];
		free(p->id);
		free(p->name);
		free_strv(p->scopes, p->nscopes);
	}
	free(c->products);
	free(c->plans);
	free(c->pfx);
	free(c->buckets);
	free(c);
}

void ix_cat_retain(struct ix_cat *c)
{
	if (c != NULL)
		atomic_fetch_add(&c->ref, 1);
}

void ix_cat_release(struct ix_cat *c)
{
	if (c != NULL && atomic_fetch_sub(&c->ref, 1) == 1)
		cat_free(c);
}

size_t ix_cat_nproducts(const struct ix_cat *c)
{
	return c->nproducts;
}
size_t ix_cat_nplans(const struct ix_cat *c)
{
	return c->nplans;
}

enum clr_rc ix_cat_build(const struct ix_cat_product_def *products, size_t nproducts,
			 const struct ix_cat_plan_def *plans, size_t nplans, struct ix_cat **out)
{
	struct ix_cat *c;
	enum clr_rc rc = CLR_ERR_NOMEM;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return CLR_ERR_NOMEM;
	atomic_init(&c->ref, 1);
	c->plans = calloc(nplans ? nplans : 1, sizeof(*c->plans));
	c->products = calloc(nproducts ? nproducts : 1, sizeof(*c->products));
	if (c->plans == NULL || c->products == NULL)
		goto out;
	for (size_t i = 0; i < nplans; i++, c->nplans++) {
		struct ix_cat_plan *p = &c->plans[i];
		p->id = strdup(plans[i].id);
		p->name = strdup(plans[i].name ? plans[i].name : "");
		if (p->id == NULL || p->name == NULL)
			goto out;
		if ((rc = split_scopes(plans[i].scopes, &p->scopes, &p->nscopes)) != CLR_OK)
			goto out;
		rc = CLR_ERR_NOMEM;
		if (plans[i].rl_requests > 0 && plans[i].rl_window_s > 0) {
			p->rl_requests = plans[i].rl_requests;
			p->rl_window_s = plans[i].rl_window_s;
		}
		p->monthly_quota = plans[i].monthly_quota > 0 ? plans[i].monthly_quota : 0;
		p->fail_closed = plans[i].fail_closed;
	}
	for (size_t i = 0; i < nproducts; i++, c->nproducts++) {
		const struct ix_cat_product_def *d = &products[i];
		struct ix_cat_product *p = &c->products[i];
		p->id = strdup(d->id);
		p->name = strdup(d->name ? d->name : "");
		if (p->id == NULL || p->name == NULL)
			goto out;
		if ((rc = split_scopes(d->scopes, &p->scopes, &p->nscopes)) != CLR_OK)
			goto out;
		rc = CLR_ERR_NOMEM;
		p->prefixes = calloc(d->nprefixes ? d->nprefixes : 1, sizeof(char *));
		p->plans = calloc(d->nplan_ids ? d->nplan_ids : 1, sizeof(size_t));
		if (p->prefixes == NULL || p->plans == NULL)
			goto out;
		for (size_t j = 0; j < d->nprefixes; j++) {
			/* An empty or relative prefix would cover nothing sensible. */
			if (d->prefixes[j] == NULL || d->prefixes[j][0] != '/')
				continue;
			p->prefixes[p->nprefixes] = strdup(d->prefixes[j]);
			if (p->prefixes[p->nprefixes] == NULL)
				goto out;
			p->nprefixes++;
		}
		for (size_t j = 0; j < d->nplan_ids; j++)
			for (size_t k = 0; k < c->nplans; k++)
				if (strcmp(c->plans[k].id, d->plan_ids[j]) == 0)
					p->plans[p->nplans++] = k;
	}
	if ((rc = index_prefixes(c)) != CLR_OK)
		goto out;
	*out = c;
	c = NULL;
	rc = CLR_OK;
out:
	cat_free(c);
	return rc;
}

int ix_cat_path_ok(const char *path, size_t len)
{
	if (len == 0 || path[0] != '/')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)path[i];
		if (ch == '\\' || ch < 0x20 || ch == 0x7f)
			return 0;
		if (ch == '%' && i + 2 < len) {
			char h[3] = {path[i + 1], path[i + 2], 0};
			if (strcasecmp(h, "2f") == 0 || strcasecmp(h, "2e") == 0 ||
			    strcasecmp(h, "5c") == 0 || strcasecmp(h, "00") == 0)
				return 0;
		}
		if (ch == '/' && i + 1 < len) {
			size_t rest = len - i - 1;
			const char *s = path + i + 1;
			if (s[0] == '/')
				return 0;
			if (s[0] == '.' && (rest == 1 || s[1] == '/'))
				return 0;
			if (rest >= 2 && s[0] == '.' && s[1] == '.' && (rest == 2 || s[2] == '/'))
				return 0;
		}
	}
	return 1;
}

int ix_cat_prefix_covers(const char *prefix, const char *path, size_t len)
{
	size_t pl = strlen(prefix);

	if (pl == 0 || pl > len || memcmp(prefix, path, pl) != 0)
		return 0;
	if (pl == len || prefix[pl - 1] == '/' || path[pl] == '/')
		return 1;
	return 0;
}

static int has_all(char *const *have, size_t nhave, char *const *need, size_t nneed)
{
	if (nneed == 0)
		return 0;
	for (size_t i = 0; i < nneed; i++) {
		size_t j;
		for (j = 0; j < nhave; j++)
			if (strcmp(have[j], need[i]) == 0)
				break;
		if (j == nhave)
			return 0;
	}
	return 1;
}

int ix_cat_scopes_held(char *const *have, size_t nhave, char *const *need, size_t nneed)
{
	return nneed == 0 || has_all(have, nhave, need, nneed);
}

size_t ix_cat_owners(const struct ix_cat *c, const char *path, const struct ix_cat_product **out,
		     size_t max)
{
	size_t plen = strcspn(path, "?#"), n = 0;

	if (!ix_cat_path_ok(path, plen))
		return 0;
	/*
	 * Longest first: the whole path, then each length at a segment
	 * boundary ("/a/b" is covered by "/a/b", "/a/", "/a" and "/").  The
	 * first length with any prefix decides; every product with it is an
	 * owner (ties kept).
	 */
	for (size_t k = plen; k > 0 && n == 0; k--) {
		if (!(k == plen || path[k] == '/' || path[k - 1] == '/'))
			continue;
		for (size_t e = c->buckets[pfx_hash(path, k) & (c->nbuckets - 1)]; e != 0;
		     e = c->pfx[e - 1].next) {
			const struct cat_pfx *x = &c->pfx[e - 1];
			int dup = 0;
			if (x->len != k || memcmp(x->prefix, path, k) != 0)
				continue;
			for (size_t i = 0; i < n; i++)
				dup |= out[i] == &c->products[x->product];
			if (!dup && n < max)
				out[n++] = &c->products[x->product];
		}
	}
	return n;
}

const struct ix_cat_product *ix_cat_product_by_id(const struct ix_cat *c, const char *id)
{
	for (size_t i = 0; i < c->nproducts; i++)
		if (strcmp(c->products[i].id, id) == 0)
			return &c->products[i];
	return NULL;
}

const struct ix_cat_plan *ix_cat_plan_of(const struct ix_cat *c, const struct ix_cat_product *p,
					 const char *plan_id)
{
	for (size_t i = 0; i < p->nplans; i++)
		if (strcmp(c->plans[p->plans[i]].id, plan_id) == 0)
			return &c->plans[p->plans[i]];
	return NULL;
}

static const struct ix_cat_plan *pick_plan(const struct ix_cat *c, const struct ix_cat_product *p,
					   char *const *scopes, size_t nscopes)
{
	const struct ix_cat_plan *best = NULL;

	for (size_t i = 0; i < p->nplans; i++) {
		const struct ix_cat_plan *pl = &c->plans[p->plans[i]];
		if (!has_all(scopes, nscopes, pl->scopes, pl->nscopes))
			continue;
		if (best == NULL || pl->nscopes > best->nscopes ||
		    (pl->nscopes == best->nscopes && strcmp(pl->name, best->name) < 0))
			best = pl;
	}
	return best;
}

enum ix_cat_result ix_cat_match(const struct ix_cat *c, char *const *scopes, size_t nscopes,
				const char *path, const struct ix_cat_product **product,
				const struct ix_cat_plan **plan)
{
	const struct ix_cat_product *best = NULL;
	const struct ix_cat_plan *bestplan = NULL;
	size_t bestlen = 0, plen = 0;

	*product = NULL;
	*plan = NULL;
	if (path != NULL) {
		plen = strcspn(path, "?#");
		if (!ix_cat_path_ok(path, plen))
			return IX_CAT_NO_PRODUCT;
	}
	for (size_t i = 0; i < c->nproducts; i++) {
		const struct ix_cat_product *p = &c->products[i];
		size_t longest = 0;
		int covered = 0;
		if (!has_all(scopes, nscopes, p->scopes, p->nscopes))
			continue;
		if (path == NULL) {
			/* No request path: prefer a product that also has a plan. */
			const struct ix_cat_plan *pl = pick_plan(c, p, scopes, nscopes);
			if (best == NULL || (bestplan == NULL && pl != NULL)) {
				best = p;
				bestplan = pl;
			}
			continue;
		}
		for (size_t j = 0; j < p->nprefixes; j++) {
			if (ix_cat_prefix_covers(p->prefixes[j], path, plen)) {
				size_t l = strlen(p->prefixes[j]);
				covered = 1;
				if (l > longest)
					longest = l;
			}
		}
		if (covered && (best == NULL || longest > bestlen)) {
			best = p;
			bestlen = longest;
		}
	}
	if (best == NULL)
		return IX_CAT_NO_PRODUCT;
	*product = best;
	*plan = path == NULL ? bestplan : pick_plan(c, best, scopes, nscopes);
	return *plan != NULL ? IX_CAT_OK : IX_CAT_NO_PLAN;
}

/* JSON array text of strings into a new vector of borrowed pointers. */
static enum clr_rc json_strv(json_t *arr, const char ***v, size_t *n)
{
	size_t cnt = json_is_array(arr) ? json_array_size(arr) : 0;

	*v = calloc(cnt ? cnt : 1, sizeof(char *));
	*n = 0;
	if (*v == NULL)
		return CLR_ERR_NOMEM;
	for (size_t i = 0; i < cnt; i++) {
		const char *s = json_string_value(json_array_get(arr, i));
		if (s != NULL)
			(*v)[(*n)++] = s;
	}
	return CLR_OK;
}

enum clr_rc ix_cat_load(struct clr_db *db, struct ix_cat **out)
{
	static const char q_plans[] =
	    "SELECT p.id::text, p.name, p.scopes, coalesce(p.rate_limit_requests, 0)::text,"
	    " coalesce(p.rate_limit_window_seconds, 0)::text, coalesce(p.monthly_quota, 0)::text,"
	    " (coalesce(g.db_down, 'open') = 'closed')::int::text"
	    " FROM plans p LEFT JOIN gateway_plan_policy g ON g.plan_id = p.id"
	    " WHERE p.deleted_at IS NULL ORDER BY lower(p.name), p.id";
	static const char q_products[] =
	    "SELECT p.id::text, p.name, p.scopes, array_to_json(p.path_prefixes)::text,"
	    " coalesce((SELECT json_agg(pp.plan_id) FROM product_plans pp"
	    "  WHERE pp.product_id = p.id), '[]'::json)::text"
	    " FROM products p WHERE p.deleted_at IS NULL ORDER BY lower(p.name), p.id";
	PGresult *rp = NULL, *rq = NULL;
	struct ix_cat_plan_def *pl = NULL;
	struct ix_cat_product_def *pr = NULL;
	json_t **docs = NULL;
	int np = 0, nq = 0;
	enum clr_rc rc;

	*out = NULL;
	if ((rc = clr_db_exec_sql(db, q_plans, 0, NULL, &rp)) != CLR_OK)
		goto out;
	if ((rc = clr_db_exec_sql(db, q_products, 0, NULL, &rq)) != CLR_OK)
		goto out;
	np = PQntuples(rp);
	nq = PQntuples(rq);
	rc = CLR_ERR_NOMEM;
	pl = calloc((size_t)np + 1, sizeof(*pl));
	pr = calloc((size_t)nq + 1, sizeof(*pr));
	docs = calloc(2 * (size_t)nq + 1, sizeof(*docs));
	if (pl == NULL || pr == NULL || docs == NULL)
		goto out;
	for (int i = 0; i < np; i++) {
		pl[i].id = PQgetvalue(rp, i, 0);
		pl[i].name = PQgetvalue(rp, i, 1);
		pl[i].scopes = PQgetvalue(rp, i, 2);
		pl[i].rl_requests = strtol(PQgetvalue(rp, i, 3), NULL, 10);
		pl[i].rl_window_s = strtol(PQgetvalue(rp, i, 4), NULL, 10);
		pl[i].monthly_quota = strtoll(PQgetvalue(rp, i, 5), NULL, 10);
		pl[i].fail_closed = strcmp(PQgetvalue(rp, i, 6), "1") == 0;
	}
	for (int i = 0; i < nq; i++) {
		const char *a = PQgetvalue(rq, i, 3), *b = PQgetvalue(rq, i, 4);
		pr[i].id = PQgetvalue(rq, i, 0);
		pr[i].name = PQgetvalue(rq, i, 1);
		pr[i].scopes = PQgetvalue(rq, i, 2);
		docs[2 * i] = json_loadb(a, strlen(a), JSON_REJECT_DUPLICATES, NULL);
		docs[2 * i + 1] = json_loadb(b, strlen(b), JSON_REJECT_DUPLICATES, NULL);
		if (json_strv(docs[2 * i], (const char ***)&pr[i].prefixes, &pr[i].nprefixes) !=
			CLR_OK ||
		    json_strv(docs[2 * i + 1], (const char ***)&pr[i].plan_ids, &pr[i].nplan_ids) !=
			CLR_OK)
			goto out;
	}
	rc = ix_cat_build(pr, (size_t)nq, pl, (size_t)np, out);
out:
	for (int i = 0; pr != NULL && i < nq; i++) {
		free((void *)pr[i].prefixes);
		free((void *)pr[i].plan_ids);
	}
	for (int i = 0; docs != NULL && i < 2 * nq; i++)
		json_decref(docs[i]);
	free(docs);
	free(pl);
	free(pr);
	PQclear(rp);
	PQclear(rq);
	if (rc != CLR_OK && rc != CLR_ERR_DB)
		clr_log(NULL, CLR_LOG_ERROR, "catalogue: load failed: %s", clr_rc_name(rc));
	return rc;
}
