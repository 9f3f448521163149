/*
 * auth.h - bearer tokens for admins and developers.
 *
 * Tokens are random (256 bits), shown once, and stored only as the hex
 * SHA-256 of the token in table api_tokens.  Lookups go by that hash, so
 * the comparison never touches the secret itself.
 */
#ifndef CLEARANCE_AUTH_H
#define CLEARANCE_AUTH_H

#include "clearance/rc.h"
#include "clearance/db.h"

enum clr_role { CLR_ROLE_NONE = 0, CLR_ROLE_DEVELOPER, CLR_ROLE_ADMIN, CLR_ROLE__MAX };

struct clr_principal {
	enum clr_role role;
	char token_id[37];   /* api_tokens.id */
	char subject_id[37]; /* developers/admins row id, "" for ctl-made admin tokens */
	char name[128];	     /* token name or account e-mail, for audit */
};

/*
 * Checks an Authorization header value ("Bearer <token>", scheme
 * case-insensitive).  Missing, malformed, unknown, expired or revoked:
 * CLR_ERR_DENIED (no detail that would help guessing).  Database trouble:
 * CLR_ERR_DB.  last_used_at is stamped at most once a minute, best effort
 * and only outside a transaction: it never waits on a row lock and its
 * failure never fails the call.
 */
enum clr_rc clr_auth_bearer(struct clr_db *db, const char *authorization,
			    struct clr_principal *out) CLR_MUSTCHECK;

/*
 * Creates a token row and returns the token once in *token (new, free()).
 * subject_id may be NULL; ttl_s <= 0 means no expiry.  Admin tokens start
 * with "clr_adm_", developer sessions with "clr_ses_".
 */
enum clr_rc clr_auth_token_create(struct clr_db *db, enum clr_role role, const char *subject_id,
				  const char *name, long ttl_s, char **token,
				  char token_id[37]) CLR_MUSTCHECK;

/* Marks a token revoked (logout).  Unknown id: CLR_ERR_NOTFOUND. */
enum clr_rc clr_auth_token_revoke(struct clr_db *db, const char *token_id) CLR_MUSTCHECK;

const char *clr_role_name(enum clr_role r);

/*
 * Token hashing.  Bearer tokens, session tokens, account (mail) tokens and
 * introspection-client secrets are stored as HMAC-SHA-256 under a
 * server-side pepper, so a database dump alone cannot check guesses.  The
 * pepper is the TOKEN_PEPPER setting (CLEARANCE_TOKEN_PEPPER or _FILE,
 * 16 to 4096 bytes), installed by clr_token_pepper_startup.  Rows carry
 * hash_alg: CLR_HASH_ALG_PEPPERED or CLR_HASH_ALG_LEGACY (plain SHA-256,
 * written before the pepper existed, or while none is set); a legacy row
 * is still accepted, and api_tokens rows are rewritten on first use.
 */
#define CLR_HASH_ALG_PEPPERED "hmac-sha256"
#define CLR_HASH_ALG_LEGACY "sha256"

struct clr_config;

/*
 * 1: a pepper is installed; 0: none (hashes are legacy SHA-256); -1: one
 * was given but is unusable (too short or too long), and every token
 * check fails closed.
 */
int clr_token_pepper_state(void);

/*
 * For a program's startup, before threads hash: installs cfg's
 * TOKEN_PEPPER.  Unusable: CLR_ERR_PARAM (logged; the program should
 * stop).  None: a warning, since every hash is then plain SHA-256.
 */
enum clr_rc clr_token_pepper_startup(const struct clr_config *cfg) CLR_MUSTCHECK;

/*
 * Installs p (copied; NULL clears it): what clr_token_pepper_startup does,
 * for tests.  Call before any thread hashes.
 */
enum clr_rc clr_token_pepper_set(const void *p, size_t len) CLR_MUSTCHECK;

/*
 * Digest of tok: HMAC-SHA-256 under the pepper when one is installed
 * (returns 1), else plain SHA-256 (returns 0); -1 on failure or an
 * unusable pepper (out zeroed, so it matches nothing).
 */
int clr_token_digest(const void *tok, size_t len, unsigned char out[32]);

/* clr_token_digest as lowercase hex; *alg names the algorithm (static). */
int clr_token_hash_hex(const void *tok, size_t len, char out[65], const char **alg);

#endif
