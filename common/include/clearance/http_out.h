/*
 * http_out.h - outgoing HTTP with libcurl, safe by default.
 *
 * Every call sets connect and total timeouts, caps the response size
 * (CURLOPT_MAXFILESIZE plus an overflow-safe cap in the write callback),
 * allows only https (http too when opts->allow_http), verifies TLS unless
 * opts->tls_skip_verify, uses opts->ca_pem as an in-memory CA bundle when
 * given, never follows redirects, and checks every curl_easy_setopt.
 * One client per thread (it keeps a CURL handle for connection reuse).
 */
#ifndef CLEARANCE_HTTP_OUT_H
#define CLEARANCE_HTTP_OUT_H

#include <stddef.h>
#include "clearance/rc.h"

struct clr_http_client;

struct clr_http_opts {
	int allow_http;
	int tls_skip_verify;
	const char *ca_pem;	 /* PEM text or NULL */
	long connect_timeout_ms; /* 0 = 3000 */
	long timeout_ms;	 /* 0 = 10000 */
	long max_response;	 /* 0 = 1 MiB */
	/*
	 * Proxy URL, or NULL for none.  libcurl would otherwise obey
	 * http_proxy/https_proxy/ALL_PROXY from the environment, sending our
	 * bearer tokens to whatever a stray variable names; only an explicit
	 * CLEARANCE_HTTP_PROXY routes calls through a proxy.
	 */
	const char *proxy;
	/*
	 * 1: a new connection, closed afterwards.  libcurl sends a request
	 * again on a fresh connection when a reused one died before any
	 * answer; for a non-idempotent create (RFC 7591 registration) that
	 * would make a second client at the IdP.
	 */
	int fresh_connection;
};

struct clr_http_header {
	const char *name;
	const char *value;
};

struct clr_http_resp {
	long status;
	char *body; /* new, NUL-terminated, may be "" */
	size_t body_len;
	char *content_type;	/* new or NULL, lower-cased, params kept */
	char *etag;		/* new or NULL */
	long max_age;		/* Cache-Control max-age, -1 if absent */
	char *www_authenticate; /* new or NULL */
};

enum clr_rc clr_http_client_new(struct clr_http_client **out) CLR_MUSTCHECK;
void clr_http_client_free(struct clr_http_client *c);

/*
 * Performs one request.  headers are added as given (the caller adds
 * Authorization, Content-Type...).  body may be NULL.  Any HTTP status is
 * CLR_OK (the caller judges it); transport failures are CLR_ERR_TIMEOUT or
 * CLR_ERR_UPSTREAM with e->msg saying what happened (connection refused,
 * TLS verify failed, scheme not allowed, response too large...).  *out is
 * filled on CLR_OK; release with clr_http_resp_clear.
 */
enum clr_rc clr_http_do(struct clr_http_client *c, const struct clr_http_opts *opts,
			const char *method, const char *url, const struct clr_http_header *headers,
			size_t nheaders, const char *body, size_t body_len,
			struct clr_http_resp *out, struct clr_err *e) CLR_MUSTCHECK;
void clr_http_resp_clear(struct clr_http_resp *r);

/* 1 if content type (as stored in resp) is JSON: application/json or any +json. */
int clr_http_is_json(const struct clr_http_resp *r);

#endif
