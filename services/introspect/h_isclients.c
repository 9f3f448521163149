/*
 * h_isclients.c - admin management of the resource servers that may call
 * POST /v1/introspect with HTTP Basic (table introspection_clients):
 *   POST   /v1/introspection-clients       {"name"} -> 201 with the secret, once
 *   GET    /v1/introspection-clients       -> {"introspection_clients": [...]}
 *   DELETE /v1/introspection-clients/{id}  -> 204 (sets revoked_at)
 * The table's trigger NOTIFYs every running copy; this copy also reloads
 * its own set right away so the answer and the next request agree.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <jansson.h>

#include "clearance/auth.h"
#include "clearance/log.h"
#include "handlers.h"
#include "introspect.h"

static void reload_local(struct clr_req *r, struct ix_app *app)
{
	if (ix_isc_reload(app->isc, r->db) != CLR_OK)
		clr_log(r->reqid, CLR_LOG_WARN,
			"introspection clients: local reload failed; the refresher will retry");
}

static int is_uuid(const char *s)
{
	if (s == NULL || strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

static json_t *row_json(PGresult *res, int i)
{
	return json_pack("{s:s,s:s,s:s,s:s?}", "id", PQgetvalue(res, i, 0), "name",
			 PQgetvalue(res, i, 1), "created_at", PQgetvalue(res, i, 2), "revoked_at",
			 PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3));
}

void ix_h_isc_create(struct clr_req *r)
{
	struct ix_app *app = r->app;
	const char *name = NULL;
	char *secret = NULL, hex[65];
	const char *v[3];
	PGresult *res = NULL;
	json_error_t jerr;
	json_t *o;
	enum clr_rc rc;

	if (r->json == NULL ||
	    json_unpack_ex(r->json, &jerr, JSON_STRICT, "{s:s}", "name", &name) != 0 ||
	    strlen(name) < 1 || strlen(name) > 200) {
		clr_resp_error(r, 400, "invalid_request",
			       "body must be {\"name\": string of 1 to 200 characters}");
		return;
	}
	if (ix_isc_secret_new(&secret, hex) != CLR_OK) {
		clr_resp_error(r, 500, "server_error", "could not make a secret");
		return;
	}
	v[0] = name;
	v[1] = hex;
	v[2] = clr_token_pepper_state() == 1 ? CLR_HASH_ALG_PEPPERED : CLR_HASH_ALG_LEGACY;
	rc = clr_db_exec(r->db, "ix_isc_insert", 3, v, &res);
	if (rc != CLR_OK || PQntuples(res) != 1) {
		clr_log(r->reqid, CLR_LOG_ERROR, "introspection clients: insert failed");
		clr_resp_error(r, rc == CLR_ERR_DB ? 503 : 500, "server_error",
			       "could not store the client");
		goto out;
	}
	o = row_json(res, 0);
	if (o == NULL || json_object_set_new(o, "client_secret", json_string(secret)) != 0) {
		json_decref(o);
		clr_resp_error(r, 500, "server_error", "out of memory");
		goto out;
	}
	reload_local(r, app);
	clr_log(r->reqid, CLR_LOG_INFO, "audit: introspection client %s created by token %s",
		PQgetvalue(res, 0, 0), r->who.token_id);
	clr_resp_json(r, 201, o);
out:
	PQclear(res);
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
}

void ix_h_isc_list(struct clr_req *r)
{
	PGresult *res = NULL;
	json_t *arr = NULL, *row;
	enum clr_rc rc = clr_db_exec(r->db, "ix_isc_list", 0, NULL, &res);

	if (rc != CLR_OK) {
		clr_resp_error(r, 503, "temporarily_unavailable", "listing failed");
		goto out;
	}
	arr = json_array();
	for (int i = 0; arr != NULL && i < PQntuples(res); i++) {
		row = row_json(res, i);
		if (row == NULL || json_array_append_new(arr, row) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	if (arr == NULL) {
		clr_resp_error(r, 500, "server_error", "out of memory");
		goto out;
	}
	clr_resp_json(r, 200, json_pack("{s:o}", "introspection_clients", arr));
out:
	PQclear(res);
}

void ix_h_isc_delete(struct clr_req *r)
{
	struct ix_app *app = r->app;
	const char *v[1];
	PGresult *res = NULL;
	enum clr_rc rc;

	if (r->nparams < 1 || !is_uuid(r->params[0])) {
		clr_resp_error(r, 404, "not_found", "no such introspection client");
		return;
	}
	v[0] = r->params[0];
	rc = clr_db_exec(r->db, "ix_isc_revoke", 1, v, &res);
	if (rc != CLR_OK) {
		clr_resp_error(r, 503, "temporarily_unavailable", "revoking failed");
		goto out;
	}
	if (PQntuples(res) == 0) {
		clr_resp_error(r, 404, "not_found", "no such introspection client");
		goto out;
	}
	reload_local(r, app);
	clr_log(r->reqid, CLR_LOG_INFO, "audit: introspection client %s revoked by token %s",
		r->params[0], r->who.token_id);
	clr_resp_empty(r, 204);
out:
	PQclear(res);
}
