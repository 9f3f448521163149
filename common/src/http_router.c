/*
 * http_router.c - one request, from accept to answer (see http_in.h): the
 * path, the route table, auth, the body and its field table, the
 * built-ins, the handler, the access line and metrics.
 *
 * Per request the work is kept to what the route needs: no JSON parsing
 * unless json_body, no database unless the route needs auth, and a few
 * atomic adds for metrics.  This path carries the gateway's /auth.
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
#include "clearance/web_session.h"
#include "clearance/util.h"
#include "http_in_priv.h"

const char *const clr_in_builtin_paths[BI__MAX] = {
    "/healthz",
    "/readyz",
    "/metrics",
    "unmatched",
};

static atomic_int in_body_timeout_ms = IN_BODY_TIMEOUT_MS;

void clr_in_set_body_timeout_ms(int ms)
{
	atomic_store(&in_body_timeout_ms, ms > 0 ? ms : IN_BODY_TIMEOUT_MS);
}

/* ---- small parsers (tested through http_in_internal.h) ---- */

int clr_in_route_match(const char *pat, const char *path, struct clr_in_span *params, int *nparams)
{
	const char *p = path;
	int n = 0;

	*nparams = 0;
	while (*pat) {
		if (pat[0] == '{' && pat[1] == '}') {
			const char *s = p;

			while (*p && *p != '/')
				p++;
			if (p == s || n >= CLR_REQ_MAX_PARAMS)
				return 0;
			params[n].off = (size_t)(s - path);
			params[n].len = (size_t)(p - s);
			n++;
			pat += 2;
			continue;
		}
		if (*pat != *p)
			return 0;
		pat++;
		p++;
	}
	if (*p != '\0')
		return 0;
	*nparams = n;
	return 1;
}

enum clr_rc clr_in_content_length(const char *s, long max, size_t *out)
{
	unsigned long long v = 0;
	int over = 0;

	*out = 0;
	if (s == NULL || *s == '\0')
		return CLR_OK;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return CLR_ERR_PARAM;
		if (!over) {
			v = v * 10 + (unsigned)(*s - '0');
			if (v > (unsigned long long)LONG_MAX)
				over = 1;
		}
	}
	if (over || max < 0 || v > (unsigned long long)max)
		return CLR_ERR_TOOBIG;
	*out = (size_t)v;
	return CLR_OK;
}

int clr_in_ctype_is_json(const char *ct)
{
	size_t n;

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, "application/json", 16) != 0)
		return 0;
	ct += 16;
	n = strspn(ct, " \t");
	return ct[n] == '\0' || ct[n] == ';';
}

/* ---- request processing ---- */

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void make_reqid(char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	int i;

	if (RAND_bytes(b, sizeof(b)) != 1) {
		/* Only a correlation id, not a secret: fall back to time. */
		long long t = now_us();

		memset(b, 0, sizeof(b));
		memcpy(b, &t, sizeof(t));
	}
	for (i = 0; i < 16; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[32] = '\0';
}

/*
 * nginx's $request_id (X-Request-Id, 32 hex digits) becomes this request's
 * id so the two logs join; anything that does not look like one (not hex,
 * under 8 or over 32 characters: a client may send the header through
 * another front end) is ignored and an id is made here.
 */
static void take_reqid(char out[33], const char *given)
{
	size_t n;

	if (given != NULL) {
		n = strspn(given, "0123456789abcdefABCDEF");
		if (n >= 8 && n <= 32 && given[n] == '\0') {
			memcpy(out, given, n + 1);
			return;
		}
	}
	make_reqid(out);
}

/*
 * Copies the request path (without query) into w->path.  REQUEST_URI is
 * used raw, so an encoded "%2F" stays inside its segment and exact-match
 * routing sees what the client sent; DOCUMENT_URI is the fallback for
 * servers that do not pass REQUEST_URI.
 */
static int extract_path(struct worker *w, struct clr_req *r)
{
	char **env = w->fx.envp;
	const char *uri = FCGX_GetParam("REQUEST_URI", env);
	const char *q;
	size_t n;

	if (uri == NULL)
		uri = FCGX_GetParam("DOCUMENT_URI", env);
	if (uri == NULL)
		uri = FCGX_GetParam("SCRIPT_NAME", env);
	if (uri == NULL || uri[0] != '/')
		return 0;
	q = strchr(uri, '?');
	n = q ? (size_t)(q - uri) : strlen(uri);
	if (n > IN_PATH_MAX)
		return 0;
	memcpy(w->path, uri, n);
	w->path[n] = '\0';
	r->path = w->path;
	r->query = FCGX_GetParam("QUERY_STRING", env);
	if (r->query == NULL)
		r->query = q ? q + 1 : "";
	return 1;
}

/* Decodes matched {} segments into w->pbuf; 0 if one is unusable. */
static int decode_params(struct worker *w, struct clr_req *r, const struct clr_in_span *sp, int n)
{
	size_t o = 0, len;
	int i;

	for (i = 0; i < n; i++) {
		char *d = w->pbuf + o;

		if (clr_pct_decode(r->path + sp[i].off, sp[i].len, d, &len, 0) != 0)
			return 0;
		if (memchr(d, '/', len) != NULL || strcmp(d, ".") == 0 || strcmp(d, "..") == 0 ||
		    len == 0)
			return 0;
		r->params[i] = d;
		o += len + 1;
	}
	r->nparams = n;
	return 1;
}

/*
 * libfcgi reads the body with plain blocking read(2) and no timeout, so a
 * peer that sends CONTENT_LENGTH and then only part of the body would hold
 * this thread (and a SIGTERM's join) for as long as it keeps the connection
 * open.  nginx buffers request bodies and has its own timeouts, but the
 * listener may be reached by other clients (a TCP listen, lighttpd,
 * fastcgi_request_buffering off).  SO_RCVTIMEO makes a stalled read fail
 * with EAGAIN, which libfcgi reports as a short read; the connection is
 * then closed.  Set only around the body: an idle kept-alive connection
 * waiting for its next request must not time out.
 */
static void body_timeout(struct worker *w, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	if (w->fx.ipcFd >= 0 &&
	    setsockopt(w->fx.ipcFd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
		clr_log(NULL, CLR_LOG_DEBUG, "SO_RCVTIMEO: %s", strerror(errno));
}

static int read_body(struct worker *w, struct clr_req *r, size_t len)
{
	size_t got = 0;
	int ret = 0;

	if (len + 1 > w->body_cap) {
		char *nb = realloc(w->body, len + 1);

		if (nb == NULL)
			return -1;
		w->body = nb;
		w->body_cap = len + 1;
	}
	body_timeout(w, atomic_load(&in_body_timeout_ms));
	while (got < len) {
		size_t want = len - got;
		int n =
		    FCGX_GetStr(w->body + got, want > (1u << 20) ? (1 << 20) : (int)want, w->fx.in);

		if (n <= 0) {
			ret = -2;
			break;
		}
		got += (size_t)n;
	}
	body_timeout(w, 0);
	if (ret != 0)
		return ret;
	w->body[len] = '\0';
	r->body.p = w->body;
	r->body.len = len;
	return 0;
}

static void builtin(struct worker *w, struct clr_req *r, int which)
{
	struct server *sv = w->sv;
	enum clr_rc rc;
	char *txt, *extra = NULL;
	json_t *o;

	switch (which) {
	case BI_HEALTHZ:
		o = json_pack("{s:s}", "status", "ok");
		clr_resp_json(r, 200, o);
		return;
	case BI_READYZ:
		rc = r->db != NULL ? clr_db_ping(r->db) : CLR_ERR_DB;
		o = json_pack("{s:s}", "status", rc == CLR_OK ? "ok" : "unavailable");
		clr_resp_json(r, rc == CLR_OK ? 200 : 503, o);
		return;
	default:
		break;
	}
	txt = clr_metrics_render(sv->metrics, clr_db_error_count());
	if (txt == NULL) {
		clr_resp_error(r, 500, "server_error", "metrics unavailable");
		return;
	}
	for (int part = 0; part < 3; part++) {
		if (part == 0 && sv->srv->metrics != NULL)
			extra = sv->srv->metrics(sv->srv->app);
		else if (part == 2 && sv->srv->metrics_db != NULL && r->db != NULL)
			extra = sv->srv->metrics_db(sv->srv->app, r->db);
		else if (part == 1 && sv->srv->njob_kinds > 0)
			extra = clr_metrics_jobs(r->db, sv->srv->service, sv->srv->job_kinds,
						 sv->srv->njob_kinds);
		else
			continue;
		if (extra == NULL)
			continue;
		size_t a = strlen(txt), b = strlen(extra);
		char *all = realloc(txt, a + b + 2);

		if (all != NULL) {
			txt = all;
			memcpy(txt + a, extra, b + 1);
			if (b > 0 && extra[b - 1] != '\n')
				memcpy(txt + a + b, "\n", 2);
		}
		free(extra);
		extra = NULL;
	}
	clr_resp_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", txt, strlen(txt));
	free(txt);
}

/* Sets *route_idx for metrics and answers, one way or another. */
/* The field table declared for route rt, or NULL. */
static const struct clr_body *route_body(const struct clr_server *srv, const struct clr_route *rt)
{
	size_t i;

	for (i = 0; i < srv->nbodies; i++)
		if (strcmp(srv->bodies[i].pattern, rt->pattern) == 0 &&
		    strcmp(srv->bodies[i].method, rt->method) == 0)
			return srv->bodies[i].body;
	return NULL;
}

static void dispatch(struct worker *w, struct clr_req *r, size_t *route_idx, int *body_unread)
{
	const struct clr_body *body;
	const struct clr_server *srv = w->sv->srv;
	const struct clr_route *rt = NULL;
	struct clr_in_span sp[CLR_REQ_MAX_PARAMS], tsp[CLR_REQ_MAX_PARAMS];
	char allow[IN_ALLOW_BUF];
	size_t i, alen = 0, clen;
	int n = 0, tn, first = -1;
	enum clr_rc rc;
	json_error_t jerr;

	*route_idx = srv->nroutes + BI_UNMATCHED;
	allow[0] = '\0';
	for (i = 0; i < BI_UNMATCHED; i++) {
		if (strcmp(r->path, clr_in_builtin_paths[i]) != 0)
			continue;
		*route_idx = srv->nroutes + i;
		if (strcmp(r->method, "GET") != 0) {
			clr_resp_header(r, "Allow", "GET");
			clr_resp_error(r, 405, "method_not_allowed", "use GET");
			return;
		}
		builtin(w, r, (int)i);
		return;
	}
	for (i = 0; i < srv->nroutes; i++) {
		const struct clr_route *c = &srv->routes[i];
		size_t ml;

		if (!clr_in_route_match(c->pattern, r->path, tsp, &tn))
			continue;
		if (strcmp(c->method, r->method) == 0) {
			rt = c;
			*route_idx = i;
			memcpy(sp, tsp, sizeof(sp));
			n = tn;
			break;
		}
		if (first < 0)
			first = (int)i;
		ml = strlen(c->method);
		if (strstr(allow, c->method) == NULL && alen + ml + 3 < sizeof(allow)) {
			if (alen > 0) {
				memcpy(allow + alen, ", ", 2);
				alen += 2;
			}
			memcpy(allow + alen, c->method, ml + 1);
			alen += ml;
		}
	}
	if (rt == NULL) {
		if (first >= 0) {
			*route_idx = (size_t)first;
			clr_resp_header(r, "Allow", allow);
			clr_resp_error(r, 405, "method_not_allowed",
				       "this method is not allowed on this resource");
		} else {
			clr_resp_error(r, 404, "not_found", "no such endpoint");
		}
		return;
	}
	r->route = rt->pattern;
	if (!decode_params(w, r, sp, n)) {
		clr_resp_error(r, 404, "not_found", "no such resource");
		return;
	}

	rc = clr_in_content_length(FCGX_GetParam("CONTENT_LENGTH", w->fx.envp), r->cfg->max_body,
				   &clen);
	if (rc == CLR_ERR_TOOBIG) {
		clr_resp_error(r, 413, "request_too_large", "the request body is too large");
		return;
	}
	if (rc != CLR_OK) {
		clr_resp_error(r, 400, "invalid_request", "malformed Content-Length");
		return;
	}
	*body_unread = clen > 0;

	if (rt->auth != CLR_AUTH_NONE) {
		const char *authz = FCGX_GetParam("HTTP_AUTHORIZATION", w->fx.envp);

		/* Browser sessions (web_session.h): the cookie, when no bearer is sent. */
		if (r->db == NULL)
			rc = CLR_ERR_DB;
		else if (authz == NULL && clr_web_has_session(r))
			rc = clr_web_auth(r, &r->who);
		else
			rc = clr_auth_bearer(r->db, authz, &r->who);
		if (rc == CLR_ERR_FORBIDDEN) {
			clr_resp_error(
			    r, 403, "csrf_rejected",
			    "a cookie session needs the portal's Origin and X-Clearance-CSRF");
			return;
		}
		if (rc == CLR_ERR_DENIED) {
			clr_resp_header(r, "WWW-Authenticate",
					authz == NULL ? "Bearer"
						      : "Bearer error=\"invalid_token\"");
			clr_resp_error(r, 401, "invalid_token",
				       authz == NULL ? "a bearer token is required"
						     : "the bearer token is invalid or expired");
			return;
		}
		if (rc == CLR_ERR_DB) {
			clr_resp_error(r, 503, "temporarily_unavailable",
				       "the database is unavailable, try again later");
			return;
		}
		if (rc != CLR_OK) {
			clr_log(r->reqid, CLR_LOG_ERROR, "auth check failed: %s", clr_rc_name(rc));
			clr_resp_error(r, 500, "server_error", "internal error");
			return;
		}
		if (rt->auth == CLR_AUTH_ADMIN && r->who.role != CLR_ROLE_ADMIN) {
			clr_log(r->reqid, CLR_LOG_WARN,
				"security: non-admin token %s denied on %s %s", r->who.token_id,
				r->method, rt->pattern);
			clr_resp_error(r, 403, "forbidden", "an admin token is required");
			return;
		}
	}

	/* Refused before the body is read: nothing of it is needed. */
	if (rt->json_body && !clr_in_ctype_is_json(FCGX_GetParam("CONTENT_TYPE", w->fx.envp))) {
		clr_resp_error(r, 415, "invalid_request", "Content-Type must be application/json");
		return;
	}
	if (clen > 0) {
		int br = read_body(w, r, clen);

		if (br == -1) {
			clr_resp_error(r, 500, "server_error", "out of memory");
			return;
		}
		if (br == -2) {
			*body_unread = 1;
			clr_resp_error(r, 400, "invalid_request",
				       "the body is shorter than Content-Length");
			return;
		}
	}
	*body_unread = 0;

	if (rt->json_body) {
		r->json = json_loadb(r->body.p, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
		if (r->json == NULL) {
			char msg[200];

			snprintf(msg, sizeof(msg), "invalid JSON: %s (line %d, column %d)",
				 jerr.text, jerr.line, jerr.column);
			clr_resp_error(r, 400, "invalid_request", msg);
			return;
		}
		if (!json_is_object(r->json)) {
			clr_resp_error(r, 400, "invalid_request", "the body must be a JSON object");
			return;
		}
		/* The route's field table, before any of the handler's code. */
		if ((body = route_body(srv, rt)) != NULL) {
			struct clr_err fe = {0};

			if (clr_fields_check(r->json, body, &fe) != CLR_OK) {
				clr_resp_err(r, &fe);
				return;
			}
		}
	}
	rt->fn(r);
	if (r->priv->status == 0) {
		clr_log(r->reqid, CLR_LOG_ERROR, "bug: handler for %s %s sent no response",
			rt->method, rt->pattern);
		clr_resp_error(r, 500, "server_error", "internal error");
	}
}

void clr_in_serve_one(struct worker *w)
{
	static const char empty[] = "";
	struct server *sv = w->sv;
	struct clr_req r;
	struct clr_req_priv pv;
	struct clr_log_access acc;
	size_t route_idx;
	int body_unread = 0;
	long long t0 = now_us(), dt;
	const char *m;

	memset(&r, 0, sizeof(r));
	pv.fx = &w->fx;
	pv.status = 0;
	pv.hlen = 0;
	pv.nhdrs = 0;
	pv.hdrs[0] = '\0';
	r.priv = &pv;
	take_reqid(r.reqid, FCGX_GetParam("HTTP_X_REQUEST_ID", w->fx.envp));
	pv.client_id[0] = '\0';
	m = FCGX_GetParam("REQUEST_METHOD", w->fx.envp);
	r.method = m != NULL ? m : "";
	r.query = empty;
	r.route = clr_in_builtin_paths[BI_UNMATCHED];
	r.body.p = empty;
	r.body.len = 0;
	r.db = w->db;
	r.http = w->http;
	r.cfg = sv->srv->cfg;
	r.app = sv->srv->app;
	r.tctx = w->tctx;
	route_idx = sv->srv->nroutes + BI_UNMATCHED;

	if (!extract_path(w, &r)) {
		r.path = empty;
		clr_resp_error(&r, 400, "invalid_request", "missing or overlong request path");
	} else {
		dispatch(w, &r, &route_idx, &body_unread);
	}
	if (route_idx < sv->srv->nroutes)
		r.route = sv->srv->routes[route_idx].pattern;
	else
		r.route = clr_in_builtin_paths[route_idx - sv->srv->nroutes];
	dt = now_us() - t0;
	/*
	 * A body we did not read would be taken for the next request on a
	 * kept-alive connection: close it instead.
	 */
	if (body_unread)
		w->fx.keepConnection = 0;
	clr_metrics_observe(sv->metrics, route_idx, clr_in_method_index(r.method), pv.status, dt);
	acc.reqid = r.reqid;
	acc.method = r.method;
	acc.route = r.route;
	acc.remote_addr = FCGX_GetParam("REMOTE_ADDR", w->fx.envp);
	acc.client_id = pv.client_id;
	acc.status = pv.status;
	acc.usec = dt;
	clr_log_access(route_idx >= sv->srv->nroutes && route_idx != sv->srv->nroutes + BI_UNMATCHED
			   ? CLR_LOG_DEBUG
			   : CLR_LOG_INFO,
		       &acc);
	json_decref(r.json);
	r.json = NULL;
	FCGX_Finish_r(&w->fx);
}

void clr_req_set_client_id(struct clr_req *r, const char *client_id)
{
	size_t n;

	if (r == NULL || r->priv == NULL || client_id == NULL)
		return;
	n = strnlen(client_id, sizeof(r->priv->client_id) - 1);
	memcpy(r->priv->client_id, client_id, n);
	r->priv->client_id[n] = '\0';
}
