/*
 * http_out.c - outgoing HTTP with libcurl, safe by default.
 *
 * One CURL easy handle per client (per thread), reset before every request
 * so no option leaks from one call into the next while the connection
 * cache survives.  Every option is set through set_* helpers that check the
 * return code: a silently ignored setopt (a timeout, the protocol allowlist)
 * would turn a safe default into an unsafe one.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "clearance/http_out.h"
#include "clearance/log.h"

#define OUT_DEFAULT_CONNECT_MS 3000L
#define OUT_DEFAULT_TIMEOUT_MS 10000L
#define OUT_DEFAULT_MAX (1024L * 1024L)
#define OUT_HEADER_VALUE_MAX 4096 /* longest kept value of a response header */

struct clr_http_client {
	CURL *h;
};

/* Response state shared with the callbacks of one transfer. */
struct out_xfer {
	char *buf;
	size_t len;
	size_t cap;
	size_t max;
	int too_large;
	int nomem;
	char *content_type;
	char *etag;
	char *www_authenticate;
	long max_age;
};

static pthread_once_t out_once = PTHREAD_ONCE_INIT;
static CURLcode out_global_rc = CURLE_FAILED_INIT;

static void out_global_init(void)
{
	out_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

enum clr_rc clr_http_client_new(struct clr_http_client **out)
{
	struct clr_http_client *c;

	*out = NULL;
	if (pthread_once(&out_once, out_global_init) != 0 || out_global_rc != CURLE_OK) {
		clr_log(NULL, CLR_LOG_ERROR, "http_out: curl_global_init failed");
		return CLR_ERR_INTERNAL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return CLR_ERR_NOMEM;
	c->h = curl_easy_init();
	if (c->h == NULL) {
		free(c);
		return CLR_ERR_NOMEM;
	}
	*out = c;
	return CLR_OK;
}

void clr_http_client_free(struct clr_http_client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->h);
	free(c);
}

void clr_http_resp_clear(struct clr_http_resp *r)
{
	if (r == NULL)
		return;
	free(r->body);
	free(r->content_type);
	free(r->etag);
	free(r->www_authenticate);
	memset(r, 0, sizeof(*r));
	r->max_age = -1;
}

/*
 * Writes are capped twice: CURLOPT_MAXFILESIZE stops early when the server
 * announces a length, this cap catches chunked or lying servers.  The
 * arithmetic never overflows: nmemb * size is checked before use and the
 * comparison is done as "n > max - len".
 */
static size_t out_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct out_xfer *x = arg;
	size_t n, ncap;
	char *nb;

	if (size != 0 && nmemb > SIZE_MAX / size) {
		x->too_large = 1;
		return 0;
	}
	n = size * nmemb;
	if (n > x->max - x->len) {
		x->too_large = 1;
		return 0;
	}
	if (x->len + n + 1 > x->cap) {
		ncap = x->cap ? x->cap : 4096;
		while (ncap < x->len + n + 1)
			ncap = ncap > (x->max + 1) / 2 ? x->max + 1 : ncap * 2;
		nb = realloc(x->buf, ncap);
		if (nb == NULL) {
			x->nomem = 1;
			return 0;
		}
		x->buf = nb;
		x->cap = ncap;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return n;
}

/* Copies value [p, p+n) trimmed, optionally lower-cased; NULL on no memory. */
static char *out_dup_value(const char *p, size_t n, int lower)
{
	char *s;
	size_t i;

	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 &&
	       (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	if (n > OUT_HEADER_VALUE_MAX)
		n = OUT_HEADER_VALUE_MAX;
	s = malloc(n + 1);
	if (s == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		s[i] = lower ? (char)tolower((unsigned char)p[i]) : p[i];
	s[n] = '\0';
	return s;
}

/* max-age=N from a Cache-Control value, -1 if absent or malformed. */
static long out_parse_max_age(const char *p, size_t n)
{
	const char *end = p + n;
	const char *q;
	long v;

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		q = p;
		while (q < end && *q != ',')
			q++;
		if (q - p > 8 && strncasecmp(p, "max-age=", 8) == 0) {
			const char *d = p + 8;
			int digits = 0;

			if (d < q && *d == '"')
				d++;
			v = 0;
			while (d < q && *d >= '0' && *d <= '9') {
				int dig = *d - '0';

				v = v > (LONG_MAX - dig) / 10 ? LONG_MAX : v * 10 + dig;
				d++;
				digits++;
			}
			if (digits > 0)
				return v;
		}
		p = q;
	}
	return -1;
}

static void out_replace(char **slot, char *v)
{
	free(*slot);
	*slot = v;
}

static size_t out_header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct out_xfer *x = arg;
	size_t n = size * nmemb; /* curl passes size == 1 */
	const char *colon;
	size_t nl;
	char *v;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new status line (after 1xx): forget earlier headers. */
		out_replace(&x->content_type, NULL);
		out_replace(&x->etag, NULL);
		out_replace(&x->www_authenticate, NULL);
		x->max_age = -1;
		return n;
	}
	colon = memchr(data, ':', n);
	if (colon == NULL)
		return n;
	nl = (size_t)(colon - data);
	data = (char *)colon + 1;
	n -= nl + 1;
	if (nl == 12 && strncasecmp(colon - nl, "content-type", 12) == 0) {
		v = out_dup_value(data, n, 1);
		if (v == NULL)
			goto nomem;
		out_replace(&x->content_type, v);
	} else if (nl == 4 && strncasecmp(colon - nl, "etag", 4) == 0) {
		v = out_dup_value(data, n, 0);
		if (v == NULL)
			goto nomem;
		out_replace(&x->etag, v);
	} else if (nl == 13 && strncasecmp(colon - nl, "cache-control", 13) == 0) {
		long ma = out_parse_max_age(data, n);

		if (ma >= 0)
			x->max_age = ma;
	} else if (nl == 16 && strncasecmp(colon - nl, "www-authenticate", 16) == 0) {
		if (x->www_authenticate == NULL) {
			v = out_dup_value(data, n, 0);
			if (v == NULL)
				goto nomem;
			x->www_authenticate = v;
		}
	}
	return size * nmemb;
nomem:
	x->nomem = 1;
	return 0;
}

/* Header names and values must not smuggle extra lines into the request. */
static int out_header_ok(const struct clr_http_header *hd)
{
	const char *p;

	if (hd->name == NULL || hd->value == NULL || hd->name[0] == '\0')
		return 0;
	for (p = hd->name; *p; p++) {
		if (*p <= ' ' || *p == ':' || *p == 0x7f)
			return 0;
	}
	for (p = hd->value; *p; p++) {
		if (*p == '\r' || *p == '\n')
			return 0;
	}
	return 1;
}

#define SETOPT(h, opt, val)                                                                        \
	do {                                                                                       \
		CURLcode sc_ = curl_easy_setopt((h), (opt), (val));                                \
		if (sc_ != CURLE_OK) {                                                             \
			rc = clr_err_set(e, CLR_ERR_INTERNAL, "server_error", NULL,                \
					 "curl_easy_setopt(%s): %s", #opt,                         \
					 curl_easy_strerror(sc_));                                 \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

enum clr_rc clr_http_do(struct clr_http_client *c, const struct clr_http_opts *opts,
			const char *method, const char *url, const struct clr_http_header *headers,
			size_t nheaders, const char *body, size_t body_len,
			struct clr_http_resp *out, struct clr_err *e)
{
	static const struct clr_http_opts defaults;
	struct out_xfer x;
	struct curl_slist *hl = NULL, *tmp;
	char errbuf[CURL_ERROR_SIZE];
	struct curl_blob ca;
	long connect_ms, timeout_ms, max;
	long status = 0;
	enum clr_rc rc = CLR_OK;
	CURLcode cc;
	CURL *h;
	size_t i;

	memset(&x, 0, sizeof(x));
	x.max_age = -1;
	errbuf[0] = '\0';
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
		out->max_age = -1;
	}
	if (c == NULL || c->h == NULL || method == NULL || url == NULL || out == NULL ||
	    (body == NULL && body_len != 0) || (headers == NULL && nheaders != 0))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
				   "http_out: bad arguments");
	if (opts == NULL)
		opts = &defaults;
	connect_ms =
	    opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : OUT_DEFAULT_CONNECT_MS;
	timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : OUT_DEFAULT_TIMEOUT_MS;
	max = opts->max_response > 0 ? opts->max_response : OUT_DEFAULT_MAX;
	x.max = (size_t)max;
	h = c->h;
	curl_easy_reset(h);

	for (i = 0; i < nheaders; i++) {
		char line[1024];
		int n;

		if (!out_header_ok(&headers[i])) {
			rc = clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
					 "http_out: malformed request header");
			goto out;
		}
		/* "Name;" is curl's way to send a header with an empty value. */
		if (headers[i].value[0] == '\0')
			n = snprintf(line, sizeof(line), "%s;", headers[i].name);
		else
			n = snprintf(line, sizeof(line), "%s: %s", headers[i].name,
				     headers[i].value);
		if (n < 0 || (size_t)n >= sizeof(line)) {
			rc = clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
					 "http_out: request header too long");
			goto out;
		}
		tmp = curl_slist_append(hl, line);
		if (tmp == NULL) {
			rc = clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL,
					 "http_out: out of memory");
			goto out;
		}
		hl = tmp;
	}
	/* No "Expect: 100-continue" round trip for larger bodies. */
	tmp = curl_slist_append(hl, "Expect:");
	if (tmp == NULL) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "http_out: out of memory");
		goto out;
	}
	hl = tmp;

	SETOPT(h, CURLOPT_URL, url);
	SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	SETOPT(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (opts->fresh_connection) {
		SETOPT(h, CURLOPT_FRESH_CONNECT, 1L);
		SETOPT(h, CURLOPT_FORBID_REUSE, 1L);
	}
	SETOPT(h, CURLOPT_PROTOCOLS_STR, opts->allow_http ? "http,https" : "https");
	SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, opts->allow_http ? "http,https" : "https");
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	/* "" disables the proxy environment variables (see http_out.h). */
	SETOPT(h, CURLOPT_PROXY, opts->proxy != NULL ? opts->proxy : "");
	SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	SETOPT(h, CURLOPT_WRITEFUNCTION, out_write_cb);
	SETOPT(h, CURLOPT_WRITEDATA, &x);
	SETOPT(h, CURLOPT_HEADERFUNCTION, out_header_cb);
	SETOPT(h, CURLOPT_HEADERDATA, &x);
	SETOPT(h, CURLOPT_USERAGENT, "clearance/1");
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, opts->tls_skip_verify ? 0L : 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, opts->tls_skip_verify ? 0L : 2L);
	if (opts->ca_pem != NULL) {
		ca.data = (void *)opts->ca_pem;
		ca.len = strlen(opts->ca_pem);
		ca.flags = CURL_BLOB_COPY;
		SETOPT(h, CURLOPT_CAINFO_BLOB, &ca);
	}
	SETOPT(h, CURLOPT_HTTPHEADER, hl);

	if (body != NULL) {
		SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		SETOPT(h, CURLOPT_POSTFIELDS, body);
		if (strcmp(method, "POST") != 0)
			SETOPT(h, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET") == 0) {
		SETOPT(h, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		SETOPT(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "POST") == 0) {
		SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		SETOPT(h, CURLOPT_POSTFIELDS, "");
	} else {
		SETOPT(h, CURLOPT_CUSTOMREQUEST, method);
	}

	cc = curl_easy_perform(h);
	if (x.nomem) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL, "http_out: out of memory");
		goto out;
	}
	if (x.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
		rc = clr_err_set(e, CLR_ERR_UPSTREAM, "upstream_error", NULL,
				 "response too large (limit %ld bytes)", max);
		goto out;
	}
	switch (cc) {
	case CURLE_OK:
		break;
	case CURLE_OPERATION_TIMEDOUT:
		rc = clr_err_set(e, CLR_ERR_TIMEOUT, "upstream_timeout", NULL, "timed out: %s",
				 errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	case CURLE_UNSUPPORTED_PROTOCOL:
		rc = clr_err_set(e, CLR_ERR_UPSTREAM, "upstream_error", NULL,
				 opts->allow_http ? "scheme not allowed (http or https required)"
						  : "scheme not allowed (https required)");
		goto out;
	default:
		/*
		 * "upstream_unreachable": the request never left (no connection),
		 * so the peer cannot have acted on it; callers that must not
		 * repeat a create blindly tell this apart from a broken answer.
		 */
		rc = clr_err_set(e, CLR_ERR_UPSTREAM,
				 cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
					 cc == CURLE_COULDNT_RESOLVE_PROXY
				     ? "upstream_unreachable"
				     : "upstream_error",
				 NULL, "%s%s%s", curl_easy_strerror(cc), errbuf[0] ? ": " : "",
				 errbuf);
		goto out;
	}
	cc = curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK) {
		rc = clr_err_set(e, CLR_ERR_INTERNAL, "server_error", NULL, "curl_easy_getinfo: %s",
				 curl_easy_strerror(cc));
		goto out;
	}
	if (x.buf == NULL) {
		x.buf = calloc(1, 1);
		if (x.buf == NULL) {
			rc = clr_err_set(e, CLR_ERR_NOMEM, "server_error", NULL,
					 "http_out: out of memory");
			goto out;
		}
	}
	out->status = status;
	out->body = x.buf;
	out->body_len = x.len;
	out->content_type = x.content_type;
	out->etag = x.etag;
	out->max_age = x.max_age;
	out->www_authenticate = x.www_authenticate;
	memset(&x, 0, sizeof(x));
out:
	/* The handle keeps pointers to hl and errbuf until the next reset. */
	curl_easy_reset(h);
	curl_slist_free_all(hl);
	free(x.buf);
	free(x.content_type);
	free(x.etag);
	free(x.www_authenticate);
	return rc;
}

int clr_http_is_json(const struct clr_http_resp *r)
{
	const char *ct, *end, *slash;
	size_t n;

	if (r == NULL || r->content_type == NULL)
		return 0;
	ct = r->content_type;
	end = strchr(ct, ';');
	if (end == NULL)
		end = ct + strlen(ct);
	while (end > ct && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	n = (size_t)(end - ct);
	if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return 1;
	slash = memchr(ct, '/', n);
	if (slash == NULL || slash == ct)
		return 0;
	/* type/anything+json, e.g. application/jwk-set+json */
	return (size_t)(end - slash) > 6 && strncasecmp(end - 5, "+json", 5) == 0;
}
