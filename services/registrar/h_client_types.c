/*
 * h_client_types.c - client types: the RFC 7591 metadata a registration on
 * a provider gets (response_types, grant_types, token_endpoint_auth_method,
 * Okta application_type).
 *
 * Values come from the IANA "OAuth Dynamic Client Registration Metadata"
 * registries, and their combination is checked as RFC 7591 s.2.1 relates
 * grant types and response types, so an inconsistent type is refused here
 * rather than by the IdP at approval time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/log.h"
#include "registrar.h"

static const struct reg_field ct_fields[] = {
	{ "display_name", REG_FT_STR, 1, 0, 1, 200, 0, 0 },
	{ "description", REG_FT_STR, 0, 1, 0, 2000, 0, 1 },
	{ "response_types", REG_FT_STRARR, 0, 0, 1, 64, 8, 0 },
	{ "grant_types", REG_FT_STRARR, 1, 0, 1, 128, 9, 0 },
	{ "token_endpoint_auth_method", REG_FT_STR, 1, 0, 1, 64, 0, 0 },
	{ "okta_application_type", REG_FT_STR, 0, 1, 1, 16, 0, 0 },
};
#define NCT_FIELDS (sizeof(ct_fields) / sizeof(ct_fields[0]))

static const char *const grant_types[] = {
	"authorization_code", "implicit", "password", "client_credentials", "refresh_token",
	"urn:ietf:params:oauth:grant-type:jwt-bearer",
	"urn:ietf:params:oauth:grant-type:saml2-bearer",
	"urn:ietf:params:oauth:grant-type:device_code",
	"urn:openid:params:grant-type:ciba",
};
static const char *const response_types[] = {
	"code", "token", "id_token", "code id_token", "code token", "code id_token token",
	"id_token token", "none",
};
static const char *const auth_methods[] = {
	"none", "client_secret_post", "client_secret_basic", "client_secret_jwt",
	"private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth",
};
static const char *const okta_types[] = { "web", "native", "browser", "service" };

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

static enum clr_rc arr_check(const json_t *a, const char *field,
			     const char *const *list, size_t n, struct clr_err *e)
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
						   field, "%s: \"%.64s\" is listed twice", field, s);
	}
	return CLR_OK;
}

/* The whole RFC 7591 consistency check of one client type. */
static enum clr_rc ct_validate(const json_t *rt, const json_t *gt, const char *auth,
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
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata",
				   "token_endpoint_auth_method",
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
				return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata",
						   "response_types",
						   "response type \"%s\" needs the authorization_code grant", s);
		}
		if (rt_has(s, "token") || rt_has(s, "id_token")) {
			rt_front = 1;
			if (!imp)
				return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata",
						   "response_types",
						   "response type \"%s\" needs the implicit grant", s);
		}
	}
	if (ac && !rt_code)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata", "response_types",
				   "the authorization_code grant needs a response type with \"code\"");
	if (imp && !rt_front)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata", "response_types",
				   "the implicit grant needs a response type with \"token\" or \"id_token\"");
	if (!ac && !imp && json_array_size(rt) > 0)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata", "response_types",
				   "response_types must be empty without authorization_code or implicit");
	if (reg_strarr_has(gt, "refresh_token")) {
		size_t others = json_array_size(gt) - 1 - (size_t)cc - (size_t)imp;

		if (others == 0)
			return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata", "grant_types",
					   "refresh_token needs a grant that issues refresh tokens "
					   "(authorization_code, password, device code, ...)");
	}
	if (cc && strcmp(auth, "none") == 0)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_client_metadata",
				   "token_endpoint_auth_method",
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

static void reply_row(struct clr_req *r, int status, PGresult *res)
{
	if (PQntuples(res) != 1)
		clr_resp_error(r, 404, "not_found", "no such client type");
	else
		clr_resp_json(r, status, reg_row_json(res, 0));
}

/* Runs a statement returning one client type row and answers with it. */
static void write_ct(struct clr_req *r, const char *stmt, const char *const *p,
		     int status)
{
	PGresult *res = NULL;
	struct clr_err e = { 0 };
	enum clr_rc rc = clr_db_exec(r->db, stmt, 7, p, &res);

	if (rc == CLR_ERR_CONFLICT) {
		clr_resp_error(r, 409, "conflict",
			       "the provider already has a client type with this display_name");
		return;
	}
	if (rc != CLR_OK) {
		clr_err_set(&e, rc, NULL, NULL, "storing the client type failed");
		reg_reply_err(r, &e);
		return;
	}
	reply_row(r, status, res);
	PQclear(res);
}

void reg_h_ctypes_create(struct clr_req *r)
{
	const char *pid = reg_param_id(r, 0, "provider");
	const json_t *b = r->json;
	struct clr_err e = { 0 };
	json_t *rt = NULL;
	char *rts = NULL, *gts = NULL;
	const char *v[1], *p[7];
	PGresult *res = NULL;

	if (pid == NULL)
		return;
	if (reg_fields_check(b, ct_fields, NCT_FIELDS, 0, "invalid_client_metadata", &e) != CLR_OK)
		goto fail;
	rt = json_object_get(b, "response_types");
	rt = rt != NULL ? json_incref(rt) : json_array();
	if (ct_validate(rt, json_object_get(b, "grant_types"),
			json_string_value(json_object_get(b, "token_endpoint_auth_method")),
			json_string_value(json_object_get(b, "okta_application_type")), &e) != CLR_OK)
		goto fail;
	v[0] = pid;
	if ((e.rc = clr_db_exec(r->db, "reg_pv_get", 1, v, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "reading the provider failed");
		goto fail;
	}
	if (PQntuples(res) != 1) {
		clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such provider");
		goto fail;
	}
	rts = json_dumps(rt, JSON_COMPACT);
	gts = json_dumps(json_object_get(b, "grant_types"), JSON_COMPACT);
	if (rts == NULL || gts == NULL) {
		clr_err_set(&e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto fail;
	}
	p[0] = pid;
	p[1] = json_string_value(json_object_get(b, "display_name"));
	p[2] = json_string_value(json_object_get(b, "description"));
	if (p[2] == NULL)
		p[2] = "";
	p[3] = rts;
	p[4] = gts;
	p[5] = json_string_value(json_object_get(b, "token_endpoint_auth_method"));
	p[6] = json_string_value(json_object_get(b, "okta_application_type"));
	write_ct(r, "reg_ct_insert", p, 201);
	goto out;
fail:
	reg_reply_err(r, &e);
out:
	PQclear(res);
	json_decref(rt);
	free(rts);
	free(gts);
}

void reg_h_ctypes_list(struct clr_req *r)
{
	const char *pid = reg_param_id(r, 0, "provider");
	const char *v[1];
	PGresult *res = NULL;
	struct clr_err e = { 0 };

	if (pid == NULL)
		return;
	v[0] = pid;
	if ((e.rc = clr_db_exec(r->db, "reg_pv_get", 1, v, &res)) != CLR_OK)
		goto dbfail;
	if (PQntuples(res) != 1) {
		clr_resp_error(r, 404, "not_found", "no such provider");
		goto out;
	}
	PQclear(res);
	res = NULL;
	if ((e.rc = clr_db_exec(r->db, "reg_ct_list", 1, v, &res)) != CLR_OK)
		goto dbfail;
	clr_resp_json(r, 200, json_pack("{s:o}", "client_types", reg_rows_json(res)));
	goto out;
dbfail:
	clr_err_set(&e, e.rc, NULL, NULL, "listing client types failed");
	reg_reply_err(r, &e);
out:
	PQclear(res);
}

void reg_h_ctypes_get(struct clr_req *r)
{
	const char *id = reg_param_id(r, 0, "client type");
	const char *v[1];
	PGresult *res = NULL;
	struct clr_err e = { 0 };

	if (id == NULL)
		return;
	v[0] = id;
	if ((e.rc = clr_db_exec(r->db, "reg_ct_get", 1, v, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "reading the client type failed");
		reg_reply_err(r, &e);
		return;
	}
	reply_row(r, 200, res);
	PQclear(res);
}

void reg_h_ctypes_patch(struct clr_req *r)
{
	const char *id = reg_param_id(r, 0, "client type");
	const json_t *b = r->json;
	const char *v[1], *p[7];
	PGresult *res = NULL;
	struct clr_err e = { 0 };
	json_t *cur = NULL, *rt, *gt, *j;
	char *rts = NULL, *gts = NULL;
	const char *auth, *okta;

	if (id == NULL)
		return;
	if (reg_fields_check(b, ct_fields, NCT_FIELDS, 1, "invalid_client_metadata", &e) != CLR_OK)
		goto fail;
	if (json_is_null(json_object_get(b, "display_name"))) {
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_client_metadata", "display_name",
			    "display_name cannot be removed");
		goto fail;
	}
	if (clr_db_begin(r->db) != CLR_OK) {
		clr_err_set(&e, CLR_ERR_DB, NULL, NULL, "database unavailable");
		goto fail;
	}
	v[0] = id;
	if ((e.rc = clr_db_exec(r->db, "reg_ct_get_lock", 1, v, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "reading the client type failed");
		goto fail;
	}
	if (PQntuples(res) != 1) {
		clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such client type");
		goto fail;
	}
	cur = reg_row_json(res, 0);
	if (cur == NULL) {
		clr_err_set(&e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto fail;
	}
	/* Merge: fields present in the body win, null clears the optional ones. */
	json_object_update_existing(cur, (json_t *)b);
	if (json_is_null(json_object_get(cur, "description")))
		json_object_set_new(cur, "description", json_string(""));
	rt = json_object_get(cur, "response_types");
	gt = json_object_get(cur, "grant_types");
	auth = json_string_value(json_object_get(cur, "token_endpoint_auth_method"));
	j = json_object_get(cur, "okta_application_type");
	okta = json_string_value(j);
	if (ct_validate(rt, gt, auth, okta, &e) != CLR_OK)
		goto fail;
	rts = json_dumps(rt, JSON_COMPACT);
	gts = json_dumps(gt, JSON_COMPACT);
	if (rts == NULL || gts == NULL) {
		clr_err_set(&e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto fail;
	}
	p[0] = id;
	p[1] = json_string_value(json_object_get(cur, "display_name"));
	p[2] = json_string_value(json_object_get(cur, "description"));
	p[3] = rts;
	p[4] = gts;
	p[5] = auth;
	p[6] = okta;
	PQclear(res);
	res = NULL;
	if ((e.rc = clr_db_exec(r->db, "reg_ct_update", 7, p, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, e.rc == CLR_ERR_CONFLICT ? "conflict" : NULL, NULL,
			    e.rc == CLR_ERR_CONFLICT ?
			    "the provider already has a client type with this display_name" :
			    "storing the client type failed");
		goto fail;
	}
	if ((e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "storing the client type failed");
		goto fail;
	}
	/* Existing registrations keep their IdP metadata until they are updated (PUT). */
	reply_row(r, 200, res);
	goto out;
fail:
	clr_db_rollback(r->db);
	reg_reply_err(r, &e);
out:
	PQclear(res);
	json_decref(cur);
	free(rts);
	free(gts);
}

void reg_h_ctypes_delete(struct clr_req *r)
{
	const char *id = reg_param_id(r, 0, "client type");
	const char *v[1];
	PGresult *res = NULL;
	struct clr_err e = { 0 };
	long live;

	if (id == NULL)
		return;
	v[0] = id;
	if (clr_db_begin(r->db) != CLR_OK) {
		clr_err_set(&e, CLR_ERR_DB, NULL, NULL, "database unavailable");
		goto fail;
	}
	if ((e.rc = clr_db_exec(r->db, "reg_ct_get_lock", 1, v, &res)) != CLR_OK)
		goto dbfail;
	if (PQntuples(res) != 1) {
		clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such client type");
		goto fail;
	}
	PQclear(res);
	res = NULL;
	if ((e.rc = clr_db_exec(r->db, "reg_ct_in_use", 1, v, &res)) != CLR_OK)
		goto dbfail;
	live = atol(PQgetvalue(res, 0, 0));
	if (live > 0) {
		clr_err_set(&e, CLR_ERR_CONFLICT, "conflict", NULL,
			    "%ld pending, active or orphaned registrations use this client type", live);
		goto fail;
	}
	if ((e.rc = clr_db_exec(r->db, "reg_ct_delete", 1, v, NULL)) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK)
		goto dbfail;
	clr_log(r->reqid, CLR_LOG_INFO, "client type %s deleted by %s", id, r->who.name);
	clr_resp_empty(r, 204);
	goto out;
dbfail:
	clr_err_set(&e, e.rc, NULL, NULL, "deleting the client type failed");
fail:
	clr_db_rollback(r->db);
	reg_reply_err(r, &e);
out:
	PQclear(res);
}
