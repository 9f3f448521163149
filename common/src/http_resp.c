/*
 * http_resp.c - the request/response kit of every handler (see
 * http_in.h): the one rc -> status table, responses and error replies,
 * query values, path ids, paging, and log lines that carry the request.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <openssl/rand.h>

#include "clearance/form.h"
#include "clearance/http_in.h"
#include "clearance/log.h"
#include "clearance/util.h"
#include "http_in_priv.h"

/* ---- the one rc -> status table and default error codes ---- */

static const int rc_status[CLR_RC__MAX] = {
    [CLR_OK] = 200,	      [CLR_ERR_PARAM] = 400,   [CLR_ERR_NOMEM] = 500,
    [CLR_ERR_NOTFOUND] = 404, [CLR_ERR_DENIED] = 401,  [CLR_ERR_FORBIDDEN] = 403,
    [CLR_ERR_CONFLICT] = 409, [CLR_ERR_TOOBIG] = 413,  [CLR_ERR_DB] = 503,
    [CLR_ERR_UPSTREAM] = 502, [CLR_ERR_TIMEOUT] = 504, [CLR_ERR_INTERNAL] = 500,
};

static const char *const rc_error[CLR_RC__MAX] = {
    [CLR_OK] = "server_error",
    [CLR_ERR_PARAM] = "invalid_request",
    [CLR_ERR_NOMEM] = "server_error",
    [CLR_ERR_NOTFOUND] = "not_found",
    [CLR_ERR_DENIED] = "invalid_token",
    [CLR_ERR_FORBIDDEN] = "forbidden",
    [CLR_ERR_CONFLICT] = "conflict",
    [CLR_ERR_TOOBIG] = "request_too_large",
    [CLR_ERR_DB] = "temporarily_unavailable",
    [CLR_ERR_UPSTREAM] = "upstream_error",
    [CLR_ERR_TIMEOUT] = "upstream_timeout",
    [CLR_ERR_INTERNAL] = "server_error",
};

static const char *const rc_desc[CLR_RC__MAX] = {
    [CLR_OK] = "internal error",
    [CLR_ERR_PARAM] = "the request is invalid",
    [CLR_ERR_NOMEM] = "internal error",
    [CLR_ERR_NOTFOUND] = "no such resource",
    [CLR_ERR_DENIED] = "authentication required",
    [CLR_ERR_FORBIDDEN] = "not allowed",
    [CLR_ERR_CONFLICT] = "the resource's state does not allow this",
    [CLR_ERR_TOOBIG] = "the request is too large",
    [CLR_ERR_DB] = "the database is unavailable, try again later",
    [CLR_ERR_UPSTREAM] = "the identity provider answered unexpectedly",
    [CLR_ERR_TIMEOUT] = "the identity provider did not answer in time",
    [CLR_ERR_INTERNAL] = "internal error",
};

int clr_rc_status(enum clr_rc rc)
{
	if ((unsigned)rc >= CLR_RC__MAX)
		return 500;
	return rc_status[rc];
}

/* ---- responses ---- */

static const char *status_text(int s)
{
	switch (s) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 302:
		return "Found";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Status";
	}
}

const char *clr_req_env(const struct clr_req *r, const char *name)
{
	if (r == NULL || r->priv == NULL || r->priv->fx == NULL || name == NULL)
		return NULL;
	return FCGX_GetParam(name, r->priv->fx->envp);
}

static int header_name_ok(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++) {
		if (*s <= ' ' || *s >= 0x7f || *s == ':')
			return 0;
	}
	return 1;
}

static int header_value_ok(const char *s)
{
	if (s == NULL)
		return 0;
	for (; *s; s++) {
		if (*s == '\r' || *s == '\n')
			return 0;
	}
	return 1;
}

void clr_resp_header(struct clr_req *r, const char *name, const char *value)
{
	struct clr_req_priv *pv = r->priv;
	int n;

	if (pv->status != 0) {
		clr_log(r->reqid, CLR_LOG_ERROR, "bug: header %s added after the response",
			header_name_ok(name) ? name : "?");
		return;
	}
	if (!header_name_ok(name) || !header_value_ok(value)) {
		clr_log(r->reqid, CLR_LOG_ERROR, "bug: malformed response header dropped");
		return;
	}
	if (pv->nhdrs >= IN_HDR_MAX)
		goto full;
	n = snprintf(pv->hdrs + pv->hlen, sizeof(pv->hdrs) - pv->hlen, "%s: %s\r\n", name, value);
	if (n < 0 || (size_t)n >= sizeof(pv->hdrs) - pv->hlen) {
		pv->hdrs[pv->hlen] = '\0';
		goto full;
	}
	pv->hlen += (size_t)n;
	pv->nhdrs++;
	return;
full:
	clr_log(r->reqid, CLR_LOG_ERROR, "bug: response header %s dropped (list full)", name);
}

/* Writes status line, headers and body; the single exit for every response. */
static void send_raw(struct clr_req *r, int status, const char *ctype, const char *body, size_t len)
{
	struct clr_req_priv *pv = r->priv;
	char head[IN_HDR_BUF + 512];
	int n;

	if (pv->status != 0) {
		clr_log(r->reqid, CLR_LOG_ERROR, "bug: second response (%d after %d) ignored",
			status, pv->status);
		return;
	}
	if (status < 100 || status > 599)
		status = 500;
	/* Every 503 says when to come back (a handler may have set its own). */
	if (status == 503 && strstr(pv->hdrs, "Retry-After:") == NULL)
		clr_resp_header(r, "Retry-After", "5");
	pv->status = status;
	n = snprintf(head, sizeof(head), "Status: %d %s\r\nX-Request-Id: %s\r\n%s%s%s%s%.*s\r\n",
		     status, status_text(status), r->reqid, ctype ? "Content-Type: " : "",
		     ctype ? ctype : "", ctype ? "\r\n" : "",
		     ctype && strncmp(ctype, "application/json", 16) == 0
			 ? "Cache-Control: no-store\r\n"
			 : "",
		     (int)pv->hlen, pv->hdrs);
	if (n < 0 || (size_t)n >= sizeof(head))
		return; /* cannot happen: head has room for every header */
	if (FCGX_PutStr(head, n, pv->fx->out) < 0)
		return;
	while (len > 0) {
		int chunk = len > (1u << 30) ? (1 << 30) : (int)len;

		if (FCGX_PutStr(body, chunk, pv->fx->out) < 0)
			return;
		body += chunk;
		len -= (size_t)chunk;
	}
}

void clr_resp_json(struct clr_req *r, int status, json_t *body)
{
	static const char fallback[] = "{\"error\":\"server_error\"}";
	char *s;

	if (body == NULL) {
		send_raw(r, status, NULL, NULL, 0);
		return;
	}
	s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (s == NULL) {
		clr_log(r->reqid, CLR_LOG_ERROR, "json_dumps failed for a %d response", status);
		send_raw(r, 500, "application/json", fallback, sizeof(fallback) - 1);
		return;
	}
	send_raw(r, status, "application/json", s, strlen(s));
	free(s);
}

void clr_resp_empty(struct clr_req *r, int status)
{
	send_raw(r, status, NULL, NULL, 0);
}

void clr_resp_text(struct clr_req *r, int status, const char *ctype, const char *text, size_t len)
{
	send_raw(r, status, ctype ? ctype : "text/plain; charset=utf-8", text, len);
}

/* Adds key: s to o unless s is NULL/empty or not valid UTF-8. */
static void obj_set_str(json_t *o, const char *key, const char *s)
{
	if (s != NULL && *s != '\0')
		json_object_set_new(o, key, json_string(s));
}

static void send_error(struct clr_req *r, int status, const char *error, const char *desc,
		       const char *field)
{
	json_t *o = json_object();

	if (o == NULL) {
		send_raw(r, status, "application/json", "{\"error\":\"server_error\"}", 24);
		return;
	}
	obj_set_str(o, "error", error ? error : "server_error");
	obj_set_str(o, "error_description", desc);
	obj_set_str(o, "field", field);
	obj_set_str(o, "request_id", r->reqid); /* joins the reply to both logs */
	clr_resp_json(r, status, o);
}

void clr_resp_error(struct clr_req *r, int status, const char *error, const char *desc)
{
	send_error(r, status, error, desc, NULL);
}

void clr_resp_err(struct clr_req *r, const struct clr_err *e)
{
	enum clr_rc rc = e != NULL ? e->rc : CLR_ERR_INTERNAL;

	if ((unsigned)rc >= CLR_RC__MAX)
		rc = CLR_ERR_INTERNAL;
	if (rc == CLR_OK) {
		clr_log(r->reqid, CLR_LOG_ERROR, "bug: clr_resp_err with CLR_OK");
		send_error(r, 500, rc_error[CLR_OK], rc_desc[CLR_OK], NULL);
		return;
	}
	if (rc == CLR_ERR_DENIED)
		clr_resp_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
	send_error(r, clr_rc_status(rc), e->error[0] ? e->error : rc_error[rc],
		   e->msg[0] ? e->msg : rc_desc[rc], e->field[0] ? e->field : NULL);
}

/* ---- query strings ---- */

enum clr_rc clr_req_query(const struct clr_req *r, const char *name, char **out)
{
	const char *q;

	*out = NULL;
	if (r == NULL || name == NULL)
		return CLR_ERR_PARAM;
	q = r->query ? r->query : "";
	/* The first occurrence, as before; a malformed pair before it is a 400. */
	return clr_form_value(q, strlen(q), name, out, NULL);
}

enum clr_rc clr_req_form(const struct clr_req *r, const char *name, char **out)
{
	enum clr_rc rc;
	int dup = 0;

	*out = NULL;
	if (r == NULL || name == NULL)
		return CLR_ERR_PARAM;
	rc = clr_form_value(r->body.p ? r->body.p : "", r->body.len, name, out, &dup);
	if (rc == CLR_OK && dup) {
		/* RFC 6749 s.3.1: a parameter must not be repeated. */
		free(*out);
		*out = NULL;
		return CLR_ERR_CONFLICT;
	}
	return rc;
}

const char *clr_req_param_id(struct clr_req *r, int i, const char *what)
{
	char msg[96];

	if (i >= 0 && i < r->nparams && r->params[i] != NULL && clr_uuid_valid(r->params[i]))
		return r->params[i];
	/* A malformed id names nothing that exists: the same answer as an unknown one. */
	snprintf(msg, sizeof(msg), "no such %.80s", what);
	clr_resp_error(r, 404, "not_found", msg);
	return NULL;
}

enum clr_rc clr_req_query_enum(const struct clr_req *r, const char *name,
			       const char *const *allowed, size_t n, char **out, struct clr_err *e)
{
	char list[256];
	size_t i, len = 0;
	enum clr_rc rc;

	if ((rc = clr_req_query(r, name, out)) != CLR_OK)
		return clr_err_set(e, rc, "invalid_request", name,
				   "query parameter %s is malformed", name);
	if (*out == NULL)
		return CLR_OK;
	for (i = 0; i < n; i++)
		if (strcmp(*out, allowed[i]) == 0)
			return CLR_OK;
	list[0] = '\0';
	for (i = 0; i < n && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
					allowed[i]);
	free(*out);
	*out = NULL;
	return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", name, "%s must be one of %s", name,
			   list);
}

/* One bounded decimal query value; absent keeps *out's default. */
static enum clr_rc query_long(const struct clr_req *r, const char *name, long lo, long hi,
			      char out[16], struct clr_err *e)
{
	char *s = NULL, *end;
	enum clr_rc rc;
	long n;

	if ((rc = clr_req_query(r, name, &s)) != CLR_OK)
		return clr_err_set(e, rc, "invalid_request", name,
				   "query parameter %s is malformed", name);
	if (s == NULL)
		return CLR_OK;
	n = strtol(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || n < lo || n > hi)
		rc = clr_err_set(e, CLR_ERR_PARAM, "invalid_request", name, "%s must be %ld..%ld",
				 name, lo, hi);
	else
		snprintf(out, 16, "%ld", n);
	free(s);
	return rc;
}

enum clr_rc clr_req_paging(const struct clr_req *r, char lim[16], char off[16], struct clr_err *e)
{
	enum clr_rc rc;

	snprintf(lim, 16, "100");
	snprintf(off, 16, "0");
	if ((rc = query_long(r, "limit", 1, 1000, lim, e)) != CLR_OK)
		return rc;
	return query_long(r, "offset", 0, 1000000, off, e);
}

void clr_log_req(const struct clr_req *r, enum clr_log_level level, const char *fmt, ...)
{
	char msg[2048], route[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(route, sizeof(route), "%s %s", r->method != NULL ? r->method : "-",
		 r->route != NULL ? r->route : "-");
	clr_log_ctx(r->reqid, clr_req_env(r, "REMOTE_ADDR"), route, level, "%s", msg);
}

void clr_resp_fail(struct clr_req *r, const struct clr_err *e)
{
	/* The caller's 5xx is logged here, once, and nowhere else. */
	if (clr_rc_status(e->rc) >= 500)
		clr_log_req(r, CLR_LOG_ERROR, "failed: %s: %s", clr_rc_name(e->rc), e->msg);
	clr_resp_err(r, e);
}

int clr_resp_status(const struct clr_req *r)
{
	return r != NULL && r->priv != NULL ? r->priv->status : 0;
}
