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

/* Scope syntax and redirect URIs follow the common rules (clearance/oauth.h). */

#endif
