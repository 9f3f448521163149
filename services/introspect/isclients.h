/*
 * isclients.h - the resource servers allowed to call POST /v1/introspect
 * with HTTP Basic id:secret (table introspection_clients, sql/006).
 *
 * Every copy of the service keeps the active (not revoked) clients' ids and
 * secret hashes in memory, reloaded by the refresher on NOTIFY
 * clearance_introspection_clients and periodically, so verifying a caller
 * costs one SHA-256 and no database round trip.
 *
 * Thread-safe: readers take a read lock; reloads build a new table and swap.
 */
#ifndef IX_ISCLIENTS_H
#define IX_ISCLIENTS_H

#include <stddef.h>
#include "clearance/rc.h"
#include "clearance/db.h"

#define IX_ISC_ID_LEN 36		/* a uuid */
#define IX_ISC_SECRET_PREFIX "clr_isc_" /* then base64url of 32 random bytes */

struct ix_isc;

struct ix_isc_entry {
	char id[IX_ISC_ID_LEN + 1];
	unsigned char hash[32]; /* clr_token_digest of the secret */
	unsigned char legacy;	/* 1: hash is plain SHA-256 (hash_alg 'sha256') */
};

enum clr_rc ix_isc_new(struct ix_isc **out) CLR_MUSTCHECK;
void ix_isc_free(struct ix_isc *s);

/* Replaces the set with v[0..n) (copied). */
enum clr_rc ix_isc_replace(struct ix_isc *s, const struct ix_isc_entry *v, size_t n) CLR_MUSTCHECK;

/* Replaces the set with the active rows of introspection_clients. */
enum clr_rc ix_isc_reload(struct ix_isc *s, struct clr_db *db) CLR_MUSTCHECK;

/*
 * 1 if id (idlen bytes) is an active client whose secret is secret (slen
 * bytes).  The secret's hash is computed and compared with CRYPTO_memcmp
 * whether or not the id exists, so timing says nothing about the secret.
 */
int ix_isc_check(struct ix_isc *s, const char *id, size_t idlen, const char *secret, size_t slen);

/*
 * Checks an Authorization header value "Basic base64(id:secret)".  1 if it
 * names an active client with that secret; *id_out (size IX_ISC_ID_LEN+1)
 * gets the id for the audit log.  0 for anything else.
 */
int ix_isc_check_basic(struct ix_isc *s, const char *authz, char id_out[IX_ISC_ID_LEN + 1]);

size_t ix_isc_count(struct ix_isc *s);

/*
 * A new secret (new, free() after OPENSSL_cleanse) and its clr_token_hash_hex
 * in hex[65] (peppered when clr_token_pepper_state() is 1), for the admin
 * endpoint.
 */
enum clr_rc ix_isc_secret_new(char **secret, char hex[65]) CLR_MUSTCHECK;

#endif
