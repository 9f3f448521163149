/*
 * test_registrar_validate.c - the registrar's input checks (validate.c and
 * the field/URL helpers of routes.c), table-driven: client types against
 * RFC 7591's registries and combination rules, redirect URIs, scope
 * syntax, issuer / well-known matching, URL scheme checks, body fields.
 * No database, no network.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/rc.h"
#include "clearance/fields.h"
#include "clearance/oauth.h"
#include "../../services/registrar/registrations.h"
#include "../../services/registrar/routes.h"
#include "../../services/registrar/store.h"
#include "../../services/registrar/validate.h"

/* ---- reg_ctype_validate ----------------------------------------------- */

struct ct_case {
	const char *rt; /* JSON array */
	const char *gt; /* JSON array */
	const char *auth;
	const char *okta; /* NULL: none */
	int ok;
	const char *field; /* expected e.field on refusal */
};

static const struct ct_case ct_cases[] = {
    /* Accepted combinations. */
    {"[]", "[\"client_credentials\"]", "client_secret_basic", NULL, 1, NULL},
    {"[\"code\"]", "[\"authorization_code\",\"refresh_token\"]", "client_secret_post", NULL, 1,
     NULL},
    {"[\"code\"]", "[\"authorization_code\"]", "none", "browser", 1, NULL},
    {"[]", "[\"client_credentials\"]", "private_key_jwt", "service", 1, NULL},
    {"[\"code id_token\"]", "[\"authorization_code\",\"implicit\"]", "client_secret_basic", NULL, 1,
     NULL},
    {"[\"id_token token\"]", "[\"implicit\"]", "none", NULL, 1, NULL},
    {"[]", "[\"urn:ietf:params:oauth:grant-type:device_code\",\"refresh_token\"]", "none", NULL, 1,
     NULL},
    /* Not in the IANA registries. */
    {"[]", "[\"client-credentials\"]", "client_secret_basic", NULL, 0, "grant_types"},
    {"[\"code\"]", "[\"authorization_code\"]", "client_secret_basic_x", NULL, 0,
     "token_endpoint_auth_method"},
    {"[\"cod\"]", "[\"authorization_code\"]", "client_secret_basic", NULL, 0, "response_types"},
    {"[]", "[\"client_credentials\"]", "client_secret_basic", "server", 0, "okta_application_type"},
    /* Duplicates and emptiness. */
    {"[]", "[]", "client_secret_basic", NULL, 0, "grant_types"},
    {"[]", "[\"client_credentials\",\"client_credentials\"]", "client_secret_basic", NULL, 0,
     "grant_types"},
    /* RFC 7591 s.2.1 grant / response type relations. */
    {"[\"code\"]", "[\"client_credentials\"]", "client_secret_basic", NULL, 0, "response_types"},
    {"[]", "[\"authorization_code\"]", "client_secret_basic", NULL, 0, "response_types"},
    {"[\"token\"]", "[\"authorization_code\"]", "client_secret_basic", NULL, 0, "response_types"},
    {"[\"code\"]", "[\"authorization_code\",\"implicit\"]", "client_secret_basic", NULL, 0,
     "response_types"},
    {"[]", "[\"refresh_token\"]", "client_secret_basic", NULL, 0, "grant_types"},
    {"[]", "[\"client_credentials\",\"refresh_token\"]", "client_secret_basic", NULL, 0,
     "grant_types"},
    {"[]", "[\"client_credentials\"]", "none", NULL, 0, "token_endpoint_auth_method"},
    /* Okta application types. */
    {"[\"code\"]", "[\"authorization_code\",\"client_credentials\"]", "client_secret_basic",
     "service", 0, "okta_application_type"},
    {"[]", "[\"client_credentials\"]", "client_secret_basic", "web", 0, "okta_application_type"},
    {"[\"code\"]", "[\"authorization_code\"]", "client_secret_basic", "browser", 0,
     "token_endpoint_auth_method"},
};

START_TEST(ctype_rules)
{
	const struct ct_case *c = &ct_cases[_i];
	json_t *rt = json_loads(c->rt, 0, NULL), *gt = json_loads(c->gt, 0, NULL);
	struct clr_err e = {0};
	enum clr_rc rc;

	ck_assert_ptr_nonnull(rt);
	ck_assert_ptr_nonnull(gt);
	rc = reg_ctype_validate(rt, gt, c->auth, c->okta, &e);
	if (c->ok) {
		ck_assert_msg(rc == CLR_OK, "case %d refused: %s", _i, e.msg);
	} else {
		ck_assert_msg(rc == CLR_ERR_PARAM, "case %d accepted", _i);
		ck_assert_str_eq(e.error, "invalid_client_metadata");
		ck_assert_str_eq(e.field, c->field);
		ck_assert_int_gt((int)strlen(e.msg), 0);
	}
	json_decref(rt);
	json_decref(gt);
}
END_TEST

/* ---- reg_issuer_matches ------------------------------------------------ */

struct iss_case {
	const char *wk, *issuer;
	int ok;
};

static const struct iss_case iss_cases[] = {
    {"https://idp.example.com/.well-known/openid-configuration", "https://idp.example.com", 1},
    {"https://idp.example.com/.well-known/openid-configuration", "https://idp.example.com/", 1},
    {"https://kc.example.com/realms/dcr/.well-known/openid-configuration",
     "https://kc.example.com/realms/dcr", 1},
    {"https://idp.example.com/.well-known/oauth-authorization-server", "https://idp.example.com",
     1},
    /* RFC 8414 s.3: the well-known part goes between host and path. */
    {"https://as.example.com/.well-known/oauth-authorization-server/tenant1",
     "https://as.example.com/tenant1", 1},
    {"https://as.example.com/.well-known/openid-configuration/tenant1",
     "https://as.example.com/tenant1", 1},
    /* Another issuer's document, or a look-alike. */
    {"https://idp.example.com/.well-known/openid-configuration", "https://evil.example.com", 0},
    {"https://idp.example.com/.well-known/openid-configuration", "https://idp.example.co", 0},
    {"https://idp.example.com/realms/a/.well-known/openid-configuration",
     "https://idp.example.com/realms/b", 0},
    {"http://idp.example.com/.well-known/openid-configuration", "https://idp.example.com", 0},
    {"https://idp.example.com/.well-known/openid-configuration?x=1", "https://idp.example.com", 0},
    {"https://idp.example.com/x/.well-known/openid-configuration", "https://idp.example.com", 0},
};

START_TEST(issuer_match)
{
	const struct iss_case *c = &iss_cases[_i];

	ck_assert_msg(reg_issuer_matches(c->wk, c->issuer) == c->ok, "case %d: %s vs %s", _i, c->wk,
		      c->issuer);
}
END_TEST

START_TEST(issuer_overlong)
{
	char *iss = malloc(5000), wk[6000];

	ck_assert_ptr_nonnull(iss);
	memset(iss, 'a', 4999);
	iss[4999] = '\0';
	memcpy(iss, "https://", 8);
	snprintf(wk, sizeof(wk), "%s/.well-known/openid-configuration", iss);
	/* Longer than any URL we accept: refused, never truncated into a match. */
	ck_assert_int_eq(reg_issuer_matches(wk, iss), 0);
	free(iss);
}
END_TEST

/* ---- clr_scope_valid ----------------------------------------------------- */

START_TEST(scope_syntax)
{
	ck_assert_int_eq(clr_scope_valid(""), 1);
	ck_assert_int_eq(clr_scope_valid("openid"), 1);
	ck_assert_int_eq(clr_scope_valid("product_payments free_plan"), 1);
	ck_assert_int_eq(clr_scope_valid("https://api.example.com/read a:b!#$%&'()*+,-./"), 1);
	ck_assert_int_eq(clr_scope_valid(" openid"), 0);
	ck_assert_int_eq(clr_scope_valid("openid "), 0);
	ck_assert_int_eq(clr_scope_valid("a  b"), 0);
	ck_assert_int_eq(clr_scope_valid("a\tb"), 0);
	ck_assert_int_eq(clr_scope_valid("a\"b"), 0);
	ck_assert_int_eq(clr_scope_valid("a\\b"), 0);
	ck_assert_int_eq(clr_scope_valid("caf\xc3\xa9"), 0);
	ck_assert_int_eq(clr_scope_valid("a\x7f"), 0);
}
END_TEST

/* ---- clr_redirect_uri_check ---------------------------------------------- */

struct uri_case {
	const char *uri;
	int ok;
};

static const struct uri_case uri_cases[] = {
    {"https://app.example.com/cb", 1},
    {"https://app.example.com:8443/cb?x=1", 1},
    {"http://127.0.0.1:8080/cb", 1},
    {"http://localhost/cb", 1},
    {"http://[::1]:9000/cb", 1},
    {"http://app.example.com/cb", 0},
    {"http://127.0.0.1.example.com/cb", 0},
    {"https://app.example.com/cb#frag", 0},
    {"https://user:pw@app.example.com/cb", 0},
    {"/relative/cb", 0},
    {"javascript:alert(1)", 0},
    {"ftp://app.example.com/cb", 0},
    {"https://app.example.com/c b", 0},
    {"https://app.example.com/\r\nX: y", 0},
    {"", 0},
};

START_TEST(redirect_rules)
{
	const struct uri_case *c = &uri_cases[_i];
	struct clr_err e = {0};
	enum clr_rc rc = clr_redirect_uri_check(c->uri, "redirect_uris", &e);

	if (c->ok) {
		ck_assert_msg(rc == CLR_OK, "%s refused: %s", c->uri, e.msg);
	} else {
		ck_assert_msg(rc == CLR_ERR_PARAM, "%s accepted", c->uri);
		ck_assert_str_eq(e.error, "invalid_redirect_uri");
		ck_assert_str_eq(e.field, "redirect_uris");
	}
}
END_TEST

START_TEST(redirect_too_long)
{
	char uri[2100];
	struct clr_err e = {0};

	memset(uri, 'a', sizeof(uri) - 1);
	uri[sizeof(uri) - 1] = '\0';
	memcpy(uri, "https://x.example.com/", 22);
	ck_assert_int_eq(clr_redirect_uri_check(uri, "redirect_uris", &e), CLR_ERR_PARAM);
}
END_TEST

/* ---- reg_request_check --------------------------------------------------- */

static struct reg_ctype mk_ct(const char *gt)
{
	struct reg_ctype c;

	memset(&c, 0, sizeof(c));
	c.grant_types = json_loads(gt, 0, NULL);
	c.response_types = json_array();
	ck_assert_ptr_nonnull(c.grant_types);
	return c;
}

static void free_ct(struct reg_ctype *c)
{
	json_decref(c->grant_types);
	json_decref(c->response_types);
}

START_TEST(request_redirect_combination)
{
	struct reg_ctype cc = mk_ct("[\"client_credentials\"]");
	struct reg_ctype ac = mk_ct("[\"authorization_code\"]");
	json_t *none = json_array(), *one = json_pack("[s]", "https://app.example.com/cb");
	json_t *dup = json_pack("[ss]", "https://app.example.com/cb", "https://app.example.com/cb");
	json_t *notstr = json_pack("[i]", 3), *many = json_array(), *str = json_string("x");
	struct reg_request rq = {0};
	struct clr_err e = {0};
	int i;

	for (i = 0; i < REG_MAX_REDIRECT_URIS + 1; i++) {
		char u[64];

		snprintf(u, sizeof(u), "https://app.example.com/cb%d", i);
		json_array_append_new(many, json_string(u));
	}
	rq.client_name = "app";
	/* client_credentials: no redirect URIs at all. */
	rq.redirect_uris = none;
	ck_assert_int_eq(reg_request_check(&rq, &cc, &e), CLR_OK);
	rq.redirect_uris = NULL;
	ck_assert_int_eq(reg_request_check(&rq, &cc, &e), CLR_OK);
	rq.redirect_uris = one;
	ck_assert_int_eq(reg_request_check(&rq, &cc, &e), CLR_ERR_PARAM);
	ck_assert_str_eq(e.error, "invalid_redirect_uri");
	/* authorization_code: at least one, valid, distinct, bounded. */
	ck_assert_int_eq(reg_request_check(&rq, &ac, &e), CLR_OK);
	rq.redirect_uris = none;
	ck_assert_int_eq(reg_request_check(&rq, &ac, &e), CLR_ERR_PARAM);
	ck_assert_str_eq(e.field, "redirect_uris");
	rq.redirect_uris = dup;
	ck_assert_int_eq(reg_request_check(&rq, &ac, &e), CLR_ERR_PARAM);
	rq.redirect_uris = notstr;
	ck_assert_int_eq(reg_request_check(&rq, &ac, &e), CLR_ERR_PARAM);
	rq.redirect_uris = many;
	ck_assert_int_eq(reg_request_check(&rq, &ac, &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "at most"));
	/* A job's payload may hold anything: a string is not a list. */
	rq.redirect_uris = str;
	ck_assert_int_eq(reg_request_check(&rq, &ac, &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "must be an array"));
	json_decref(str);
	json_decref(many);
	json_decref(notstr);
	json_decref(dup);
	json_decref(one);
	json_decref(none);
	free_ct(&ac);
	free_ct(&cc);
}
END_TEST

START_TEST(request_name_and_scope)
{
	struct reg_ctype cc = mk_ct("[\"client_credentials\"]");
	struct reg_request rq = {0};
	struct clr_err e = {0};
	char name[202], *scope;

	rq.client_name = NULL;
	ck_assert_int_eq(reg_request_check(&rq, &cc, &e), CLR_ERR_PARAM);
	ck_assert_str_eq(e.field, "client_name");
	rq.client_name = "";
	ck_assert_int_eq(reg_request_check(&rq, &cc, &e), CLR_ERR_PARAM);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	rq.client_name = name;
	ck_assert_int_eq(reg_request_check(&rq, &cc, &e), CLR_ERR_PARAM);
	name[200] = '\0';
	ck_assert_int_eq(reg_request_check(&rq, &cc, &e), CLR_OK);

	rq.scope = "product_payments  free_plan";
	ck_assert_int_eq(reg_request_check(&rq, &cc, &e), CLR_ERR_PARAM);
	ck_assert_str_eq(e.field, "scope");
	rq.scope = "product_payments free_plan";
	ck_assert_int_eq(reg_request_check(&rq, &cc, &e), CLR_OK);

	/*
	 * Regression: a job (product scopes + plan scopes) could ask for a
	 * scope longer than the column holds; the IdP client was created and
	 * the insert then failed.  It is refused before any IdP call now.
	 */
	scope = malloc(REG_MAX_SCOPE + 2);
	ck_assert_ptr_nonnull(scope);
	memset(scope, 's', REG_MAX_SCOPE + 1);
	scope[REG_MAX_SCOPE + 1] = '\0';
	rq.scope = scope;
	ck_assert_int_eq(reg_request_check(&rq, &cc, &e), CLR_ERR_PARAM);
	ck_assert_str_eq(e.field, "scope");
	scope[REG_MAX_SCOPE] = '\0';
	ck_assert_int_eq(reg_request_check(&rq, &cc, &e), CLR_OK);
	free(scope);
	free_ct(&cc);
}
END_TEST

/* ---- reg_url_check ------------------------------------------------------- */

START_TEST(url_schemes)
{
	struct clr_err e = {0};

	ck_assert_int_eq(reg_url_check("https://idp.example.com/x", 0, "f", "invalid_request", &e),
			 CLR_OK);
	ck_assert_int_eq(reg_url_check("http://127.0.0.1:9/x", 0, "f", "invalid_request", &e),
			 CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "allow_insecure_http"));
	ck_assert_str_eq(e.field, "f");
	ck_assert_int_eq(reg_url_check("http://127.0.0.1:9/x", 1, "f", "invalid_request", &e),
			 CLR_OK);
	ck_assert_int_eq(reg_url_check("file:///etc/passwd", 1, "f", "invalid_request", &e),
			 CLR_ERR_PARAM);
	ck_assert_int_eq(reg_url_check("gopher://idp.example.com/", 1, "f", "invalid_request", &e),
			 CLR_ERR_PARAM);
	ck_assert_int_eq(
	    reg_url_check("https://u:p@idp.example.com/", 0, "f", "invalid_request", &e),
	    CLR_ERR_PARAM);
	ck_assert_int_eq(reg_url_check("https://idp.example.com/#x", 0, "f", "invalid_request", &e),
			 CLR_ERR_PARAM);
	ck_assert_int_eq(reg_url_check("idp.example.com/x", 0, "f", "invalid_request", &e),
			 CLR_ERR_PARAM);
	ck_assert_int_eq(reg_url_check(NULL, 0, "f", "invalid_request", &e), CLR_ERR_PARAM);
	ck_assert_int_eq(
	    reg_url_check("https://idp.example.com/a b", 0, "f", "invalid_request", &e),
	    CLR_ERR_PARAM);
}
END_TEST

/* ---- clr_fields_check ---------------------------------------------------- */

static const struct clr_field spec[] = {
    {"name", CLR_FT_STR, 1, 0, 1, 8, 0, 0},
    {"note", CLR_FT_STR, 0, 1, 0, 20, 0, 1},
    {"flag", CLR_FT_BOOL, 0, 0, 0, 0, 0, 0},
    {"uris", CLR_FT_STRARR, 0, 1, 1, 10, 2, 0},
};

static enum clr_rc fields(const char *json, int partial, struct clr_err *e)
{
	json_t *o = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	enum clr_rc rc;

	ck_assert_ptr_nonnull(o);
	memset(e, 0, sizeof(*e));
	{
		const struct clr_body b = {spec, 4, partial, "invalid_request"};

		rc = clr_fields_check(o, &b, e);
	}
	json_decref(o);
	return rc;
}

START_TEST(body_fields)
{
	struct clr_err e;

	ck_assert_int_eq(fields("{\"name\":\"abc\"}", 0, &e), CLR_OK);
	ck_assert_int_eq(fields("{\"name\":\"abc\",\"note\":\"a\\nb\",\"flag\":true,"
				"\"uris\":[\"x\",\"y\"]}",
				0, &e),
			 CLR_OK);
	ck_assert_int_eq(fields("{\"note\":null}", 1, &e), CLR_OK);
	/* A partial body (PATCH) must still change something. */
	ck_assert_int_eq(fields("{}", 1, &e), CLR_ERR_PARAM);
	/* Multi-line fields take line breaks and tabs, never other controls. */
	ck_assert_int_eq(fields("{\"name\":\"a\",\"note\":\"a\\tb\\r\\n\"}", 0, &e), CLR_OK);
	ck_assert_int_eq(fields("{\"name\":\"a\",\"note\":\"a\\u0001b\"}", 0, &e), CLR_ERR_PARAM);
	/* Missing, null, wrong type, too long, control characters. */
	ck_assert_int_eq(fields("{}", 0, &e), CLR_ERR_PARAM);
	ck_assert_str_eq(e.field, "name");
	ck_assert_int_eq(fields("{\"name\":null}", 0, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(fields("{\"name\":5}", 0, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(fields("{\"name\":\"\"}", 0, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(fields("{\"name\":\"123456789\"}", 0, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(fields("{\"name\":\"a\\u0000b\"}", 0, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(fields("{\"name\":\"a\\tb\"}", 0, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(fields("{\"name\":\"a\",\"flag\":\"true\"}", 0, &e), CLR_ERR_PARAM);
	ck_assert_str_eq(e.field, "flag");
	/* Arrays: item count, item type, item length. */
	ck_assert_int_eq(fields("{\"name\":\"a\",\"uris\":[\"1\",\"2\",\"3\"]}", 0, &e),
			 CLR_ERR_PARAM);
	ck_assert_int_eq(fields("{\"name\":\"a\",\"uris\":[1]}", 0, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(fields("{\"name\":\"a\",\"uris\":[\"\"]}", 0, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(fields("{\"name\":\"a\",\"uris\":\"x\"}", 0, &e), CLR_ERR_PARAM);
	/* Unknown fields are named, bounded and printable. */
	ck_assert_int_eq(fields("{\"name\":\"a\",\"nmae\":1}", 0, &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "unknown or read-only field \"nmae\""));
	ck_assert_int_eq(fields("{\"name\":\"a\",\"k\\u0001\":1}", 0, &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "(unprintable)"));
	ck_assert_int_eq(
	    fields("{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}", 0, &e),
	    CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "...\""));
	ck_assert_int_lt((int)strlen(e.msg), 80);
	/* Not an object at all. */
	ck_assert_int_eq(fields("[]", 0, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(fields("\"x\"", 0, &e), CLR_ERR_PARAM);
}
END_TEST

static Suite *validate_suite(void)
{
	Suite *s = suite_create("registrar_validate");
	TCase *tc;

	tc = tcase_create("reg_ctype_validate");
	tcase_add_loop_test(tc, ctype_rules, 0, (int)(sizeof(ct_cases) / sizeof(ct_cases[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("reg_issuer_matches");
	tcase_add_loop_test(tc, issuer_match, 0, (int)(sizeof(iss_cases) / sizeof(iss_cases[0])));
	tcase_add_test(tc, issuer_overlong);
	suite_add_tcase(s, tc);

	tc = tcase_create("clr_scope_valid");
	tcase_add_test(tc, scope_syntax);
	suite_add_tcase(s, tc);

	tc = tcase_create("clr_redirect_uri_check");
	tcase_add_loop_test(tc, redirect_rules, 0, (int)(sizeof(uri_cases) / sizeof(uri_cases[0])));
	tcase_add_test(tc, redirect_too_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("reg_request_check");
	tcase_add_test(tc, request_redirect_combination);
	tcase_add_test(tc, request_name_and_scope);
	suite_add_tcase(s, tc);

	tc = tcase_create("reg_url_check");
	tcase_add_test(tc, url_schemes);
	suite_add_tcase(s, tc);

	tc = tcase_create("clr_fields_check");
	tcase_add_test(tc, body_fields);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(validate_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
