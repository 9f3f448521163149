/*
 * password.h - account passwords, hashed with scrypt through OpenSSL's
 * EVP_KDF "SCRYPT".
 *
 * The stored text carries everything needed to verify it again, so the
 * cost can be raised later without breaking old hashes:
 *   "$scrypt$ln=<log2 N>,r=<r>,p=<p>$<b64url salt>$<b64url 32-byte key>"
 * Verification recomputes the key with the stored parameters (bounded, so
 * a tampered row cannot make us allocate gigabytes) and compares it in
 * constant time.  Thread-safe; plaintexts are never logged or kept.
 */
#ifndef CLEARANCE_PASSWORD_H
#define CLEARANCE_PASSWORD_H

#include <stddef.h>
#include "clearance/rc.h"

#define CLR_PASSWORD_MIN 12   /* bytes */
#define CLR_PASSWORD_MAX 1024 /* bytes: scrypt cost must stay bounded */

/*
 * Strength check for a new password: length between the bounds, no
 * control characters, at least 5 distinct characters, not the e-mail
 * address (email may be NULL).  CLR_ERR_PARAM with e->field "password"
 * and a message that says what to change (never the password).
 */
enum clr_rc clr_password_check(const char *pw, size_t len, const char *email,
			       struct clr_err *e) CLR_MUSTCHECK;

/* Hashes pw with a fresh 16-byte salt; *out new (free()). */
enum clr_rc clr_password_hash(const char *pw, size_t len, char **out) CLR_MUSTCHECK;

/*
 * *ok = 1 when pw matches encoded.  A malformed encoding or out-of-range
 * parameters are CLR_ERR_PARAM (*ok = 0).  encoded NULL runs a full-cost
 * verification against a fixed dummy hash and answers *ok = 0, so a login
 * for an unknown account takes as long as one for a known account.
 */
enum clr_rc clr_password_verify(const char *pw, size_t len, const char *encoded,
				int *ok) CLR_MUSTCHECK;

#endif
