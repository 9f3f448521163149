/*
 * revocations.h - the client ids the gateway must refuse although their
 * tokens may still verify: every registration that is not (or no longer)
 * 'active' but has a client id.
 *
 * A deny set rather than an allow set, because the registrar announces
 * only the active -> not active transition (NOTIFY clearance_revocations,
 * see sql/002_registrar.sql); a newly activated client must work at once
 * without waiting for a refresh.  Clients that Clearance never registered
 * are not in the set: their tokens are judged by issuer, signature and
 * scopes alone.
 *
 * Thread-safe: readers take a read lock (a short hash probe); the refresher
 * adds single ids on NOTIFY and swaps in a full reload periodically.
 */
#ifndef CLR_INTROSPECT_REVOCATIONS_H
#define CLR_INTROSPECT_REVOCATIONS_H

#include <stddef.h>
#include "clearance/rc.h"
#include "clearance/db.h"

struct clr_revo;

enum clr_rc clr_revo_new(struct clr_revo **out) CLR_MUSTCHECK;
void clr_revo_free(struct clr_revo *s);

/* 1 if client_id is refused. */
int clr_revo_has(struct clr_revo *s, const char *client_id);

/* Adds one id (from a NOTIFY payload). */
enum clr_rc clr_revo_add(struct clr_revo *s, const char *client_id) CLR_MUSTCHECK;

/*
 * Replaces the whole set with the ids from PostgreSQL.  The caller (the
 * refresher thread) must process pending NOTIFYs only after this returns,
 * so an id announced while the query ran is not lost by the swap.
 */
enum clr_rc clr_revo_reload(struct clr_revo *s, struct clr_db *db) CLR_MUSTCHECK;

/* Replaces the set with ids[0..n) (tests, and reload's second half). */
enum clr_rc clr_revo_replace(struct clr_revo *s, const char *const *ids, size_t n) CLR_MUSTCHECK;

size_t clr_revo_count(struct clr_revo *s);

/*
 * The same string set serves as the allow-set of registered clients
 * (CLEARANCE_GATEWAY_REQUIRE_REGISTERED): its members are the keys
 * "<provider_id> <client_id>" of every active registration, so a client id
 * registered at one provider does not open the gate for a token of
 * another.  clr_allow_key writes that key into buf (size n) and returns
 * its length, or 0 if it does not fit.  clr_allow_reload replaces the set
 * from PostgreSQL (same ordering rule as clr_revo_reload).
 */
size_t clr_allow_key(char *buf, size_t n, const char *provider_id, const char *client_id);
enum clr_rc clr_allow_reload(struct clr_revo *s, struct clr_db *db) CLR_MUSTCHECK;

#endif
