/*
 * routes.c - the registrar's route table and the request helpers its
 * handlers share (body field checks, path ids, URL checks, error replies).
 *
 * Every route needs an admin token; /healthz, /readyz and /metrics are
 * answered by http_in itself.
 */
#include <string.h>
#include <curl/curl.h>

#include "clearance/log.h"
#include "clearance/util.h"
#include "registrar.h"

#define ADM CLR_AUTH_ADMIN

const struct clr_route reg_routes[] = {
    {"POST", "/v1/providers", reg_h_providers_create, ADM, 1},
    {"GET", "/v1/providers", reg_h_providers_list, ADM, 0},
    {"GET", "/v1/providers/{}", reg_h_providers_get, ADM, 0},
    {"PATCH", "/v1/providers/{}", reg_h_providers_patch, ADM, 1},
    {"DELETE", "/v1/providers/{}", reg_h_providers_delete, ADM, 0},
    {"POST", "/v1/providers/{}/discover", reg_h_providers_discover, ADM, 0},
    {"POST", "/v1/providers/{}/verify", reg_h_providers_verify, ADM, 0},
    {"POST", "/v1/providers/{}/client-types", reg_h_ctypes_create, ADM, 1},
    {"GET", "/v1/providers/{}/client-types", reg_h_ctypes_list, ADM, 0},
    {"GET", "/v1/client-types/{}", reg_h_ctypes_get, ADM, 0},
    {"PATCH", "/v1/client-types/{}", reg_h_ctypes_patch, ADM, 1},
    {"DELETE", "/v1/client-types/{}", reg_h_ctypes_delete, ADM, 0},
    {"POST", "/v1/registrations", reg_h_regs_create, ADM, 1},
    {"GET", "/v1/registrations", reg_h_regs_list, ADM, 0},
    {"GET", "/v1/registrations/{}", reg_h_regs_get, ADM, 0},
    {"PUT", "/v1/registrations/{}", reg_h_regs_put, ADM, 1},
    {"DELETE", "/v1/registrations/{}", reg_h_regs_delete, ADM, 0},
    {"POST", "/v1/registrations/{}/rotate-secret", reg_h_regs_rotate, ADM, 0},
    {"GET", "/v1/jobs", reg_h_jobs_list, ADM, 0},
    {"GET", "/v1/jobs/{}", reg_h_jobs_get, ADM, 0},
};
const size_t reg_nroutes = sizeof(reg_routes) / sizeof(reg_routes[0]);

static const char *ftype_name(enum reg_ftype t)
{
	switch (t) {
	case REG_FT_STR:
		return "a string";
	case REG_FT_BOOL:
		return "a boolean";
	case REG_FT_STRARR:
		return "an array of strings";
	case REG_FT_OBJ:
		return "an object";
	}
	return "?";
}

/* Control characters have no business in names, URLs or tokens. */
static int has_ctl(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 1;
	}
	return 0;
}

static enum clr_rc str_check(const json_t *v, const struct reg_field *f, const char *error_code,
			     struct clr_err *e)
{
	size_t len = json_string_length(v);

	if (len < f->minlen)
		return clr_err_set(e, CLR_ERR_PARAM, error_code, f->name,
				   f->minlen == 1 ? "%s must not be empty" : "%s is too short",
				   f->name);
	if (len > f->maxlen)
		return clr_err_set(e, CLR_ERR_PARAM, error_code, f->name,
				   "%s is longer than %zu bytes", f->name, f->maxlen);
	if (!f->multiline && has_ctl(json_string_value(v), len))
		return clr_err_set(e, CLR_ERR_PARAM, error_code, f->name,
				   "%s contains control characters", f->name);
	return CLR_OK;
}

static enum clr_rc field_check(const json_t *v, const struct reg_field *f, const char *error_code,
			       struct clr_err *e)
{
	size_t i;
	json_t *it;

	if (json_is_null(v)) {
		if (f->nullable)
			return CLR_OK;
		return clr_err_set(e, CLR_ERR_PARAM, error_code, f->name, "%s must be %s, not null",
				   f->name, ftype_name(f->type));
	}
	switch (f->type) {
	case REG_FT_STR:
		if (!json_is_string(v))
			break;
		return str_check(v, f, error_code, e);
	case REG_FT_BOOL:
		if (!json_is_boolean(v))
			break;
		return CLR_OK;
	case REG_FT_OBJ:
		if (!json_is_object(v))
			break;
		return CLR_OK;
	case REG_FT_STRARR:
		if (!json_is_array(v))
			break;
		if (json_array_size(v) > f->maxitems)
			return clr_err_set(e, CLR_ERR_PARAM, error_code, f->name,
					   "%s has more than %zu entries", f->name, f->maxitems);
		json_array_foreach(v, i, it)
		{
			if (!json_is_string(it))
				return clr_err_set(e, CLR_ERR_PARAM, error_code, f->name,
						   "%s must contain only strings", f->name);
			if (str_check(it, f, error_code, e) != CLR_OK)
				return CLR_ERR_PARAM;
		}
		return CLR_OK;
	}
	return clr_err_set(e, CLR_ERR_PARAM, error_code, f->name, "%s must be %s", f->name,
			   ftype_name(f->type));
}

enum clr_rc reg_fields_check(const json_t *obj, const struct reg_field *spec, size_t n, int partial,
			     const char *error_code, struct clr_err *e)
{
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(obj))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
				   "the body must be a JSON object");
	json_object_foreach((json_t *)obj, key, v)
	{
		for (i = 0; i < n; i++)
			if (strcmp(spec[i].name, key) == 0)
				break;
		if (i == n) {
			char shown[40];
			size_t kl = strlen(key);

			/* Echo at most a bounded, printable prefix of the caller's key. */
			snprintf(shown, sizeof(shown), "%.32s", key);
			if (has_ctl(shown, strlen(shown)))
				snprintf(shown, sizeof(shown), "(unprintable)");
			return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
					   "unknown field \"%s%s\"", shown, kl > 32 ? "..." : "");
		}
		if (field_check(v, &spec[i], error_code, e) != CLR_OK)
			return CLR_ERR_PARAM;
	}
	if (partial)
		return CLR_OK;
	for (i = 0; i < n; i++) {
		v = json_object_get(obj, spec[i].name);
		if (spec[i].required && (v == NULL || json_is_null(v)))
			return clr_err_set(e, CLR_ERR_PARAM, error_code, spec[i].name,
					   "%s is required", spec[i].name);
	}
	return CLR_OK;
}

const char *reg_param_id(struct clr_req *r, int i, const char *what)
{
	char msg[96];

	if (i < r->nparams && r->params[i] != NULL && clr_uuid_valid(r->params[i]))
		return r->params[i];
	/* A malformed id names nothing that exists: the same answer as an unknown one. */
	snprintf(msg, sizeof(msg), "no such %s", what);
	clr_resp_error(r, 404, "not_found", msg);
	return NULL;
}

void reg_get_one(struct clr_req *r, const char *what, const char *stmt)
{
	const char *id = reg_param_id(r, 0, what);
	PGresult *res = NULL;
	struct clr_err e = {0};
	char msg[64];

	if (id == NULL)
		return;
	if ((e.rc = clr_db_exec(r->db, stmt, 1, &id, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "reading the %s failed", what);
		reg_reply_err(r, &e);
		return;
	}
	if (PQntuples(res) != 1) {
		snprintf(msg, sizeof(msg), "no such %s", what);
		clr_resp_error(r, 404, "not_found", msg);
	} else {
		clr_resp_json(r, 200, reg_row_json(res, 0));
	}
	PQclear(res);
}

enum clr_rc reg_url_check(const char *url, int allow_http, const char *field,
			  const char *error_code, struct clr_err *e)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *part = NULL;
	enum clr_rc rc = CLR_ERR_PARAM;

	if (url == NULL || strlen(url) > 2048 || has_ctl(url, strlen(url)) ||
	    strchr(url, ' ') != NULL) {
		clr_err_set(e, rc, error_code, field, "%s is not a valid URL", field);
		goto out;
	}
	u = curl_url();
	if (u == NULL) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
		clr_err_set(e, rc, error_code, field, "%s is not a valid absolute URL", field);
		goto out;
	}
	if (strcmp(scheme, "https") != 0 && !(allow_http && strcmp(scheme, "http") == 0)) {
		clr_err_set(
		    e, rc, error_code, field,
		    allow_http
			? "%s must be an https or http URL"
			: "%s must be an https URL (set allow_insecure_http for a development IdP)",
		    field);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK) {
		clr_err_set(e, rc, error_code, field, "%s must not contain user info", field);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK) {
		clr_err_set(e, rc, error_code, field, "%s must not contain a fragment", field);
		goto out;
	}
	rc = CLR_OK;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(part);
	curl_url_cleanup(u);
	return rc;
}

void reg_reply_err(struct clr_req *r, const struct clr_err *e)
{
	if (clr_rc_status(e->rc) >= 500)
		clr_log(r->reqid, CLR_LOG_WARN, "%s %s failed: %s: %s", r->method, r->route,
			clr_rc_name(e->rc), e->msg);
	clr_resp_err(r, e);
}

int reg_strarr_has(const json_t *arr, const char *v)
{
	size_t i;
	json_t *it;

	if (!json_is_array(arr))
		return 0;
	json_array_foreach(arr, i, it) if (json_is_string(it) &&
					   strcmp(json_string_value(it), v) == 0) return 1;
	return 0;
}
