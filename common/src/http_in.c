/*
 * http_in.c - the FastCGI side of every service (see http_in.h).
 *
 * Threads: cfg->threads workers each own an FCGX_Request, a clr_db, a
 * clr_http_client and per-thread buffers, and loop on FCGX_Accept_r.  The
 * main thread only waits for a signal.  A signal handler cannot safely do
 * more than set a flag and write to a pipe, so the shutdown work (shutting
 * down the listening socket so blocked accepts return, waking threads
 * parked on idle kept-alive connections, joining) happens on the main
 * thread once the pipe wakes it.
 *
 * Per request the work is kept to what the route needs: no JSON parsing
 * unless json_body, no database unless the route needs auth, and a few
 * atomic adds for metrics.  This loop carries the gateway's /auth.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
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

#include "clearance/http_in.h"
#include "clearance/log.h"
#include "clearance/web_session.h"
#include "http_in_internal.h"

#define IN_PATH_MAX 2048 /* longest request path we route */
#define IN_HDR_BUF 2048	 /* extra response header bytes per request */
#define IN_HDR_MAX 16	 /* extra response headers per request */
#define IN_ALLOW_BUF 128
#define IN_BACKLOG 1024
#define IN_ACCEPT_ERR_MAX 50	 /* consecutive accept failures before giving up */
#define IN_BODY_TIMEOUT_MS 30000 /* longest wait for one read of the body */

/* Built-in routes come after the table routes in the metrics registry. */
enum { BI_HEALTHZ, BI_READYZ, BI_METRICS, BI_UNMATCHED, BI__MAX };
static const char *const builtin_paths[BI__MAX] = {
    "/healthz",
    "/readyz",
    "/metrics",
    "unmatched",
};

struct clr_req_priv {
	FCGX_Request *fx;
	int status; /* 0 until a response was sent */
	size_t hlen;
	int nhdrs;
	char hdrs[IN_HDR_BUF];
};

struct worker {
	struct server *sv;
	pthread_t thr;
	int idx;
	FCGX_Request fx;
	struct clr_db *db;
	struct clr_http_client *http;
	void *tctx;
	int tctx_set;
	int idle_fd; /* under sv->mu: fd parked in accept, -2 busy */
	char path[IN_PATH_MAX + 1];
	char pbuf[IN_PATH_MAX + 1];
	char *body;
	size_t body_cap;
};

struct server {
	const struct clr_server *srv;
	struct clr_metrics *metrics;
	const char **route_names;
	int lfd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ready;  /* workers done with set-up */
	int failed; /* a worker failed its set-up */
	int go;	    /* 1 run, -1 abort */
	int fatal;  /* a worker gave up on accept */
	struct worker *w;
	int nw;
};

static atomic_int in_stopping;
static atomic_int in_body_timeout_ms = IN_BODY_TIMEOUT_MS;
static int in_sigpipe[2] = {-1, -1};

void clr_in_set_body_timeout_ms(int ms)
{
	atomic_store(&in_body_timeout_ms, ms > 0 ? ms : IN_BODY_TIMEOUT_MS);
}

int clr_server_stopping(void)
{
	return atomic_load_explicit(&in_stopping, memory_order_relaxed);
}

static void in_on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	atomic_store(&in_stopping, 1);
	if (in_sigpipe[1] >= 0 && write(in_sigpipe[1], "s", 1) < 0) {
		/* the pipe is non-blocking; a full pipe already wakes main */
	}
	errno = saved;
}

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

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int clr_in_pct_decode(const char *p, size_t n, char *out, size_t *outlen, int plus_space)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -1;
			hi = hexval(p[i + 1]);
			lo = hexval(p[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		} else if (c == '\0') {
			return -1;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	return 0;
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
	const char *q, *amp, *eq;
	size_t nlen, klen, vlen;
	char kbuf[128];

	*out = NULL;
	if (r == NULL || name == NULL)
		return CLR_ERR_PARAM;
	q = r->query ? r->query : "";
	nlen = strlen(name);
	while (*q) {
		amp = strchr(q, '&');
		if (amp == NULL)
			amp = q + strlen(q);
		eq = memchr(q, '=', (size_t)(amp - q));
		klen = (size_t)((eq ? eq : amp) - q);
		if (klen < sizeof(kbuf)) {
			if (clr_in_pct_decode(q, klen, kbuf, &klen, 1) != 0)
				return CLR_ERR_PARAM;
			if (klen == nlen && memcmp(kbuf, name, nlen) == 0) {
				const char *v = eq ? eq + 1 : amp;
				char *s;

				vlen = (size_t)(amp - v);
				s = malloc(vlen + 1);
				if (s == NULL)
					return CLR_ERR_NOMEM;
				if (clr_in_pct_decode(v, vlen, s, NULL, 1) != 0) {
					free(s);
					return CLR_ERR_PARAM;
				}
				*out = s;
				return CLR_OK;
			}
		}
		q = *amp ? amp + 1 : amp;
	}
	return CLR_OK;
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

		if (clr_in_pct_decode(r->path + sp[i].off, sp[i].len, d, &len, 0) != 0)
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
	if (txt != NULL && sv->srv->metrics != NULL)
		extra = sv->srv->metrics(sv->srv->app);
	if (txt == NULL) {
		clr_resp_error(r, 500, "server_error", "metrics unavailable");
		return;
	}
	if (extra != NULL) {
		size_t a = strlen(txt), b = strlen(extra);
		char *all = realloc(txt, a + b + 2);

		if (all != NULL) {
			txt = all;
			memcpy(txt + a, extra, b + 1);
			if (b > 0 && extra[b - 1] != '\n')
				memcpy(txt + a + b, "\n", 2);
		}
		free(extra);
	}
	clr_resp_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", txt, strlen(txt));
	free(txt);
}

/* Sets *route_idx for metrics and answers, one way or another. */
static void dispatch(struct worker *w, struct clr_req *r, size_t *route_idx, int *body_unread)
{
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
		if (strcmp(r->path, builtin_paths[i]) != 0)
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
	}
	rt->fn(r);
	if (r->priv->status == 0) {
		clr_log(r->reqid, CLR_LOG_ERROR, "bug: handler for %s %s sent no response",
			rt->method, rt->pattern);
		clr_resp_error(r, 500, "server_error", "internal error");
	}
}

static void serve_one(struct worker *w)
{
	static const char empty[] = "";
	struct server *sv = w->sv;
	struct clr_req r;
	struct clr_req_priv pv;
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
	make_reqid(r.reqid);
	m = FCGX_GetParam("REQUEST_METHOD", w->fx.envp);
	r.method = m != NULL ? m : "";
	r.query = empty;
	r.route = builtin_paths[BI_UNMATCHED];
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
		r.route = builtin_paths[route_idx - sv->srv->nroutes];
	dt = now_us() - t0;
	/*
	 * A body we did not read would be taken for the next request on a
	 * kept-alive connection: close it instead.
	 */
	if (body_unread)
		w->fx.keepConnection = 0;
	clr_metrics_observe(sv->metrics, route_idx, clr_in_method_index(r.method), pv.status, dt);
	clr_log(r.reqid,
		route_idx >= sv->srv->nroutes && route_idx != sv->srv->nroutes + BI_UNMATCHED
		    ? CLR_LOG_DEBUG
		    : CLR_LOG_INFO,
		"access method=%.16s route=%s status=%d ms=%lld.%03lld", r.method, r.route,
		pv.status, dt / 1000, dt % 1000);
	json_decref(r.json);
	r.json = NULL;
	FCGX_Finish_r(&w->fx);
}

static void worker_cleanup(struct worker *w)
{
	const struct clr_server *srv = w->sv->srv;

	if (w->tctx_set && srv->thread_fini != NULL)
		srv->thread_fini(srv->app, w->tctx);
	w->tctx_set = 0;
	clr_http_client_free(w->http);
	w->http = NULL;
	clr_db_close(w->db);
	w->db = NULL;
	free(w->body);
	w->body = NULL;
	FCGX_Free(&w->fx, 1);
}

static enum clr_rc worker_setup(struct worker *w)
{
	const struct clr_server *srv = w->sv->srv;
	enum clr_rc rc;

	if (FCGX_InitRequest(&w->fx, w->sv->lfd, 0) != 0)
		return CLR_ERR_INTERNAL;
	if (srv->cfg->database_url != NULL) {
		rc = clr_db_open(srv->cfg->database_url, srv->stmts, srv->nstmts, &w->db);
		if (rc != CLR_OK)
			return rc;
	}
	rc = clr_http_client_new(&w->http);
	if (rc != CLR_OK)
		return rc;
	if (srv->thread_init != NULL) {
		rc = srv->thread_init(srv->app, &w->tctx);
		if (rc != CLR_OK)
			return rc;
		w->tctx_set = 1;
	}
	return CLR_OK;
}

static void wake_main(void)
{
	if (in_sigpipe[1] >= 0 && write(in_sigpipe[1], "f", 1) < 0) {
		/* non-blocking pipe already full: main is awake anyway */
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct server *sv = w->sv;
	enum clr_rc rc = worker_setup(w);
	int go, errs = 0;

	if (rc != CLR_OK)
		clr_log(NULL, CLR_LOG_ERROR, "worker %d set-up failed: %s", w->idx,
			clr_rc_name(rc));
	pthread_mutex_lock(&sv->mu);
	sv->ready++;
	if (rc != CLR_OK)
		sv->failed = 1;
	pthread_cond_broadcast(&sv->cv);
	while (sv->go == 0)
		pthread_cond_wait(&sv->cv, &sv->mu);
	go = sv->go;
	pthread_mutex_unlock(&sv->mu);

	while (go > 0) {
		int ar;

		pthread_mutex_lock(&sv->mu);
		if (clr_server_stopping()) {
			pthread_mutex_unlock(&sv->mu);
			break;
		}
		w->idle_fd = w->fx.ipcFd >= 0 ? w->fx.ipcFd : -1;
		pthread_mutex_unlock(&sv->mu);
		ar = FCGX_Accept_r(&w->fx);
		pthread_mutex_lock(&sv->mu);
		w->idle_fd = -2;
		pthread_mutex_unlock(&sv->mu);
		if (ar < 0) {
			if (clr_server_stopping())
				break;
			clr_log(NULL, CLR_LOG_ERROR, "FCGX_Accept_r failed: %d", ar);
			if (++errs >= IN_ACCEPT_ERR_MAX) {
				pthread_mutex_lock(&sv->mu);
				sv->fatal = 1;
				pthread_mutex_unlock(&sv->mu);
				wake_main();
				break;
			}
			poll(NULL, 0, 100);
			continue;
		}
		errs = 0;
		serve_one(w);
	}
	worker_cleanup(w);
	return NULL;
}

/* Opens cfg->listen; *unix_path gets the socket path to unlink at exit. */
static int open_listener(const char *listen_spec, const char **unix_path)
{
	int fd;

	*unix_path = NULL;
	if (listen_spec == NULL) {
		if (FCGX_IsCGI()) {
			clr_log(NULL, CLR_LOG_ERROR,
				"fd 0 is not a listening socket: set CLEARANCE_LISTEN or start "
				"under spawn-fcgi");
			return -1;
		}
		return 0;
	}
	if (strncmp(listen_spec, "unix:", 5) == 0) {
		const char *path = listen_spec + 5;
		struct stat st;

		/* libfcgi treats any ':' as host:port */
		if (path[0] != '/' || strchr(path, ':') != NULL) {
			clr_log(NULL, CLR_LOG_ERROR,
				"LISTEN: unix socket path must be absolute "
				"and contain no ':'");
			return -1;
		}
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path); /* stale socket of an earlier run */
		fd = FCGX_OpenSocket(path, IN_BACKLOG);
		if (fd < 0) {
			clr_log(NULL, CLR_LOG_ERROR, "cannot listen on %s: %s", path,
				strerror(errno));
			return -1;
		}
		/* nginx workers run as another user and must be able to connect. */
		if (chmod(path, 0666) != 0)
			clr_log(NULL, CLR_LOG_WARN, "chmod %s: %s", path, strerror(errno));
		*unix_path = path;
		return fd;
	}
	if (strchr(listen_spec, ':') == NULL) {
		clr_log(NULL, CLR_LOG_ERROR, "LISTEN must be unix:/path or host:port");
		return -1;
	}
	fd = FCGX_OpenSocket(listen_spec, IN_BACKLOG);
	if (fd < 0)
		clr_log(NULL, CLR_LOG_ERROR, "cannot listen on %s: %s", listen_spec,
			strerror(errno));
	return fd;
}

int clr_server_run(const struct clr_server *srv)
{
	struct sigaction sa, old_term, old_int;
	struct server sv;
	const char *unix_path = NULL;
	int i, nstarted = 0, ret = 1, sigs_set = 0;
	size_t k;

	memset(&sv, 0, sizeof(sv));
	sv.srv = srv;
	sv.lfd = -1;
	pthread_mutex_init(&sv.mu, NULL);
	pthread_cond_init(&sv.cv, NULL);
	if (srv == NULL || srv->cfg == NULL || (srv->nroutes > 0 && srv->routes == NULL) ||
	    srv->cfg->threads < 1) {
		clr_log(NULL, CLR_LOG_ERROR, "clr_server_run: bad server description");
		goto out;
	}
	atomic_store(&in_stopping, 0);
	if (FCGX_Init() != 0) {
		clr_log(NULL, CLR_LOG_ERROR, "FCGX_Init failed");
		goto out;
	}
	sv.route_names = calloc(srv->nroutes + BI__MAX, sizeof(*sv.route_names));
	if (sv.route_names == NULL)
		goto out;
	for (k = 0; k < srv->nroutes; k++)
		sv.route_names[k] = srv->routes[k].pattern;
	for (k = 0; k < BI__MAX; k++)
		sv.route_names[srv->nroutes + k] = builtin_paths[k];
	if (clr_metrics_new(srv->service, sv.route_names, srv->nroutes + BI__MAX, &sv.metrics) !=
	    CLR_OK)
		goto out;
	if (pipe2(in_sigpipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		in_sigpipe[0] = in_sigpipe[1] = -1;
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = in_on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGTERM, &sa, &old_term) != 0 || sigaction(SIGINT, &sa, &old_int) != 0)
		goto out;
	sigs_set = 1;

	sv.lfd = open_listener(srv->cfg->listen, &unix_path);
	if (sv.lfd < 0)
		goto out;

	sv.nw = srv->cfg->threads;
	sv.w = calloc((size_t)sv.nw, sizeof(*sv.w));
	if (sv.w == NULL)
		goto out;
	for (i = 0; i < sv.nw; i++) {
		sv.w[i].sv = &sv;
		sv.w[i].idx = i;
		sv.w[i].idle_fd = -2;
		if (pthread_create(&sv.w[i].thr, NULL, worker_main, &sv.w[i]) != 0) {
			clr_log(NULL, CLR_LOG_ERROR, "pthread_create failed");
			break;
		}
		nstarted++;
	}
	pthread_mutex_lock(&sv.mu);
	while (sv.ready < nstarted)
		pthread_cond_wait(&sv.cv, &sv.mu);
	sv.go = (sv.failed || nstarted < sv.nw) ? -1 : 1;
	pthread_cond_broadcast(&sv.cv);
	pthread_mutex_unlock(&sv.mu);

	if (sv.go > 0) {
		clr_log(NULL, CLR_LOG_INFO, "serving on %s with %d threads",
			srv->cfg->listen ? srv->cfg->listen : "fd 0", sv.nw);
		for (;;) {
			struct pollfd p = {.fd = in_sigpipe[0], .events = POLLIN};
			char drain[16];

			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				break;
			while (read(in_sigpipe[0], drain, sizeof(drain)) > 0)
				;
			pthread_mutex_lock(&sv.mu);
			if (clr_server_stopping() || sv.fatal) {
				pthread_mutex_unlock(&sv.mu);
				break;
			}
			pthread_mutex_unlock(&sv.mu);
		}
		clr_log(NULL, CLR_LOG_INFO, "stopping: finishing running requests");
	}

	pthread_mutex_lock(&sv.mu);
	atomic_store(&in_stopping, 1);
	/*
	 * Blocked accept() calls return (EINVAL, which libfcgi does not retry)
	 * once the listener is shut down.  FCGX_ShutdownPending() is not used:
	 * it is a process-wide latch libfcgi never resets, so a second
	 * clr_server_run in the same process (tests) could not accept at all,
	 * and the socket shutdown already covers what it would do.
	 */
	shutdown(sv.lfd, SHUT_RDWR);
	/* Threads parked on an idle kept-alive connection would wait forever. */
	for (i = 0; i < nstarted; i++) {
		if (sv.w[i].idle_fd >= 0)
			shutdown(sv.w[i].idle_fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&sv.mu);
	for (i = 0; i < nstarted; i++)
		pthread_join(sv.w[i].thr, NULL);
	ret = (sv.go > 0 && !sv.fatal) ? 0 : 1;
out:
	if (sv.lfd > 0)
		close(sv.lfd);
	if (unix_path != NULL)
		unlink(unix_path);
	if (sigs_set) {
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGINT, &old_int, NULL);
	}
	if (in_sigpipe[0] >= 0) {
		close(in_sigpipe[0]);
		close(in_sigpipe[1]);
		in_sigpipe[0] = in_sigpipe[1] = -1;
	}
	free(sv.w);
	clr_metrics_free(sv.metrics);
	free(sv.route_names);
	pthread_cond_destroy(&sv.cv);
	pthread_mutex_destroy(&sv.mu);
	return ret;
}
