/*
 * routes.c - the registrar's route table, the field tables dispatch checks
 * before the handlers, and the helpers its handlers share (URL checks, GET
 * of one row).
 *
 * Every route needs an admin token; /healthz, /readyz and /metrics are
 * answered by http_in itself.  Changing routes go through reg_audited
 * (audit.c), which names their handlers and writes their audit rows.
 */
#include <string.h>
#include <curl/curl.h>

#include "clearance/log.h"
#include "clearance/util.h"
#include "audit.h"
#include "grants.h"
#include "h_client_types.h"
#include "h_jobs.h"
#include "h_providers.h"
#include "h_reconcile.h"
#include "h_registrations.h"
#include "h_retire.h"
#include "routes.h"
#include "store.h"

#define ADM CLR_AUTH_ADMIN

const struct clr_route reg_routes[] = {
    {"POST", "/v1/providers", reg_audited, ADM, 1},
    {"GET", "/v1/providers", reg_h_providers_list, ADM, 0},
    {"GET", "/v1/providers/{}", reg_h_providers_get, ADM, 0},
    {"PATCH", "/v1/providers/{}", reg_audited, ADM, 1},
    {"DELETE", "/v1/providers/{}", reg_audited, ADM, 0},
    {"POST", "/v1/providers/{}/discover", reg_audited, ADM, 0},
    {"POST", "/v1/providers/{}/verify", reg_h_providers_verify, ADM, 0},
    {"GET", "/v1/providers/{}/reconcile", reg_h_reconcile_get, ADM, 0},
    {"PUT", "/v1/providers/{}/reconcile", reg_audited, ADM, 1},
    {"POST", "/v1/providers/{}/reconcile", reg_audited, ADM, 0},
    {"POST", "/v1/providers/{}/client-types", reg_audited, ADM, 1},
    {"GET", "/v1/providers/{}/client-types", reg_h_ctypes_list, ADM, 0},
    {"GET", "/v1/client-types/{}", reg_h_ctypes_get, ADM, 0},
    {"PATCH", "/v1/client-types/{}", reg_audited, ADM, 1},
    {"DELETE", "/v1/client-types/{}", reg_audited, ADM, 0},
    {"POST", "/v1/registrations", reg_audited, ADM, 1},
    {"GET", "/v1/registrations", reg_h_regs_list, ADM, 0},
    {"GET", "/v1/registrations/{}", reg_h_regs_get, ADM, 0},
    {"PUT", "/v1/registrations/{}", reg_audited, ADM, 1},
    {"DELETE", "/v1/registrations/{}", reg_audited, ADM, 0},
    {"POST", "/v1/registrations/{}/rotate-secret", reg_audited, ADM, 0},
    {"POST", "/v1/registrations/{}/resolve", reg_audited, ADM, 1},
    {"POST", "/v1/registrations/{}/client-secret", reg_audited, ADM, 0},
    {"POST", "/v1/registrations/{}/retire", reg_h_regs_retire, ADM, 0},
    {"GET", "/v1/registrations/{}/grants", reg_h_grants_get, ADM, 0},
    {"PUT", "/v1/registrations/{}/grants", reg_audited, ADM, 1},
    {"GET", "/v1/jobs", reg_h_jobs_list, ADM, 0},
    {"GET", "/v1/jobs/{}", reg_h_jobs_get, ADM, 0},
};
const size_t reg_nroutes = sizeof(reg_routes) / sizeof(reg_routes[0]);

/* The field tables dispatch checks before the handlers (fields.h). */
const struct clr_route_body reg_route_bodies[] = {
    {"POST", "/v1/providers", &reg_body_provider_create},
    {"PATCH", "/v1/providers/{}", &reg_body_provider_patch},
    {"POST", "/v1/providers/{}/client-types", &reg_body_ctype_create},
    {"PATCH", "/v1/client-types/{}", &reg_body_ctype_patch},
    {"POST", "/v1/registrations", &reg_body_registration_create},
    {"PUT", "/v1/registrations/{}", &reg_body_registration_put},
    {"POST", "/v1/registrations/{}/resolve", &reg_body_registration_resolve},
    {"PUT", "/v1/registrations/{}/grants", &reg_body_grants_put},
    {"PUT", "/v1/providers/{}/reconcile", &reg_body_reconcile_put},
};
const size_t reg_nroute_bodies = sizeof(reg_route_bodies) / sizeof(reg_route_bodies[0]);

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

void reg_get_one(struct clr_req *r, const char *what, const char *stmt)
{
	const char *id = clr_req_param_id(r, 0, what);
	PGresult *res = NULL;
	struct clr_err e = {0};
	char msg[64];

	if (id == NULL)
		return;
	if ((e.rc = clr_db_exec(r->db, stmt, 1, &id, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "reading the %s failed", what);
		clr_resp_fail(r, &e);
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
