/*
 * grants.h - what each registered client was approved for: the (product,
 * plan) pairs of every active registration, keyed by (issuer, client id).
 *
 * The rows come from the gateway_grants view (sql/020_gateway_grants.sql):
 * approved access requests plus an admin's direct grants.  A client with
 * an active registration but no grant is still present (it is registered,
 * it may reach nothing), so the gateway can tell "not registered" (401)
 * from "not granted" (403).
 *
 * Keyed by issuer rather than provider id: two providers with the same
 * issuer (the same IdP added twice) resolve a client to the union of
 * their grants, whatever their ids sort like.
 *
 * A snapshot is immutable and reference-counted, like the catalogue: the
 * refresher builds a new one on NOTIFY clearance_grants and periodically,
 * and swaps it in; a request holds a reference while it uses it.
 */
#ifndef IX_GRANTS_H
#define IX_GRANTS_H

#include <stddef.h>
#include "clearance/rc.h"
#include "clearance/db.h"

#define IX_UUID_LEN 36

/* One grant, borrowed from its snapshot. */
struct ix_grant {
	char product_id[IX_UUID_LEN + 1];
	char plan_id[IX_UUID_LEN + 1];
};

/* A row to build from (all borrowed); product_id/plan_id NULL: no grant. */
struct ix_grants_row {
	const char *issuer, *client_id, *product_id, *plan_id;
};

struct ix_grants;

/* *out new with one reference (ix_grants_release).  Rows in any order. */
enum clr_rc ix_grants_build(const struct ix_grants_row *rows, size_t n,
			    struct ix_grants **out) CLR_MUSTCHECK;

/* Loads every active registration with its grants (parameterless SQL). */
enum clr_rc ix_grants_load(struct clr_db *db, struct ix_grants **out) CLR_MUSTCHECK;

void ix_grants_retain(struct ix_grants *g);
void ix_grants_release(struct ix_grants *g);

/*
 * The grants of (issuer, client_id), borrowed from g, *n of them; NULL
 * when the client has no active registration at any provider of that
 * issuer (then *n = 0).  A registered client without grants gets a
 * non-NULL pointer and *n = 0.
 */
const struct ix_grant *ix_grants_find(const struct ix_grants *g, const char *issuer,
				      const char *client_id, size_t *n);

/* Registered clients in the snapshot (metrics, tests). */
size_t ix_grants_nclients(const struct ix_grants *g);

#endif
