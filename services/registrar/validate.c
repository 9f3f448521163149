/*
 * validate.c - the registrar's checks of what admins and jobs ask for,
 * apart from any handler so that unit tests reach them directly: client
 * types against RFC 7591's registries and combination rules, redirect
 * URIs, scope syntax, and the discovery issuer / well-known URL match.
 * Pure functions of their arguments (libcurl's URL parser aside).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "clearance/oauth.h"
#include "registrations.h"
#include "routes.h"
#include "store.h"
#include "validate.h"

/* ---- client types ------------------------------------------------------- */

static const char *const grant_types[] = {
    "authorization_code",
    "implicit",
    "password",
    "client_credentials",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "urn:ietf:params:oauth:grant-type:saml2-bearer",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:openid:params:grant-type:ciba",
};
static const char *const response_types[] = {
    "code",	      "token", "id_token", "code id_token", "code token", "code id_token token",
    "id_token token", "none",
};
static const char *const auth_methods[] = {
    "none",
    "client_secret_post",
    "client_secret_basic",
    "client_secret_jwt",
    "private_key_jwt",
    "tls_client_auth",
    "self_signed_tls_client_auth",
};
static const char *const okta_types[] = {"web", "native", "browser", "service"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int in_list(const char *s, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

/* 1 if the space-separated response type contains the word w. */
static int rt_has(const char *rt, const char *w)
{
	size_t wl = strlen(w);
	const char *p = rt;

	while ((p = strstr(p, w)) != NULL) {
		if ((p == rt || p[-1] == ' ') && (p[wl] == '\0' || p[wl] == ' '))
			return 1;
		p += wl;
	}
	return 0;
}

static enum clr_rc arr_check(const json_t *a, const char *field, const char *const *list, size_t n,
			     struct clr_err *e)
{
	size_t i, j;

	for (i = 0; i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));

		if (!in_list(s, list, n))
			return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata", field,
					   "%s: \"%.64s\" is not a registered value", field, s);
		for (j = 0; j < i; j++)
			if (strcmp(s, json_string_value(json_array_get(a, j))) == 0)
				return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata",
						   field, "%s: \"%.64s\" is listed twice", field,
						   s);
	}
	return CLR_OK;
}

/* The whole RFC 7591 consistency check of one client type. */
enum clr_rc reg_ctype_validate(const json_t *rt, const json_t *gt, const char *auth,
			       const char *okta, struct clr_err *e)
{
	int ac = reg_strarr_has(gt, "authorization_code");
	int imp = reg_strarr_has(gt, "implicit");
	int cc = reg_strarr_has(gt, "client_credentials");
	int rt_code = 0, rt_front = 0;
	size_t i;

	if (json_array_size(gt) == 0)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata", "grant_types",
				   "grant_types must list at least one grant type");
	if (arr_check(gt, "grant_types", grant_types, NELEM(grant_types), e) != CLR_OK ||
	    arr_check(rt, "response_types", response_types, NELEM(response_types), e) != CLR_OK)
		return CLR_ERR_PARAM;
	if (!in_list(auth, auth_methods, NELEM(auth_methods)))
		return clr_err_set(
		    e, CLR_ERR_PARAM, "invalid_client_metadata", "token_endpoint_auth_method",
		    "token_endpoint_auth_method \"%.64s\" is not a registered value", auth);
	if (okta != NULL && !in_list(okta, okta_types, NELEM(okta_types)))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata",
				   "okta_application_type",
				   "okta_application_type must be web, native, browser or service");
	for (i = 0; i < json_array_size(rt); i++) {
		const char *s = json_string_value(json_array_get(rt, i));

		if (rt_has(s, "code")) {
			rt_code = 1;
			if (!ac)
				return clr_err_set(
				    e, CLR_ERR_PARAM, "invalid_client_metadata", "response_types",
				    "response type \"%s\" needs the authorization_code grant", s);
		}
		if (rt_has(s, "token") || rt_has(s, "id_token")) {
			rt_front = 1;
			if (!imp)
				return clr_err_set(
				    e, CLR_ERR_PARAM, "invalid_client_metadata", "response_types",
				    "response type \"%s\" needs the implicit grant", s);
		}
	}
	if (ac && !rt_code)
		return clr_err_set(
		    e, CLR_ERR_PARAM, "invalid_client_metadata", "response_types",
		    "the authorization_code grant needs a response type with \"code\"");
	if (imp && !rt_front)
		return clr_err_set(
		    e, CLR_ERR_PARAM, "invalid_client_metadata", "response_types",
		    "the implicit grant needs a response type with \"token\" or \"id_token\"");
	if (!ac && !imp && json_array_size(rt) > 0)
		return clr_err_set(
		    e, CLR_ERR_PARAM, "invalid_client_metadata", "response_types",
		    "response_types must be empty without authorization_code or implicit");
	if (reg_strarr_has(gt, "refresh_token")) {
		size_t others = json_array_size(gt) - 1 - (size_t)cc - (size_t)imp;

		if (others == 0)
			return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata",
					   "grant_types",
					   "refresh_token needs a grant that issues refresh tokens "
					   "(authorization_code, password, device code, ...)");
	}
	if (cc && strcmp(auth, "none") == 0)
		return clr_err_set(
		    e, CLR_ERR_PARAM, "invalid_client_metadata", "token_endpoint_auth_method",
		    "client_credentials needs a confidential client, not auth method none");
	if (okta != NULL && strcmp(okta, "service") == 0 && (!cc || ac || imp))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata",
				   "okta_application_type",
				   "an Okta service application uses client_credentials only");
	if (okta != NULL && strcmp(okta, "service") != 0 && cc)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata",
				   "okta_application_type",
				   "Okta allows client_credentials only for service applications");
	if (okta != NULL && strcmp(okta, "browser") == 0 && strcmp(auth, "none") != 0)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata",
				   "token_endpoint_auth_method",
				   "an Okta browser application is public: auth method none");
	return CLR_OK;
}

/* ---- discovery ---------------------------------------------------------- */

/* OIDC Discovery 1.0 s.4.3 / RFC 8414 s.3.3: the document must be the issuer's own. */
int reg_issuer_matches(const char *wk, const char *issuer)
{
	static const char *const suffixes[] = {
	    "/.well-known/openid-configuration",
	    "/.well-known/oauth-authorization-server",
	};
	size_t ilen = strlen(issuer), i;
	const char *path;
	char buf[4200];

	if (ilen > 2048)
		return 0;
	while (ilen > 0 && issuer[ilen - 1] == '/')
		ilen--;
	for (i = 0; i < 2; i++) {
		snprintf(buf, sizeof(buf), "%.*s%s", (int)ilen, issuer, suffixes[i]);
		if (strcmp(buf, wk) == 0)
			return 1;
	}
	/* RFC 8414 inserts the well-known part between host and path. */
	path = strstr(issuer, "://");
	path = path != NULL ? strchr(path + 3, '/') : NULL;
	if (path == NULL || (size_t)(path - issuer) >= ilen)
		return 0;
	for (i = 0; i < 2; i++) {
		snprintf(buf, sizeof(buf), "%.*s%s%.*s", (int)(path - issuer), issuer, suffixes[i],
			 (int)(ilen - (size_t)(path - issuer)), path);
		if (strcmp(buf, wk) == 0)
			return 1;
	}
	return 0;
}

/* ---- registrations ------------------------------------------------------ */

enum clr_rc reg_request_check(const struct reg_request *req, const struct reg_ctype *ct,
			      struct clr_err *e)
{
	const json_t *gt = ct->grant_types;
	int front = reg_strarr_has(gt, "authorization_code") || reg_strarr_has(gt, "implicit");
	size_t n = json_is_array(req->redirect_uris) ? json_array_size(req->redirect_uris) : 0;
	size_t i, j;

	if (req->client_name == NULL || req->client_name[0] == '\0' ||
	    strlen(req->client_name) > 200)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata", "client_name",
				   "client_name must be 1 to 200 bytes");
	if (req->scope != NULL && strlen(req->scope) > REG_MAX_SCOPE)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata", "scope",
				   "scope is longer than %d bytes", REG_MAX_SCOPE);
	if (req->scope != NULL && !clr_scope_valid(req->scope))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata", "scope",
				   "scope must be scope tokens separated by single spaces");
	if (req->redirect_uris != NULL && !json_is_array(req->redirect_uris))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri", "redirect_uris",
				   "redirect_uris must be an array");
	if (front && n == 0)
		return clr_err_set(
		    e, CLR_ERR_PARAM, "invalid_redirect_uri", "redirect_uris",
		    "this client type (authorization_code or implicit) needs redirect_uris");
	if (!front && n > 0)
		return clr_err_set(
		    e, CLR_ERR_PARAM, "invalid_redirect_uri", "redirect_uris",
		    "this client type has no redirect-based grant: redirect_uris must be empty");
	if (n > REG_MAX_REDIRECT_URIS)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri", "redirect_uris",
				   "at most %d redirect_uris", REG_MAX_REDIRECT_URIS);
	for (i = 0; i < n; i++) {
		const char *u = json_string_value(json_array_get(req->redirect_uris, i));

		if (u == NULL)
			return clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri",
					   "redirect_uris",
					   "redirect_uris must contain only strings");
		if (clr_redirect_uri_check(u, "redirect_uris", e) != CLR_OK)
			return e->rc;
		for (j = 0; j < i; j++)
			if (strcmp(u, json_string_value(json_array_get(req->redirect_uris, j))) ==
			    0)
				return clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri",
						   "redirect_uris",
						   "a redirect URI is listed twice");
	}
	return CLR_OK;
}

enum clr_rc reg_identity_claim_check(const char *s, struct clr_err *e)
{
	size_t i, seg = 0;

	if (s == NULL)
		return CLR_OK;
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (seg == 0)
				break;
			seg = 0;
		} else if (isalnum(c) || c == '_' || c == '-' || c == ':') {
			seg++;
		} else {
			break;
		}
	}
	if (s[i] != '\0' || seg == 0 || i > 200)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "identity_claim",
				   "identity_claim must be a claim name or a dotted path such as "
				   "app.clientId");
	return CLR_OK;
}

enum clr_rc reg_typ_list_check(const char *s, struct clr_err *e)
{
	size_t i, tok = 0;

	if (s == NULL)
		return CLR_OK;
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ' ') {
			if (tok == 0)
				break;
			tok = 0;
		} else if (c > 0x20 && c < 0x7f && c != '"' && c != '\\') {
			tok++;
		} else {
			break;
		}
	}
	if (s[i] != '\0' || tok == 0 || i > 500)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "access_token_typ",
				   "access_token_typ must be space separated typ values such as "
				   "\"at+jwt JWT none\"");
	return CLR_OK;
}
