/*
 * h_providers.c - /v1/providers: IdP configuration, OIDC discovery,
 * connection verification.
 *
 * Discovery runs before anything is stored, so a provider row always has a
 * working issuer, token endpoint and JWKS URI as of its discovered_at.
 * For kind http_bridge the IdP's discovery still supplies issuer, token
 * endpoint and JWKS (the gateway needs them); the bridge's base URL is the
 * admin-given `registration_endpoint`, which is required for that kind and
 * may override discovery's for the others.
 *
 * Secrets (initial access token, initial client secret) are sealed with AAD
 * "providers.<column>:<id>"; the id is made here before the insert so the
 * AAD exists when sealing.  Responses carry only *_set booleans.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/log.h"
#include "clearance/oauth.h"
#include "clearance/util.h"
#include "driver.h"
#include "h_providers.h"
#include "registrar.h"
#include "registrations.h"
#include "routes.h"
#include "store.h"
#include "token_cache.h"
#include "validate.h"

static const struct clr_field pv_fields[] = {
    {"name", CLR_FT_STR, 1, 0, 1, 200, 0, 0},
    {"kind", CLR_FT_STR, 1, 0, 1, 32, 0, 0},
    {"well_known_url", CLR_FT_STR, 1, 0, 1, 2048, 0, 0},
    {"registration_endpoint", CLR_FT_STR, 0, 1, 1, 2048, 0, 0},
    {"initial_access_token", CLR_FT_STR, 0, 1, 1, 8192, 0, 0},
    {"tls_skip_verify", CLR_FT_BOOL, 0, 0, 0, 0, 0, 0},
    {"ca_bundle_pem", CLR_FT_STR, 0, 1, 1, 32768, 0, 1},
    {"audience", CLR_FT_STR, 0, 1, 1, 1024, 0, 0},
    {"initial_client_id", CLR_FT_STR, 0, 1, 1, 512, 0, 0},
    {"initial_client_secret", CLR_FT_STR, 0, 1, 1, 4096, 0, 0},
    {"allow_insecure_http", CLR_FT_BOOL, 0, 0, 0, 0, 0, 0},
    {"initial_token_scope", CLR_FT_STR, 0, 1, 1, 1024, 0, 0},
    {"identity_claim", CLR_FT_STR, 0, 0, 1, 200, 0, 0},
    {"access_token_typ", CLR_FT_STR, 0, 0, 1, 500, 0, 0},
    {"token_endpoint_auth_method", CLR_FT_STR, 0, 0, 1, 32, 0, 0},
};

/* sql/020's defaults: the gateway reads these columns. */
#define PV_DEFAULT_IDENTITY_CLAIM "client_id"
#define PV_DEFAULT_TYP "at+jwt application/at+jwt JWT none"
/* sql/065: how the gateway's Basic exchange authenticates at the token endpoint. */
#define PV_DEFAULT_TAM "client_secret_basic"
const struct clr_body reg_body_provider_create = CLR_BODY(pv_fields, 0, NULL);
const struct clr_body reg_body_provider_patch = CLR_BODY(pv_fields, 1, NULL);

/* Body keys whose change means the stored discovery may no longer hold. */
static const char *const rediscover_keys[] = {
    "well_known_url", "registration_endpoint", "tls_skip_verify",
    "ca_bundle_pem",  "allow_insecure_http",   "kind",
};

/* All values of one provider row as written; strings borrowed. */
struct pv_vals {
	const char *name, *kind, *wk, *issuer, *reg_ep, *reg_override, *token_ep;
	const char *jwks, *intro, *disco_text, *iat_sealed, *icid, *ics_sealed;
	const char *ca, *audience, *its, *idc, *typ, *tam;
	int tls_skip, allow_http;
};

/* Result of discovery; strings borrowed from doc. */
struct disco {
	json_t *doc;
	char *text;
	const char *issuer, *registration_endpoint, *token_endpoint, *jwks_uri;
	const char *introspection_endpoint;
};

static void disco_clear(struct disco *d)
{
	json_decref(d->doc);
	free(d->text);
	memset(d, 0, sizeof(*d));
}

static enum clr_rc disco_url(json_t *doc, const char *key, int required, int allow_http,
			     const char **out, struct clr_err *e)
{
	json_t *v = json_object_get(doc, key);
	struct clr_err ue = {0};

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return CLR_OK;
		return clr_err_set(e, CLR_ERR_UPSTREAM, "discovery_failed", key,
				   "the discovery document has no %s", key);
	}
	if (!json_is_string(v))
		return clr_err_set(e, CLR_ERR_UPSTREAM, "discovery_failed", key,
				   "the discovery document's %s is not a string", key);
	if (reg_url_check(json_string_value(v), allow_http, key, "discovery_failed", &ue) != CLR_OK)
		return clr_err_set(e, CLR_ERR_UPSTREAM, "discovery_failed", key,
				   "the discovery document's %s is unusable: %s", key, ue.msg);
	*out = json_string_value(v);
	return CLR_OK;
}

/*
 * Fetches and checks the discovery document.  Errors are CLR_ERR_UPSTREAM
 * or CLR_ERR_TIMEOUT with e->error "discovery_failed" and a reason.
 */
static enum clr_rc discover(struct clr_http_client *c, const struct clr_http_opts *o,
			    const char *wk, int need_reg, struct disco *out, struct clr_err *e)
{
	static const struct clr_http_header h[] = {{"Accept", "application/json"}};
	struct clr_http_resp resp = {0};
	struct clr_err he = {0};
	json_error_t jerr;
	enum clr_rc rc;
	const char *iss;

	memset(out, 0, sizeof(*out));
	rc = clr_http_do(c, o, "GET", wk, h, 1, NULL, 0, &resp, &he);
	if (rc != CLR_OK)
		return clr_err_set(e, rc == CLR_ERR_TIMEOUT ? rc : CLR_ERR_UPSTREAM,
				   "discovery_failed", "well_known_url",
				   "fetching the well-known URL failed: %s", he.msg);
	rc = CLR_ERR_UPSTREAM;
	if (resp.status != 200) {
		clr_err_set(e, rc, "discovery_failed", "well_known_url",
			    "the well-known URL answered HTTP %ld", resp.status);
		goto out;
	}
	if (!clr_http_is_json(&resp)) {
		clr_err_set(e, rc, "discovery_failed", "well_known_url",
			    "the well-known URL did not answer JSON (Content-Type %.60s)",
			    resp.content_type != NULL ? resp.content_type : "missing");
		goto out;
	}
	out->doc = json_loadb(resp.body, resp.body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (out->doc == NULL || !json_is_object(out->doc)) {
		clr_err_set(e, rc, "discovery_failed", "well_known_url",
			    "the discovery document is not a JSON object");
		goto out;
	}
	iss = json_string_value(json_object_get(out->doc, "issuer"));
	if (iss == NULL) {
		clr_err_set(e, rc, "discovery_failed", "issuer",
			    "the discovery document has no issuer");
		goto out;
	}
	if (disco_url(out->doc, "issuer", 1, o->allow_http, &out->issuer, e) != CLR_OK ||
	    disco_url(out->doc, "token_endpoint", 1, o->allow_http, &out->token_endpoint, e) !=
		CLR_OK ||
	    disco_url(out->doc, "jwks_uri", 1, o->allow_http, &out->jwks_uri, e) != CLR_OK ||
	    disco_url(out->doc, "registration_endpoint", need_reg, o->allow_http,
		      &out->registration_endpoint, e) != CLR_OK ||
	    disco_url(out->doc, "introspection_endpoint", 0, o->allow_http,
		      &out->introspection_endpoint, e) != CLR_OK)
		goto out;
	if (!reg_issuer_matches(wk, iss)) {
		clr_err_set(
		    e, rc, "discovery_failed", "issuer",
		    "the discovery document's issuer %.120s does not match the well-known URL",
		    iss);
		goto out;
	}
	out->text = json_dumps(out->doc, JSON_COMPACT);
	if (out->text == NULL) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	rc = CLR_OK;
out:
	clr_http_resp_clear(&resp);
	if (rc != CLR_OK)
		disco_clear(out);
	return rc;
}

static void reply_discovery_failed(struct clr_req *r, const struct clr_err *e)
{
	if (e->rc == CLR_ERR_NOMEM || e->rc == CLR_ERR_INTERNAL) {
		clr_resp_fail(r, e);
		return;
	}
	clr_log_req(r, CLR_LOG_INFO, "provider discovery failed: %s", e->msg);
	clr_resp_error(r, 502, "discovery_failed", e->msg);
}

/* Checks what discovery cannot: the combination of the admin's values. */
static enum clr_rc pv_check(const struct pv_vals *v, int has_iat, int has_ics, struct clr_err *e)
{
	enum drv_idp_kind k;
	const struct drv_driver *d;

	if (drv_idp_kind_parse(v->kind, &k) != CLR_OK)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "kind",
				   "kind must be one of other, keycloak, okta, gluu, curity, "
				   "http_bridge, glewlwyd");
	d = drv_get(k);
	if (reg_url_check(v->wk, v->allow_http, "well_known_url", "invalid_request", e) != CLR_OK)
		return CLR_ERR_PARAM;
	if (v->reg_override != NULL &&
	    reg_url_check(v->reg_override, v->allow_http, "registration_endpoint",
			  "invalid_request", e) != CLR_OK)
		return CLR_ERR_PARAM;
	if (k == DRV_IDP_HTTP_BRIDGE && v->reg_override == NULL)
		return clr_err_set(
		    e, CLR_ERR_PARAM, "invalid_request", "registration_endpoint",
		    "an http_bridge provider needs registration_endpoint (the bridge's base URL)");
	if (v->icid != NULL && !has_ics)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "initial_client_id",
				   "initial_client_id and initial_client_secret go together");
	if (v->icid != NULL && d->build_initial_token == NULL)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "initial_client_id",
				   "a %s provider cannot obtain an initial access token with "
				   "client credentials",
				   v->kind);
	if (v->its != NULL && !clr_scope_valid(v->its))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "initial_token_scope",
				   "initial_token_scope must be space-separated scope tokens");
	if (d->build_initial_token != NULL && d->needs_initial_token && v->icid == NULL && !has_iat)
		return clr_err_set(
		    e, CLR_ERR_PARAM, "invalid_request", "initial_client_id",
		    "a %s provider needs initial_client_id and initial_client_secret "
		    "(or initial_access_token)",
		    v->kind);
	if (d->build_initial_token == NULL && d->needs_initial_token && !has_iat)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "initial_access_token",
				   "a %s provider needs initial_access_token", v->kind);
	if (reg_identity_claim_check(v->idc, e) != CLR_OK ||
	    reg_typ_list_check(v->typ, e) != CLR_OK)
		return CLR_ERR_PARAM;
	if (v->tam == NULL || (strcmp(v->tam, "client_secret_basic") != 0 &&
			       strcmp(v->tam, "client_secret_post") != 0))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request",
				   "token_endpoint_auth_method",
				   "token_endpoint_auth_method must be client_secret_basic or "
				   "client_secret_post (how the gateway sends a Basic client's "
				   "id and secret to the token endpoint)");
	if (v->ca != NULL && strstr(v->ca, "-----BEGIN CERTIFICATE-----") == NULL)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "ca_bundle_pem",
				   "ca_bundle_pem must hold PEM certificates");
	return CLR_OK;
}

/* Writes the row (insert when revision == 0) and answers with it. */
static void pv_write(struct clr_req *r, const char *id, const struct pv_vals *v, int revision,
		     int rediscovered, int created)
{
	char revs[16];
	const char *p[24] = {
	    id,
	    v->name,
	    v->kind,
	    v->wk,
	    v->issuer,
	    v->reg_ep,
	    v->reg_override,
	    v->token_ep,
	    v->jwks,
	    v->intro,
	    v->disco_text,
	    v->iat_sealed,
	    v->icid,
	    v->ics_sealed,
	    v->tls_skip ? "true" : "false",
	    v->ca,
	    v->audience,
	    v->allow_http ? "true" : "false",
	    revs,
	    rediscovered ? "true" : "false",
	    v->its,
	    v->idc,
	    v->typ,
	    v->tam,
	};
	PGresult *res = NULL;
	struct clr_err e = {0};
	enum clr_rc rc;

	snprintf(revs, sizeof(revs), "%d", revision);
	if (created) { /* the insert has no revision and rediscovered */
		p[18] = v->its;
		p[19] = v->idc;
		p[20] = v->typ;
		p[21] = v->tam;
	}
	rc = clr_db_exec(r->db, created ? "reg_pv_insert" : "reg_pv_update", created ? 22 : 24, p,
			 &res);
	if (rc == CLR_ERR_CONFLICT) {
		clr_resp_error(r, 409, "conflict", "a provider with this name already exists");
		return;
	}
	if (rc != CLR_OK) {
		clr_err_set(&e, rc, NULL, NULL, "storing the provider failed");
		clr_resp_fail(r, &e);
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		clr_resp_error(r, 409, "conflict",
			       "the provider was changed or deleted meanwhile; read it and retry");
		return;
	}
	clr_log_req(r, CLR_LOG_INFO, "provider %s %s by %s", id, created ? "created" : "updated",
		    r->who.name);
	clr_resp_json(r, created ? 201 : 200, reg_row_json(res, 0));
	PQclear(res);
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

void reg_h_providers_create(struct clr_req *r)
{
	const struct reg_app *app = r->app;
	struct clr_err e = {0};
	struct pv_vals v = {0};
	struct disco d = {0};
	struct clr_http_opts o;
	char id[37];
	char *iat_s = NULL, *ics_s = NULL;
	const char *iat = jstr(r->json, "initial_access_token");
	const char *ics = jstr(r->json, "initial_client_secret");

	v.name = jstr(r->json, "name");
	v.kind = jstr(r->json, "kind");
	v.wk = jstr(r->json, "well_known_url");
	v.reg_override = jstr(r->json, "registration_endpoint");
	v.icid = jstr(r->json, "initial_client_id");
	v.its = jstr(r->json, "initial_token_scope");
	v.idc = jstr(r->json, "identity_claim");
	v.typ = jstr(r->json, "access_token_typ");
	if (v.idc == NULL)
		v.idc = PV_DEFAULT_IDENTITY_CLAIM; /* Okta's cid is the gateway's reading of it */
	if (v.typ == NULL)
		v.typ = PV_DEFAULT_TYP;
	v.tam = jstr(r->json, "token_endpoint_auth_method");
	if (v.tam == NULL)
		v.tam = PV_DEFAULT_TAM;
	v.ca = jstr(r->json, "ca_bundle_pem");
	v.audience = jstr(r->json, "audience");
	v.tls_skip = json_is_true(json_object_get(r->json, "tls_skip_verify"));
	v.allow_http = json_is_true(json_object_get(r->json, "allow_insecure_http"));
	if (pv_check(&v, iat != NULL, ics != NULL, &e) != CLR_OK)
		goto fail;
	reg_provider_http_opts(app->cfg, v.allow_http, v.tls_skip, v.ca, &o);
	if (discover(r->http, &o, v.wk,
		     v.reg_override == NULL && strcmp(v.kind, "http_bridge") != 0, &d,
		     &e) != CLR_OK) {
		reply_discovery_failed(r, &e);
		goto out;
	}
	v.issuer = d.issuer;
	v.reg_ep = v.reg_override != NULL ? v.reg_override : d.registration_endpoint;
	v.token_ep = d.token_endpoint;
	v.jwks = d.jwks_uri;
	v.intro = d.introspection_endpoint;
	v.disco_text = d.text;
	if (clr_uuid_new(id) != CLR_OK) {
		clr_err_set(&e, CLR_ERR_INTERNAL, NULL, NULL, "no randomness for an id");
		goto fail;
	}
	if (reg_seal(app, "providers.initial_access_token", id, iat, &iat_s, &e) != CLR_OK ||
	    reg_seal(app, "providers.initial_client_secret", id, ics, &ics_s, &e) != CLR_OK)
		goto fail;
	v.iat_sealed = iat_s;
	v.ics_sealed = ics_s;
	pv_write(r, id, &v, 0, 1, 1);
	goto out;
fail:
	clr_resp_fail(r, &e);
out:
	free(iat_s);
	free(ics_s);
	disco_clear(&d);
}

void reg_h_providers_list(struct clr_req *r)
{
	PGresult *res = NULL;
	struct clr_err e = {0};
	enum clr_rc rc = clr_db_exec(r->db, "reg_pv_list", 0, NULL, &res);

	if (rc != CLR_OK) {
		clr_err_set(&e, rc, NULL, NULL, "listing providers failed");
		clr_resp_fail(r, &e);
		return;
	}
	clr_resp_json(r, 200, json_pack("{s:o}", "providers", reg_rows_json(res)));
	PQclear(res);
}

void reg_h_providers_get(struct clr_req *r)
{
	reg_get_one(r, "provider", "reg_pv_get");
}

/* Applies a nullable string field of the PATCH body. */
static void patch_str(const json_t *body, const char *key, const char **dst)
{
	json_t *j = json_object_get(body, key);

	if (j != NULL)
		*dst = json_string_value(j); /* NULL for JSON null: cleared */
}

void reg_h_providers_patch(struct clr_req *r)
{
	const struct reg_app *app = r->app;
	const char *id = clr_req_param_id(r, 0, "provider");
	struct reg_provider pv = {0};
	struct clr_err e = {0};
	struct pv_vals v = {0};
	struct disco d = {0};
	struct clr_http_opts o;
	char *iat_s = NULL, *ics_s = NULL;
	json_t *j;
	size_t i;
	int rediscover = 0, has_iat, has_ics;

	if (id == NULL)
		return;
	if (reg_provider_load(app, r->db, id, 0, 0, &pv, &e) != CLR_OK)
		goto fail;
	v.name = pv.name;
	v.kind = drv_idp_kind_name(pv.p.kind);
	v.wk = pv.well_known_url;
	v.issuer = pv.p.issuer;
	v.reg_ep = pv.p.registration_endpoint;
	v.reg_override = pv.registration_endpoint_override;
	v.token_ep = pv.p.token_endpoint;
	v.jwks = pv.jwks_uri;
	v.intro = pv.introspection_endpoint;
	v.disco_text = pv.discovery;
	v.iat_sealed = pv.initial_access_token_sealed;
	v.icid = pv.p.initial_client_id;
	v.its = pv.p.initial_token_scope;
	v.idc = pv.identity_claim;
	v.typ = pv.access_token_typ;
	v.tam = pv.token_endpoint_auth_method;
	v.ics_sealed = pv.initial_client_secret_sealed;
	v.ca = pv.p.http.ca_pem;
	v.audience = pv.audience;
	v.tls_skip = pv.p.http.tls_skip_verify;
	v.allow_http = pv.p.http.allow_http;

	if ((j = json_object_get(r->json, "name")) != NULL)
		v.name = json_string_value(j);
	if ((j = json_object_get(r->json, "kind")) != NULL)
		v.kind = json_string_value(j);
	if ((j = json_object_get(r->json, "well_known_url")) != NULL)
		v.wk = json_string_value(j);
	patch_str(r->json, "registration_endpoint", &v.reg_override);
	patch_str(r->json, "initial_client_id", &v.icid);
	patch_str(r->json, "initial_token_scope", &v.its);
	if ((j = json_object_get(r->json, "identity_claim")) != NULL)
		v.idc = json_string_value(j);
	if ((j = json_object_get(r->json, "access_token_typ")) != NULL)
		v.typ = json_string_value(j);
	if ((j = json_object_get(r->json, "token_endpoint_auth_method")) != NULL)
		v.tam = json_string_value(j);
	patch_str(r->json, "ca_bundle_pem", &v.ca);
	patch_str(r->json, "audience", &v.audience);
	if ((j = json_object_get(r->json, "tls_skip_verify")) != NULL)
		v.tls_skip = json_is_true(j);
	if ((j = json_object_get(r->json, "allow_insecure_http")) != NULL)
		v.allow_http = json_is_true(j);
	if ((j = json_object_get(r->json, "initial_access_token")) != NULL) {
		if (reg_seal(app, "providers.initial_access_token", id, json_string_value(j),
			     &iat_s, &e) != CLR_OK)
			goto fail;
		v.iat_sealed = iat_s;
	}
	if ((j = json_object_get(r->json, "initial_client_secret")) != NULL) {
		if (reg_seal(app, "providers.initial_client_secret", id, json_string_value(j),
			     &ics_s, &e) != CLR_OK)
			goto fail;
		v.ics_sealed = ics_s;
	}
	has_iat = v.iat_sealed != NULL;
	has_ics = v.ics_sealed != NULL;
	if (pv_check(&v, has_iat, has_ics, &e) != CLR_OK)
		goto fail;
	for (i = 0; i < sizeof(rediscover_keys) / sizeof(rediscover_keys[0]); i++)
		if (json_object_get(r->json, rediscover_keys[i]) != NULL)
			rediscover = 1;
	if (rediscover) {
		reg_provider_http_opts(app->cfg, v.allow_http, v.tls_skip, v.ca, &o);
		if (discover(r->http, &o, v.wk,
			     v.reg_override == NULL && strcmp(v.kind, "http_bridge") != 0, &d,
			     &e) != CLR_OK) {
			reply_discovery_failed(r, &e);
			goto out;
		}
		v.issuer = d.issuer;
		v.reg_ep = v.reg_override != NULL ? v.reg_override : d.registration_endpoint;
		v.token_ep = d.token_endpoint;
		v.jwks = d.jwks_uri;
		v.intro = d.introspection_endpoint;
		v.disco_text = d.text;
	}
	pv_write(r, id, &v, pv.revision, rediscover, 0);
	goto out;
fail:
	clr_resp_fail(r, &e);
out:
	free(iat_s);
	free(ics_s);
	disco_clear(&d);
	reg_provider_release(&pv);
}

void reg_h_providers_delete(struct clr_req *r)
{
	const struct reg_app *app = r->app;
	const char *id = clr_req_param_id(r, 0, "provider");
	const char *v[1];
	struct reg_provider pv = {0};
	struct clr_err e = {0};
	PGresult *res = NULL;
	long live;

	if (id == NULL)
		return;
	v[0] = id;
	if (clr_db_begin(r->db) != CLR_OK) {
		clr_err_set(&e, CLR_ERR_DB, NULL, NULL, "database unavailable");
		goto fail;
	}
	/* The row lock also blocks new registrations (their FK takes a key-share lock). */
	if (reg_provider_load(app, r->db, id, 1, 0, &pv, &e) != CLR_OK)
		goto fail;
	if ((e.rc = clr_db_exec(r->db, "reg_pv_live_regs", 1, v, &res)) != CLR_OK)
		goto dbfail;
	live = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (live > 0) {
		clr_err_set(&e, CLR_ERR_CONFLICT, "conflict", NULL,
			    "the provider still has %ld pending, active or orphaned registrations; "
			    "delete them first",
			    live);
		goto fail;
	}
	if ((e.rc = clr_db_exec(r->db, "reg_pv_delete", 1, v, NULL)) != CLR_OK)
		goto dbfail;
	if ((e.rc = clr_db_commit(r->db)) != CLR_OK)
		goto dbfail;
	clr_log_req(r, CLR_LOG_INFO, "provider %s deleted by %s", id, r->who.name);
	clr_resp_empty(r, 204);
	goto out;
dbfail:
	clr_err_set(&e, e.rc, NULL, NULL, "deleting the provider failed");
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	reg_provider_release(&pv);
}

void reg_h_providers_discover(struct clr_req *r)
{
	const struct reg_app *app = r->app;
	const char *id = clr_req_param_id(r, 0, "provider");
	struct reg_provider pv = {0};
	struct clr_err e = {0};
	struct pv_vals v = {0};
	struct disco d = {0};

	if (id == NULL)
		return;
	if (reg_provider_load(app, r->db, id, 0, 0, &pv, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	if (discover(r->http, &pv.p.http, pv.well_known_url,
		     pv.registration_endpoint_override == NULL && pv.p.kind != DRV_IDP_HTTP_BRIDGE,
		     &d, &e) != CLR_OK) {
		reply_discovery_failed(r, &e);
		goto out;
	}
	v.name = pv.name;
	v.kind = drv_idp_kind_name(pv.p.kind);
	v.wk = pv.well_known_url;
	v.issuer = d.issuer;
	v.reg_override = pv.registration_endpoint_override;
	v.reg_ep = v.reg_override != NULL ? v.reg_override : d.registration_endpoint;
	v.token_ep = d.token_endpoint;
	v.jwks = d.jwks_uri;
	v.intro = d.introspection_endpoint;
	v.disco_text = d.text;
	v.iat_sealed = pv.initial_access_token_sealed;
	v.icid = pv.p.initial_client_id;
	v.its = pv.p.initial_token_scope;
	v.idc = pv.identity_claim;
	v.typ = pv.access_token_typ;
	v.tam = pv.token_endpoint_auth_method;
	v.ics_sealed = pv.initial_client_secret_sealed;
	v.ca = pv.p.http.ca_pem;
	v.audience = pv.audience;
	v.tls_skip = pv.p.http.tls_skip_verify;
	v.allow_http = pv.p.http.allow_http;
	pv_write(r, id, &v, pv.revision, 1, 0);
out:
	disco_clear(&d);
	reg_provider_release(&pv);
}

/* ---- verify ---- */

static int add_check(json_t *checks, const char *name, int ok, const char *detail)
{
	json_t *c = json_pack("{s:s, s:b}", "name", name, "ok", ok);

	if (c != NULL && detail != NULL)
		json_object_set_new(c, "detail", json_string(detail));
	json_array_append_new(checks, c);
	return ok;
}

static int check_jwks(struct clr_http_client *c, const struct clr_http_opts *o, const char *url,
		      char *detail, size_t dlen)
{
	static const struct clr_http_header h[] = {
	    {"Accept", "application/jwk-set+json, application/json"},
	};
	struct clr_http_resp resp = {0};
	struct clr_err he = {0};
	json_t *doc = NULL, *keys;
	int ok = 0;

	if (clr_http_do(c, o, "GET", url, h, 1, NULL, 0, &resp, &he) != CLR_OK) {
		snprintf(detail, dlen, "fetching the JWKS failed: %s", he.msg);
		return 0;
	}
	if (resp.status != 200) {
		snprintf(detail, dlen, "the JWKS URI answered HTTP %ld", resp.status);
		goto out;
	}
	doc = json_loadb(resp.body, resp.body_len, JSON_REJECT_DUPLICATES, NULL);
	keys = json_object_get(doc, "keys");
	if (!clr_http_is_json(&resp) || !json_is_array(keys)) {
		snprintf(detail, dlen, "the JWKS URI did not answer a JSON key set");
		goto out;
	}
	if (json_array_size(keys) == 0) {
		snprintf(detail, dlen, "the key set is empty");
		goto out;
	}
	snprintf(detail, dlen, "%zu keys", json_array_size(keys));
	ok = 1;
out:
	json_decref(doc);
	clr_http_resp_clear(&resp);
	return ok;
}

/* Something learnt that is neither a pass nor a failure: {"name", "detail"}. */
static void add_note(json_t *notes, const char *name, const char *detail)
{
	json_array_append_new(notes, json_pack("{s:s, s:s}", "name", name, "detail", detail));
}

/* The scope the pre-step asks for, as drv_cc_build_initial_token does. */
static const char *asked_scope(const struct drv_provider *p)
{
	if (p->initial_token_scope != NULL && p->initial_token_scope[0] != '\0')
		return p->initial_token_scope;
	return p->kind == DRV_IDP_CURITY ? "dcr" : NULL;
}

/*
 * The token check's words: which scope was asked for and granted, and how
 * long the token lives (what the cache keeps it for).
 */
static void token_detail(const struct drv_provider *p, const struct clr_http_resp *tresp,
			 char *detail, size_t dlen)
{
	json_t *o = tresp->body != NULL ? json_loadb(tresp->body, tresp->body_len, 0, NULL) : NULL;
	const char *granted = json_string_value(json_object_get(o, "scope"));
	json_t *exp = json_object_get(o, "expires_in");
	const char *asked = asked_scope(p);
	char life[120];

	if (json_is_integer(exp) && drv_itc_ttl((long)json_integer_value(exp)) > 0)
		snprintf(life, sizeof(life), "expires in %lld s; registrations reuse it for %ld s",
			 json_integer_value(exp), drv_itc_ttl((long)json_integer_value(exp)));
	else if (json_is_integer(exp))
		snprintf(life, sizeof(life), "expires in %lld s; too short to reuse",
			 json_integer_value(exp));
	else
		snprintf(life, sizeof(life), "no expires_in: fetched anew for every registration");
	snprintf(detail, dlen,
		 "the token endpoint issued a registration token by client credentials (scope "
		 "asked: %.60s%s%.60s; %s)",
		 asked != NULL ? asked : "none", granted != NULL ? ", granted: " : "",
		 granted != NULL ? granted : "", life);
	json_decref(o);
}

/* The verify answer quotes the IdP, which may echo the credentials we sent. */
static void probe_redact(struct clr_err *e, const struct reg_provider *pv, const char *bearer)
{
	drv_redact(e, pv->p.initial_access_token);
	drv_redact(e, pv->p.initial_client_secret);
	drv_redact(e, bearer);
}

/*
 * Sends a deliberately invalid RFC 7591 request (redirect_uris not an
 * array) with the provider's credentials: a 400 means the credentials were
 * accepted and nothing was created, a 401/403 that they were refused.
 */
static void probe_registration(struct clr_http_client *c, const struct reg_provider *pv,
			       json_t *checks, json_t *notes)
{
	const struct drv_driver *d = drv_get(pv->p.kind);
	struct drv_wire_req w = {0}, tw = {0};
	struct clr_http_resp resp = {0}, tresp = {0};
	struct drv_reg_result res = {0};
	struct clr_err e = {0};
	struct drv_client_type ct = {0};
	struct drv_reg_input in = {0};
	struct clr_http_header h[3];
	json_t *gt = json_pack("[s]", "client_credentials"), *rt = json_array();
	char *token = NULL, *body = NULL, detail[300], code[64];
	const char *bearer = pv->p.initial_access_token, *tname = "initial_access_token";
	size_t nh = 0;

	if (pv->p.registration_endpoint == NULL) {
		add_check(checks, "registration_endpoint", 0,
			  "the provider has no registration endpoint");
		goto out;
	}
	if (d->build_initial_token != NULL && pv->p.initial_client_id != NULL) {
		tname = "initial_client_credentials";
		if (d->build_initial_token(&pv->p, &tw, &e) != CLR_OK ||
		    clr_http_do(c, &pv->p.http, tw.method, tw.url,
				(struct clr_http_header[]){
				    {"Content-Type", "application/x-www-form-urlencoded"},
				    {tw.auth_name, tw.auth_value}},
				tw.auth_name != NULL ? 2 : 1, tw.form,
				tw.form != NULL ? strlen(tw.form) : 0, &tresp, &e) != CLR_OK ||
		    d->parse_initial_token(&tresp, &token, &e) != CLR_OK) {
			probe_redact(&e, pv, NULL);
			snprintf(detail, sizeof(detail),
				 "%.200s (client credentials, scope asked: %.60s)", e.msg,
				 asked_scope(&pv->p) != NULL ? asked_scope(&pv->p) : "none");
			add_check(checks, "initial_token", 0, detail);
			goto out;
		}
		token_detail(&pv->p, &tresp, detail, sizeof(detail));
		add_check(checks, "initial_token", 1, detail);
		if (drv_itc_is_single_use(&pv->p))
			add_note(notes, "initial_token_single_use",
				 "a cached token was refused after its first use: this IdP's "
				 "tokens are single-use, so one is fetched for every registration");
		bearer = token;
	}
	if (pv->p.kind == DRV_IDP_GLEWLWYD)
		add_note(notes, "redirect_placeholder",
			 "Glewlwyd refuses a registration without redirect_uris: client types "
			 "without redirect URIs register with [" DRV_PLACEHOLDER_REDIRECT_URI
			 "], which can never be reached");
	if (pv->p.kind == DRV_IDP_OKTA || pv->p.kind == DRV_IDP_HTTP_BRIDGE)
		add_note(notes, "rfc7592_management",
			 "registrations are managed with the provider's own credential");
	ct.response_types = rt;
	ct.grant_types = gt;
	ct.token_endpoint_auth_method = "client_secret_basic";
	ct.okta_application_type = "service";
	in.client_name = "clearance verify probe";
	in.redirect_uris = rt;
	if (d->build(DRV_OP_REGISTER, &pv->p, &ct, &in, NULL, bearer, &w, &e) != CLR_OK) {
		add_check(checks, "registration_endpoint", 0, e.msg);
		goto out;
	}
	/*
	 * Well-formed JSON an RFC 7591 IdP must refuse with 400
	 * (invalid_redirect_uri): a redirect URI with a fragment (RFC 6749
	 * s.3.1.2).  Not a malformed body: some IdPs crash (500) on a type error.
	 */
	json_decref(w.json);
	w.json = json_pack("{s:s, s:[s], s:[s], s:[s]}", "client_name", "clearance verify probe",
			   "redirect_uris", "https://clearance.invalid/verify-probe#fragment",
			   "grant_types", "authorization_code", "response_types", "code");
	body = w.json != NULL ? json_dumps(w.json, JSON_COMPACT) : NULL;
	h[nh++] = (struct clr_http_header){"Accept", "application/json"};
	h[nh++] = (struct clr_http_header){"Content-Type", "application/json"};
	if (w.auth_name != NULL)
		h[nh++] = (struct clr_http_header){w.auth_name, w.auth_value};
	if (body == NULL || clr_http_do(c, &pv->p.http, "POST", w.url, h, nh, body, strlen(body),
					&resp, &e) != CLR_OK) {
		add_check(checks, "registration_endpoint", 0,
			  body == NULL ? "out of memory" : e.msg);
		goto out;
	}
	if (resp.status == 404 || resp.status == 405) {
		snprintf(detail, sizeof(detail),
			 "the registration endpoint answered HTTP %ld: no registration there",
			 resp.status);
		add_check(checks, "registration_endpoint", 0, detail);
		goto out;
	}
	if (resp.status >= 500) {
		/* Learnt: something answers and did not refuse the credentials; no more. */
		snprintf(detail, sizeof(detail),
			 "the registration endpoint answered HTTP %ld to an invalid request (it "
			 "should be 400): it is there, but whether it accepts the %s is unknown",
			 resp.status, bearer != NULL ? "credentials" : "open registration");
		add_check(checks, "registration_endpoint", 0, detail);
		goto out;
	}
	(void)drv_parse_error(&resp, &e);
	snprintf(code, sizeof(code), "%s", e.error[0] != '\0' ? e.error : "no error code");
	snprintf(detail, sizeof(detail),
		 "reachable: HTTP %ld (%s) to a deliberately invalid request%s", resp.status,
		 resp.status >= 200 && resp.status < 300    ? "created a client"
		 : resp.status == 401 || resp.status == 403 ? "credentials refused"
							    : code,
		 resp.status == 400 ? ", as RFC 7591 wants" : "");
	add_check(checks, "registration_endpoint", 1, detail);
	if (resp.status == 401 || resp.status == 403) {
		(void)drv_parse_error(&resp, &e);
		probe_redact(&e, pv, bearer);
		snprintf(detail, sizeof(detail), "%s: %s",
			 bearer != NULL ? "the IdP refused the credentials"
					: "the IdP requires an initial access token",
			 e.msg);
		add_check(checks, tname, 0, detail);
	} else if (resp.status >= 200 && resp.status < 300) {
		/* A lax IdP created a client from the probe: remove it again. */
		int parsed = d->parse(DRV_OP_REGISTER, &pv->p, &resp, &res, &e) == CLR_OK;
		int manageable =
		    parsed && res.registration_access_token != NULL &&
		    drv_check_client_uri(&pv->p, res.registration_client_uri, &e) == CLR_OK;
		int gone =
		    parsed &&
		    drv_delete(c, &pv->p,
			       &(struct drv_reg_ref){res.client_id, res.registration_client_uri,
						     res.registration_access_token},
			       &e) == CLR_OK;

		if (parsed && pv->p.kind != DRV_IDP_OKTA && pv->p.kind != DRV_IDP_HTTP_BRIDGE)
			add_check(checks, "rfc7592_management", manageable,
				  manageable
				      ? "the probe client came with a registration access "
					"token and a usable registration_client_uri"
				      : "the probe client came without a registration access "
					"token or with a registration_client_uri elsewhere: "
					"registrations cannot be updated or deleted here");
		add_check(checks, tname, 1,
			  gone ? "accepted (the IdP created a probe client despite invalid "
				 "metadata; it was deleted)"
			       : "accepted (the IdP created a probe client despite invalid "
				 "metadata and it could not be deleted)");
	} else {
		snprintf(detail, sizeof(detail),
			 bearer != NULL ? "accepted (a deliberately invalid request got HTTP %ld; "
					  "nothing was created)"
					: "open registration works without a token (HTTP %ld to a "
					  "deliberately invalid request)",
			 resp.status);
		add_check(checks, tname, 1, detail);
		if (pv->p.kind != DRV_IDP_OKTA && pv->p.kind != DRV_IDP_HTTP_BRIDGE)
			add_note(notes, "rfc7592_management",
				 "not knowable without creating a client: whether the IdP issues "
				 "a registration access token shows on the first registration "
				 "(idp_manageable and warnings)");
	}
out:
	json_decref(gt);
	json_decref(rt);
	free(body);
	if (token != NULL)
		clr_unsealed_free(token, strlen(token));
	drv_reg_result_clear(&res);
	clr_http_resp_clear(&resp);
	clr_http_resp_clear(&tresp);
	drv_wire_req_clear(&w);
	drv_wire_req_clear(&tw);
}

void reg_h_providers_verify(struct clr_req *r)
{
	const struct reg_app *app = r->app;
	const char *id = clr_req_param_id(r, 0, "provider");
	struct reg_provider pv = {0};
	struct clr_err e = {0};
	struct disco d = {0};
	json_t *checks = NULL, *notes = NULL;
	char detail[300];
	const char *jwks;
	size_t i;
	int all = 1;

	if (id == NULL)
		return;
	if (reg_provider_load(app, r->db, id, 0, 1, &pv, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	checks = json_array();
	notes = json_array();
	if (discover(r->http, &pv.p.http, pv.well_known_url, 0, &d, &e) != CLR_OK) {
		add_check(checks, "discovery", 0, e.msg);
	} else if (strcmp(d.issuer, pv.p.issuer) != 0) {
		snprintf(detail, sizeof(detail),
			 "the issuer is now %.100s (stored %.100s): run discover", d.issuer,
			 pv.p.issuer);
		add_check(checks, "discovery", 0, detail);
	} else {
		add_check(checks, "discovery", 1, "the discovery document is valid");
	}
	jwks = d.jwks_uri != NULL ? d.jwks_uri : pv.jwks_uri;
	add_check(checks, "jwks", check_jwks(r->http, &pv.p.http, jwks, detail, sizeof(detail)),
		  detail);
	probe_registration(r->http, &pv, checks, notes);
	for (i = 0; i < json_array_size(checks); i++)
		if (!json_is_true(json_object_get(json_array_get(checks, i), "ok")))
			all = 0;
	clr_resp_json(r, 200,
		      json_pack("{s:s, s:b, s:o, s:o}", "provider_id", id, "ok", all, "checks",
				checks, "notes", notes));
	disco_clear(&d);
	reg_provider_release(&pv);
}
