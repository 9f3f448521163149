/*
 * drv_curity.c - the Curity Identity Server.  Its registration endpoint
 * takes a one-time initial access token with the "dcr" scope, which we get
 * first with the client credentials grant of a client set up for that
 * (provider initial_client_id / initial_client_secret), authenticated with
 * HTTP Basic.  When only an initial_access_token is configured (one obtained
 * out of band) it is used as is.  Management is RFC 7592 with the
 * registration access token at the registration_client_uri; Curity rotates
 * that token on GET and PUT, so the newest must be persisted.  No client
 * secret rotation is documented for DCR clients.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "clearance/form.h"
#include "driver.h"

static void free_secret(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* RFC 6749 2.3.1: form-urlencode id and secret, then base64 "id:secret". */
static enum clr_rc basic_credentials(const char *id, const char *secret, char **out,
				     struct clr_err *e)
{
	char *eid = NULL, *esec = NULL, *pair = NULL, *b64 = NULL;
	size_t plen;
	int n;
	enum clr_rc rc = CLR_ERR_NOMEM;

	*out = NULL;
	/* The one form encoder (form.h): a space is '+', as RFC 6749 appendix B says. */
	eid = clr_form_escape(id, strlen(id));
	esec = clr_form_escape(secret, strlen(secret));
	if (eid == NULL || esec == NULL)
		goto out;
	n = asprintf(&pair, "%s:%s", eid, esec);
	if (n < 0) {
		pair = NULL;
		goto out;
	}
	plen = (size_t)n;
	if (plen > (size_t)0x3fffffff)
		goto out;
	b64 = malloc(4 * ((plen + 2) / 3) + 1);
	if (b64 == NULL)
		goto out;
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)pair, (int)plen);
	*out = b64;
	b64 = NULL;
	rc = CLR_OK;
out:
	if (esec != NULL) {
		OPENSSL_cleanse(esec, strlen(esec));
		free(esec);
	}
	free(eid);
	free_secret(pair);
	free(b64);
	if (rc != CLR_OK)
		return clr_err_set(e, rc, "server_error", NULL, "out of memory");
	return CLR_OK;
}

enum clr_rc drv_cc_build_initial_token(const struct drv_provider *p, struct drv_wire_req *out,
				       struct clr_err *e)
{
	char *cred = NULL, *escope = NULL;
	const char *scope = p->initial_token_scope;
	enum clr_rc rc;

	memset(out, 0, sizeof(*out));
	if (p->token_endpoint == NULL || p->token_endpoint[0] == '\0')
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "token_endpoint",
				   "the provider has no token endpoint");
	if (p->initial_client_id == NULL || p->initial_client_id[0] == '\0' ||
	    p->initial_client_secret == NULL || p->initial_client_secret[0] == '\0')
		return clr_err_set(
		    e, CLR_ERR_CONFLICT, "invalid_request", "initial_client_id",
		    "the provider needs the id and secret of its registration client");
	if (scope == NULL && p->kind == DRV_IDP_CURITY)
		scope = "dcr";
	out->method = "POST";
	out->url = strdup(p->token_endpoint);
	if (scope != NULL && scope[0] != '\0') {
		escope = clr_form_escape(scope, strlen(scope));
		if (escope != NULL &&
		    asprintf(&out->form, "grant_type=client_credentials&scope=%s", escope) < 0)
			out->form = NULL;
	} else {
		out->form = strdup("grant_type=client_credentials");
	}
	if (out->url == NULL || out->form == NULL) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
		goto out;
	}
	if ((rc = basic_credentials(p->initial_client_id, p->initial_client_secret, &cred, e)) !=
	    CLR_OK)
		goto out;
	rc = drv_set_auth(out, "Authorization", "Basic", cred, e);
out:
	free_secret(cred);
	free(escope);
	if (rc != CLR_OK)
		drv_wire_req_clear(out);
	return rc;
}

enum clr_rc drv_cc_parse_initial_token(const struct clr_http_resp *resp, char **token,
				       struct clr_err *e)
{
	json_error_t jerr;
	json_t *o = NULL;
	const char *at;
	char msg[sizeof(e->msg)];
	enum clr_rc rc;

	*token = NULL;
	if (resp->status != 200) {
		rc = drv_parse_error(resp, e);
		if (e != NULL) {
			/* Say which step failed: the admin fixes the DCR client, not the input. */
			snprintf(msg, sizeof(msg), "%s", e->msg);
			snprintf(e->msg, sizeof(e->msg), "getting the initial access token: %.*s",
				 (int)(sizeof(msg) - 36), msg);
		}
		return rc;
	}
	if (resp->body != NULL)
		o = json_loadb(resp->body, resp->body_len, JSON_REJECT_DUPLICATES, &jerr);
	at = json_string_value(json_object_get(o, "access_token"));
	if (at == NULL || at[0] == '\0') {
		rc = clr_err_set(e, CLR_ERR_UPSTREAM, "idp_error", "access_token",
				 "the token endpoint answered 200 without an access_token");
		goto out;
	}
	*token = strdup(at);
	rc = *token != NULL ? CLR_OK
			    : clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
out:
	json_decref(o);
	return rc;
}

static enum clr_rc build(enum drv_op op, const struct drv_provider *p,
			 const struct drv_client_type *ct, const struct drv_reg_input *in,
			 const struct drv_reg_ref *ref, const char *bearer,
			 struct drv_wire_req *out, struct clr_err *e)
{
	char *uri = NULL;
	enum clr_rc rc;

	if (op == DRV_OP_REGISTER && (bearer == NULL || bearer[0] == '\0'))
		return clr_err_set(e, CLR_ERR_CONFLICT, "invalid_request", "initial_access_token",
				   "Curity registration needs a token with the dcr scope");
	if ((op == DRV_OP_UPDATE || op == DRV_OP_DELETE) &&
	    (rc = drv_client_uri(p, ref, &uri, e)) != CLR_OK)
		return rc;
	rc = drv_build_rfc7592(op, p, ct, in, ref, bearer, p->registration_endpoint, uri, out, e);
	free(uri);
	return rc;
}

const struct drv_driver drv_curity = {
    .kind = DRV_IDP_CURITY,
    .can_rotate = 0,
    .needs_initial_token = 1,
    .build_initial_token = drv_cc_build_initial_token,
    .parse_initial_token = drv_cc_parse_initial_token,
    .build = build,
    .parse = drv_parse_rfc7592,
};
