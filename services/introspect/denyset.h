/*
 * denyset.h - the client ids the gateway must refuse although their
 * tokens may still verify: every registration that is not (or no longer)
 * 'active' but has a client id.
 *
 * The grants snapshot (grants.h) already leaves such clients out; this set
 * is the fast path on top of it: the registrar announces each active -> not
 * active transition with the client id (NOTIFY clearance_revocations, see
 * sql/002_registrar.sql), one hash insert here, before the grants reload
 * that the same change triggers has finished.
 *
 * Thread-safe: readers take a read lock (a short hash probe); the refresher
 * adds single ids on NOTIFY and swaps in a full reload periodically.
 */
#ifndef IX_DENYSET_H
#define IX_DENYSET_H

#include <stddef.h>
#include "clearance/rc.h"
#include "clearance/db.h"

struct ix_denyset;

enum clr_rc ix_denyset_new(struct ix_denyset **out) CLR_MUSTCHECK;
void ix_denyset_free(struct ix_denyset *s);

/* 1 if client_id is refused. */
int ix_denyset_has(struct ix_denyset *s, const char *client_id);

/* Adds one id (from a NOTIFY payload). */
enum clr_rc ix_denyset_add(struct ix_denyset *s, const char *client_id) CLR_MUSTCHECK;

/*
 * Replaces the whole set with the ids from PostgreSQL.  The caller (the
 * refresher thread) must process pending NOTIFYs only after this returns,
 * so an id announced while the query ran is not lost by the swap.
 */
enum clr_rc ix_denyset_reload(struct ix_denyset *s, struct clr_db *db) CLR_MUSTCHECK;

/* Replaces the set with ids[0..n) (tests, and reload's second half). */
enum clr_rc ix_denyset_replace(struct ix_denyset *s, const char *const *ids,
			       size_t n) CLR_MUSTCHECK;

size_t ix_denyset_count(struct ix_denyset *s);

#endif
