/*
 * driver.c - the parts every IdP driver shares: kind names, the driver
 * table, RFC 7591 request bodies and response parsing, IdP error parsing,
 * and the exchanges (pre-step, build, send, parse) the routes and the job
 * worker call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "clearance/http_out.h"
#include "driver.h"
#include "token_cache.h"

/* Parallel to enum drv_idp_kind; stored in the database, so stable. */
static const char *const kind_names[DRV_IDP__MAX] = {
    [DRV_IDP_OTHER] = "other",	     [DRV_IDP_KEYCLOAK] = "keycloak",
    [DRV_IDP_OKTA] = "okta",	     [DRV_IDP_GLUU] = "gluu",
    [DRV_IDP_CURITY] = "curity",     [DRV_IDP_HTTP_BRIDGE] = "http_bridge",
    [DRV_IDP_GLEWLWYD] = "glewlwyd",
};

static const struct drv_driver *const drivers[DRV_IDP__MAX] = {
    [DRV_IDP_OTHER] = &drv_other,	[DRV_IDP_KEYCLOAK] = &drv_keycloak,
    [DRV_IDP_OKTA] = &drv_okta,		[DRV_IDP_GLUU] = &drv_gluu,
    [DRV_IDP_CURITY] = &drv_curity,	[DRV_IDP_HTTP_BRIDGE] = &drv_http_bridge,
    [DRV_IDP_GLEWLWYD] = &drv_glewlwyd,
};

/* How much of the IdP's own words we quote: enough to act on, bounded. */
#define IDP_CODE_MAX 40
#define IDP_DESC_MAX 150

const char *drv_idp_kind_name(enum drv_idp_kind k)
{
	if ((unsigned)k >= DRV_IDP__MAX)
		return NULL;
	return kind_names[k];
}

enum clr_rc drv_idp_kind_parse(const char *s, enum drv_idp_kind *out)
{
	if (s == NULL)
		return CLR_ERR_PARAM;
	for (int k = 0; k < DRV_IDP__MAX; k++) {
		if (strcmp(s, kind_names[k]) == 0) {
			*out = (enum drv_idp_kind)k;
			return CLR_OK;
		}
	}
	return CLR_ERR_PARAM;
}

const struct drv_driver *drv_get(enum drv_idp_kind k)
{
	if ((unsigned)k >= DRV_IDP__MAX)
		return NULL;
	return drivers[k];
}

static void free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void drv_wire_req_clear(struct drv_wire_req *w)
{
	if (w == NULL)
		return;
	free(w->url);
	free(w->auth_name);
	/* auth_value carries a bearer token, an API key or Basic credentials. */
	free_secret(w->auth_value);
	json_decref(w->json);
	free_secret(w->form);
	memset(w, 0, sizeof(*w));
}

void drv_reg_result_clear(struct drv_reg_result *r)
{
	if (r == NULL)
		return;
	free(r->client_id);
	free_secret(r->client_secret);
	free_secret(r->registration_access_token);
	free(r->registration_client_uri);
	json_decref(r->metadata);
	memset(r, 0, sizeof(*r));
}

/* ---- building ---- */

static int is_string_array(const json_t *a)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a))
		return 0;
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v))
			return 0;
	}
	return 1;
}

enum clr_rc drv_rfc7591_body(const struct drv_client_type *ct, const struct drv_reg_input *in,
			     const char *client_id, json_t **out, struct clr_err *e)
{
	json_t *o = NULL;
	int bad = 0;

	*out = NULL;
	if (ct == NULL || in == NULL)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
				   "client type and input are required");
	if (!is_string_array(ct->grant_types) || json_array_size(ct->grant_types) == 0)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata", "grant_types",
				   "the client type needs at least one grant type");
	if (ct->response_types != NULL && !is_string_array(ct->response_types))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata", "response_types",
				   "response_types must be an array of strings");
	if (in->redirect_uris != NULL && !is_string_array(in->redirect_uris))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri", "redirect_uris",
				   "redirect_uris must be an array of strings");
	if (in->client_name == NULL || in->client_name[0] == '\0')
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata", "client_name",
				   "client_name is required");

	o = json_object();
	if (o == NULL)
		goto nomem;
	bad |= json_object_set_new(o, "client_name", json_string(in->client_name));
	if (in->redirect_uris != NULL && json_array_size(in->redirect_uris) > 0)
		bad |= json_object_set_new(o, "redirect_uris", json_deep_copy(in->redirect_uris));
	bad |= json_object_set_new(o, "response_types",
				   ct->response_types != NULL ? json_deep_copy(ct->response_types)
							      : json_array());
	bad |= json_object_set_new(o, "grant_types", json_deep_copy(ct->grant_types));
	if (ct->token_endpoint_auth_method != NULL)
		bad |= json_object_set_new(o, "token_endpoint_auth_method",
					   json_string(ct->token_endpoint_auth_method));
	if (in->scope != NULL && in->scope[0] != '\0')
		bad |= json_object_set_new(o, "scope", json_string(in->scope));
	if (client_id != NULL)
		bad |= json_object_set_new(o, "client_id", json_string(client_id));
	if (bad)
		goto nomem;
	*out = o;
	return CLR_OK;
nomem:
	json_decref(o);
	/* json_string also fails on invalid UTF-8, which is the likelier cause. */
	return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata", NULL,
			   "client metadata could not be encoded (invalid UTF-8 or out of memory)");
}

static int has_ctl(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	}
	return 0;
}

enum clr_rc drv_set_auth(struct drv_wire_req *w, const char *name, const char *scheme,
			 const char *token, struct clr_err *e)
{
	char *v = NULL;
	int n;

	if (token == NULL || token[0] == '\0' || has_ctl(token))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "token",
				   "the credential for %s is empty or holds control characters",
				   name);
	if (scheme != NULL)
		n = asprintf(&v, "%s %s", scheme, token);
	else
		n = asprintf(&v, "%s", token);
	if (n < 0)
		return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
	w->auth_name = strdup(name);
	if (w->auth_name == NULL) {
		free_secret(v);
		return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
	}
	free_secret(w->auth_value);
	w->auth_value = v;
	return CLR_OK;
}

enum clr_rc drv_url_seg(const char *base, const char *seg, const char *suffix, char **out,
			struct clr_err *e)
{
	char *esc = NULL;
	size_t blen;
	int n;

	*out = NULL;
	if (base == NULL || base[0] == '\0')
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "registration_endpoint",
				   "the provider has no registration endpoint");
	if (seg == NULL || seg[0] == '\0')
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "client_id",
				   "client_id is required");
	blen = strlen(base);
	if (base[blen - 1] == '/')
		blen--;
	/* A client_id is the IdP's data: never let it add path segments. */
	esc = curl_easy_escape(NULL, seg, 0);
	if (esc == NULL)
		return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
	n = asprintf(out, "%.*s/%s%s", (int)blen, base, esc, suffix != NULL ? suffix : "");
	curl_free(esc);
	if (n < 0) {
		*out = NULL;
		return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
	}
	return CLR_OK;
}

enum clr_rc drv_client_uri(const struct drv_provider *p, const struct drv_reg_ref *ref, char **out,
			   struct clr_err *e)
{
	*out = NULL;
	if (ref == NULL || ref->client_id == NULL || ref->client_id[0] == '\0')
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "client_id",
				   "client_id is required");
	if (ref->registration_client_uri != NULL && ref->registration_client_uri[0] != '\0') {
		if (drv_check_client_uri(p, ref->registration_client_uri, e) != CLR_OK)
			return CLR_ERR_UPSTREAM;
		*out = strdup(ref->registration_client_uri);
		if (*out == NULL)
			return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
		return CLR_OK;
	}
	return drv_url_seg(p->registration_endpoint, ref->client_id, NULL, out, e);
}

/* ---- parsing ---- */

/* Copies at most max bytes of s, printable ASCII only: safe for logs and JSON. */
static void sanitize(char *dst, size_t dstsz, const char *s, size_t max)
{
	size_t i;

	if (dstsz == 0)
		return;
	if (max > dstsz - 1)
		max = dstsz - 1;
	for (i = 0; s != NULL && s[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
}

static enum clr_rc status_rc(long status)
{
	if (status == 400)
		return CLR_ERR_PARAM;
	if (status == 401 || status == 403)
		return CLR_ERR_DENIED;
	if (status == 404)
		return CLR_ERR_NOTFOUND;
	return CLR_ERR_UPSTREAM;
}

/* Parses resp's body as one JSON object, or returns NULL. */
static json_t *load_object(const struct clr_http_resp *resp)
{
	json_error_t jerr;
	json_t *o;

	if (resp->body == NULL || resp->body_len == 0)
		return NULL;
	if (resp->content_type != NULL && !clr_http_is_json(resp))
		return NULL;
	o = json_loadb(resp->body, resp->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int is_code_token(const char *s)
{
	if (s == NULL || s[0] == '\0' || strlen(s) > IDP_CODE_MAX)
		return 0;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	}
	return 1;
}

enum clr_rc drv_parse_error(const struct clr_http_resp *resp, struct clr_err *e)
{
	enum clr_rc rc = status_rc(resp->status);
	const char *code, *desc, *cause = NULL;
	char scode[IDP_CODE_MAX + 1], sdesc[IDP_DESC_MAX + 1], scause[IDP_DESC_MAX / 2 + 1];
	char sctype[48];
	json_t *o, *causes, *c0;

	if (resp->status >= 200 && resp->status < 300)
		rc = CLR_ERR_UPSTREAM; /* a 2xx we could not use is still the IdP's fault */
	o = load_object(resp);
	if (o == NULL) {
		sanitize(sctype, sizeof(sctype),
			 resp->content_type != NULL ? resp->content_type : "no content type", 40);
		/* An HTML error page is noise and may reflect our request: never quote it. */
		return clr_err_set(e, rc, "idp_error", NULL,
				   "IdP answered HTTP %ld with a non-JSON body (%s)", resp->status,
				   sctype);
	}
	code = json_string_value(json_object_get(o, "error"));
	desc = json_string_value(json_object_get(o, "error_description"));
	if (code == NULL) {
		/* Okta's management API shape. */
		code = json_string_value(json_object_get(o, "errorCode"));
		desc = json_string_value(json_object_get(o, "errorSummary"));
		causes = json_object_get(o, "errorCauses");
		c0 = json_is_array(causes) ? json_array_get(causes, 0) : NULL;
		cause = json_string_value(json_object_get(c0, "errorSummary"));
	}
	sanitize(scode, sizeof(scode), code != NULL ? code : "unknown_error", IDP_CODE_MAX);
	sanitize(sdesc, sizeof(sdesc), desc != NULL ? desc : "", IDP_DESC_MAX);
	sanitize(scause, sizeof(scause), cause != NULL ? cause : "", IDP_DESC_MAX / 2);
	clr_err_set(e, rc, is_code_token(code) ? code : "idp_error", NULL,
		    "IdP answered HTTP %ld: %s%s%s%s%s%s", resp->status, scode,
		    sdesc[0] != '\0' ? ": " : "", sdesc, scause[0] != '\0' ? " (" : "", scause,
		    scause[0] != '\0' ? ")" : "");
	json_decref(o);
	return rc;
}

long drv_err_http_status(const struct clr_err *e)
{
	static const char pfx[] = "IdP answered HTTP ";
	long st;
	char *end;

	if (e == NULL || strncmp(e->msg, pfx, sizeof(pfx) - 1) != 0)
		return 0;
	st = strtol(e->msg + sizeof(pfx) - 1, &end, 10);
	return end != e->msg + sizeof(pfx) - 1 && st >= 100 && st <= 599 ? st : 0;
}

enum clr_rc drv_parse_no_content(const struct clr_http_resp *resp, struct clr_err *e)
{
	if (resp->status == 204 || resp->status == 200)
		return CLR_OK;
	return drv_parse_error(resp, e);
}

static enum clr_rc dup_opt(json_t *o, const char *key, char **out, struct clr_err *e)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return CLR_OK;
	if (!json_is_string(v))
		return clr_err_set(e, CLR_ERR_UPSTREAM, "idp_error", key,
				   "IdP response: %s is not a string", key);
	*out = strdup(json_string_value(v));
	if (*out == NULL)
		return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
	return CLR_OK;
}

enum clr_rc drv_parse_rfc7591(const struct clr_http_resp *resp, struct drv_reg_result *out,
			      struct clr_err *e)
{
	enum clr_rc rc;
	json_t *o = NULL, *exp;

	memset(out, 0, sizeof(*out));
	if (resp->status < 200 || resp->status >= 300)
		return drv_parse_error(resp, e);
	o = load_object(resp);
	if (o == NULL)
		return clr_err_set(e, CLR_ERR_UPSTREAM, "idp_error", NULL,
				   "IdP answered HTTP %ld without a JSON object", resp->status);
	if ((rc = dup_opt(o, "client_id", &out->client_id, e)) != CLR_OK)
		goto out;
	if (out->client_id == NULL || out->client_id[0] == '\0') {
		rc = clr_err_set(e, CLR_ERR_UPSTREAM, "idp_error", "client_id",
				 "IdP response has no client_id");
		goto out;
	}
	if ((rc = dup_opt(o, "client_secret", &out->client_secret, e)) != CLR_OK)
		goto out;
	if ((rc = dup_opt(o, "registration_access_token", &out->registration_access_token, e)) !=
	    CLR_OK)
		goto out;
	if ((rc = dup_opt(o, "registration_client_uri", &out->registration_client_uri, e)) !=
	    CLR_OK)
		goto out;
	/*
	 * RFC 7591 s.3.2.1 requires it with a secret, but some IdPs omit it:
	 * absent (or not an integer, e.g. a date string, left in metadata) is
	 * "unknown", never "never expires".
	 */
	exp = json_object_get(o, "client_secret_expires_at");
	if (json_is_integer(exp) && json_integer_value(exp) > 0)
		out->client_secret_expires_at = json_integer_value(exp);
	else if (out->client_secret != NULL && !json_is_integer(exp))
		out->client_secret_expires_at = DRV_EXPIRES_UNKNOWN;
	json_object_del(o, "client_secret");
	json_object_del(o, "registration_access_token");
	out->metadata = o;
	o = NULL;
	rc = CLR_OK;
out:
	json_decref(o);
	if (rc != CLR_OK)
		drv_reg_result_clear(out);
	return rc;
}

/* ---- the exchanges ---- */

/*
 * Replaces every occurrence of secret in e->msg: the IdP may echo what we
 * sent.  The message was built from bounded copies of the IdP's text, so
 * an echoed secret may also stand there cut short; a run of at least
 * REDACT_PREFIX characters that starts like the secret is removed too.
 */
#define REDACT_PREFIX 8

void drv_redact(struct clr_err *e, const char *secret)
{
	char buf[sizeof(e->msg)];
	size_t slen, mlen, i = 0, used = 0, k, min;

	if (e == NULL || secret == NULL || (slen = strlen(secret)) < 4)
		return;
	min = slen < REDACT_PREFIX ? slen : REDACT_PREFIX;
	mlen = strnlen(e->msg, sizeof(e->msg) - 1);
	while (i < mlen && used < sizeof(buf) - 1) {
		for (k = 0; i + k < mlen && k < slen && e->msg[i + k] == secret[k]; k++)
			;
		if (k >= min) {
			used += (size_t)snprintf(buf + used, sizeof(buf) - used, "[redacted]");
			if (used >= sizeof(buf))
				used = sizeof(buf) - 1;
			i += k;
			continue;
		}
		buf[used++] = e->msg[i++];
	}
	buf[used] = '\0';
	memcpy(e->msg, buf, sizeof(buf));
}

static void redact_all(struct clr_err *e, const struct drv_provider *p,
		       const struct drv_reg_ref *ref, const char *bearer)
{
	drv_redact(e, p->initial_access_token);
	drv_redact(e, p->initial_client_secret);
	drv_redact(e, bearer);
	if (ref != NULL)
		drv_redact(e, ref->registration_access_token);
}

static enum clr_rc exchange(struct clr_http_client *c, const struct drv_provider *p,
			    const struct drv_wire_req *w, struct clr_http_resp *resp,
			    struct clr_err *e)
{
	struct clr_http_opts opts = p->http;
	struct clr_http_header h[3];
	size_t nh = 0;
	char *body = NULL;
	size_t blen = 0;
	enum clr_rc rc;

	h[nh++] = (struct clr_http_header){"Accept", "application/json"};
	if (w->json != NULL) {
		body = json_dumps(w->json, JSON_COMPACT);
		if (body == NULL)
			return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
		blen = strlen(body);
		h[nh++] = (struct clr_http_header){"Content-Type", "application/json"};
	} else if (w->form != NULL) {
		h[nh++] =
		    (struct clr_http_header){"Content-Type", "application/x-www-form-urlencoded"};
	}
	if (w->auth_name != NULL)
		h[nh++] = (struct clr_http_header){w->auth_name, w->auth_value};
	/* libcurl must never send a create twice (a reused connection that died). */
	opts.fresh_connection = strcmp(w->method, "POST") == 0;
	rc = clr_http_do(c, &opts, w->method, w->url, h, nh, body != NULL ? body : w->form,
			 body != NULL ? blen : (w->form != NULL ? strlen(w->form) : 0), resp, e);
	free(body);
	return rc;
}

/*
 * Runs the pre-step when the driver has one and the provider is set up for
 * it.  The token comes from the cache (*cached 1) unless fresh is set or
 * none is cached; a fetched one is cached for its expires_in less a margin.
 */
static enum clr_rc initial_token(struct clr_http_client *c, const struct drv_provider *p,
				 const struct drv_driver *d, int fresh, char **token, int *cached,
				 struct clr_err *e)
{
	struct drv_wire_req w = {0};
	struct clr_http_resp resp = {0};
	json_t *o = NULL;
	enum clr_rc rc;

	*token = NULL;
	*cached = 0;
	if (d->build_initial_token == NULL || p->initial_client_id == NULL) {
		if (d->needs_initial_token &&
		    (p->initial_access_token == NULL || p->initial_access_token[0] == '\0'))
			return clr_err_set(
			    e, CLR_ERR_CONFLICT, "invalid_request", "initial_access_token",
			    "a %s provider needs an initial access token to register clients",
			    drv_idp_kind_name(p->kind));
		return CLR_OK;
	}
	if (!fresh && drv_itc_get(p, time(NULL), token)) {
		*cached = 1;
		return CLR_OK;
	}
	if ((rc = d->build_initial_token(p, &w, e)) != CLR_OK)
		goto out;
	drv_itc_count_fetch();
	if ((rc = exchange(c, p, &w, &resp, e)) != CLR_OK)
		goto out;
	if ((rc = d->parse_initial_token(&resp, token, e)) != CLR_OK)
		goto out;
	/* No expires_in: its lifetime is unknown, so it is used once and not kept. */
	if (resp.body != NULL)
		o = json_loadb(resp.body, resp.body_len, 0, NULL);
	if (json_is_integer(json_object_get(o, "expires_in")))
		drv_itc_put(p, *token, (long)json_integer_value(json_object_get(o, "expires_in")),
			    time(NULL));
out:
	json_decref(o);
	clr_http_resp_clear(&resp);
	drv_wire_req_clear(&w);
	return rc;
}

/* Scheme, host and port of url (new, lower-case by curl), or -1. */
static int origin_of(const char *url, char **scheme, char **host, char **port)
{
	CURLU *u = curl_url();
	int ok;

	*scheme = *host = *port = NULL;
	if (u == NULL)
		return -1;
	ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) == CURLUE_OK;
	curl_url_cleanup(u);
	return ok ? 0 : -1;
}

enum clr_rc drv_check_client_uri(const struct drv_provider *p, const char *uri, struct clr_err *e)
{
	char *s1 = NULL, *h1 = NULL, *p1 = NULL, *s2 = NULL, *h2 = NULL, *p2 = NULL;
	/* Keycloak's registration endpoint may be derived from the issuer. */
	const char *base = p->registration_endpoint != NULL ? p->registration_endpoint : p->issuer;
	int ok;

	if (uri == NULL)
		return CLR_OK;
	ok = base != NULL && origin_of(uri, &s1, &h1, &p1) == 0 &&
	     origin_of(base, &s2, &h2, &p2) == 0;
	if (ok)
		ok =
		    (strcmp(s1, "https") == 0 || (strcmp(s1, "http") == 0 && p->http.allow_http)) &&
		    strcmp(s1, s2) == 0 && strcasecmp(h1, h2) == 0 && strcmp(p1, p2) == 0;
	curl_free(s1);
	curl_free(h1);
	curl_free(p1);
	curl_free(s2);
	curl_free(h2);
	curl_free(p2);
	if (!ok)
		return clr_err_set(
		    e, CLR_ERR_UPSTREAM, "idp_error", "registration_client_uri",
		    "the IdP's registration_client_uri is not an https URL on the "
		    "registration endpoint's origin; the registration access token is "
		    "never sent there");
	return CLR_OK;
}

/*
 * *maybe (may be NULL) is set to 1 when the operation's request may have
 * reached the IdP and its outcome is not known for certain: no answer in
 * time, a broken connection, an unreadable or oversized answer, a 2xx that
 * does not parse, or a 502/504 from a proxy in front of it.  An IdP's
 * readable error answer (4xx, other 5xx) and failures before sending
 * (including no connection at all) leave it 0.
 */
static enum clr_rc run(struct clr_http_client *c, const struct drv_provider *p, enum drv_op op,
		       const struct drv_client_type *ct, const struct drv_reg_input *in,
		       const struct drv_reg_ref *ref, struct drv_reg_result *out, int *maybe,
		       struct clr_err *e)
{
	const struct drv_driver *d;
	struct drv_wire_req w = {0};
	struct clr_http_resp resp = {0};
	struct drv_reg_result tmp = {0};
	char *token = NULL;
	enum clr_rc rc;
	int cached = 0, retried = 0;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (maybe != NULL)
		*maybe = 0;
	if (p == NULL || (d = drv_get(p->kind)) == NULL)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "kind",
				   "unknown identity provider kind");
	if (op == DRV_OP_ROTATE && !d->can_rotate)
		return clr_err_set(e, CLR_ERR_CONFLICT, "unsupported_operation", NULL,
				   "a %s provider offers no client secret rotation",
				   drv_idp_kind_name(p->kind));
again:
	if (op == DRV_OP_REGISTER &&
	    (rc = initial_token(c, p, d, retried, &token, &cached, e)) != CLR_OK)
		goto out;
	rc = d->build(op, p, ct, in, ref,
		      op == DRV_OP_REGISTER ? (token != NULL ? token : p->initial_access_token)
					    : NULL,
		      &w, e);
	if (rc != CLR_OK)
		goto out;
	if ((rc = exchange(c, p, &w, &resp, e)) != CLR_OK) {
		if (maybe != NULL)
			*maybe =
			    rc != CLR_ERR_NOMEM && strcmp(e->error, "upstream_unreachable") != 0;
		goto out;
	}
	rc = d->parse(op, p, &resp, &tmp, e);
	if (rc == CLR_ERR_DENIED && token != NULL && (resp.status == 401 || resp.status == 403))
		drv_itc_drop(p, token); /* refused: never hand it out again */
	if (rc == CLR_ERR_DENIED && cached && !retried &&
	    (resp.status == 401 || resp.status == 403)) {
		/*
		 * A readable refusal (401, or 403 as some IdPs answer) of a
		 * cached token, so nothing was created:
		 * it expired early or was single-use (Glewlwyd's default).  Once
		 * more with a fresh one; never after an unknown outcome.  A
		 * token refused after it worked once is a single-use token:
		 * no more caching for this provider (one fetch per
		 * registration instead of a refusal and two).
		 */
		drv_itc_mark_single_use(p);
		free_secret(token);
		token = NULL;
		drv_wire_req_clear(&w);
		clr_http_resp_clear(&resp);
		retried = 1;
		goto again;
	}
	/* RFC 7591 s.3.2: the registration access token must never go elsewhere. */
	if (rc == CLR_OK && (op == DRV_OP_REGISTER || op == DRV_OP_UPDATE) &&
	    (rc = drv_check_client_uri(p, tmp.registration_client_uri, e)) != CLR_OK &&
	    maybe != NULL)
		*maybe = 1; /* the client exists at the IdP, but it cannot be managed from here */
	if (rc != CLR_OK && maybe != NULL && !*maybe)
		*maybe = (resp.status >= 200 && resp.status < 300) || resp.status == 502 ||
			 resp.status == 504;
	if (rc == CLR_OK && out != NULL) {
		*out = tmp;
		memset(&tmp, 0, sizeof(tmp));
	}
out:
	if (rc != CLR_OK)
		redact_all(e, p, ref, token);
	drv_reg_result_clear(&tmp);
	clr_http_resp_clear(&resp);
	drv_wire_req_clear(&w);
	free_secret(token);
	return rc;
}

enum clr_rc drv_register(struct clr_http_client *c, const struct drv_provider *p,
			 const struct drv_client_type *ct, const struct drv_reg_input *in,
			 struct drv_reg_result *out, struct clr_err *e)
{
	return run(c, p, DRV_OP_REGISTER, ct, in, NULL, out, NULL, e);
}

enum clr_rc drv_register_outcome(struct clr_http_client *c, const struct drv_provider *p,
				 const struct drv_client_type *ct, const struct drv_reg_input *in,
				 struct drv_reg_result *out, int *maybe_created, struct clr_err *e)
{
	return run(c, p, DRV_OP_REGISTER, ct, in, NULL, out, maybe_created, e);
}

enum clr_rc drv_update(struct clr_http_client *c, const struct drv_provider *p,
		       const struct drv_client_type *ct, const struct drv_reg_input *in,
		       const struct drv_reg_ref *ref, struct drv_reg_result *out, struct clr_err *e)
{
	return run(c, p, DRV_OP_UPDATE, ct, in, ref, out, NULL, e);
}

enum clr_rc drv_delete(struct clr_http_client *c, const struct drv_provider *p,
		       const struct drv_reg_ref *ref, struct clr_err *e)
{
	return run(c, p, DRV_OP_DELETE, NULL, NULL, ref, NULL, NULL, e);
}

enum clr_rc drv_rotate(struct clr_http_client *c, const struct drv_provider *p,
		       const struct drv_reg_ref *ref, struct drv_reg_result *out, struct clr_err *e)
{
	return run(c, p, DRV_OP_ROTATE, NULL, NULL, ref, out, NULL, e);
}

/* ---- plain RFC 7591/7592, wrapped by most drivers ---- */

static enum clr_rc set_method_url(struct drv_wire_req *w, const char *method, const char *url,
				  struct clr_err *e)
{
	if (url == NULL || url[0] == '\0')
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "registration_endpoint",
				   "the provider has no registration endpoint");
	w->method = method;
	w->url = strdup(url);
	if (w->url == NULL)
		return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
	return CLR_OK;
}

enum clr_rc drv_build_rfc7592(enum drv_op op, const struct drv_provider *p,
			      const struct drv_client_type *ct, const struct drv_reg_input *in,
			      const struct drv_reg_ref *ref, const char *bearer,
			      const char *reg_url, const char *client_uri, struct drv_wire_req *out,
			      struct clr_err *e)
{
	enum clr_rc rc;

	(void)p;
	memset(out, 0, sizeof(*out));
	switch (op) {
	case DRV_OP_REGISTER:
		if ((rc = set_method_url(out, "POST", reg_url, e)) != CLR_OK)
			goto out;
		if (bearer != NULL && bearer[0] != '\0' &&
		    (rc = drv_set_auth(out, "Authorization", "Bearer", bearer, e)) != CLR_OK)
			goto out;
		rc = drv_rfc7591_body(ct, in, NULL, &out->json, e);
		goto out;
	case DRV_OP_UPDATE:
	case DRV_OP_DELETE:
		if (ref == NULL || ref->registration_access_token == NULL ||
		    ref->registration_access_token[0] == '\0') {
			rc = clr_err_set(e, CLR_ERR_CONFLICT, "invalid_request",
					 "registration_access_token",
					 "no registration access token is stored for this client, "
					 "so the IdP does not let us manage it");
			goto out;
		}
		rc = set_method_url(out, op == DRV_OP_UPDATE ? "PUT" : "DELETE", client_uri, e);
		if (rc != CLR_OK)
			goto out;
		rc =
		    drv_set_auth(out, "Authorization", "Bearer", ref->registration_access_token, e);
		if (rc != CLR_OK || op == DRV_OP_DELETE)
			goto out;
		/* RFC 7592 2.2: a full replacement that names the client. */
		rc = drv_rfc7591_body(ct, in, ref->client_id, &out->json, e);
		goto out;
	default:
		rc = clr_err_set(e, CLR_ERR_CONFLICT, "unsupported_operation", NULL,
				 "RFC 7592 defines no client secret rotation");
		goto out;
	}
out:
	if (rc != CLR_OK)
		drv_wire_req_clear(out);
	return rc;
}

enum clr_rc drv_parse_rfc7592(enum drv_op op, const struct drv_provider *p,
			      const struct clr_http_resp *resp, struct drv_reg_result *out,
			      struct clr_err *e)
{
	(void)p;
	memset(out, 0, sizeof(*out));
	switch (op) {
	case DRV_OP_REGISTER:
	case DRV_OP_UPDATE:
		return drv_parse_rfc7591(resp, out, e);
	case DRV_OP_DELETE:
		return drv_parse_no_content(resp, e);
	default:
		return clr_err_set(e, CLR_ERR_CONFLICT, "unsupported_operation", NULL,
				   "RFC 7592 defines no client secret rotation");
	}
}

/* ---- listing, for reconciling ---- */

void drv_list_page_clear(struct drv_list_page *pg)
{
	size_t i;

	if (pg == NULL)
		return;
	for (i = 0; i < pg->n; i++) {
		free(pg->items[i].client_id);
		free(pg->items[i].name);
		free(pg->items[i].ref);
		free(pg->items[i].tag);
		free_secret(pg->items[i].client_secret);
	}
	free(pg->items);
	free(pg->next);
	memset(pg, 0, sizeof(*pg));
}

enum clr_rc drv_list_push(struct drv_list_page *pg, struct drv_listed *it)
{
	struct drv_listed *n;

	n = realloc(pg->items, (pg->n + 1) * sizeof(*n));
	if (n == NULL)
		return CLR_ERR_NOMEM;
	pg->items = n;
	pg->items[pg->n++] = *it;
	memset(it, 0, sizeof(*it));
	return CLR_OK;
}

char *drv_tag_of(const char *s)
{
	const char *p;
	char buf[37];

	if (s == NULL || (p = strstr(s, DRV_TAG_PREFIX)) == NULL)
		return NULL;
	p += strlen(DRV_TAG_PREFIX);
	if (strlen(p) < 36)
		return NULL;
	memcpy(buf, p, 36);
	buf[36] = '\0';
	/* Only a uuid names a registration; anything else is not our tag. */
	for (int i = 0; i < 36; i++) {
		char ch = buf[i];
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? ch != '-'
			 : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
			     (ch >= 'A' && ch <= 'F')))
			return NULL;
	}
	return strdup(buf);
}

int drv_can_list(const struct drv_provider *p)
{
	const struct drv_driver *d = p != NULL ? drv_get(p->kind) : NULL;

	return d != NULL && d->build_list != NULL && d->parse_list != NULL;
}

/* The credential of the listing API (new in *owned when fetched). */
static enum clr_rc list_cred(struct clr_http_client *c, const struct drv_provider *p,
			     const struct drv_driver *d, const char **cred, char **owned,
			     struct clr_err *e)
{
	struct drv_wire_req w = {0};
	struct clr_http_resp resp = {0};
	enum clr_rc rc;

	*owned = NULL;
	*cred = NULL;
	if (d->list_cc && p->list_credential == NULL) {
		if (p->initial_client_id == NULL || p->initial_client_secret == NULL)
			return clr_err_set(e, CLR_ERR_CONFLICT, "invalid_request",
					   "initial_client_id",
					   "listing the clients of a %s provider needs its "
					   "initial_client_id and initial_client_secret (a service "
					   "account allowed to read clients)",
					   drv_idp_kind_name(p->kind));
		if ((rc = drv_cc_build_initial_token(p, &w, e)) == CLR_OK &&
		    (rc = exchange(c, p, &w, &resp, e)) == CLR_OK)
			rc = drv_cc_parse_initial_token(&resp, owned, e);
		clr_http_resp_clear(&resp);
		drv_wire_req_clear(&w);
		*cred = *owned;
		return rc;
	}
	*cred = p->list_credential != NULL ? p->list_credential
		: d->list_own_credential   ? NULL
					   : p->initial_access_token;
	if (*cred == NULL || (*cred)[0] == '\0')
		return clr_err_set(e, CLR_ERR_CONFLICT, "invalid_request", "reconcile_credential",
				   "listing the clients of a %s provider needs a credential "
				   "(PUT /v1/providers/{id}/reconcile)",
				   drv_idp_kind_name(p->kind));
	return CLR_OK;
}

enum clr_rc drv_list(struct clr_http_client *c, const struct drv_provider *p,
		     struct drv_list_page *out, struct clr_err *e)
{
	const struct drv_driver *d;
	struct drv_wire_req w = {0};
	struct clr_http_resp resp = {0};
	struct drv_list_page pg = {0};
	const char *cred = NULL;
	char *owned = NULL, *cursor = NULL;
	enum clr_rc rc;
	size_t i;
	int pages = 0;

	memset(out, 0, sizeof(*out));
	if (!drv_can_list(p))
		return clr_err_set(e, CLR_ERR_CONFLICT, "unsupported_operation", NULL,
				   "a %s provider offers no client listing Clearance can use",
				   p != NULL ? drv_idp_kind_name(p->kind) : "?");
	d = drv_get(p->kind);
	if ((rc = list_cred(c, p, d, &cred, &owned, e)) != CLR_OK)
		goto out;
	for (;;) {
		if (++pages > DRV_LIST_MAX_PAGES) {
			rc = clr_err_set(e, CLR_ERR_UPSTREAM, "idp_error", NULL,
					 "the IdP's client listing has more than %d pages",
					 DRV_LIST_MAX_PAGES);
			goto out;
		}
		if ((rc = d->build_list(p, cred, cursor, &w, e)) != CLR_OK)
			goto out;
		if ((rc = exchange(c, p, &w, &resp, e)) != CLR_OK)
			goto out;
		if ((rc = d->parse_list(p, cursor, &resp, &pg, e)) != CLR_OK)
			goto out;
		for (i = 0; i < pg.n; i++) {
			if ((rc = drv_list_push(out, &pg.items[i])) != CLR_OK) {
				clr_err_set(e, rc, "server_error", NULL, "out of memory");
				goto out;
			}
		}
		free(cursor);
		cursor = pg.next;
		pg.next = NULL;
		drv_list_page_clear(&pg);
		drv_wire_req_clear(&w);
		clr_http_resp_clear(&resp);
		if (cursor == NULL)
			break;
	}
out:
	if (rc != CLR_OK) {
		redact_all(e, p, NULL, owned);
		drv_redact(e, p->list_credential);
		drv_list_page_clear(out);
	}
	drv_list_page_clear(&pg);
	drv_wire_req_clear(&w);
	clr_http_resp_clear(&resp);
	free(cursor);
	free_secret(owned);
	return rc;
}

enum clr_rc drv_list_delete(struct clr_http_client *c, const struct drv_provider *p,
			    const struct drv_listed *it, struct clr_err *e)
{
	const struct drv_driver *d = p != NULL ? drv_get(p->kind) : NULL;
	struct drv_reg_ref ref = {0};
	struct drv_wire_req w = {0};
	struct clr_http_resp resp = {0};
	const char *cred = NULL;
	char *owned = NULL;
	enum clr_rc rc;

	if (d == NULL || it == NULL || it->client_id == NULL)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "client_id",
				   "a listed client is required");
	if (d->build_list_delete == NULL) {
		ref.client_id = it->client_id;
		return drv_delete(c, p, &ref, e);
	}
	if ((rc = list_cred(c, p, d, &cred, &owned, e)) != CLR_OK)
		goto out;
	if ((rc = d->build_list_delete(p, cred, it, &w, e)) != CLR_OK)
		goto out;
	if ((rc = exchange(c, p, &w, &resp, e)) != CLR_OK)
		goto out;
	rc = drv_parse_no_content(&resp, e);
out:
	if (rc != CLR_OK) {
		redact_all(e, p, NULL, owned);
		drv_redact(e, p->list_credential);
	}
	drv_wire_req_clear(&w);
	clr_http_resp_clear(&resp);
	free_secret(owned);
	return rc;
}

enum clr_rc drv_list_array(const struct clr_http_resp *resp, json_t **arr, struct clr_err *e)
{
	json_error_t jerr;

	*arr = NULL;
	if (resp->status != 200)
		return drv_parse_error(resp, e);
	if (resp->body != NULL && resp->body_len > 0 &&
	    (resp->content_type == NULL || clr_http_is_json(resp)))
		*arr = json_loadb(resp->body, resp->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_array(*arr)) {
		json_decref(*arr);
		*arr = NULL;
		return clr_err_set(e, CLR_ERR_UPSTREAM, "idp_error", NULL,
				   "the IdP's client listing is not a JSON array");
	}
	return CLR_OK;
}

enum clr_rc drv_offset_list_req(struct drv_wire_req *out, const char *base, const char *cursor,
				const char *off_name, const char *lim_name, int limit,
				const char *scheme, const char *cred, struct clr_err *e)
{
	enum clr_rc rc;
	long off;

	memset(out, 0, sizeof(*out));
	if ((rc = drv_offset_cursor(cursor, &off, e)) != CLR_OK)
		return rc;
	if (asprintf(&out->url, "%s?%s=%ld&%s=%d", base, off_name, off, lim_name, limit) < 0) {
		out->url = NULL;
		return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
	}
	out->method = "GET";
	if ((rc = drv_set_auth(out, "Authorization", scheme, cred, e)) != CLR_OK)
		drv_wire_req_clear(out);
	return rc;
}

enum clr_rc drv_offset_cursor(const char *cursor, long *offset, struct clr_err *e)
{
	char *end = NULL;

	*offset = 0;
	if (cursor == NULL)
		return CLR_OK;
	if (cursor[0] < '0' || cursor[0] > '9' || strlen(cursor) > 9)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "cursor",
				   "a listing offset must be a small decimal number");
	*offset = strtol(cursor, &end, 10);
	if (*end != '\0')
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "cursor",
				   "a listing offset must be a small decimal number");
	return CLR_OK;
}

enum clr_rc drv_offset_next(long offset, size_t n, size_t page_size, char **next, struct clr_err *e)
{
	*next = NULL;
	if (n < page_size)
		return CLR_OK;
	if (asprintf(next, "%ld", offset + (long)n) < 0) {
		*next = NULL;
		return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
	}
	return CLR_OK;
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

enum clr_rc drv_list_add(struct drv_list_page *pg, const char *client_id, const char *name,
			 const char *ref, const char *tag_src, const char *secret,
			 struct clr_err *e)
{
	struct drv_listed it = {0};

	if (client_id == NULL || client_id[0] == '\0')
		return CLR_OK;
	it.client_id = strdup(client_id);
	it.name = dup_or_null(name);
	it.ref = dup_or_null(ref);
	it.tag = drv_tag_of(tag_src);
	it.client_secret = dup_or_null(secret);
	if (it.client_id == NULL || (name != NULL && it.name == NULL) ||
	    (ref != NULL && it.ref == NULL) || (secret != NULL && it.client_secret == NULL) ||
	    drv_list_push(pg, &it) != CLR_OK) {
		free(it.client_id);
		free(it.name);
		free(it.ref);
		free(it.tag);
		free_secret(it.client_secret);
		return clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "out of memory");
	}
	return CLR_OK;
}
