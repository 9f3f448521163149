/*
 * validate.h - the registrar's input checks (validate.c), shared by the
 * handlers and the job worker and unit-tested on their own.  Each fills
 * e (CLR_ERR_PARAM, an RFC 7591 error code and the field) on refusal.
 */
#ifndef CLEARANCE_REGISTRAR_VALIDATE_H
#define CLEARANCE_REGISTRAR_VALIDATE_H

#include <jansson.h>
#include "clearance/rc.h"

/* Limits every registration keeps, whoever asks (route or job). */
#define REG_MAX_REDIRECT_URIS 20
#define REG_MAX_SCOPE 2000 /* registrations.scope CHECK */

/*
 * RFC 7591 s.2 / 2.1: every value from the IANA registries, no duplicate,
 * and a consistent combination (code needs authorization_code, token /
 * id_token need implicit, refresh_token needs a grant that issues one,
 * client_credentials needs a confidential client, Okta application types
 * their grants).  rt and gt are arrays of strings (borrowed); okta may be
 * NULL.
 */
enum clr_rc reg_ctype_validate(const json_t *rt, const json_t *gt, const char *auth,
			       const char *okta, struct clr_err *e) CLR_MUSTCHECK;

/*
 * 1 if wk is issuer's own well-known URL: issuer + "/.well-known/
 * openid-configuration" (OIDC Discovery s.4) or oauth-authorization-server,
 * also inserted between host and path (RFC 8414 s.3).
 */
int reg_issuer_matches(const char *wk, const char *issuer);

/*
 * A provider's identity_claim: the claim naming the client, a dotted path
 * into nested objects ("client_id", "cid", "app.clientId"); segments of
 * letters, digits, '_', '-' and ':', none empty.  NULL passes (unchanged).
 */
enum clr_rc reg_identity_claim_check(const char *s, struct clr_err *e) CLR_MUSTCHECK;

/*
 * A provider's access_token_typ: accepted JWT "typ" values, space separated
 * ("at+jwt JWT none"; "none" = no typ), each printable ASCII without '"' or
 * '\\', single spaces, at most 500 bytes.  NULL passes (unchanged).
 */
enum clr_rc reg_typ_list_check(const char *s, struct clr_err *e) CLR_MUSTCHECK;

/* Scope syntax and redirect URIs follow the common rules (clearance/oauth.h). */

#endif
