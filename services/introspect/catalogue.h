/*
 * catalogue.h - the products and plans the gateway maps token scopes to.
 *
 * A catalogue is an immutable, reference-counted snapshot: the refresher
 * builds a new one from PostgreSQL (on NOTIFY clearance_catalogue and
 * periodically) and swaps it in; a request holds a reference while it uses
 * it, so nothing is freed under a reader.
 *
 * Mapping rules (Tyk's scope-to-policy idea, one level up):
 *  - a product is granted when the token carries EVERY one of the product's
 *    scopes (a product without scopes is never granted by a token);
 *  - the request path must lie under one of a granted product's path
 *    prefixes, at a segment boundary ("/api/orders" covers "/api/orders"
 *    and "/api/orders/1", not "/api/ordersx"); the longest prefix wins;
 *  - a plan of that product (product_plans) is chosen when the token
 *    carries every one of the plan's scopes; if several qualify, the one
 *    with the most scopes, then by name;
 *  - paths that are not in normal form (dot segments, "//", encoded "/",
 *    "." or "\", backslashes) never match, because nginx routes on the
 *    normalised path while X-Original-URI carries the raw one.
 */
#ifndef IX_CATALOGUE_H
#define IX_CATALOGUE_H

#include <stddef.h>
#include "clearance/rc.h"
#include "clearance/db.h"

struct ix_cat_plan {
	char *id;
	char *name;
	char **scopes;
	size_t nscopes;
	long rl_requests; /* 0 = unlimited */
	long rl_window_s;
	long long monthly_quota; /* 0 = none; per client, calendar month in UTC */
	int fail_closed;	 /* gateway_plan_policy.db_down = 'closed' */
};

struct ix_cat_product {
	char *id;
	char *name;
	char **scopes;
	size_t nscopes;
	char **prefixes;
	size_t nprefixes;
	size_t *plans; /* indices into the catalogue's plans */
	size_t nplans;
};

struct ix_cat;

/* Definitions to build a catalogue from (all borrowed for the call). */
struct ix_cat_plan_def {
	const char *id, *name, *scopes; /* scopes space separated */
	long rl_requests, rl_window_s;	/* 0/0 = unlimited */
	long long monthly_quota;	/* 0 = none */
	int fail_closed;
};
struct ix_cat_product_def {
	const char *id, *name, *scopes;
	const char *const *prefixes;
	size_t nprefixes;
	const char *const *plan_ids; /* unknown ids are ignored */
	size_t nplan_ids;
};

/* *out new with one reference (ix_cat_release). */
enum clr_rc ix_cat_build(const struct ix_cat_product_def *products, size_t nproducts,
			 const struct ix_cat_plan_def *plans, size_t nplans,
			 struct ix_cat **out) CLR_MUSTCHECK;

/* Loads products and plans (not deleted) with ad-hoc parameterless SQL. */
enum clr_rc ix_cat_load(struct clr_db *db, struct ix_cat **out) CLR_MUSTCHECK;

void ix_cat_retain(struct ix_cat *c);
void ix_cat_release(struct ix_cat *c);

size_t ix_cat_nproducts(const struct ix_cat *c);
size_t ix_cat_nplans(const struct ix_cat *c);

enum ix_cat_result {
	IX_CAT_OK,
	IX_CAT_NO_PRODUCT, /* no granted product covers the path */
	IX_CAT_NO_PLAN,	   /* a product covers it, but no plan scope */
	IX_CAT__MAX
};

/*
 * Maps a token's scopes and the request path (NULL: any path, as for RFC
 * 7662 where there is no request) to a product and plan, both borrowed
 * from c.  On IX_CAT_NO_PLAN *product is still set.
 */
enum ix_cat_result ix_cat_match(const struct ix_cat *c, char *const *scopes, size_t nscopes,
				const char *path, const struct ix_cat_product **product,
				const struct ix_cat_plan **plan);

/*
 * The products that own path (query and fragment are cut here): those
 * whose longest covering prefix is the longest of the catalogue, ties
 * kept.  Up to max of them land in out (borrowed from c); returns how
 * many.  0 when no product covers path or path is not in normal form.
 * Unlike ix_cat_match this ignores scopes: which product a path belongs
 * to is a fact of the catalogue, not of the token.
 */
size_t ix_cat_owners(const struct ix_cat *c, const char *path, const struct ix_cat_product **out,
		     size_t max);

/* The product with this id, borrowed from c, or NULL. */
const struct ix_cat_product *ix_cat_product_by_id(const struct ix_cat *c, const char *id);

/* The plan with this id if product p offers it (product_plans), or NULL. */
const struct ix_cat_plan *ix_cat_plan_of(const struct ix_cat *c, const struct ix_cat_product *p,
					 const char *plan_id);

/* 1 if have[] holds every one of need[] (an empty need is always held). */
int ix_cat_scopes_held(char *const *have, size_t nhave, char *const *need, size_t nneed);

/* 1 if path (query already cut) is in normal form, see above. */
int ix_cat_path_ok(const char *path, size_t len);

/* 1 if path (len bytes) lies under prefix at a segment boundary. */
int ix_cat_prefix_covers(const char *prefix, const char *path, size_t len);

#endif
