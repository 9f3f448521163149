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

#endif
