/*
 * stub_http.h - a tiny in-process HTTP/1.1 server for unit tests.
 *
 * One thread on 127.0.0.1 with an ephemeral port serves one request per
 * connection (it always answers "Connection: close"), so tests can script
 * errors, non-JSON, redirects, oversize and slow bodies and count requests.
 * Bounded: at most STUB_HTTP_MAX_CONN connections per server, requests up
 * to 64 KiB of headers and 4 MiB of body.
 */
#ifndef CLEARANCE_TEST_STUB_HTTP_H
#define CLEARANCE_TEST_STUB_HTTP_H

#include <stddef.h>

#define STUB_HTTP_MAX_CONN 256

struct stub_http_req {
	const char *method;
	const char *path;    /* request target as sent, with query */
	const char *headers; /* raw header lines, each ending in "\r\n" */
	const char *body;    /* NUL-terminated too */
	size_t body_len;
};

struct stub_http_resp {
	int status;	     /* default 200 */
	const char *headers; /* extra raw lines, each ending in "\r\n", or NULL */
	const char *body;    /* borrowed until sent; NULL = empty */
	size_t body_len;     /* 0 with body != NULL means strlen(body) */
	int free_body;	     /* free(body) after sending */
	long delay_ms;	     /* sleep before answering (interruptible by stop) */
	int no_length;	     /* omit Content-Length (body ends at close) */
};

/* Called on the server thread for every request. */
typedef void (*stub_http_handler)(const struct stub_http_req *req, struct stub_http_resp *resp,
				  void *arg);

struct stub_http;

/* Starts a server; *port gets its port.  NULL on failure. */
struct stub_http *stub_http_start(stub_http_handler fn, void *arg, int *port);

/* Stops the server (a pending delay is cut short) and frees it. */
void stub_http_stop(struct stub_http *s);

/* Number of complete requests received so far. */
unsigned stub_http_count(struct stub_http *s);

/*
 * Copies of the last request received, for assertions; each field is new
 * (free()) or NULL if no request came yet.
 */
struct stub_http_record {
	char *method;
	char *path;
	char *headers;
	char *body;
	size_t body_len;
};
void stub_http_last(struct stub_http *s, struct stub_http_record *out);
void stub_http_record_free(struct stub_http_record *r);

/*
 * Value of header `name` (case-insensitive) in raw header lines, copied
 * into out (truncated to outlen); 1 if found.
 */
int stub_http_header(const char *headers, const char *name, char *out, size_t outlen);

#endif
