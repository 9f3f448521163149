/*
 * apps.c - the app operations (see apps.h).
 */
#include <stdlib.h>

#include "clearance/jobs.h"
#include "clearance/oauth.h"
#include "apps.h"
#include "util.h"

static const struct clr_field app_fields[] = {
    {"name", CLR_FT_STR, 1, 0, 1, 200, 0, 0},
    {"description", CLR_FT_STR, 0, 0, 0, 2000, 0, 1},
    {"redirect_uris", CLR_FT_STRARR, 0, 0, 1, 2048, 20, 0},
};

static enum clr_rc uris_check(const json_t *body, struct clr_err *e)
{
	const json_t *a = json_object_get(body, "redirect_uris"), *v;
	size_t i, j;
	enum clr_rc rc;

	json_array_foreach(a, i, v)
	{
		if ((rc = clr_redirect_uri_check(json_string_value(v), "redirect_uris", e)) !=
		    CLR_OK)
			return rc;
		for (j = 0; j < i; j++) {
			if (json_equal(v, json_array_get(a, j)))
				return clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri",
						   "redirect_uris",
						   "a redirect URI is listed twice");
		}
	}
	return CLR_OK;
}

const struct clr_body acc_body_app_create = CLR_BODY(app_fields, 0, NULL);
const struct clr_body acc_body_app_patch = CLR_BODY(app_fields, 1, NULL);

enum clr_rc acc_app_check(const json_t *body, int partial, struct clr_err *e)
{
	enum clr_rc rc;

	if ((rc = clr_fields_check(body, partial ? &acc_body_app_patch : &acc_body_app_create,
				   e)) != CLR_OK)
		return rc;
	return uris_check(body, e);
}

enum clr_rc acc_app_insert(struct clr_db *db, const char *dev_id, const json_t *body, json_t **out,
			   struct clr_err *e)
{
	const char *p[4];
	char *uris = NULL;
	json_t *empty = NULL;
	enum clr_rc rc;

	if ((rc = acc_app_check(body, 0, e)) != CLR_OK)
		return rc;
	if (json_object_get(body, "redirect_uris") != NULL)
		uris = json_dumps(json_object_get(body, "redirect_uris"), JSON_COMPACT);
	else if ((empty = json_array()) != NULL)
		uris = json_dumps(empty, JSON_COMPACT);
	json_decref(empty);
	if (uris == NULL)
		return clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
	p[0] = dev_id;
	p[1] = json_string_value(json_object_get(body, "name"));
	p[2] = json_string_value(json_object_get(body, "description"));
	p[3] = uris;
	rc = acc_db_json(db, "acc_app_insert", 4, p, out, e);
	free(uris);
	return rc;
}

enum clr_rc acc_app_update_clients(struct clr_db *db, const char *app_id, const json_t *uris,
				   struct clr_err *e)
{
	PGresult *res = NULL;
	json_t *payload;
	enum clr_rc rc;
	int i;

	if ((rc = clr_db_exec(db, "acc_app_live_regs", 1, &app_id, &res)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "listing the app's clients failed");
	for (i = 0; i < PQntuples(res) && rc == CLR_OK; i++) {
		payload = json_pack("{s:s, s:O}", "registration_id", PQgetvalue(res, i, 0),
				    "redirect_uris", uris);
		rc = payload != NULL ? clr_jobs_enqueue(db, "client_update", payload, NULL)
				     : CLR_ERR_NOMEM;
		json_decref(payload);
	}
	PQclear(res);
	if (rc != CLR_OK)
		clr_err_set(e, rc, NULL, NULL, "queueing the client updates failed");
	return rc;
}
