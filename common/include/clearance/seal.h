/*
 * seal.h - secrets at rest, sealed with AES-256-GCM through OpenSSL EVP.
 *
 * Keys come from CLEARANCE_SEAL_KEYS: "kid:base64key[,kid:base64key...]",
 * each key exactly 32 bytes, kid 1..32 chars of [A-Za-z0-9_-].  The first
 * key seals; every key listed unseals, which is how keys rotate.
 *
 * A sealed value is text: "v1.<kid>.<b64url nonce(12)>.<b64url ct>.<b64url tag(16)>".
 * The AAD is "<table>.<column>:<row id>", so a value copied to another row
 * or column does not unseal.  The sealer is immutable after creation and
 * safe to share between threads.  Keys are wiped with OPENSSL_cleanse on
 * free.
 */
#ifndef CLEARANCE_SEAL_H
#define CLEARANCE_SEAL_H

#include <stddef.h>
#include "clearance/rc.h"

struct clr_sealer;

/* *out is new (clr_sealer_free).  Errors name the bad entry, never the key. */
enum clr_rc clr_sealer_new(const char *spec, struct clr_sealer **out,
			   struct clr_err *e) CLR_MUSTCHECK;
void clr_sealer_free(struct clr_sealer *s);

/*
 * The kid of the key that seals (the first one listed); borrowed, valid
 * while s lives.  A value sealed under another kid is due for resealing.
 */
const char *clr_sealer_kid(const struct clr_sealer *s);

/* table_col e.g. "registrations.client_secret"; row_id the row's id. *out new. */
enum clr_rc clr_seal(const struct clr_sealer *s, const char *table_col, const char *row_id,
		     const void *pt, size_t ptlen, char **out) CLR_MUSTCHECK;

/*
 * *pt is new, with a NUL after *ptlen bytes (so text secrets can be used as
 * C strings); free it with clr_unsealed_free, which wipes it first.
 * Wrong key, unknown kid, tampering or a different AAD: CLR_ERR_PARAM.
 */
enum clr_rc clr_unseal(const struct clr_sealer *s, const char *table_col, const char *row_id,
		       const char *sealed, char **pt, size_t *ptlen) CLR_MUSTCHECK;
void clr_unsealed_free(char *pt, size_t ptlen);

#endif
