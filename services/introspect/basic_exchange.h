/*
 * basic_exchange.h - Kong style "Authorization: Basic id:secret" at the
 * gateway: the credentials are exchanged at the provider's token endpoint
 * (client credentials grant, the registration's scope) and the access
 * token is then checked like any bearer token.  The provider's
 * token_endpoint_auth_method says how: client_secret_basic (default; id and
 * secret form-encoded, then base64, RFC 6749 s.2.3.1) or client_secret_post
 * (both in the form body, for IdPs that do not form-decode a Basic header).
 *
 * Results are cached by SHA-256 of "id:secret" (the secret itself is never
 * kept): a token until 30 s before it expires, a refusal (400/401 from
 * the IdP, unknown or inactive client) for IX_BASIC_NEG_TTL_MS, so a wrong
 * secret costs the IdP one request per that period, not one per API call;
 * an IdP that is down or answers garbage for IX_BASIC_ERR_TTL_MS.
 */
#ifndef IX_BASIC_EXCHANGE_H
#define IX_BASIC_EXCHANGE_H

#include "clearance/rc.h"
#include "clearance/db.h"
#include "clearance/http_out.h"
#include "providers.h"

#define IX_BASIC_NEG_TTL_MS 30000LL
#define IX_BASIC_ERR_TTL_MS 5000LL

struct ix_basic;

enum clr_rc ix_basic_new(size_t nslots, struct ix_basic **out) CLR_MUSTCHECK;
void ix_basic_free(struct ix_basic *b);

/*
 * b64 is the base64 part of the header (len bytes).  On CLR_OK *token is a
 * new string (free()) holding the access token.  Wrong credentials, an
 * unknown or inactive client, an IdP failure: CLR_ERR_DENIED with *why a
 * fixed text.  db is the calling thread's connection (only used on a miss).
 */
enum clr_rc ix_basic_token(struct ix_basic *b, struct clr_db *db, struct clr_http_client *http,
			   struct ix_provreg *provs, const char *b64, size_t len, char **token,
			   const char **why) CLR_MUSTCHECK;

/* The prepared statement basic_exchange.c uses; listed in the server's table. */
#define IX_BASIC_STMT_NAME "ix_basic_registration"
#define IX_BASIC_STMT_SQL                                                                          \
	"SELECT provider_id::text, coalesce(scope, '') FROM registrations"                         \
	" WHERE client_id = $1 AND status = 'active' ORDER BY created_at LIMIT 1"

#endif
