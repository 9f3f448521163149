/*
 * test_driver_list.c - the drivers' client listing for reconciling (issue
 * 13): the exact list and delete requests of Okta (Apps API), Keycloak
 * (admin REST) and Glewlwyd (admin API), their parsing of the vendors'
 * documented list answers (paging included), Clearance's tag on a
 * Glewlwyd registration, and whole listings against the in-process stub
 * server (offset paging, the client-credentials token for Keycloak, the
 * page bound, credentials redacted from errors).
 *
 * The bodies follow the vendors' published examples (Okta's "List all
 * applications", Keycloak's ClientRepresentation, Glewlwyd 2.7 docs/API.md
 * "Get a list of clients available"); every secret in them is made up.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clearance/http_out.h"
#include "stub_http.h"
#include "../../services/registrar/driver.h"

#define JSON_CT "application/json"
#define UUID1 "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"

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

static const struct drv_provider okta = {.kind = DRV_IDP_OKTA,
					 .issuer = "https://dev-123.okta.com/oauth2/default",
					 .initial_access_token = "00okta-api-token"};
static const struct drv_provider kc = {.kind = DRV_IDP_KEYCLOAK,
				       .issuer = "https://kc.example.com/realms/dcr",
				       .initial_client_id = "reconciler",
				       .initial_client_secret = "kc-sa-secret"};
static const struct drv_provider glw = {.kind = DRV_IDP_GLEWLWYD,
					.issuer = "https://glw.example.com/api/oidc",
					.registration_endpoint =
					    "https://glw.example.com/api/oidc/register",
					.list_credential = "glw-api-key-0123456789abcdef"};

START_TEST(test_can_list)
{
	struct drv_provider p = {0};

	for (int k = 0; k < DRV_IDP__MAX; k++) {
		p.kind = (enum drv_idp_kind)k;
		ck_assert_int_eq(drv_can_list(&p), k == DRV_IDP_OKTA || k == DRV_IDP_KEYCLOAK ||
						       k == DRV_IDP_GLEWLWYD);
	}
	/* Only Glewlwyd keeps the tag where its listing shows it. */
	ck_assert_int_eq(drv_get(DRV_IDP_GLEWLWYD)->list_tagged, 1);
	ck_assert_int_eq(drv_get(DRV_IDP_OKTA)->list_tagged, 0);
	ck_assert_int_eq(drv_get(DRV_IDP_KEYCLOAK)->list_tagged, 0);
	ck_assert_int_eq(drv_get(DRV_IDP_KEYCLOAK)->list_cc, 1);
}
END_TEST

START_TEST(test_list_requests_exact)
{
	struct drv_wire_req w = {0};
	struct drv_listed it = {.client_id = "my client", .ref = "8a4f-uuid/x"};
	struct clr_err e = {0};

	ck_assert_int_eq(drv_get(DRV_IDP_OKTA)->build_list(&okta, "00okta-api-token", NULL, &w, &e),
			 CLR_OK);
	ck_assert_str_eq(w.method, "GET");
	ck_assert_str_eq(w.url, "https://dev-123.okta.com/api/v1/apps?limit=200");
	ck_assert_str_eq(w.auth_name, "Authorization");
	ck_assert_str_eq(w.auth_value, "SSWS 00okta-api-token");
	ck_assert_ptr_null(w.json);
	drv_wire_req_clear(&w);
	ck_assert_int_eq(
	    drv_get(DRV_IDP_OKTA)->build_list(&okta, "t", "0oa1gjh63g214q0Hq0g4", &w, &e), CLR_OK);
	ck_assert_str_eq(
	    w.url, "https://dev-123.okta.com/api/v1/apps?limit=200&after=0oa1gjh63g214q0Hq0g4");
	drv_wire_req_clear(&w);
	/* A cursor from the IdP never adds query parameters. */
	ck_assert_int_eq(drv_get(DRV_IDP_OKTA)->build_list(&okta, "t", "x&filter=1", &w, &e),
			 CLR_ERR_UPSTREAM);
	ck_assert_ptr_null(w.url);

	ck_assert_int_eq(drv_get(DRV_IDP_KEYCLOAK)->build_list(&kc, "adm-tok", NULL, &w, &e),
			 CLR_OK);
	ck_assert_str_eq(w.method, "GET");
	ck_assert_str_eq(w.url, "https://kc.example.com/admin/realms/dcr/clients?first=0&max=100");
	ck_assert_str_eq(w.auth_value, "Bearer adm-tok");
	drv_wire_req_clear(&w);
	ck_assert_int_eq(drv_get(DRV_IDP_KEYCLOAK)->build_list(&kc, "adm-tok", "100", &w, &e),
			 CLR_OK);
	ck_assert_str_eq(w.url,
			 "https://kc.example.com/admin/realms/dcr/clients?first=100&max=100");
	drv_wire_req_clear(&w);
	ck_assert_int_eq(drv_get(DRV_IDP_KEYCLOAK)->build_list(&kc, "adm-tok", "-1", &w, &e),
			 CLR_ERR_PARAM);
	ck_assert_int_eq(drv_get(DRV_IDP_KEYCLOAK)->build_list_delete(&kc, "adm-tok", &it, &w, &e),
			 CLR_OK);
	ck_assert_str_eq(w.method, "DELETE");
	/* The internal id is one path segment, whatever it holds. */
	ck_assert_str_eq(w.url, "https://kc.example.com/admin/realms/dcr/clients/8a4f-uuid%2Fx");
	drv_wire_req_clear(&w);
	{
		struct drv_provider bad = kc;
		bad.issuer = "https://kc.example.com/";
		ck_assert_int_eq(drv_get(DRV_IDP_KEYCLOAK)->build_list(&bad, "t", NULL, &w, &e),
				 CLR_ERR_PARAM);
	}

	ck_assert_int_eq(drv_get(DRV_IDP_GLEWLWYD)->build_list(&glw, "k3y", "200", &w, &e), CLR_OK);
	ck_assert_str_eq(w.method, "GET");
	ck_assert_str_eq(w.url, "https://glw.example.com/api/client/?offset=200&limit=100");
	ck_assert_str_eq(w.auth_value, "token k3y");
	drv_wire_req_clear(&w);
	ck_assert_int_eq(drv_get(DRV_IDP_GLEWLWYD)->build_list_delete(&glw, "k3y", &it, &w, &e),
			 CLR_OK);
	ck_assert_str_eq(w.method, "DELETE");
	ck_assert_str_eq(w.url, "https://glw.example.com/api/client/my%20client");
	ck_assert_str_eq(w.auth_value, "token k3y");
	drv_wire_req_clear(&w);
	/* A credential with a line break is refused, not sent. */
	ck_assert_int_eq(drv_get(DRV_IDP_GLEWLWYD)->build_list(&glw, "k\r\nX: y", NULL, &w, &e),
			 CLR_ERR_PARAM);
	ck_assert_ptr_null(w.url);
}
END_TEST

START_TEST(test_tag)
{
	char *t;

	t = drv_tag_of(DRV_TAG_PREFIX UUID1);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t, UUID1);
	free(t);
	t = drv_tag_of("made by " DRV_TAG_PREFIX UUID1 " (do not edit)");
	ck_assert_str_eq(t, UUID1);
	free(t);
	ck_assert_ptr_null(drv_tag_of(NULL));
	ck_assert_ptr_null(drv_tag_of("a client of someone else"));
	ck_assert_ptr_null(drv_tag_of(DRV_TAG_PREFIX "6a1f0c2e-3b4d"));
	ck_assert_ptr_null(drv_tag_of(DRV_TAG_PREFIX "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5z"));
	ck_assert_ptr_null(drv_tag_of(DRV_TAG_PREFIX "6a1f0c2e+3b4d-4e5f-8a9b-0c1d2e3f4a5b"));
}
END_TEST

START_TEST(test_glewlwyd_register_tagged)
{
	json_t *gt = json_pack("[s]", "client_credentials"), *rt = json_array();
	struct drv_client_type ct = {.response_types = rt,
				     .grant_types = gt,
				     .token_endpoint_auth_method = "client_secret_basic"};
	struct drv_reg_input in = {.client_name = "m2m", .tag = UUID1};
	struct drv_wire_req w = {0};
	struct clr_err e = {0};
	const struct drv_driver *d = drv_get(DRV_IDP_GLEWLWYD);

	ck_assert_int_eq(d->build(DRV_OP_REGISTER, &glw, &ct, &in, NULL, "tok", &w, &e), CLR_OK);
	ck_assert_str_eq(json_string_value(json_object_get(w.json, "description")),
			 DRV_TAG_PREFIX UUID1);
	drv_wire_req_clear(&w);
	in.tag = NULL;
	ck_assert_int_eq(d->build(DRV_OP_REGISTER, &glw, &ct, &in, NULL, "tok", &w, &e), CLR_OK);
	ck_assert_ptr_null(json_object_get(w.json, "description"));
	drv_wire_req_clear(&w);
	/* Other families keep their bodies: Okta's DCR has no free-form field. */
	in.tag = UUID1;
	ck_assert_int_eq(
	    drv_get(DRV_IDP_OKTA)
		->build(DRV_OP_REGISTER, &okta, &ct, &in, NULL, "00okta-api-token", &w, &e),
	    CLR_OK);
	ck_assert_ptr_null(json_object_get(w.json, "description"));
	drv_wire_req_clear(&w);
	json_decref(gt);
	json_decref(rt);
}
END_TEST

/* Okta "List all applications": an OIDC app and a SAML app (no oauthClient). */
static const char okta_apps_200[] =
    "[{\"id\":\"0oa1gjh63g214q0Hq0g4\",\"name\":\"oidc_client\",\"label\":\"Sample Client\","
    "\"status\":\"ACTIVE\",\"signOnMode\":\"OPENID_CONNECT\",\"created\":\"2023-08-01T10:00:00."
    "000Z\",\"credentials\":{\"userNameTemplate\":{\"template\":\"${source.login}\",\"type\":"
    "\"BUILT_IN\"},\"oauthClient\":{\"autoKeyRotation\":true,\"client_id\":"
    "\"0oa1gjh63g214q0Hq0g4\",\"token_endpoint_auth_method\":\"client_secret_basic\"}},"
    "\"settings\":{\"oauthClient\":{\"application_type\":\"service\"}}},"
    "{\"id\":\"0oa2saml0000000000g4\",\"name\":\"example_saml\",\"label\":\"SAML app\","
    "\"status\":\"ACTIVE\",\"signOnMode\":\"SAML_2_0\",\"credentials\":{\"userNameTemplate\":"
    "{\"template\":\"${source.login}\",\"type\":\"BUILT_IN\"}}}]";

/* Keycloak ClientRepresentation[] (GET /admin/realms/{realm}/clients). */
static const char kc_clients_200[] =
    "[{\"id\":\"0e2f1f8e-6c51-4a8b-9a55-3f0e6d7c1a10\",\"clientId\":\"account\",\"name\":"
    "\"${client_account}\",\"enabled\":true,\"protocol\":\"openid-connect\"},"
    "{\"id\":\"5b0d7a8c-1111-4c2d-9e3f-6a7b8c9d0e1f\",\"clientId\":\"a1b2c3\",\"name\":\"m2m\","
    "\"description\":\"" DRV_TAG_PREFIX UUID1 "\",\"enabled\":true,\"secret\":\"kc-shh\"}]";

/* Glewlwyd 2.7 "Get a list of clients available", plus one tagged and one disabled. */
static const char glw_clients_200[] =
    "[{\"client_id\":\"client1\",\"scope\":[\"scope1\",\"scope2\"],\"enabled\":true,\"name\":"
    "\"First client\",\"confidential\":true,\"redirect_uri\":[\"http://example.com/\"]},"
    "{\"client_id\":\"x8k2m\",\"scope\":[],\"enabled\":true,\"name\":\"m2m\",\"description\":"
    "\"" DRV_TAG_PREFIX UUID1 "\",\"confidential\":true,\"client_secret\":\"glw-secret-1\"},"
    "{\"client_id\":\"gone1\",\"scope\":[],\"enabled\":false,\"name\":\"deleted\","
    "\"description\":\"" DRV_TAG_PREFIX UUID1 "\"}]";

START_TEST(test_list_parse)
{
	struct clr_http_resp r;
	struct drv_list_page pg = {0};
	struct clr_err e = {0};

	r = mkresp(200, JSON_CT, okta_apps_200);
	ck_assert_int_eq(drv_get(DRV_IDP_OKTA)->parse_list(&okta, NULL, &r, &pg, &e), CLR_OK);
	ck_assert_uint_eq(pg.n, 1);
	ck_assert_str_eq(pg.items[0].client_id, "0oa1gjh63g214q0Hq0g4");
	ck_assert_str_eq(pg.items[0].name, "Sample Client");
	ck_assert_str_eq(pg.items[0].ref, "0oa1gjh63g214q0Hq0g4");
	ck_assert_ptr_null(pg.items[0].tag);
	ck_assert_ptr_null(pg.next); /* fewer than a page: the last one */
	drv_list_page_clear(&pg);

	r = mkresp(200, JSON_CT, kc_clients_200);
	ck_assert_int_eq(drv_get(DRV_IDP_KEYCLOAK)->parse_list(&kc, "100", &r, &pg, &e), CLR_OK);
	ck_assert_uint_eq(pg.n, 2);
	ck_assert_str_eq(pg.items[0].client_id, "account");
	ck_assert_ptr_null(pg.items[0].tag);
	ck_assert_str_eq(pg.items[1].client_id, "a1b2c3");
	ck_assert_str_eq(pg.items[1].ref, "5b0d7a8c-1111-4c2d-9e3f-6a7b8c9d0e1f");
	ck_assert_str_eq(pg.items[1].tag, UUID1);
	ck_assert_ptr_null(pg.items[1].client_secret);
	ck_assert_ptr_null(pg.next);
	drv_list_page_clear(&pg);

	r = mkresp(200, JSON_CT, glw_clients_200);
	ck_assert_int_eq(drv_get(DRV_IDP_GLEWLWYD)->parse_list(&glw, NULL, &r, &pg, &e), CLR_OK);
	ck_assert_uint_eq(pg.n, 2); /* the disabled (deleted) one is gone for us */
	ck_assert_str_eq(pg.items[0].client_id, "client1");
	ck_assert_ptr_null(pg.items[0].tag);
	ck_assert_str_eq(pg.items[1].tag, UUID1);
	ck_assert_str_eq(pg.items[1].client_secret, "glw-secret-1");
	drv_list_page_clear(&pg);

	/* Errors: the vendor's refusal, and answers that are not lists. */
	r = mkresp(401, JSON_CT, "{\"errorCode\":\"E0000011\",\"errorSummary\":\"Invalid token\"}");
	ck_assert_int_eq(drv_get(DRV_IDP_OKTA)->parse_list(&okta, NULL, &r, &pg, &e),
			 CLR_ERR_DENIED);
	ck_assert_ptr_nonnull(strstr(e.msg, "E0000011"));
	r = mkresp(200, JSON_CT, "{\"clients\":[]}");
	ck_assert_int_eq(drv_get(DRV_IDP_GLEWLWYD)->parse_list(&glw, NULL, &r, &pg, &e),
			 CLR_ERR_UPSTREAM);
	r = mkresp(200, "text/html", "[]");
	ck_assert_int_eq(drv_get(DRV_IDP_KEYCLOAK)->parse_list(&kc, NULL, &r, &pg, &e),
			 CLR_ERR_UPSTREAM);
	r = mkresp(200, JSON_CT, "[]");
	ck_assert_int_eq(drv_get(DRV_IDP_KEYCLOAK)->parse_list(&kc, "1x", &r, &pg, &e),
			 CLR_ERR_PARAM);
	ck_assert_uint_eq(pg.n, 0);
}
END_TEST

START_TEST(test_okta_paging)
{
	/* A full page of 200 apps: the next page starts after the last app's id. */
	json_t *a = json_array();
	struct clr_http_resp r;
	struct drv_list_page pg = {0};
	struct clr_err e = {0};
	char id[32], *body;

	for (int i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "0oa%05d", i);
		json_array_append_new(a,
				      json_pack("{s:s, s:s, s:{s:{s:s}}}", "id", id, "label", "x",
						"credentials", "oauthClient", "client_id", id));
	}
	body = json_dumps(a, JSON_COMPACT);
	r = mkresp(200, JSON_CT, body);
	ck_assert_int_eq(drv_get(DRV_IDP_OKTA)->parse_list(&okta, NULL, &r, &pg, &e), CLR_OK);
	ck_assert_uint_eq(pg.n, 200);
	ck_assert_str_eq(pg.next, "0oa00199");
	drv_list_page_clear(&pg);
	free(body);
	json_decref(a);
}
END_TEST

/* ---- whole listings against the stub server ---- */

static struct stub_http *srv;
static int port;
static struct clr_http_client *cli;
static char *page1; /* 100 Glewlwyd clients */

static void handler(const struct stub_http_req *req, struct stub_http_resp *resp, void *arg)
{
	char auth[128] = "";

	(void)arg;
	resp->headers = "Content-Type: application/json\r\n";
	stub_http_header(req->headers, "Authorization", auth, sizeof(auth));
	if (strncmp(req->path, "/endless/api/client/", 20) == 0) {
		resp->body = page1; /* every page full */
	} else if (strncmp(req->path, "/api/client/", 12) == 0 && strcmp(req->method, "GET") == 0) {
		if (strcmp(auth, "token glw-api-key-0123456789abcdef") != 0) {
			resp->status = 401;
			resp->body = "{\"error\":\"unauthorized\",\"error_description\":\"key "
				     "glw-api-key-0123456789abcdef is not valid\"}";
		} else if (strcmp(req->path, "/api/client/?offset=0&limit=100") == 0) {
			resp->body = page1;
		} else {
			resp->body = glw_clients_200;
		}
	} else if (strcmp(req->method, "DELETE") == 0 &&
		   strcmp(req->path, "/api/client/x8k2m") == 0) {
		resp->status = strcmp(auth, "token glw-api-key-0123456789abcdef") == 0 ? 200 : 401;
	} else if (strcmp(req->path, "/token") == 0) {
		resp->body = "{\"access_token\":\"kc-admin-token\",\"token_type\":\"Bearer\","
			     "\"expires_in\":60}";
	} else if (strcmp(req->path, "/admin/realms/dcr/clients?first=0&max=100") == 0) {
		resp->status = strcmp(auth, "Bearer kc-admin-token") == 0 ? 200 : 401;
		resp->body = kc_clients_200;
	} else {
		resp->status = 404;
		resp->body = "{\"error\":\"not_found\"}";
	}
}

static void setup(void)
{
	json_t *a = json_array();
	char id[32];

	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "c%03d", i);
		json_array_append_new(a, json_pack("{s:s, s:b}", "client_id", id, "enabled", 1));
	}
	page1 = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	srv = stub_http_start(handler, NULL, &port);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(clr_http_client_new(&cli), CLR_OK);
}

static void teardown(void)
{
	clr_http_client_free(cli);
	stub_http_stop(srv);
	free(page1);
}

static struct drv_provider local(enum drv_idp_kind k, char *iss, char *tok, const char *path)
{
	struct drv_provider p;

	memset(&p, 0, sizeof(p));
	p.kind = k;
	snprintf(iss, 128, "http://127.0.0.1:%d%s", port, path);
	snprintf(tok, 128, "http://127.0.0.1:%d/token", port);
	p.issuer = iss;
	p.token_endpoint = tok;
	p.http.allow_http = 1;
	p.http.connect_timeout_ms = 2000;
	p.http.timeout_ms = 5000;
	return p;
}

START_TEST(test_e2e_glewlwyd_pages_and_delete)
{
	char iss[128], tok[128];
	struct drv_provider p = local(DRV_IDP_GLEWLWYD, iss, tok, "/api/oidc");
	struct drv_list_page all = {0};
	struct clr_err e = {0};
	unsigned before;

	p.list_credential = "glw-api-key-0123456789abcdef";
	before = stub_http_count(srv);
	ck_assert_int_eq(drv_list(cli, &p, &all, &e), CLR_OK);
	ck_assert_uint_eq(stub_http_count(srv) - before, 2); /* two pages */
	ck_assert_uint_eq(all.n, 102);
	ck_assert_str_eq(all.items[0].client_id, "c000");
	ck_assert_str_eq(all.items[101].client_id, "x8k2m");
	ck_assert_str_eq(all.items[101].tag, UUID1);
	ck_assert_int_eq(drv_list_delete(cli, &p, &all.items[101], &e), CLR_OK);
	drv_list_page_clear(&all);

	/* No credential: refused before any request; the initial token is not one. */
	p.list_credential = NULL;
	p.initial_access_token = "registration-token";
	before = stub_http_count(srv);
	ck_assert_int_eq(drv_list(cli, &p, &all, &e), CLR_ERR_CONFLICT);
	ck_assert_uint_eq(stub_http_count(srv), before);

	/* A wrong key: the IdP's refusal, with the key it echoed redacted. */
	p.list_credential = "glw-api-key-0123456789abcdeX";
	ck_assert_int_eq(drv_list(cli, &p, &all, &e), CLR_ERR_DENIED);
	ck_assert_ptr_null(strstr(e.msg, "glw-api-key-0123456789abcdeX"));
	ck_assert_uint_eq(all.n, 0);
}
END_TEST

START_TEST(test_e2e_page_bound)
{
	char iss[128], tok[128];
	struct drv_provider p = local(DRV_IDP_GLEWLWYD, iss, tok, "/endless/api/oidc");
	struct drv_list_page all = {0};
	struct clr_err e = {0};
	unsigned before = stub_http_count(srv);

	/* Every page full: stop at the bound, never take a part for the whole. */
	p.list_credential = "glw-api-key-0123456789abcdef";
	ck_assert_int_eq(drv_list(cli, &p, &all, &e), CLR_ERR_UPSTREAM);
	ck_assert_uint_eq(stub_http_count(srv) - before, DRV_LIST_MAX_PAGES);
	ck_assert_uint_eq(all.n, 0);
}
END_TEST

START_TEST(test_e2e_keycloak_admin_token)
{
	char iss[128], tok[128];
	struct drv_provider p = local(DRV_IDP_KEYCLOAK, iss, tok, "/realms/dcr");
	struct drv_list_page all = {0};
	struct clr_err e = {0};

	/* Without the service account's credentials nothing is asked. */
	ck_assert_int_eq(drv_list(cli, &p, &all, &e), CLR_ERR_CONFLICT);
	p.initial_client_id = "reconciler";
	p.initial_client_secret = "kc-sa-secret";
	ck_assert_int_eq(drv_list(cli, &p, &all, &e), CLR_OK);
	ck_assert_uint_eq(all.n, 2);
	ck_assert_str_eq(all.items[1].tag, UUID1);
	drv_list_page_clear(&all);
}
END_TEST

START_TEST(test_unsupported_kinds)
{
	struct drv_provider p = {.kind = DRV_IDP_HTTP_BRIDGE,
				 .registration_endpoint = "https://bridge.example.com/dcr",
				 .initial_access_token = "k"};
	struct drv_list_page all = {0};
	struct clr_err e = {0};

	/* Kong's bridge contract has no list operation; nor have RFC 7591/7592. */
	ck_assert_int_eq(drv_list(cli, &p, &all, &e), CLR_ERR_CONFLICT);
	ck_assert_str_eq(e.error, "unsupported_operation");
	p.kind = DRV_IDP_OTHER;
	ck_assert_int_eq(drv_list(cli, &p, &all, &e), CLR_ERR_CONFLICT);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("driver_list");
	TCase *tc = tcase_create("offline");

	tcase_add_test(tc, test_can_list);
	tcase_add_test(tc, test_list_requests_exact);
	tcase_add_test(tc, test_tag);
	tcase_add_test(tc, test_glewlwyd_register_tagged);
	tcase_add_test(tc, test_list_parse);
	tcase_add_test(tc, test_okta_paging);
	suite_add_tcase(s, tc);
	tc = tcase_create("stub");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_e2e_glewlwyd_pages_and_delete);
	tcase_add_test(tc, test_e2e_page_bound);
	tcase_add_test(tc, test_e2e_keycloak_admin_token);
	tcase_add_test(tc, test_unsupported_kinds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
