/*
 * test_drivers.c - the IdP drivers: the exact request each builds for
 * every operation and two client types (client-credentials-only, and
 * authorization code with refresh tokens), their parsing of the vendors'
 * documented responses and error bodies, and the whole exchange against the
 * in-process stub HTTP server.
 *
 * The response bodies are modelled on the vendors' published examples
 * (oidc-provider as observed, Keycloak's OIDC client registration, Okta's
 * /oauth2/v1/clients, Gluu oxAuth, Curity, Kong's HTTP DCR bridge spec);
 * every secret in them is made up.
 */
#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clearance/http_out.h"
#include "stub_http.h"
#include "../../services/registrar/driver.h"
#include "../../services/registrar/token_cache.h"

/* ---- fixtures: two client types, two inputs, one provider per kind ---- */

enum { CT_CC, CT_CODE, CT__MAX };

static json_t *rt_cc, *gt_cc, *rt_code, *gt_code, *ru_none, *ru_code;
static struct drv_client_type cts[CT__MAX];
static struct drv_reg_input ins[CT__MAX];

static void types_setup(void)
{
	rt_cc = json_array();
	gt_cc = json_pack("[s]", "client_credentials");
	rt_code = json_pack("[s]", "code");
	gt_code = json_pack("[ss]", "authorization_code", "refresh_token");
	ru_none = json_array();
	ru_code = json_pack("[s]", "https://app.example.com/cb");
	ck_assert_ptr_nonnull(rt_cc);
	ck_assert_ptr_nonnull(gt_code);
	ck_assert_ptr_nonnull(ru_code);
	cts[CT_CC] = (struct drv_client_type){rt_cc, gt_cc, "client_secret_basic", NULL, NULL};
	cts[CT_CODE] = (struct drv_client_type){rt_code, gt_code, "client_secret_post", NULL,
						"7c9e6679-7425-40de-944b-e07fc1f90ae7"};
	ins[CT_CC] =
	    (struct drv_reg_input){"Payments backend", ru_none, "product_payments free_plan", NULL};
	ins[CT_CODE] =
	    (struct drv_reg_input){"Payments web", ru_code, "product_payments free_plan", NULL};
}

static void types_teardown(void)
{
	json_decref(rt_cc);
	json_decref(gt_cc);
	json_decref(rt_code);
	json_decref(gt_code);
	json_decref(ru_none);
	json_decref(ru_code);
}

static const struct drv_provider provs[DRV_IDP__MAX] = {
    [DRV_IDP_OTHER] = {.kind = DRV_IDP_OTHER,
		       .issuer = "https://idp.example.com",
		       .registration_endpoint = "https://idp.example.com/reg",
		       .initial_access_token = "iat-other-123"},
    /* No registration_endpoint: the driver derives Keycloak's layout. */
    [DRV_IDP_KEYCLOAK] = {.kind = DRV_IDP_KEYCLOAK,
			  .issuer = "https://kc.example.com/realms/dcr",
			  .initial_access_token = "kc-iat-456"},
    /* No registration_endpoint: the org URL comes from the issuer. */
    [DRV_IDP_OKTA] = {.kind = DRV_IDP_OKTA,
		      .issuer = "https://dev-123.okta.com/oauth2/default",
		      .initial_access_token = "00okta-api-token"},
    [DRV_IDP_GLUU] = {.kind = DRV_IDP_GLUU,
		      .issuer = "https://gluu.example.com",
		      .registration_endpoint = "https://gluu.example.com/oxauth/restv1/register"},
    [DRV_IDP_CURITY] = {.kind = DRV_IDP_CURITY,
			.issuer = "https://curity.example.com/oauth/v2/oauth-anonymous",
			.registration_endpoint =
			    "https://curity.example.com/token-service/oauth-registration",
			.token_endpoint = "https://curity.example.com/oauth/v2/oauth-token",
			.initial_client_id = "dcr-client",
			.initial_client_secret = "s3cr:t&x y"},
    [DRV_IDP_HTTP_BRIDGE] = {.kind = DRV_IDP_HTTP_BRIDGE,
			     .id = "5f0c1d2e-3a4b-4c5d-8e9f-a0b1c2d3e4f5",
			     .registration_endpoint = "https://bridge.example.com/dcr",
			     .initial_access_token = "bridge-key-abc"},
};

static const struct drv_reg_ref ref42 = {"client-42", NULL, "rat-xyz"};

/* ---- expected requests ---- */

#define RFC_CC                                                                                     \
	"\"client_name\":\"Payments backend\",\"response_types\":[],"                              \
	"\"grant_types\":[\"client_credentials\"],\"token_endpoint_auth_method\":\"client_secret_" \
	"basic\","                                                                                 \
	"\"scope\":\"product_payments free_plan\""
#define RFC_CODE                                                                                   \
	"\"client_name\":\"Payments web\",\"redirect_uris\":[\"https://app.example.com/cb\"],"     \
	"\"response_types\":[\"code\"],\"grant_types\":[\"authorization_code\",\"refresh_token\"]" \
	","                                                                                        \
	"\"token_endpoint_auth_method\":\"client_secret_post\",\"scope\":\"product_payments "      \
	"free_plan\""
#define OKTA_CC                                                                                    \
	"\"client_name\":\"Payments backend\",\"response_types\":[\"token\"],"                     \
	"\"grant_types\":[\"client_credentials\"],\"token_endpoint_auth_method\":\"client_secret_" \
	"basic\","                                                                                 \
	"\"application_type\":\"service\""
#define OKTA_CODE                                                                                  \
	"\"client_name\":\"Payments web\",\"redirect_uris\":[\"https://app.example.com/cb\"],"     \
	"\"response_types\":[\"code\"],\"grant_types\":[\"authorization_code\",\"refresh_token\"]" \
	","                                                                                        \
	"\"token_endpoint_auth_method\":\"client_secret_post\",\"application_type\":\"web\""
/*
 * Kong's reference bridge validates a closed schema that also requires
 * application_description and five uuids (see drv_http_bridge.c).
 */
#define BRIDGE_NIL "\"00000000-0000-0000-0000-000000000000\""
#define BRIDGE_IDS(desc, strategy)                                                                 \
	"\"application_description\":\"" desc "\",\"portal_id\":" BRIDGE_NIL                       \
	",\"organization_id\":" BRIDGE_NIL ",\"developer_id\":" BRIDGE_NIL                         \
	",\"auth_strategy_id\":" strategy                                                          \
	",\"dcr_provider_id\":\"5f0c1d2e-3a4b-4c5d-8e9f-a0b1c2d3e4f5\""
#define BRIDGE_CC                                                                                  \
	"{\"client_name\":\"Payments backend\",\"redirect_uris\":[],"                              \
	"\"grant_types\":[\"client_credentials\"],\"token_endpoint_auth_method\":\"client_secret_" \
	"basic\","                                                                                 \
	"\"scopes\":[\"product_payments\",\"free_plan\"]," BRIDGE_IDS("Payments backend",          \
								      BRIDGE_NIL) "}"
#define BRIDGE_CODE                                                                                \
	"{\"client_name\":\"Payments web\",\"redirect_uris\":[\"https://app.example.com/cb\"],"    \
	"\"grant_types\":[\"authorization_code\",\"refresh_token\"],"                              \
	"\"token_endpoint_auth_method\":\"client_secret_post\","                                   \
	"\"scopes\":[\"product_payments\",\"free_plan\"]," BRIDGE_IDS(                             \
	    "Payments web", "\"7c9e6679-7425-40de-944b-e07fc1f90ae7\"") "}"
#define WITH_ID ",\"client_id\":\"client-42\"}"

#define KC_REG "https://kc.example.com/realms/dcr/clients-registrations/openid-connect"
#define OKTA_CLIENTS "https://dev-123.okta.com/oauth2/v1/clients"

struct build_case {
	enum drv_idp_kind kind;
	int ct;
	enum drv_op op;
	enum clr_rc rc; /* CLR_OK, or the refusal expected */
	const char *method;
	const char *url;
	const char *auth_name; /* NULL = no auth header */
	const char *auth_value;
	const char *body; /* JSON text or NULL */
};

static const struct build_case build_cases[] = {
    /* other: RFC 7591 / 7592 */
    {DRV_IDP_OTHER, CT_CC, DRV_OP_REGISTER, CLR_OK, "POST", "https://idp.example.com/reg",
     "Authorization", "Bearer iat-other-123", "{" RFC_CC "}"},
    {DRV_IDP_OTHER, CT_CODE, DRV_OP_REGISTER, CLR_OK, "POST", "https://idp.example.com/reg",
     "Authorization", "Bearer iat-other-123", "{" RFC_CODE "}"},
    {DRV_IDP_OTHER, CT_CC, DRV_OP_UPDATE, CLR_OK, "PUT", "https://idp.example.com/reg/client-42",
     "Authorization", "Bearer rat-xyz", "{" RFC_CC WITH_ID},
    {DRV_IDP_OTHER, CT_CODE, DRV_OP_UPDATE, CLR_OK, "PUT", "https://idp.example.com/reg/client-42",
     "Authorization", "Bearer rat-xyz", "{" RFC_CODE WITH_ID},
    {DRV_IDP_OTHER, CT_CC, DRV_OP_DELETE, CLR_OK, "DELETE", "https://idp.example.com/reg/client-42",
     "Authorization", "Bearer rat-xyz", NULL},
    {DRV_IDP_OTHER, CT_CC, DRV_OP_ROTATE, CLR_ERR_CONFLICT, NULL, NULL, NULL, NULL, NULL},
    /* keycloak */
    {DRV_IDP_KEYCLOAK, CT_CC, DRV_OP_REGISTER, CLR_OK, "POST", KC_REG, "Authorization",
     "Bearer kc-iat-456", "{" RFC_CC "}"},
    {DRV_IDP_KEYCLOAK, CT_CODE, DRV_OP_REGISTER, CLR_OK, "POST", KC_REG, "Authorization",
     "Bearer kc-iat-456", "{" RFC_CODE "}"},
    {DRV_IDP_KEYCLOAK, CT_CC, DRV_OP_UPDATE, CLR_OK, "PUT", KC_REG "/client-42", "Authorization",
     "Bearer rat-xyz", "{" RFC_CC WITH_ID},
    {DRV_IDP_KEYCLOAK, CT_CODE, DRV_OP_UPDATE, CLR_OK, "PUT", KC_REG "/client-42", "Authorization",
     "Bearer rat-xyz", "{" RFC_CODE WITH_ID},
    {DRV_IDP_KEYCLOAK, CT_CODE, DRV_OP_DELETE, CLR_OK, "DELETE", KC_REG "/client-42",
     "Authorization", "Bearer rat-xyz", NULL},
    {DRV_IDP_KEYCLOAK, CT_CC, DRV_OP_ROTATE, CLR_ERR_CONFLICT, NULL, NULL, NULL, NULL, NULL},
    /* okta */
    {DRV_IDP_OKTA, CT_CC, DRV_OP_REGISTER, CLR_OK, "POST", OKTA_CLIENTS, "Authorization",
     "SSWS 00okta-api-token", "{" OKTA_CC "}"},
    {DRV_IDP_OKTA, CT_CODE, DRV_OP_REGISTER, CLR_OK, "POST", OKTA_CLIENTS, "Authorization",
     "SSWS 00okta-api-token", "{" OKTA_CODE "}"},
    {DRV_IDP_OKTA, CT_CC, DRV_OP_UPDATE, CLR_OK, "PUT", OKTA_CLIENTS "/client-42", "Authorization",
     "SSWS 00okta-api-token", "{" OKTA_CC WITH_ID},
    {DRV_IDP_OKTA, CT_CODE, DRV_OP_UPDATE, CLR_OK, "PUT", OKTA_CLIENTS "/client-42",
     "Authorization", "SSWS 00okta-api-token", "{" OKTA_CODE WITH_ID},
    {DRV_IDP_OKTA, CT_CC, DRV_OP_DELETE, CLR_OK, "DELETE", OKTA_CLIENTS "/client-42",
     "Authorization", "SSWS 00okta-api-token", NULL},
    {DRV_IDP_OKTA, CT_CC, DRV_OP_ROTATE, CLR_OK, "POST",
     OKTA_CLIENTS "/client-42/lifecycle/newSecret", "Authorization", "SSWS 00okta-api-token", NULL},
    /* gluu: no initial token configured, so none is sent */
    {DRV_IDP_GLUU, CT_CC, DRV_OP_REGISTER, CLR_OK, "POST",
     "https://gluu.example.com/oxauth/restv1/register", NULL, NULL, "{" RFC_CC "}"},
    {DRV_IDP_GLUU, CT_CODE, DRV_OP_REGISTER, CLR_OK, "POST",
     "https://gluu.example.com/oxauth/restv1/register", NULL, NULL, "{" RFC_CODE "}"},
    {DRV_IDP_GLUU, CT_CC, DRV_OP_UPDATE, CLR_OK, "PUT",
     "https://gluu.example.com/oxauth/restv1/register?client_id=client-42", "Authorization",
     "Bearer rat-xyz", "{" RFC_CC WITH_ID},
    {DRV_IDP_GLUU, CT_CODE, DRV_OP_UPDATE, CLR_OK, "PUT",
     "https://gluu.example.com/oxauth/restv1/register?client_id=client-42", "Authorization",
     "Bearer rat-xyz", "{" RFC_CODE WITH_ID},
    {DRV_IDP_GLUU, CT_CC, DRV_OP_DELETE, CLR_OK, "DELETE",
     "https://gluu.example.com/oxauth/restv1/register?client_id=client-42", "Authorization",
     "Bearer rat-xyz", NULL},
    {DRV_IDP_GLUU, CT_CC, DRV_OP_ROTATE, CLR_ERR_CONFLICT, NULL, NULL, NULL, NULL, NULL},
    /* curity: the register bearer is the pre-step's token (see below) */
    {DRV_IDP_CURITY, CT_CC, DRV_OP_REGISTER, CLR_OK, "POST",
     "https://curity.example.com/token-service/oauth-registration", "Authorization",
     "Bearer curity-at-789", "{" RFC_CC "}"},
    {DRV_IDP_CURITY, CT_CODE, DRV_OP_REGISTER, CLR_OK, "POST",
     "https://curity.example.com/token-service/oauth-registration", "Authorization",
     "Bearer curity-at-789", "{" RFC_CODE "}"},
    {DRV_IDP_CURITY, CT_CC, DRV_OP_UPDATE, CLR_OK, "PUT",
     "https://curity.example.com/token-service/oauth-registration/client-42", "Authorization",
     "Bearer rat-xyz", "{" RFC_CC WITH_ID},
    {DRV_IDP_CURITY, CT_CODE, DRV_OP_UPDATE, CLR_OK, "PUT",
     "https://curity.example.com/token-service/oauth-registration/client-42", "Authorization",
     "Bearer rat-xyz", "{" RFC_CODE WITH_ID},
    {DRV_IDP_CURITY, CT_CC, DRV_OP_DELETE, CLR_OK, "DELETE",
     "https://curity.example.com/token-service/oauth-registration/client-42", "Authorization",
     "Bearer rat-xyz", NULL},
    {DRV_IDP_CURITY, CT_CC, DRV_OP_ROTATE, CLR_ERR_CONFLICT, NULL, NULL, NULL, NULL, NULL},
    /* Kong HTTP DCR bridge */
    {DRV_IDP_HTTP_BRIDGE, CT_CC, DRV_OP_REGISTER, CLR_OK, "POST", "https://bridge.example.com/dcr/",
     "X-API-KEY", "bridge-key-abc", BRIDGE_CC},
    {DRV_IDP_HTTP_BRIDGE, CT_CODE, DRV_OP_REGISTER, CLR_OK, "POST",
     "https://bridge.example.com/dcr/", "X-API-KEY", "bridge-key-abc", BRIDGE_CODE},
    {DRV_IDP_HTTP_BRIDGE, CT_CC, DRV_OP_UPDATE, CLR_ERR_CONFLICT, NULL, NULL, NULL, NULL, NULL},
    {DRV_IDP_HTTP_BRIDGE, CT_CODE, DRV_OP_UPDATE, CLR_ERR_CONFLICT, NULL, NULL, NULL, NULL, NULL},
    {DRV_IDP_HTTP_BRIDGE, CT_CC, DRV_OP_DELETE, CLR_OK, "DELETE",
     "https://bridge.example.com/dcr/client-42", "X-API-KEY", "bridge-key-abc", NULL},
    {DRV_IDP_HTTP_BRIDGE, CT_CC, DRV_OP_ROTATE, CLR_OK, "POST",
     "https://bridge.example.com/dcr/client-42/new-secret", "X-API-KEY", "bridge-key-abc", NULL},
};

#define N_BUILD (int)(sizeof(build_cases) / sizeof(build_cases[0]))

static void assert_json_text(const json_t *got, const char *want_text)
{
	json_error_t jerr;
	json_t *want = json_loads(want_text, JSON_REJECT_DUPLICATES, &jerr);
	char *g;

	ck_assert_msg(want != NULL, "bad expected JSON: %s", jerr.text);
	ck_assert_ptr_nonnull(got);
	g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_msg(json_equal(got, want), "body %s, want %s", g, want_text);
	free(g);
	json_decref(want);
}

START_TEST(test_build_exact)
{
	const struct build_case *bc = &build_cases[_i];
	const struct drv_provider *p = &provs[bc->kind];
	const struct drv_driver *d = drv_get(bc->kind);
	struct drv_wire_req w = {0};
	struct clr_err e = {0};
	const char *bearer = bc->kind == DRV_IDP_CURITY ? "curity-at-789" : p->initial_access_token;
	enum clr_rc rc;

	ck_assert_ptr_nonnull(d);
	rc = d->build(bc->op, p,
		      bc->op == DRV_OP_DELETE || bc->op == DRV_OP_ROTATE ? NULL : &cts[bc->ct],
		      bc->op == DRV_OP_DELETE || bc->op == DRV_OP_ROTATE ? NULL : &ins[bc->ct],
		      bc->op == DRV_OP_REGISTER ? NULL : &ref42,
		      bc->op == DRV_OP_REGISTER ? bearer : NULL, &w, &e);
	ck_assert_msg(rc == bc->rc, "case %d (%s op %d): rc %s, want %s: %s", _i,
		      drv_idp_kind_name(bc->kind), bc->op, clr_rc_name(rc), clr_rc_name(bc->rc),
		      e.msg);
	if (bc->rc != CLR_OK) {
		ck_assert_str_ne(e.msg, "");
		ck_assert_ptr_null(w.url);
		return;
	}
	ck_assert_str_eq(w.method, bc->method);
	ck_assert_str_eq(w.url, bc->url);
	if (bc->auth_name == NULL) {
		ck_assert_ptr_null(w.auth_name);
		ck_assert_ptr_null(w.auth_value);
	} else {
		ck_assert_str_eq(w.auth_name, bc->auth_name);
		ck_assert_str_eq(w.auth_value, bc->auth_value);
	}
	if (bc->body == NULL)
		ck_assert_ptr_null(w.json);
	else
		assert_json_text(w.json, bc->body);
	ck_assert_ptr_null(w.form);
	drv_wire_req_clear(&w);
	ck_assert_ptr_null(w.url);
}
END_TEST

START_TEST(test_curity_prestep)
{
	const struct drv_driver *d = drv_get(DRV_IDP_CURITY);
	struct drv_wire_req w = {0};
	struct clr_err e = {0};
	struct drv_provider p = provs[DRV_IDP_CURITY];

	ck_assert_ptr_nonnull(d->build_initial_token);
	ck_assert_int_eq(d->build_initial_token(&p, &w, &e), CLR_OK);
	ck_assert_str_eq(w.method, "POST");
	ck_assert_str_eq(w.url, "https://curity.example.com/oauth/v2/oauth-token");
	ck_assert_str_eq(w.auth_name, "Authorization");
	/*
	 * base64("dcr-client:s3cr%3At%26x+y"): both halves form-urlencoded first
	 * by the common encoder (form.h), a space as '+' (RFC 6749 appendix B).
	 */
	ck_assert_str_eq(w.auth_value, "Basic ZGNyLWNsaWVudDpzM2NyJTNBdCUyNngreQ==");
	ck_assert_str_eq(w.form, "grant_type=client_credentials&scope=dcr");
	ck_assert_ptr_null(w.json);
	drv_wire_req_clear(&w);

	p.initial_client_secret = NULL;
	ck_assert_int_eq(d->build_initial_token(&p, &w, &e), CLR_ERR_CONFLICT);
	ck_assert_ptr_null(w.url);
}
END_TEST

/* ---- URL derivations and input checks ---- */

START_TEST(test_urls)
{
	struct drv_provider p;
	struct drv_wire_req w = {0};
	struct clr_err e = {0};
	const struct drv_reg_ref odd = {"a/b c?d", NULL, "rat"};
	const struct drv_reg_ref stored = {"client-42",
					   "https://idp.example.com/manage/client-42?x=1", "rat"};

	/* Okta: any custom authorization server suffix goes; an Okta registration_endpoint wins. */
	p = provs[DRV_IDP_OKTA];
	p.issuer = "https://acme.okta.com/oauth2/aus1abcd/";
	ck_assert_int_eq(
	    drv_get(DRV_IDP_OKTA)->build(DRV_OP_DELETE, &p, NULL, NULL, &ref42, NULL, &w, &e),
	    CLR_OK);
	ck_assert_str_eq(w.url, "https://acme.okta.com/oauth2/v1/clients/client-42");
	drv_wire_req_clear(&w);
	p.issuer = "https://acme.okta.com";
	ck_assert_int_eq(
	    drv_get(DRV_IDP_OKTA)->build(DRV_OP_DELETE, &p, NULL, NULL, &ref42, NULL, &w, &e),
	    CLR_OK);
	ck_assert_str_eq(w.url, "https://acme.okta.com/oauth2/v1/clients/client-42");
	drv_wire_req_clear(&w);
	p.registration_endpoint = "https://login.acme.com/oauth2/v1/clients";
	ck_assert_int_eq(
	    drv_get(DRV_IDP_OKTA)->build(DRV_OP_DELETE, &p, NULL, NULL, &ref42, NULL, &w, &e),
	    CLR_OK);
	ck_assert_str_eq(w.url, "https://login.acme.com/oauth2/v1/clients/client-42");
	drv_wire_req_clear(&w);
	/* Okta without its API token is a configuration conflict, not a request. */
	p.initial_access_token = NULL;
	ck_assert_int_eq(
	    drv_get(DRV_IDP_OKTA)->build(DRV_OP_DELETE, &p, NULL, NULL, &ref42, NULL, &w, &e),
	    CLR_ERR_CONFLICT);

	/* Keycloak: discovery's registration_endpoint is used as given. */
	p = provs[DRV_IDP_KEYCLOAK];
	p.registration_endpoint =
	    "https://sso.example.com/auth/realms/x/clients-registrations/openid-connect";
	ck_assert_int_eq(
	    drv_get(DRV_IDP_KEYCLOAK)->build(DRV_OP_DELETE, &p, NULL, NULL, &ref42, NULL, &w, &e),
	    CLR_OK);
	ck_assert_str_eq(
	    w.url,
	    "https://sso.example.com/auth/realms/x/clients-registrations/openid-connect/client-42");
	drv_wire_req_clear(&w);

	/* A client_id never adds path segments or a query. */
	p = provs[DRV_IDP_OTHER];
	ck_assert_int_eq(
	    drv_get(DRV_IDP_OTHER)->build(DRV_OP_DELETE, &p, NULL, NULL, &odd, NULL, &w, &e),
	    CLR_OK);
	ck_assert_str_eq(w.url, "https://idp.example.com/reg/a%2Fb%20c%3Fd");
	drv_wire_req_clear(&w);
	/* A stored registration_client_uri is used as is. */
	ck_assert_int_eq(
	    drv_get(DRV_IDP_OTHER)->build(DRV_OP_DELETE, &p, NULL, NULL, &stored, NULL, &w, &e),
	    CLR_OK);
	ck_assert_str_eq(w.url, "https://idp.example.com/manage/client-42?x=1");
	drv_wire_req_clear(&w);
	/* Gluu's client ids look like "@!1736.179E!0001": escaped into the query. */
	p = provs[DRV_IDP_GLUU];
	{
		const struct drv_reg_ref g = {"@!1736.179E!0001", NULL, "rat"};

		ck_assert_int_eq(
		    drv_get(DRV_IDP_GLUU)->build(DRV_OP_DELETE, &p, NULL, NULL, &g, NULL, &w, &e),
		    CLR_OK);
		ck_assert_str_eq(w.url, "https://gluu.example.com/oxauth/restv1/register"
					"?client_id=%40%211736.179E%210001");
		drv_wire_req_clear(&w);
	}
}
END_TEST

START_TEST(test_build_refusals)
{
	struct drv_provider p = provs[DRV_IDP_OTHER];
	struct drv_wire_req w = {0};
	struct clr_err e = {0};
	const struct drv_reg_ref norat = {"client-42", NULL, NULL};
	struct drv_client_type bad = cts[CT_CC];
	json_t *empty = json_array();

	/* No registration access token: the IdP would refuse, so we do not ask. */
	ck_assert_int_eq(
	    drv_get(DRV_IDP_OTHER)->build(DRV_OP_DELETE, &p, NULL, NULL, &norat, NULL, &w, &e),
	    CLR_ERR_CONFLICT);
	ck_assert_str_eq(e.field, "registration_access_token");
	/* A header-injection attempt in a stored token. */
	ck_assert_int_eq(drv_get(DRV_IDP_OTHER)
			     ->build(DRV_OP_REGISTER, &p, &cts[CT_CC], &ins[CT_CC], NULL,
				     "abc\r\nX-Evil: 1", &w, &e),
			 CLR_ERR_PARAM);
	ck_assert_ptr_null(w.url);
	/* A client type without grant types. */
	bad.grant_types = empty;
	ck_assert_int_eq(drv_get(DRV_IDP_OTHER)
			     ->build(DRV_OP_REGISTER, &p, &bad, &ins[CT_CC], NULL, NULL, &w, &e),
			 CLR_ERR_PARAM);
	ck_assert_str_eq(e.field, "grant_types");
	/* No registration endpoint. */
	p.registration_endpoint = NULL;
	ck_assert_int_eq(
	    drv_get(DRV_IDP_OTHER)
		->build(DRV_OP_REGISTER, &p, &cts[CT_CC], &ins[CT_CC], NULL, NULL, &w, &e),
	    CLR_ERR_PARAM);
	/* Okta: an explicit application type wins over the default. */
	{
		struct drv_client_type t = cts[CT_CC];

		t.okta_application_type = "browser";
		ck_assert_int_eq(drv_get(DRV_IDP_OKTA)
				     ->build(DRV_OP_REGISTER, &provs[DRV_IDP_OKTA], &t, &ins[CT_CC],
					     NULL, "tok", &w, &e),
				 CLR_OK);
		ck_assert_str_eq(json_string_value(json_object_get(w.json, "application_type")),
				 "browser");
		drv_wire_req_clear(&w);
	}
	json_decref(empty);
}
END_TEST

START_TEST(test_kind_names)
{
	enum drv_idp_kind k;

	for (int i = 0; i < DRV_IDP__MAX; i++) {
		ck_assert_ptr_nonnull(drv_idp_kind_name((enum drv_idp_kind)i));
		ck_assert_int_eq(drv_idp_kind_parse(drv_idp_kind_name((enum drv_idp_kind)i), &k),
				 CLR_OK);
		ck_assert_int_eq(k, i);
		ck_assert_ptr_nonnull(drv_get((enum drv_idp_kind)i));
		ck_assert_int_eq(drv_get((enum drv_idp_kind)i)->kind, i);
	}
	ck_assert_str_eq(drv_idp_kind_name(DRV_IDP_OKTA), "okta");
	ck_assert_int_eq(drv_idp_kind_parse("Okta", &k), CLR_ERR_PARAM);
	ck_assert_int_eq(drv_idp_kind_parse("azure", &k), CLR_ERR_PARAM);
	ck_assert_ptr_null(drv_idp_kind_name(DRV_IDP__MAX));
	ck_assert_ptr_null(drv_get(DRV_IDP__MAX));
	/* Only Okta and the bridge document a secret rotation. */
	ck_assert_int_eq(drv_get(DRV_IDP_OKTA)->can_rotate, 1);
	ck_assert_int_eq(drv_get(DRV_IDP_HTTP_BRIDGE)->can_rotate, 1);
	ck_assert_int_eq(drv_get(DRV_IDP_OTHER)->can_rotate, 0);
	ck_assert_int_eq(drv_get(DRV_IDP_KEYCLOAK)->can_rotate, 0);
	ck_assert_int_eq(drv_get(DRV_IDP_GLUU)->can_rotate, 0);
	ck_assert_int_eq(drv_get(DRV_IDP_CURITY)->can_rotate, 0);
}
END_TEST

/* ---- parsing documented responses ---- */

static struct clr_http_resp mkresp(long status, const char *ctype, const char *body)
{
	struct clr_http_resp r;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.content_type = (char *)ctype;
	r.body = (char *)(body != NULL ? body : "");
	r.body_len = body != NULL ? strlen(body) : 0;
	r.max_age = -1;
	return r;
}

#define JSON_CT "application/json; charset=utf-8"

/* oidc-provider 9, as observed (see reference/oidc-provider-notes.md). */
static const char oidc_provider_201[] =
    "{\"application_type\":\"web\",\"grant_types\":[\"client_credentials\"],"
    "\"id_token_signed_response_alg\":\"RS256\",\"require_auth_time\":false,"
    "\"response_types\":[],\"subject_type\":\"public\","
    "\"token_endpoint_auth_method\":\"client_secret_basic\","
    "\"post_logout_redirect_uris\":[],\"require_pushed_authorization_requests\":false,"
    "\"dpop_bound_access_tokens\":false,\"client_id_issued_at\":1732546800,"
    "\"client_id\":\"9Qs2nV0lHk3tE1rA\",\"client_name\":\"Payments backend\","
    "\"client_secret_expires_at\":0,"
    "\"client_secret\":\"Fx2jP0-test-secret-oidc\","
    "\"scope\":\"product_payments free_plan\",\"redirect_uris\":[],"
    "\"registration_client_uri\":\"http://127.0.0.1:3000/reg/9Qs2nV0lHk3tE1rA\","
    "\"registration_access_token\":\"rat-test-0001\"}";

/* Keycloak's openid-connect client registration provider (201). */
static const char keycloak_201[] =
    "{\"redirect_uris\":[\"https://app.example.com/cb\"],"
    "\"token_endpoint_auth_method\":\"client_secret_post\","
    "\"grant_types\":[\"authorization_code\",\"refresh_token\"],"
    "\"response_types\":[\"code\",\"none\"],"
    "\"client_id\":\"0f6b2c3e-7d1a-4a52-9d62-6c0a4e1d2b77\","
    "\"client_secret\":\"kc-test-secret-GH7xq\","
    "\"client_name\":\"Payments web\",\"scope\":\"product_payments free_plan\","
    "\"subject_type\":\"public\",\"request_uris\":[],"
    "\"tls_client_certificate_bound_access_tokens\":false,"
    "\"client_id_issued_at\":1732546800,\"client_secret_expires_at\":0,"
    "\"registration_client_uri\":\"https://kc.example.com/realms/dcr/clients-registrations/"
    "openid-connect/0f6b2c3e-7d1a-4a52-9d62-6c0a4e1d2b77\","
    "\"registration_access_token\":\"eyJhbGciOiJIUzI1NiJ9.kc-rat-1.sig\","
    "\"backchannel_logout_session_required\":false,"
    "\"require_pushed_authorization_requests\":false,"
    "\"frontchannel_logout_session_required\":false}";

/* Keycloak's answer to a PUT: 200 with a fresh registration access token. */
static const char keycloak_put_200[] =
    "{\"client_id\":\"0f6b2c3e-7d1a-4a52-9d62-6c0a4e1d2b77\","
    "\"client_name\":\"Payments web "
    "v2\",\"grant_types\":[\"authorization_code\",\"refresh_token\"],"
    "\"registration_client_uri\":\"https://kc.example.com/realms/dcr/clients-registrations/"
    "openid-connect/0f6b2c3e-7d1a-4a52-9d62-6c0a4e1d2b77\","
    "\"registration_access_token\":\"eyJhbGciOiJIUzI1NiJ9.kc-rat-2.sig\"}";

/* Okta POST /oauth2/v1/clients (201) and lifecycle/newSecret (200). */
static const char okta_201[] =
    "{\"client_id\":\"0oa1hm4POxgJM6CPu0g4\",\"client_id_issued_at\":1453753590,"
    "\"client_name\":\"Payments backend\","
    "\"client_secret\":\"okta-test-secret-7Q8gX28R8VTR\","
    "\"client_secret_expires_at\":0,\"response_types\":[\"token\"],"
    "\"grant_types\":[\"client_credentials\"],"
    "\"token_endpoint_auth_method\":\"client_secret_basic\",\"application_type\":\"service\","
    "\"_links\":{\"app\":{\"href\":\"https://dev-123.okta.com/api/v1/apps/"
    "0oa1hm4POxgJM6CPu0g4\"}}}";
static const char okta_newsecret_200[] =
    "{\"client_id\":\"0oa1hm4POxgJM6CPu0g4\",\"client_id_issued_at\":1453753590,"
    "\"client_name\":\"Payments backend\","
    "\"client_secret\":\"okta-test-secret-ROTATED-2\","
    "\"client_secret_expires_at\":0,\"grant_types\":[\"client_credentials\"],"
    "\"token_endpoint_auth_method\":\"client_secret_basic\",\"application_type\":\"service\","
    "\"_links\":{\"app\":{\"href\":\"https://dev-123.okta.com/api/v1/apps/"
    "0oa1hm4POxgJM6CPu0g4\"}}}";

/* Gluu oxAuth /restv1/register: note the secret expiry Gluu sets by default. */
static const char gluu_200[] =
    "{\"application_type\":\"web\","
    "\"registration_client_uri\":\"https://gluu.example.com/oxauth/restv1/"
    "register?client_id=@!1736.179E.AA60.16B2!0001!8F7C.B9AB!0008!A2BB.9AE6.5F14.B387\","
    "\"registration_access_token\":\"gluu-rat-3e1c1d0f\","
    "\"client_id\":\"@!1736.179E.AA60.16B2!0001!8F7C.B9AB!0008!A2BB.9AE6.5F14.B387\","
    "\"token_endpoint_auth_method\":\"client_secret_basic\","
    "\"scope\":\"product_payments free_plan\","
    "\"client_secret\":\"gluu-test-secret-0c4a\","
    "\"client_id_issued_at\":1525436573,\"client_name\":\"Payments backend\","
    "\"client_secret_expires_at\":1525522973,\"grant_types\":[\"client_credentials\"],"
    "\"response_types\":[],\"id_token_signed_response_alg\":\"RS256\","
    "\"subject_type\":\"pairwise\",\"require_auth_time\":false}";

/* Curity: the dcr token, then the registration (201). */
static const char curity_token_200[] =
    "{\"access_token\":\"_0XBPWQQ_curity-at-789\",\"scope\":\"dcr\","
    "\"token_type\":\"bearer\",\"expires_in\":300}";
static const char curity_201[] =
    "{\"client_id\":\"8ac9d5f6-2b7a-44e4-a5a4-6f2d1c9e0b11\","
    "\"client_secret\":\"curity-test-secret-Xk2\","
    "\"client_secret_expires_at\":0,\"client_id_issued_at\":1732546800,"
    "\"registration_access_token\":\"curity-rat-55\","
    "\"registration_client_uri\":\"https://curity.example.com/token-service/oauth-registration/"
    "8ac9d5f6-2b7a-44e4-a5a4-6f2d1c9e0b11\","
    "\"grant_types\":[\"client_credentials\"],\"scope\":\"product_payments free_plan\","
    "\"token_endpoint_auth_method\":\"client_secret_basic\",\"audience\":[\"8ac9d5f6-2b7a-44e4-"
    "a5a4-6f2d1c9e0b11\"]}";

/* Kong HTTP DCR bridge: dates are RFC 3339 strings there. */
static const char bridge_201[] =
    "{\"client_id\":\"cb9z3HSYhw\",\"client_secret\":\"bridge-test-secret-8pNH\","
    "\"client_id_issued_at\":\"2024-05-01T10:00:00Z\","
    "\"client_secret_expires_at\":\"2025-05-01T10:00:00.000Z\"}";
static const char bridge_wrapped_201[] = "{\"application\":{\"client_id\":\"cb9z3HSYhw\",\"client_"
					 "secret\":\"bridge-test-secret-8pNH\"}}";
static const char bridge_newsecret_200[] =
    "{\"client_id\":\"cb9z3HSYhw\",\"client_secret\":\"bridge-test-secret-NEW\"}";

static void assert_no_secrets(const json_t *md)
{
	ck_assert_ptr_nonnull(md);
	ck_assert_ptr_null(json_object_get(md, "client_secret"));
	ck_assert_ptr_null(json_object_get(md, "registration_access_token"));
}

START_TEST(test_parse_oidc_provider)
{
	struct clr_http_resp r = mkresp(201, JSON_CT, oidc_provider_201);
	struct drv_reg_result res;
	struct clr_err e = {0};

	ck_assert_int_eq(drv_get(DRV_IDP_OTHER)->parse(DRV_OP_REGISTER, &provs[0], &r, &res, &e),
			 CLR_OK);
	ck_assert_str_eq(res.client_id, "9Qs2nV0lHk3tE1rA");
	ck_assert_str_eq(res.client_secret, "Fx2jP0-test-secret-oidc");
	ck_assert_str_eq(res.registration_access_token, "rat-test-0001");
	ck_assert_str_eq(res.registration_client_uri, "http://127.0.0.1:3000/reg/9Qs2nV0lHk3tE1rA");
	ck_assert_int_eq(res.client_secret_expires_at, 0);
	assert_no_secrets(res.metadata);
	ck_assert_str_eq(json_string_value(json_object_get(res.metadata, "client_id")),
			 "9Qs2nV0lHk3tE1rA");
	ck_assert_str_eq(
	    json_string_value(json_object_get(res.metadata, "registration_client_uri")),
	    "http://127.0.0.1:3000/reg/9Qs2nV0lHk3tE1rA");
	ck_assert_int_eq(json_array_size(json_object_get(res.metadata, "response_types")), 0);
	drv_reg_result_clear(&res);
	ck_assert_ptr_null(res.client_secret);
	ck_assert_ptr_null(res.metadata);

	/* DELETE: 204 with no body. */
	r = mkresp(204, NULL, NULL);
	ck_assert_int_eq(drv_get(DRV_IDP_OTHER)->parse(DRV_OP_DELETE, &provs[0], &r, &res, &e),
			 CLR_OK);
	ck_assert_ptr_null(res.client_id);
}
END_TEST

START_TEST(test_parse_keycloak)
{
	struct clr_http_resp r = mkresp(201, "application/json", keycloak_201);
	const struct drv_provider *p = &provs[DRV_IDP_KEYCLOAK];
	struct drv_reg_result res;
	struct clr_err e = {0};

	ck_assert_int_eq(drv_get(DRV_IDP_KEYCLOAK)->parse(DRV_OP_REGISTER, p, &r, &res, &e),
			 CLR_OK);
	ck_assert_str_eq(res.client_id, "0f6b2c3e-7d1a-4a52-9d62-6c0a4e1d2b77");
	ck_assert_str_eq(res.client_secret, "kc-test-secret-GH7xq");
	ck_assert_str_eq(res.registration_access_token, "eyJhbGciOiJIUzI1NiJ9.kc-rat-1.sig");
	ck_assert_str_eq(res.registration_client_uri,
			 KC_REG "/0f6b2c3e-7d1a-4a52-9d62-6c0a4e1d2b77");
	assert_no_secrets(res.metadata);
	ck_assert_str_eq(json_string_value(json_object_get(res.metadata, "scope")),
			 "product_payments free_plan");
	drv_reg_result_clear(&res);

	/* An update hands back the new registration access token to persist. */
	r = mkresp(200, "application/json", keycloak_put_200);
	ck_assert_int_eq(drv_get(DRV_IDP_KEYCLOAK)->parse(DRV_OP_UPDATE, p, &r, &res, &e), CLR_OK);
	ck_assert_str_eq(res.registration_access_token, "eyJhbGciOiJIUzI1NiJ9.kc-rat-2.sig");
	ck_assert_ptr_null(res.client_secret);
	assert_no_secrets(res.metadata);
	drv_reg_result_clear(&res);
}
END_TEST

START_TEST(test_parse_okta)
{
	struct clr_http_resp r = mkresp(201, "application/json", okta_201);
	const struct drv_provider *p = &provs[DRV_IDP_OKTA];
	const struct drv_driver *d = drv_get(DRV_IDP_OKTA);
	struct drv_reg_result res;
	struct clr_err e = {0};

	ck_assert_int_eq(d->parse(DRV_OP_REGISTER, p, &r, &res, &e), CLR_OK);
	ck_assert_str_eq(res.client_id, "0oa1hm4POxgJM6CPu0g4");
	ck_assert_str_eq(res.client_secret, "okta-test-secret-7Q8gX28R8VTR");
	ck_assert_ptr_null(res.registration_access_token);
	ck_assert_ptr_null(res.registration_client_uri);
	assert_no_secrets(res.metadata);
	ck_assert_ptr_nonnull(json_object_get(res.metadata, "_links"));
	ck_assert_str_eq(json_string_value(json_object_get(res.metadata, "application_type")),
			 "service");
	drv_reg_result_clear(&res);

	r = mkresp(200, "application/json", okta_newsecret_200);
	ck_assert_int_eq(d->parse(DRV_OP_ROTATE, p, &r, &res, &e), CLR_OK);
	ck_assert_str_eq(res.client_secret, "okta-test-secret-ROTATED-2");
	assert_no_secrets(res.metadata);
	drv_reg_result_clear(&res);

	/* A rotation answer without a secret is the IdP's fault, not a success. */
	r = mkresp(200, "application/json", "{\"client_id\":\"0oa1hm4POxgJM6CPu0g4\"}");
	ck_assert_int_eq(d->parse(DRV_OP_ROTATE, p, &r, &res, &e), CLR_ERR_UPSTREAM);
	ck_assert_ptr_null(res.client_id);

	r = mkresp(204, NULL, NULL);
	ck_assert_int_eq(d->parse(DRV_OP_DELETE, p, &r, &res, &e), CLR_OK);
}
END_TEST

START_TEST(test_parse_gluu)
{
	struct clr_http_resp r = mkresp(200, "application/json", gluu_200);
	struct drv_reg_result res;
	struct clr_err e = {0};

	ck_assert_int_eq(
	    drv_get(DRV_IDP_GLUU)->parse(DRV_OP_REGISTER, &provs[DRV_IDP_GLUU], &r, &res, &e),
	    CLR_OK);
	ck_assert_str_eq(res.client_id,
			 "@!1736.179E.AA60.16B2!0001!8F7C.B9AB!0008!A2BB.9AE6.5F14.B387");
	ck_assert_str_eq(res.client_secret, "gluu-test-secret-0c4a");
	ck_assert_str_eq(res.registration_access_token, "gluu-rat-3e1c1d0f");
	ck_assert_int_eq(res.client_secret_expires_at, 1525522973);
	assert_no_secrets(res.metadata);
	drv_reg_result_clear(&res);
}
END_TEST

START_TEST(test_parse_curity)
{
	const struct drv_driver *d = drv_get(DRV_IDP_CURITY);
	struct clr_http_resp r = mkresp(200, "application/json", curity_token_200);
	struct drv_reg_result res;
	struct clr_err e = {0};
	char *tok = NULL;

	ck_assert_int_eq(d->parse_initial_token(&r, &tok, &e), CLR_OK);
	ck_assert_str_eq(tok, "_0XBPWQQ_curity-at-789");
	free(tok);
	tok = NULL;
	/* A wrong DCR client: the message says which step failed. */
	r = mkresp(401, "application/json", "{\"error\":\"invalid_client\"}");
	ck_assert_int_eq(d->parse_initial_token(&r, &tok, &e), CLR_ERR_DENIED);
	ck_assert_ptr_null(tok);
	ck_assert_ptr_nonnull(strstr(e.msg, "initial access token"));
	ck_assert_ptr_nonnull(strstr(e.msg, "invalid_client"));

	r = mkresp(201, "application/json", curity_201);
	ck_assert_int_eq(d->parse(DRV_OP_REGISTER, &provs[DRV_IDP_CURITY], &r, &res, &e), CLR_OK);
	ck_assert_str_eq(res.client_id, "8ac9d5f6-2b7a-44e4-a5a4-6f2d1c9e0b11");
	ck_assert_str_eq(res.client_secret, "curity-test-secret-Xk2");
	ck_assert_str_eq(res.registration_access_token, "curity-rat-55");
	assert_no_secrets(res.metadata);
	drv_reg_result_clear(&res);
}
END_TEST

START_TEST(test_parse_bridge)
{
	const struct drv_driver *d = drv_get(DRV_IDP_HTTP_BRIDGE);
	const struct drv_provider *p = &provs[DRV_IDP_HTTP_BRIDGE];
	struct clr_http_resp r = mkresp(201, "application/json", bridge_201);
	struct drv_reg_result res;
	struct clr_err e = {0};

	ck_assert_int_eq(d->parse(DRV_OP_REGISTER, p, &r, &res, &e), CLR_OK);
	ck_assert_str_eq(res.client_id, "cb9z3HSYhw");
	ck_assert_str_eq(res.client_secret, "bridge-test-secret-8pNH");
	ck_assert_int_eq(res.client_secret_expires_at, 1746093600); /* 2025-05-01T10:00:00Z */
	assert_no_secrets(res.metadata);
	ck_assert_str_eq(json_string_value(json_object_get(res.metadata, "client_id_issued_at")),
			 "2024-05-01T10:00:00Z");
	drv_reg_result_clear(&res);

	r = mkresp(201, "application/json", bridge_wrapped_201);
	ck_assert_int_eq(d->parse(DRV_OP_REGISTER, p, &r, &res, &e), CLR_OK);
	ck_assert_str_eq(res.client_id, "cb9z3HSYhw");
	assert_no_secrets(res.metadata);
	drv_reg_result_clear(&res);

	r = mkresp(200, "application/json", bridge_newsecret_200);
	ck_assert_int_eq(d->parse(DRV_OP_ROTATE, p, &r, &res, &e), CLR_OK);
	ck_assert_str_eq(res.client_secret, "bridge-test-secret-NEW");
	drv_reg_result_clear(&res);

	/* No secret in a 201: the contract requires one. */
	r = mkresp(201, "application/json", "{\"client_id\":\"cb9z3HSYhw\"}");
	ck_assert_int_eq(d->parse(DRV_OP_REGISTER, p, &r, &res, &e), CLR_ERR_UPSTREAM);
	ck_assert_ptr_null(res.client_id);

	r = mkresp(
	    400, "application/json",
	    "{\"error\":\"invalid_request\",\"error_description\":\"redirect_uris is required\"}");
	ck_assert_int_eq(d->parse(DRV_OP_REGISTER, p, &r, &res, &e), CLR_ERR_PARAM);
	ck_assert_str_eq(e.msg,
			 "IdP answered HTTP 400: invalid_request: redirect_uris is required");

	r = mkresp(204, NULL, NULL);
	ck_assert_int_eq(d->parse(DRV_OP_DELETE, p, &r, &res, &e), CLR_OK);
}
END_TEST

/* ---- error bodies ---- */

struct err_case {
	long status;
	const char *ctype;
	const char *body;
	enum clr_rc rc;
	const char *error; /* e.error */
	const char *msg;   /* exact e.msg */
};

static const struct err_case err_cases[] = {
    {401, "application/json; charset=utf-8",
     "{\"error\":\"invalid_token\",\"error_description\":\"invalid token provided\"}",
     CLR_ERR_DENIED, "invalid_token",
     "IdP answered HTTP 401: invalid_token: invalid token provided"},
    {400, "application/json",
     "{\"error\":\"invalid_client_metadata\",\"error_description\":\"grant_types must contain "
     "'authorization_code' when code is amongst response_types\"}",
     CLR_ERR_PARAM, "invalid_client_metadata",
     "IdP answered HTTP 400: invalid_client_metadata: grant_types must contain "
     "'authorization_code' when code is amongst response_types"},
    {400, "application/json",
     "{\"error\":\"invalid_redirect_uri\",\"error_description\":\"redirect_uris is mandatory "
     "property\"}",
     CLR_ERR_PARAM, "invalid_redirect_uri",
     "IdP answered HTTP 400: invalid_redirect_uri: redirect_uris is mandatory property"},
    /* Okta's management API shape. */
    {400, "application/json",
     "{\"errorCode\":\"E0000001\",\"errorSummary\":\"Api validation failed: redirect_uris\","
     "\"errorLink\":\"E0000001\",\"errorId\":\"oaeXzQn3Nv0Rw2Jv6Yq2LBmMg\","
     "\"errorCauses\":[{\"errorSummary\":\"redirect_uris: 'http://x' is not a valid redirect "
     "URI.\"}]}",
     CLR_ERR_PARAM, "idp_error",
     "IdP answered HTTP 400: E0000001: Api validation failed: redirect_uris "
     "(redirect_uris: 'http://x' is not a valid redirect URI.)"},
    {401, "application/json",
     "{\"errorCode\":\"E0000011\",\"errorSummary\":\"Invalid token provided\","
     "\"errorLink\":\"E0000011\",\"errorId\":\"oaeAbc\",\"errorCauses\":[]}",
     CLR_ERR_DENIED, "idp_error", "IdP answered HTTP 401: E0000011: Invalid token provided"},
    /* HTML error page: never quoted. */
    {500, "text/html", "<html><body><h1>500 Internal Server Error</h1>iat-other-123</body></html>",
     CLR_ERR_UPSTREAM, "idp_error", "IdP answered HTTP 500 with a non-JSON body (text/html)"},
    /* JSON content type but garbage. */
    {502, "application/json", "<html>Bad gateway</html>", CLR_ERR_UPSTREAM, "idp_error",
     "IdP answered HTTP 502 with a non-JSON body (application/json)"},
    {404, "application/json",
     "{\"error\":\"invalid_client\",\"error_description\":\"client is invalid\"}", CLR_ERR_NOTFOUND,
     "invalid_client", "IdP answered HTTP 404: invalid_client: client is invalid"},
    {403, NULL, "", CLR_ERR_DENIED, "idp_error",
     "IdP answered HTTP 403 with a non-JSON body (no content type)"},
    /* Control characters and non-ASCII are neutralised. */
    {400, "application/json",
     "{\"error\":\"invalid_client_metadata\",\"error_description\":\"bad\\nline \\u00e9\"}",
     CLR_ERR_PARAM, "invalid_client_metadata",
     "IdP answered HTTP 400: invalid_client_metadata: bad?line ??"},
    /* An error code that is not a token is not passed on as ours. */
    {429, "application/json", "{\"error\":\"Too Many Requests!\"}", CLR_ERR_UPSTREAM, "idp_error",
     "IdP answered HTTP 429: Too Many Requests!"},
};

#define N_ERR (int)(sizeof(err_cases) / sizeof(err_cases[0]))

START_TEST(test_errors)
{
	const struct err_case *ec = &err_cases[_i];
	struct clr_http_resp r = mkresp(ec->status, ec->ctype, ec->body);
	struct drv_reg_result res;
	struct clr_err e = {0};

	/* The same through every driver's register parse. */
	for (int k = 0; k < DRV_IDP__MAX; k++) {
		memset(&e, 0, sizeof(e));
		ck_assert_int_eq(
		    drv_get((enum drv_idp_kind)k)->parse(DRV_OP_REGISTER, &provs[k], &r, &res, &e),
		    ec->rc);
		ck_assert_int_eq(e.rc, ec->rc);
		ck_assert_str_eq(e.error, ec->error);
		ck_assert_str_eq(e.msg, ec->msg);
		ck_assert_ptr_null(res.client_id);
		ck_assert_ptr_null(res.metadata);
	}
}
END_TEST

START_TEST(test_error_bounds)
{
	char body[4096];
	struct clr_http_resp r;
	struct drv_reg_result res;
	struct clr_err e = {0};

	/* A 3 KB description fits in msg, truncated. */
	memcpy(body, "{\"error\":\"invalid_client_metadata\",\"error_description\":\"", 56);
	memset(body + 56, 'x', 3000);
	memcpy(body + 3056, "\"}", 3);
	r = mkresp(400, "application/json", body);
	ck_assert_int_eq(drv_parse_error(&r, &e), CLR_ERR_PARAM);
	ck_assert_uint_lt(strlen(e.msg), sizeof(e.msg));
	ck_assert_uint_gt(strlen(e.msg), 100);

	/* A 2xx without client_id, or not an object. */
	r = mkresp(201, "application/json", "{\"client_secret\":\"leak-me-not\"}");
	ck_assert_int_eq(drv_parse_rfc7591(&r, &res, &e), CLR_ERR_UPSTREAM);
	ck_assert_ptr_null(strstr(e.msg, "leak-me-not"));
	ck_assert_ptr_null(res.client_secret);
	r = mkresp(201, "application/json", "[1,2]");
	ck_assert_int_eq(drv_parse_rfc7591(&r, &res, &e), CLR_ERR_UPSTREAM);
	r = mkresp(201, "application/json", "{\"client_id\":\"a\",\"client_id\":\"b\"}");
	ck_assert_int_eq(drv_parse_rfc7591(&r, &res, &e), CLR_ERR_UPSTREAM);
	r = mkresp(201, "application/json", "{\"client_id\":42}");
	ck_assert_int_eq(drv_parse_rfc7591(&r, &res, &e), CLR_ERR_UPSTREAM);
	/* A redirect is never followed, and never a success. */
	r = mkresp(302, NULL, NULL);
	ck_assert_int_eq(drv_parse_rfc7591(&r, &res, &e), CLR_ERR_UPSTREAM);
}
END_TEST

START_TEST(test_rotate_unsupported)
{
	struct drv_reg_result res;
	struct clr_err e = {0};

	/* Refused before any I/O: no client needed. */
	for (int k = 0; k < DRV_IDP__MAX; k++) {
		if (drv_get((enum drv_idp_kind)k)->can_rotate)
			continue;
		memset(&e, 0, sizeof(e));
		ck_assert_int_eq(drv_rotate(NULL, &provs[k], &ref42, &res, &e), CLR_ERR_CONFLICT);
		ck_assert_ptr_nonnull(strstr(e.msg, "rotation"));
		ck_assert_ptr_null(res.client_secret);
	}
}
END_TEST

/* ---- whole exchanges against the stub server ---- */

static struct stub_http *srv;
static int port;
static struct clr_http_client *cli;

/*
 * body with every "from" replaced by this stub's origin (new, freed by the
 * stub): the answer-time origin check wants registration_client_uri on the
 * registration endpoint's origin.
 */
static char *on_stub_origin(const char *body, const char *from)
{
	char origin[64];
	size_t n = 0, fl = strlen(from), ol;
	const char *q;
	char *out, *w;

	snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", port);
	ol = strlen(origin);
	for (q = body; (q = strstr(q, from)) != NULL; q += fl)
		n++;
	out = malloc(strlen(body) + n * ol + 1);
	ck_assert_ptr_nonnull(out);
	for (w = out, q = body; *q != '\0';) {
		if (strncmp(q, from, fl) == 0) {
			memcpy(w, origin, ol);
			w += ol;
			q += fl;
		} else {
			*w++ = *q++;
		}
	}
	*w = '\0';
	return out;
}

/* The client credentials IdP of the cache tests: single-use tokens by default. */
static atomic_int cc_fetches, cc_regs, cc_multi_use;
static atomic_int cc_used[64];

/* Routes by path; records nothing itself (stub_http_last does). */
static void handler(const struct stub_http_req *req, struct stub_http_resp *resp, void *arg)
{
	(void)arg;
	resp->headers = "Content-Type: application/json\r\nCache-Control: no-store\r\n";
	if (strcmp(req->method, "POST") == 0 && strcmp(req->path, "/reg") == 0) {
		resp->status = 201;
		resp->body = on_stub_origin(oidc_provider_201, "http://127.0.0.1:3000");
		resp->free_body = 1;
	} else if (strcmp(req->path, "/cc-token") == 0) {
		int n = atomic_fetch_add(&cc_fetches, 1);
		char *b = NULL;

		resp->status = 200;
		ck_assert_int_ge(asprintf(&b,
					  "{\"access_token\":\"cc-tok-%d\",\"token_type\":"
					  "\"bearer\",\"expires_in\":3600}",
					  n),
				 0);
		resp->body = b;
		resp->free_body = 1;
	} else if (strcmp(req->path, "/cc-reg") == 0) {
		char hv[128];
		int n = -1;

		atomic_fetch_add(&cc_regs, 1);
		if (stub_http_header(req->headers, "Authorization", hv, sizeof(hv)))
			(void)sscanf(hv, "Bearer cc-tok-%d", &n);
		if (n < 0 || n >= 64 || (atomic_exchange(&cc_used[n], 1) && !cc_multi_use)) {
			resp->status = 401;
			resp->body = "{\"error\":\"invalid_token\"}";
		} else {
			resp->status = 201;
			resp->body = "{\"client_id\":\"cc-client\",\"client_secret\":\"cc-s\"}";
		}
	} else if (strcmp(req->path, "/foreign-reg") == 0) {
		resp->status = 201;
		resp->body =
		    "{\"client_id\":\"fx\",\"client_secret\":\"fs\","
		    "\"client_secret_expires_at\":0,\"registration_access_token\":\"frat\","
		    "\"registration_client_uri\":\"https://elsewhere.example/reg/fx\"}";
	} else if (strcmp(req->method, "DELETE") == 0 && strcmp(req->path, "/reg/client-42") == 0) {
		resp->status = 204;
		resp->headers = NULL;
	} else if (strcmp(req->path, "/token") == 0) {
		resp->status = 200;
		resp->body = curity_token_200;
	} else if (strcmp(req->path, "/curity-reg") == 0) {
		resp->status = 201;
		resp->body = on_stub_origin(curity_201, "https://curity.example.com");
		resp->free_body = 1;
	} else if (strcmp(req->method, "POST") == 0 &&
		   strcmp(req->path, "/oauth2/v1/clients/client-42/lifecycle/newSecret") == 0) {
		resp->status = 200;
		resp->body = okta_newsecret_200;
	} else if (strcmp(req->path, "/echo-reg") == 0) {
		/* A careless IdP that quotes the token it was given. */
		resp->status = 401;
		resp->body = "{\"error\":\"invalid_token\",\"error_description\":\"token "
			     "iat-echo-5678 is expired\"}";
	} else {
		resp->status = 404;
		resp->headers = "Content-Type: text/html\r\n";
		resp->body = "<h1>not found</h1>";
	}
}

static void stub_setup(void)
{
	size_t i;

	drv_itc_clear();
	atomic_store(&cc_fetches, 0);
	atomic_store(&cc_regs, 0);
	atomic_store(&cc_multi_use, 0);
	for (i = 0; i < 64; i++)
		atomic_store(&cc_used[i], 0);
	types_setup();
	srv = stub_http_start(handler, NULL, &port);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(clr_http_client_new(&cli), CLR_OK);
}

static void stub_teardown(void)
{
	drv_itc_clear();
	clr_http_client_free(cli);
	stub_http_stop(srv);
	types_teardown();
}

static struct drv_provider stub_provider(enum drv_idp_kind k, char *reg, char *tok,
					 const char *path)
{
	struct drv_provider p;

	memset(&p, 0, sizeof(p));
	p.kind = k;
	snprintf(reg, 128, "http://127.0.0.1:%d%s", port, path);
	snprintf(tok, 128, "http://127.0.0.1:%d/token", port);
	p.issuer = "http://127.0.0.1";
	p.registration_endpoint = reg;
	p.token_endpoint = tok;
	p.http.allow_http = 1;
	p.http.connect_timeout_ms = 2000;
	p.http.timeout_ms = 5000;
	return p;
}

START_TEST(test_e2e_register_delete)
{
	char reg[128], tok[128], hv[256];
	struct drv_provider p = stub_provider(DRV_IDP_OTHER, reg, tok, "/reg");
	struct drv_reg_result res;
	struct clr_err e = {0};
	struct stub_http_record last;
	json_error_t jerr;
	json_t *sent, *want;

	p.initial_access_token = "iat-e2e-1234";
	ck_assert_int_eq(drv_register(cli, &p, &cts[CT_CC], &ins[CT_CC], &res, &e), CLR_OK);
	ck_assert_str_eq(res.client_id, "9Qs2nV0lHk3tE1rA");
	ck_assert_str_eq(res.client_secret, "Fx2jP0-test-secret-oidc");
	ck_assert_str_eq(res.registration_access_token, "rat-test-0001");
	assert_no_secrets(res.metadata);
	drv_reg_result_clear(&res);

	stub_http_last(srv, &last);
	ck_assert_str_eq(last.method, "POST");
	ck_assert_str_eq(last.path, "/reg");
	ck_assert_int_eq(stub_http_header(last.headers, "Authorization", hv, sizeof(hv)), 1);
	ck_assert_str_eq(hv, "Bearer iat-e2e-1234");
	ck_assert_int_eq(stub_http_header(last.headers, "Content-Type", hv, sizeof(hv)), 1);
	ck_assert_str_eq(hv, "application/json");
	ck_assert_int_eq(stub_http_header(last.headers, "Accept", hv, sizeof(hv)), 1);
	ck_assert_str_eq(hv, "application/json");
	/* Compact serialisation, and exactly the RFC 7591 metadata. */
	ck_assert_ptr_null(strchr(last.body, '\n'));
	sent = json_loadb(last.body, last.body_len, JSON_REJECT_DUPLICATES, &jerr);
	want = json_loads("{" RFC_CC "}", 0, &jerr);
	ck_assert(json_equal(sent, want));
	json_decref(sent);
	json_decref(want);
	stub_http_record_free(&last);

	ck_assert_int_eq(drv_delete(cli, &p, &ref42, &e), CLR_OK);
	stub_http_last(srv, &last);
	ck_assert_str_eq(last.method, "DELETE");
	ck_assert_str_eq(last.path, "/reg/client-42");
	ck_assert_int_eq(stub_http_header(last.headers, "Authorization", hv, sizeof(hv)), 1);
	ck_assert_str_eq(hv, "Bearer rat-xyz");
	stub_http_record_free(&last);
	ck_assert_uint_eq(stub_http_count(srv), 2);
}
END_TEST

START_TEST(test_e2e_curity_two_steps)
{
	char reg[128], tok[128], hv[256];
	struct drv_provider p = stub_provider(DRV_IDP_CURITY, reg, tok, "/curity-reg");
	struct drv_reg_result res;
	struct clr_err e = {0};
	struct stub_http_record last;

	p.initial_client_id = "dcr-client";
	p.initial_client_secret = "s3cr:t&x y";
	ck_assert_int_eq(drv_register(cli, &p, &cts[CT_CODE], &ins[CT_CODE], &res, &e), CLR_OK);
	ck_assert_str_eq(res.client_id, "8ac9d5f6-2b7a-44e4-a5a4-6f2d1c9e0b11");
	drv_reg_result_clear(&res);
	ck_assert_uint_eq(stub_http_count(srv), 2);
	stub_http_last(srv, &last);
	ck_assert_str_eq(last.path, "/curity-reg");
	ck_assert_int_eq(stub_http_header(last.headers, "Authorization", hv, sizeof(hv)), 1);
	/* The pre-step's access token is the registration's bearer. */
	ck_assert_str_eq(hv, "Bearer _0XBPWQQ_curity-at-789");
	stub_http_record_free(&last);
}
END_TEST

START_TEST(test_itc_ttl)
{
	ck_assert_int_eq(drv_itc_ttl(0), 0);
	ck_assert_int_eq(drv_itc_ttl(-5), 0);
	ck_assert_int_eq(drv_itc_ttl(30), 0);
	ck_assert_int_eq(drv_itc_ttl(31), 1);
	ck_assert_int_eq(drv_itc_ttl(60), 30);
	ck_assert_int_eq(drv_itc_ttl(300), 270);
	ck_assert_int_eq(drv_itc_ttl(3600), 3240);
}
END_TEST

START_TEST(test_itc_keys_and_expiry)
{
	struct drv_provider p = {0}, q;
	char *t = NULL;

	drv_itc_clear();
	p.id = "prov-1";
	p.kind = DRV_IDP_GLEWLWYD;
	p.token_endpoint = "https://idp.example/token";
	p.initial_client_id = "dcr";
	p.initial_client_secret = "secret-1";
	p.initial_token_scope = "g_admin";
	ck_assert_int_eq(drv_itc_get(&p, 1000, &t), 0);
	ck_assert_ptr_null(t);
	drv_itc_put(&p, "tok-A", 3600, 1000);
	ck_assert_int_eq(drv_itc_get(&p, 1000, &t), 1);
	ck_assert_str_eq(t, "tok-A");
	free(t);
	/* Kept until expires_in less the margin (3240 s), not a second longer. */
	ck_assert_int_eq(drv_itc_get(&p, 1000 + 3239, &t), 1);
	free(t);
	ck_assert_int_eq(drv_itc_get(&p, 1000 + 3240, &t), 0);
	ck_assert_ptr_null(t);
	/* Gone once expired, also for an earlier clock. */
	ck_assert_int_eq(drv_itc_get(&p, 1000, &t), 0);

	/* Any change of what the token depends on misses. */
	drv_itc_put(&p, "tok-B", 3600, 1000);
	q = p;
	q.initial_client_secret = "secret-2";
	ck_assert_int_eq(drv_itc_get(&q, 1001, &t), 0);
	q = p;
	q.initial_token_scope = NULL;
	ck_assert_int_eq(drv_itc_get(&q, 1001, &t), 0);
	q = p;
	q.id = "prov-2";
	ck_assert_int_eq(drv_itc_get(&q, 1001, &t), 0);
	q = p;
	q.token_endpoint = "https://idp.example/token2";
	ck_assert_int_eq(drv_itc_get(&q, 1001, &t), 0);
	q = p;
	q.kind = DRV_IDP_CURITY;
	ck_assert_int_eq(drv_itc_get(&q, 1001, &t), 0);

	/* A drop of another token keeps the entry; of this one removes it. */
	drv_itc_drop(&p, "tok-OTHER");
	ck_assert_int_eq(drv_itc_get(&p, 1001, &t), 1);
	ck_assert_str_eq(t, "tok-B");
	free(t);
	drv_itc_drop(&p, "tok-B");
	ck_assert_int_eq(drv_itc_get(&p, 1001, &t), 0);

	/* Too short a life, or none: not cached. */
	drv_itc_put(&p, "tok-C", 30, 1000);
	ck_assert_int_eq(drv_itc_get(&p, 1000, &t), 0);
	drv_itc_put(&p, "tok-C", 0, 1000);
	ck_assert_int_eq(drv_itc_get(&p, 1000, &t), 0);

	/* A key learnt single-use caches nothing; others are unaffected. */
	drv_itc_put(&p, "tok-D", 3600, 1000);
	drv_itc_mark_single_use(&p);
	ck_assert_int_eq(drv_itc_is_single_use(&p), 1);
	ck_assert_int_eq(drv_itc_get(&p, 1000, &t), 0);
	drv_itc_put(&p, "tok-E", 3600, 1000);
	ck_assert_int_eq(drv_itc_get(&p, 1000, &t), 0);
	q = p;
	q.initial_token_scope = "other";
	ck_assert_int_eq(drv_itc_is_single_use(&q), 0);
	drv_itc_put(&q, "tok-F", 3600, 1000);
	ck_assert_int_eq(drv_itc_get(&q, 1000, &t), 1);
	ck_assert_str_eq(t, "tok-F");
	free(t);
	drv_itc_clear();
	ck_assert_int_eq(drv_itc_is_single_use(&p), 0);

	/* A full table evicts; nothing breaks. */
	for (int i = 0; i < 100; i++) {
		char id[16];

		snprintf(id, sizeof(id), "p%d", i);
		q = p;
		q.id = id;
		drv_itc_put(&q, "tok-many", 600 + i, 1000);
	}
	q = p;
	q.id = "p99";
	ck_assert_int_eq(drv_itc_get(&q, 1000, &t), 1);
	free(t);
	drv_itc_clear();
	ck_assert_int_eq(drv_itc_get(&q, 1000, &t), 0);
}
END_TEST

/* Single-use tokens: the cached one is refused (401), dropped, and one fresh one sent. */
START_TEST(test_e2e_cc_cache_single_use)
{
	char reg[128], tok[128];
	struct drv_provider p = stub_provider(DRV_IDP_GLEWLWYD, reg, tok, "/cc-reg");
	struct drv_reg_result res;
	struct clr_err e = {0};
	long f0 = drv_itc_fetches();
	int maybe = 1;

	snprintf(tok, sizeof(tok), "http://127.0.0.1:%d/cc-token", port);
	p.id = "prov-cc";
	p.initial_client_id = "dcr";
	p.initial_client_secret = "dcr-secret";
	ck_assert_int_eq(drv_register(cli, &p, &cts[CT_CODE], &ins[CT_CODE], &res, &e), CLR_OK);
	ck_assert_str_eq(res.client_id, "cc-client");
	/* A secret without client_secret_expires_at: expiry unknown, not "never". */
	ck_assert(res.client_secret_expires_at == DRV_EXPIRES_UNKNOWN);
	drv_reg_result_clear(&res);
	ck_assert_int_eq(atomic_load(&cc_fetches), 1);
	ck_assert_int_eq(atomic_load(&cc_regs), 1);

	/* Second: cached token -> 401 -> fresh token -> 201. */
	ck_assert_int_eq(
	    drv_register_outcome(cli, &p, &cts[CT_CODE], &ins[CT_CODE], &res, &maybe, &e), CLR_OK);
	drv_reg_result_clear(&res);
	ck_assert_int_eq(maybe, 0);
	ck_assert_int_eq(atomic_load(&cc_fetches), 2);
	ck_assert_int_eq(atomic_load(&cc_regs), 3);
	ck_assert_int_eq(drv_itc_fetches() - f0, 2);
	/* Learnt: single-use tokens; from now on one fetch each, no refused attempt. */
	ck_assert_int_eq(drv_itc_is_single_use(&p), 1);
	ck_assert_int_eq(drv_register(cli, &p, &cts[CT_CODE], &ins[CT_CODE], &res, &e), CLR_OK);
	drv_reg_result_clear(&res);
	ck_assert_int_eq(atomic_load(&cc_fetches), 3);
	ck_assert_int_eq(atomic_load(&cc_regs), 4);
}
END_TEST

START_TEST(test_e2e_cc_cache_multi_use)
{
	char reg[128], tok[128];
	struct drv_provider p = stub_provider(DRV_IDP_OTHER, reg, tok, "/cc-reg");
	struct drv_reg_result res;
	struct clr_err e = {0};
	int i;

	atomic_store(&cc_multi_use, 1);
	snprintf(tok, sizeof(tok), "http://127.0.0.1:%d/cc-token", port);
	p.id = "prov-cc-multi";
	p.initial_client_id = "dcr";
	p.initial_client_secret = "dcr-secret";
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(drv_register(cli, &p, &cts[CT_CODE], &ins[CT_CODE], &res, &e),
				 CLR_OK);
		drv_reg_result_clear(&res);
	}
	/* One token for three registrations. */
	ck_assert_int_eq(atomic_load(&cc_fetches), 1);
	ck_assert_int_eq(atomic_load(&cc_regs), 3);
}
END_TEST

/* A fresh token refused is an answer: no second try, no loop. */
START_TEST(test_e2e_cc_fresh_refused_no_retry)
{
	char reg[128], tok[128];
	struct drv_provider p = stub_provider(DRV_IDP_GLEWLWYD, reg, tok, "/cc-reg");
	struct drv_reg_result res;
	struct clr_err e = {0};
	int maybe = 1;

	snprintf(tok, sizeof(tok), "http://127.0.0.1:%d/cc-token", port);
	p.id = "prov-cc-refused";
	p.initial_client_id = "dcr";
	p.initial_client_secret = "dcr-secret";
	/* Every token this stub will hand out is used up already. */
	for (int i = 0; i < 64; i++)
		atomic_store(&cc_used[i], 1);
	ck_assert_int_eq(
	    drv_register_outcome(cli, &p, &cts[CT_CODE], &ins[CT_CODE], &res, &maybe, &e),
	    CLR_ERR_DENIED);
	ck_assert_int_eq(maybe, 0);
	ck_assert_int_eq(drv_err_http_status(&e), 401);
	ck_assert_int_eq(atomic_load(&cc_fetches), 1);
	ck_assert_int_eq(atomic_load(&cc_regs), 1);
	/* The refused token was not kept: the next one is fetched, and refused once. */
	ck_assert_int_eq(
	    drv_register_outcome(cli, &p, &cts[CT_CODE], &ins[CT_CODE], &res, &maybe, &e),
	    CLR_ERR_DENIED);
	ck_assert_int_eq(atomic_load(&cc_fetches), 2);
	ck_assert_int_eq(atomic_load(&cc_regs), 2);
}
END_TEST

/* RFC 7591 s.3.2: a registration_client_uri elsewhere is refused when the answer comes. */
START_TEST(test_e2e_foreign_client_uri_on_answer)
{
	char reg[128], tok[128];
	struct drv_provider p = stub_provider(DRV_IDP_OTHER, reg, tok, "/foreign-reg");
	struct drv_reg_result res;
	struct clr_err e = {0};
	int maybe = 0;

	ck_assert_int_eq(drv_register_outcome(cli, &p, &cts[CT_CC], &ins[CT_CC], &res, &maybe, &e),
			 CLR_ERR_UPSTREAM);
	ck_assert_str_eq(e.field, "registration_client_uri");
	/* The client exists at the IdP: the caller parks it, never forgets it. */
	ck_assert_int_eq(maybe, 1);
	ck_assert_ptr_null(res.client_id);
}
END_TEST

START_TEST(test_err_http_status)
{
	struct clr_err e = {0};
	struct clr_http_resp r = mkresp(401, JSON_CT, "{\"error\":\"invalid_token\"}");

	ck_assert_int_eq(drv_parse_error(&r, &e), CLR_ERR_DENIED);
	ck_assert_int_eq(drv_err_http_status(&e), 401);
	r = mkresp(403, JSON_CT, "{\"error\":\"forbidden\"}");
	ck_assert_int_eq(drv_parse_error(&r, &e), CLR_ERR_DENIED);
	ck_assert_int_eq(drv_err_http_status(&e), 403);
	clr_err_set(&e, CLR_ERR_UPSTREAM, "x", NULL, "IdP answered HTTP abc");
	ck_assert_int_eq(drv_err_http_status(&e), 0);
	clr_err_set(&e, CLR_ERR_UPSTREAM, "x", NULL, "the IdP did not answer");
	ck_assert_int_eq(drv_err_http_status(&e), 0);
	ck_assert_int_eq(drv_err_http_status(NULL), 0);
}
END_TEST

START_TEST(test_parse_expiry_unknown)
{
	struct clr_http_resp r =
	    mkresp(201, JSON_CT, "{\"client_id\":\"a\",\"client_secret\":\"s\"}");
	struct drv_reg_result res;
	struct clr_err e = {0};

	ck_assert_int_eq(drv_parse_rfc7591(&r, &res, &e), CLR_OK);
	ck_assert(res.client_secret_expires_at == DRV_EXPIRES_UNKNOWN);
	drv_reg_result_clear(&res);
	/* A date string is not an RFC 7591 number: unknown too. */
	r = mkresp(201, JSON_CT,
		   "{\"client_id\":\"a\",\"client_secret\":\"s\",\"client_secret_expires_"
		   "at\":\"2030-01-01\"}");
	ck_assert_int_eq(drv_parse_rfc7591(&r, &res, &e), CLR_OK);
	ck_assert(res.client_secret_expires_at == DRV_EXPIRES_UNKNOWN);
	drv_reg_result_clear(&res);
	/* No secret (a public client): nothing expires. */
	r = mkresp(201, JSON_CT, "{\"client_id\":\"a\"}");
	ck_assert_int_eq(drv_parse_rfc7591(&r, &res, &e), CLR_OK);
	ck_assert(res.client_secret_expires_at == 0);
	drv_reg_result_clear(&res);
	r = mkresp(201, JSON_CT,
		   "{\"client_id\":\"a\",\"client_secret\":\"s\",\"client_secret_expires_"
		   "at\":0}");
	ck_assert_int_eq(drv_parse_rfc7591(&r, &res, &e), CLR_OK);
	ck_assert(res.client_secret_expires_at == 0);
	drv_reg_result_clear(&res);
	r = mkresp(201, JSON_CT,
		   "{\"client_id\":\"a\",\"client_secret\":\"s\",\"client_secret_expires_"
		   "at\":1900000000}");
	ck_assert_int_eq(drv_parse_rfc7591(&r, &res, &e), CLR_OK);
	ck_assert(res.client_secret_expires_at == 1900000000);
	drv_reg_result_clear(&res);
}
END_TEST

START_TEST(test_e2e_okta_rotate)
{
	char reg[128], tok[128], hv[256];
	struct drv_provider p = stub_provider(DRV_IDP_OKTA, reg, tok, "/oauth2/v1/clients");
	struct drv_reg_result res;
	struct clr_err e = {0};
	struct stub_http_record last;

	p.initial_access_token = "00okta-e2e";
	ck_assert_int_eq(drv_rotate(cli, &p, &ref42, &res, &e), CLR_OK);
	ck_assert_str_eq(res.client_secret, "okta-test-secret-ROTATED-2");
	assert_no_secrets(res.metadata);
	drv_reg_result_clear(&res);
	stub_http_last(srv, &last);
	ck_assert_str_eq(last.method, "POST");
	ck_assert_str_eq(last.path, "/oauth2/v1/clients/client-42/lifecycle/newSecret");
	ck_assert_int_eq(stub_http_header(last.headers, "Authorization", hv, sizeof(hv)), 1);
	ck_assert_str_eq(hv, "SSWS 00okta-e2e");
	ck_assert_uint_eq(last.body_len, 0);
	stub_http_record_free(&last);
}
END_TEST

/*
 * Regression: the IdP's error_description is copied bounded (150 bytes)
 * before redaction ran, so a long echoed token survived as a prefix that
 * the full-string match never found.
 */
START_TEST(test_redact_cut_secret)
{
	static const char tok[] = "eyJhbGciOiJSUzI1NiJ9.VERYLONGTOKENBODY0123456789abcdef";
	struct clr_http_resp r;
	struct clr_err e = {0};
	char body[512];

	snprintf(body, sizeof(body),
		 "{\"error\":\"invalid_token\",\"error_description\":\"%.*s%s\"}", 120,
		 "the token you sent is not valid here, and we tell you so at great length, "
		 "including the token itself which is: ",
		 tok);
	r = mkresp(401, "application/json", body);
	ck_assert_int_eq(drv_parse_error(&r, &e), CLR_ERR_DENIED);
	/* The copy holds only the token's start... */
	ck_assert_ptr_null(strstr(e.msg, tok));
	ck_assert_ptr_nonnull(strstr(e.msg, "eyJhbGciOiJSUzI1"));
	drv_redact(&e, tok);
	/* ...and that start is gone too. */
	ck_assert_ptr_null(strstr(e.msg, "eyJhbGci"));
	ck_assert_ptr_nonnull(strstr(e.msg, "[redacted]"));
	ck_assert_ptr_nonnull(strstr(e.msg, "IdP answered HTTP 401: invalid_token: the token"));

	/* Whole occurrences, several, and short secrets left alone. */
	snprintf(e.msg, sizeof(e.msg), "a s3cret-value b s3cret-value c");
	drv_redact(&e, "s3cret-value");
	ck_assert_str_eq(e.msg, "a [redacted] b [redacted] c");
	snprintf(e.msg, sizeof(e.msg), "abc abc");
	drv_redact(&e, "abc");
	ck_assert_str_eq(e.msg, "abc abc");
	snprintf(e.msg, sizeof(e.msg), "x abcde y");
	drv_redact(&e, "abcde");
	ck_assert_str_eq(e.msg, "x [redacted] y");
	/* A shorter run than 8 that starts like a long secret is ordinary text. */
	snprintf(e.msg, sizeof(e.msg), "eyJhbG is fine");
	drv_redact(&e, tok);
	ck_assert_str_eq(e.msg, "eyJhbG is fine");
}
END_TEST

START_TEST(test_e2e_errors_redacted)
{
	char reg[128], tok[128];
	struct drv_provider p = stub_provider(DRV_IDP_OTHER, reg, tok, "/echo-reg");
	struct drv_reg_result res;
	struct clr_err e = {0};

	p.initial_access_token = "iat-echo-5678";
	ck_assert_int_eq(drv_register(cli, &p, &cts[CT_CC], &ins[CT_CC], &res, &e), CLR_ERR_DENIED);
	ck_assert_ptr_null(strstr(e.msg, "iat-echo-5678"));
	ck_assert_str_eq(e.msg,
			 "IdP answered HTTP 401: invalid_token: token [redacted] is expired");
	ck_assert_ptr_null(res.client_id);

	/* A 404 HTML page on the registration endpoint. */
	p = stub_provider(DRV_IDP_OTHER, reg, tok, "/nowhere");
	ck_assert_int_eq(drv_register(cli, &p, &cts[CT_CC], &ins[CT_CC], &res, &e),
			 CLR_ERR_NOTFOUND);
	ck_assert_str_eq(e.msg, "IdP answered HTTP 404 with a non-JSON body (text/html)");

	/* Okta without an API token: refused before any request. */
	p = stub_provider(DRV_IDP_OKTA, reg, tok, "/reg");
	ck_assert_int_eq(drv_register(cli, &p, &cts[CT_CC], &ins[CT_CC], &res, &e),
			 CLR_ERR_CONFLICT);
	ck_assert_uint_eq(stub_http_count(srv), 2);
}
END_TEST

/* RFC 7591 s.3.2: the registration access token only goes to the registration endpoint's origin. */
START_TEST(test_client_uri_origin)
{
	struct drv_provider p = provs[DRV_IDP_OTHER];
	struct clr_err e = {0};

	ck_assert_int_eq(drv_check_client_uri(&p, NULL, &e), CLR_OK);
	ck_assert_int_eq(drv_check_client_uri(&p, "https://idp.example.com/reg/abc", &e), CLR_OK);
	ck_assert_int_eq(drv_check_client_uri(&p, "https://IDP.example.com:443/x", &e), CLR_OK);
	ck_assert_int_eq(drv_check_client_uri(&p, "https://evil.example.net/reg/abc", &e),
			 CLR_ERR_UPSTREAM);
	ck_assert_str_eq(e.field, "registration_client_uri");
	ck_assert_int_eq(drv_check_client_uri(&p, "https://idp.example.com:8443/reg/abc", &e),
			 CLR_ERR_UPSTREAM);
	ck_assert_int_eq(drv_check_client_uri(&p, "http://idp.example.com/reg/abc", &e),
			 CLR_ERR_UPSTREAM);
	ck_assert_int_eq(drv_check_client_uri(&p, "not a url", &e), CLR_ERR_UPSTREAM);
	p.registration_endpoint = "http://127.0.0.1:8080/reg";
	ck_assert_int_eq(drv_check_client_uri(&p, "http://127.0.0.1:8080/reg/x", &e),
			 CLR_ERR_UPSTREAM);
	p.http.allow_http = 1;
	ck_assert_int_eq(drv_check_client_uri(&p, "http://127.0.0.1:8080/reg/x", &e), CLR_OK);
	ck_assert_int_eq(drv_check_client_uri(&p, "http://127.0.0.1:8081/reg/x", &e),
			 CLR_ERR_UPSTREAM);
}
END_TEST

/* Glewlwyd: a client without redirects gets the placeholder; the scope of the pre-step is
 * configurable. */
START_TEST(test_glewlwyd_placeholder_and_scope)
{
	struct drv_provider p = {.kind = DRV_IDP_GLEWLWYD,
				 .registration_endpoint =
				     "https://gl.example.com/api/oidc/register",
				 .token_endpoint = "https://gl.example.com/api/oidc/token",
				 .initial_client_id = "reg client",
				 .initial_client_secret = "s/cret",
				 .initial_token_scope = "clearance-register"};
	json_t *gt = json_pack("[s]", "client_credentials"), *rt = json_array();
	json_t *none = json_array(), *one = json_pack("[s]", "https://app.example.com/cb");
	struct drv_client_type ct = {.response_types = rt,
				     .grant_types = gt,
				     .token_endpoint_auth_method = "client_secret_basic"};
	struct drv_reg_input in = {
	    .client_name = "m2m", .redirect_uris = none, .scope = "api:read"};
	struct drv_wire_req w = {0};
	struct clr_err e = {0};
	const struct drv_driver *d = drv_get(DRV_IDP_GLEWLWYD);

	ck_assert_str_eq(drv_idp_kind_name(DRV_IDP_GLEWLWYD), "glewlwyd");
	ck_assert_int_eq(d->build(DRV_OP_REGISTER, &p, &ct, &in, NULL, NULL, &w, &e),
			 CLR_ERR_CONFLICT);
	ck_assert_int_eq(d->build(DRV_OP_REGISTER, &p, &ct, &in, NULL, "tok", &w, &e), CLR_OK);
	ck_assert_str_eq(
	    json_string_value(json_array_get(json_object_get(w.json, "redirect_uris"), 0)),
	    DRV_PLACEHOLDER_REDIRECT_URI);
	ck_assert_str_eq(w.auth_value, "Bearer tok");
	drv_wire_req_clear(&w);
	in.redirect_uris = one;
	ck_assert_int_eq(d->build(DRV_OP_REGISTER, &p, &ct, &in, NULL, "tok", &w, &e), CLR_OK);
	ck_assert_str_eq(
	    json_string_value(json_array_get(json_object_get(w.json, "redirect_uris"), 0)),
	    "https://app.example.com/cb");
	ck_assert_int_eq(json_array_size(json_object_get(w.json, "redirect_uris")), 1);
	drv_wire_req_clear(&w);
	ck_assert_int_eq(d->build_initial_token(&p, &w, &e), CLR_OK);
	ck_assert_str_eq(w.form, "grant_type=client_credentials&scope=clearance-register");
	/* RFC 6749 2.3.1: "reg+client:s%2Fcret" */
	ck_assert_str_eq(w.auth_value, "Basic cmVnK2NsaWVudDpzJTJGY3JldA==");
	drv_wire_req_clear(&w);
	/* Other kinds may use the pre-step too; without a scope none is asked for. */
	p.kind = DRV_IDP_OTHER;
	p.initial_token_scope = NULL;
	ck_assert_ptr_nonnull(drv_get(DRV_IDP_OTHER)->build_initial_token);
	ck_assert_int_eq(drv_get(DRV_IDP_OTHER)->build_initial_token(&p, &w, &e), CLR_OK);
	ck_assert_str_eq(w.form, "grant_type=client_credentials");
	drv_wire_req_clear(&w);
	json_decref(gt);
	json_decref(rt);
	json_decref(none);
	json_decref(one);
}
END_TEST

static Suite *drivers_suite(void)
{
	Suite *s = suite_create("drivers");
	TCase *tc;

	tc = tcase_create("build");
	tcase_add_checked_fixture(tc, types_setup, types_teardown);
	tcase_add_loop_test(tc, test_build_exact, 0, N_BUILD);
	tcase_add_test(tc, test_curity_prestep);
	tcase_add_test(tc, test_urls);
	tcase_add_test(tc, test_build_refusals);
	tcase_add_test(tc, test_kind_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_oidc_provider);
	tcase_add_test(tc, test_parse_keycloak);
	tcase_add_test(tc, test_parse_okta);
	tcase_add_test(tc, test_parse_gluu);
	tcase_add_test(tc, test_parse_curity);
	tcase_add_test(tc, test_parse_bridge);
	tcase_add_loop_test(tc, test_errors, 0, N_ERR);
	tcase_add_test(tc, test_error_bounds);
	tcase_add_test(tc, test_rotate_unsupported);
	tcase_add_test(tc, test_itc_ttl);
	tcase_add_test(tc, test_itc_keys_and_expiry);
	tcase_add_test(tc, test_err_http_status);
	tcase_add_test(tc, test_parse_expiry_unknown);
	suite_add_tcase(s, tc);

	tc = tcase_create("exchange");
	tcase_add_checked_fixture(tc, stub_setup, stub_teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_e2e_register_delete);
	tcase_add_test(tc, test_e2e_curity_two_steps);
	tcase_add_test(tc, test_e2e_okta_rotate);
	tcase_add_test(tc, test_e2e_cc_cache_single_use);
	tcase_add_test(tc, test_e2e_cc_cache_multi_use);
	tcase_add_test(tc, test_e2e_cc_fresh_refused_no_retry);
	tcase_add_test(tc, test_e2e_foreign_client_uri_on_answer);
	tcase_add_test(tc, test_e2e_errors_redacted);
	tcase_add_test(tc, test_redact_cut_secret);
	tcase_add_test(tc, test_client_uri_origin);
	tcase_add_test(tc, test_glewlwyd_placeholder_and_scope);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(drivers_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
