/*
 * util.h - small helpers every module needs: random ids and tokens,
 * base64url, SHA-256.  All built on OpenSSL; nothing hand-rolled beyond the
 * base64url alphabet swap.
 */
#ifndef CLEARANCE_UTIL_H
#define CLEARANCE_UTIL_H

#include <stddef.h>
#include "clearance/rc.h"

/* Writes a random (version 4) UUID as 36 chars + NUL into out. */
enum clr_rc clr_uuid_new(char out[37]) CLR_MUSTCHECK;

/* 1 if s is a canonical lower- or upper-case UUID text, else 0. */
int clr_uuid_valid(const char *s);

/*
 * Makes a new random token of nbytes (16..64) random bytes, base64url
 * without padding, with `prefix` (may be NULL, e.g. "clr_adm_") in front.
 * *out is new (free()).
 */
enum clr_rc clr_random_token(const char *prefix, size_t nbytes, char **out) CLR_MUSTCHECK;

/* SHA-256 of data as 64 lower-case hex chars + NUL. */
void clr_sha256_hex(const void *data, size_t len, char out[65]);

/*
 * base64url without padding.  Encode: *out new, NUL-terminated.  Decode is
 * strict (RFC 7515 s.2): no padding, no whitespace, only the url alphabet,
 * no non-zero trailing bits; *out new with a NUL after *outlen bytes.
 */
enum clr_rc clr_b64url_encode(const void *in, size_t len, char **out) CLR_MUSTCHECK;
enum clr_rc clr_b64url_decode(const char *in, size_t len, unsigned char **out,
			      size_t *outlen) CLR_MUSTCHECK;

/* Standard base64 with padding (for seal keys and Basic auth). Same ownership. */
enum clr_rc clr_b64_encode(const void *in, size_t len, char **out) CLR_MUSTCHECK;
enum clr_rc clr_b64_decode(const char *in, size_t len, unsigned char **out,
			   size_t *outlen) CLR_MUSTCHECK;

/* Constant-time equality of two byte strings (lengths may differ). */
int clr_secret_eq(const void *a, size_t alen, const void *b, size_t blen);

/* Monotonic clock in milliseconds. */
long long clr_now_ms(void);

#endif
