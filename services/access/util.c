/*
 * util.c - request helpers shared by the access service's handlers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "clearance/jobs.h"
#include "clearance/log.h"
#include "clearance/util.h"
#include "access.h"

static const char *ftype_name(enum acc_ftype t)
{
	switch (t) {
	case ACC_FT_STR:
		return "a string";
	case ACC_FT_BOOL:
		return "a boolean";
	case ACC_FT_STRARR:
		return "an array of strings";
	case ACC_FT_INT:
		return "an integer";
	case ACC_FT_OBJ:
		return "an object";
	}
	return "?";
}

static int has_ctl(const char *s, size_t len, int multiline)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (multiline && (c == '\n' || c == '\r' || c == '\t'))
			continue;
		if (c < 0x20 || c == 0x7f)
			return 1;
	}
	return 0;
}

static enum clr_rc str_check(const json_t *v, const struct acc_field *f, struct clr_err *e)
{
	size_t len = json_string_length(v);

	if (len < f->minlen)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", f->name,
				   f->minlen == 1 ? "%s must not be empty" : "%s is too short",
				   f->name);
	if (len > f->maxlen)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", f->name,
				   "%s is longer than %zu bytes", f->name, f->maxlen);
	if (memchr(json_string_value(v), '\0', len) != NULL ||
	    has_ctl(json_string_value(v), len, strcmp(f->name, "description") == 0))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", f->name,
				   "%s contains control characters", f->name);
	return CLR_OK;
}

enum clr_rc acc_fields_check(const json_t *obj, const struct acc_field *spec, size_t n, int partial,
			     struct clr_err *e)
{
	const char *key;
	json_t *v, *it;
	size_t i, j;
	json_int_t iv;
	enum clr_rc rc;

	if (!json_is_object(obj))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
				   "the body must be a JSON object");
	json_object_foreach((json_t *)obj, key, v)
	{
		for (i = 0; i < n && strcmp(spec[i].name, key) != 0; i++)
			;
		if (i == n)
			return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
					   "unknown or read-only field \"%.40s\"", key);
		if (json_is_null(v)) {
			if (!spec[i].nullable)
				return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", key,
						   "%s must not be null", key);
			continue;
		}
		switch (spec[i].type) {
		case ACC_FT_STR:
			if (!json_is_string(v))
				goto type;
			if ((rc = str_check(v, &spec[i], e)) != CLR_OK)
				return rc;
			break;
		case ACC_FT_BOOL:
			if (!json_is_boolean(v))
				goto type;
			break;
		case ACC_FT_INT:
			if (!json_is_integer(v))
				goto type;
			iv = json_integer_value(v);
			if (iv < (json_int_t)spec[i].minlen || iv > (json_int_t)spec[i].maxlen)
				return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", key,
						   "%s must be between %zu and %zu", key,
						   spec[i].minlen, spec[i].maxlen);
			break;
		case ACC_FT_OBJ:
			if (!json_is_object(v))
				goto type;
			break;
		case ACC_FT_STRARR:
			if (!json_is_array(v))
				goto type;
			if (json_array_size(v) > spec[i].maxitems)
				return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", key,
						   "%s has more than %zu items", key,
						   spec[i].maxitems);
			json_array_foreach(v, j, it)
			{
				if (!json_is_string(it))
					goto type;
				if ((rc = str_check(it, &spec[i], e)) != CLR_OK)
					return rc;
			}
			break;
		}
		continue;
	type:
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", key, "%s must be %s", key,
				   ftype_name(spec[i].type));
	}
	if (!partial) {
		for (i = 0; i < n; i++) {
			if (spec[i].required && json_object_get(obj, spec[i].name) == NULL)
				return clr_err_set(e, CLR_ERR_PARAM, "invalid_request",
						   spec[i].name, "%s is required", spec[i].name);
		}
	} else if (json_object_size(obj) == 0) {
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
				   "the body names no field to change");
	}
	return CLR_OK;
}

const char *acc_param_id(struct clr_req *r, int i, const char *what)
{
	char msg[80];

	if (i < r->nparams && clr_uuid_valid(r->params[i]))
		return r->params[i];
	snprintf(msg, sizeof(msg), "no such %s", what);
	clr_resp_error(r, 404, "not_found", msg);
	return NULL;
}

void acc_reply_err(struct clr_req *r, const struct clr_err *e)
{
	int status = clr_rc_status(e->rc);

	if (status >= 500)
		clr_log(r->reqid, CLR_LOG_ERROR, "%s %s failed: %s (%s)", r->method, r->route,
			e->msg, clr_rc_name(e->rc));
	clr_resp_err(r, e);
}

static enum clr_rc db_fail(enum clr_rc rc, const char *what, struct clr_err *e)
{
	if (rc == CLR_ERR_CONFLICT)
		return clr_err_set(e, rc, "conflict", NULL, "%s: it conflicts with an existing one",
				   what);
	if (rc == CLR_ERR_PARAM)
		return clr_err_set(e, rc, "invalid_request", NULL,
				   "%s: a referenced object does not exist or a value is invalid",
				   what);
	return clr_err_set(e, rc, NULL, NULL, "%s failed", what);
}

static enum clr_rc parse_one(PGresult *res, json_t **out, struct clr_err *e)
{
	json_error_t jerr;

	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		return clr_err_set(e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such object");
	*out = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
	if (*out == NULL)
		return clr_err_set(e, CLR_ERR_INTERNAL, NULL, NULL, "bad JSON from the database");
	return CLR_OK;
}

enum clr_rc acc_db_json(struct clr_db *db, const char *name, int n, const char *const *v,
			json_t **out, struct clr_err *e)
{
	PGresult *res = NULL;
	enum clr_rc rc;

	*out = NULL;
	if ((rc = clr_db_exec(db, name, n, v, &res)) != CLR_OK)
		return db_fail(rc, name, e);
	rc = parse_one(res, out, e);
	PQclear(res);
	return rc;
}

enum clr_rc acc_db_json_list(struct clr_db *db, const char *name, int n, const char *const *v,
			     json_t **out, struct clr_err *e)
{
	enum clr_rc rc = acc_db_json(db, name, n, v, out, e);

	if (rc == CLR_ERR_NOTFOUND) {
		*out = json_array();
		rc = *out != NULL ? CLR_OK
				  : clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
	}
	return rc;
}

enum clr_rc acc_db_do(struct clr_db *db, const char *name, int n, const char *const *v,
		      int *affected, const char *what, struct clr_err *e)
{
	PGresult *res = NULL;
	enum clr_rc rc;

	if ((rc = clr_db_exec(db, name, n, v, &res)) != CLR_OK)
		return db_fail(rc, what, e);
	if (affected != NULL)
		*affected = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res)
								   : atoi(PQcmdTuples(res));
	PQclear(res);
	return CLR_OK;
}

int acc_is_admin(const struct clr_req *r)
{
	return r->who.role == CLR_ROLE_ADMIN;
}

int acc_is_dev(const struct clr_req *r)
{
	return r->who.role == CLR_ROLE_DEVELOPER && r->who.subject_id[0] != '\0';
}

const char *acc_dev_id(const struct clr_req *r)
{
	return acc_is_dev(r) ? r->who.subject_id : NULL;
}

static int parse_bounded(const char *s, long lo, long hi, char out[16])
{
	char *end;
	long n;

	if (s == NULL)
		return 1;
	n = strtol(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || n < lo || n > hi)
		return 0;
	snprintf(out, 16, "%ld", n);
	return 1;
}

int acc_paging(struct clr_req *r, char lim[16], char off[16])
{
	char *l = NULL, *o = NULL;
	int ok;

	snprintf(lim, 16, "100");
	snprintf(off, 16, "0");
	ok = clr_req_query(r, "limit", &l) == CLR_OK && clr_req_query(r, "offset", &o) == CLR_OK;
	if (ok && !parse_bounded(l, 1, 1000, lim)) {
		clr_resp_error(r, 400, "invalid_request", "limit must be 1..1000");
		ok = -1;
	} else if (ok && !parse_bounded(o, 0, 1000000, off)) {
		clr_resp_error(r, 400, "invalid_request", "offset must be 0..1000000");
		ok = -1;
	} else if (!ok) {
		clr_resp_error(r, 400, "invalid_request", "malformed query string");
	}
	free(l);
	free(o);
	return ok == 1;
}

static int host_is_loopback(const char *h)
{
	/* The registrar's rule (RFC 8252 s.7.3), so an app never holds a URI it refuses. */
	return strcasecmp(h, "localhost") == 0 || strcmp(h, "[::1]") == 0 ||
	       strcmp(h, "127.0.0.1") == 0;
}

/*
 * libcurl parses leniently and normalises ("https:/h", "https:///h",
 * "HTTP://127.1" and "http://0x7f000001" all parse), but the URI is stored
 * and sent to the IdP as written, where it would be matched literally or
 * parsed differently.  So the text itself must read "https://<host>" or
 * "http://<loopback host>" exactly as the checks below understood it.
 */
static int raw_form_ok(const char *uri, int https)
{
	static const char *const loop[] = {"localhost", "127.0.0.1", "[::1]"};
	const char *h;
	size_t i, n;

	if (https)
		return strncmp(uri, "https://", 8) == 0 && uri[8] != '\0' && uri[8] != '/';
	if (strncmp(uri, "http://", 7) != 0)
		return 0;
	h = uri + 7;
	for (i = 0; i < sizeof(loop) / sizeof(loop[0]); i++) {
		n = strlen(loop[i]);
		if (strncasecmp(h, loop[i], n) == 0 &&
		    (h[n] == '\0' || h[n] == ':' || h[n] == '/' || h[n] == '?'))
			return 1;
	}
	return 0;
}

enum clr_rc acc_redirect_uri_check(const char *uri, const char *field, struct clr_err *e)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *user = NULL, *frag = NULL;
	enum clr_rc rc = CLR_ERR_PARAM;

	if (strlen(uri) > 2048 || strchr(uri, '#') != NULL) {
		clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri", field,
			    "%s must be at most 2048 bytes and have no fragment", field);
		return CLR_ERR_PARAM;
	}
	u = curl_url();
	if (u == NULL)
		return clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, uri, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri", field,
			    "%s must be an absolute URL", field);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
		clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri", field,
			    "%s must have no user info and no fragment", field);
		goto out;
	}
	if ((strcmp(scheme, "https") != 0 &&
	     !(strcmp(scheme, "http") == 0 && host_is_loopback(host))) ||
	    !raw_form_ok(uri, strcmp(scheme, "https") == 0)) {
		clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri", field,
			    "%s must use https (http only on a loopback host)", field);
		goto out;
	}
	rc = CLR_OK;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(frag);
	curl_url_cleanup(u);
	return rc;
}

enum clr_rc acc_audit(struct clr_req *r, const char *action, const char *target_type,
		      const char *target_id, json_t *detail_take)
{
	const char *p[7];
	char *d = NULL;
	enum clr_rc rc;

	if (detail_take != NULL) {
		d = json_dumps(detail_take, JSON_COMPACT);
		json_decref(detail_take);
		if (d == NULL)
			return CLR_ERR_NOMEM;
	}
	p[0] = clr_role_name(r->who.role);
	p[1] = r->who.subject_id[0] != '\0' ? r->who.subject_id : NULL;
	p[2] = r->who.name[0] != '\0' ? r->who.name : r->who.token_id;
	p[3] = action;
	p[4] = target_type;
	p[5] = target_id;
	p[6] = d != NULL ? d : "{}";
	rc = clr_db_exec(r->db, "acc_audit_insert", 7, p, NULL);
	if (rc != CLR_OK)
		clr_log(r->reqid, CLR_LOG_ERROR, "audit row for %s could not be written", action);
	free(d);
	return rc;
}

enum clr_rc acc_emit(struct clr_db *db, const char *event, const json_t *data)
{
	PGresult *res = NULL;
	const char *p[1] = {event};
	json_t *payload = NULL;
	enum clr_rc rc;
	int i;

	if ((rc = clr_db_exec(db, "acc_webhooks_for_event", 1, p, &res)) != CLR_OK)
		return rc;
	for (i = 0; i < PQntuples(res) && rc == CLR_OK; i++) {
		payload = json_pack("{s:s, s:s, s:O}", "webhook_id", PQgetvalue(res, i, 0), "event",
				    event, "data", data);
		rc = payload != NULL ? clr_jobs_enqueue(db, "webhook", payload, NULL)
				     : CLR_ERR_NOMEM;
		json_decref(payload);
	}
	PQclear(res);
	return rc;
}

enum clr_rc acc_mail(struct clr_db *db, const char *to, const char *tpl, const json_t *vars)
{
	json_t *payload = json_pack("{s:s, s:s, s:O}", "to", to, "template", tpl, "vars", vars);
	enum clr_rc rc;

	if (payload == NULL)
		return CLR_ERR_NOMEM;
	rc = clr_jobs_enqueue(db, "email", payload, NULL);
	json_decref(payload);
	return rc;
}

enum clr_rc acc_optional_body(struct clr_req *r, json_t **out, struct clr_err *e)
{
	json_error_t jerr;

	*out = NULL;
	if (r->body.len == 0)
		return CLR_OK;
	*out = json_loadb(r->body.p, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (*out == NULL || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
				   "the body must be a JSON object");
	}
	return CLR_OK;
}
