/*
 * http_in_internal.h - pieces of http_in.c and metrics.c that are not part
 * of the public contract but are worth testing on their own (route
 * matching, CONTENT_LENGTH parsing, media types, percent-decoding and the
 * Prometheus registry).  Only http_in.c, metrics.c and tests include it.
 */
#ifndef CLEARANCE_HTTP_IN_INTERNAL_H
#define CLEARANCE_HTTP_IN_INTERNAL_H

#include <stddef.h>
#include "clearance/rc.h"

/* A part of the request path: [off, off+len). */
struct clr_in_span {
	size_t off;
	size_t len;
};

/*
 * 1 if path matches pattern, where each "{}" segment matches one non-empty
 * segment without '/'.  The spans of those segments land in params (at
 * most CLR_REQ_MAX_PARAMS, more "{}" never match) and *nparams.
 */
int clr_in_route_match(const char *pattern, const char *path, struct clr_in_span *params,
		       int *nparams);

/*
 * Parses CONTENT_LENGTH: NULL or "" is 0; only ASCII digits are accepted.
 * CLR_ERR_PARAM when malformed, CLR_ERR_TOOBIG when above max.
 */
enum clr_rc clr_in_content_length(const char *s, long max, size_t *out) CLR_MUSTCHECK;

/* 1 if a CONTENT_TYPE value is application/json (parameters allowed). */
int clr_in_ctype_is_json(const char *ct);

/*
 * Percent-decodes n bytes of p into out (room for n + 1), NUL-terminated;
 * plus_space turns '+' into ' ' (query strings).  -1 on a malformed escape
 * or a decoded NUL.
 */
int clr_in_pct_decode(const char *p, size_t n, char *out, size_t *outlen, int plus_space);

/*
 * How long one read of a request body may wait for data before the request
 * fails with 400 and its connection is closed (default 30 s; <= 0 restores
 * it).  Process-wide, for tests that cannot wait that long.
 */
void clr_in_set_body_timeout_ms(int ms);

/* ---- metrics.c ---- */

enum clr_in_method {
	CLR_IN_GET,
	CLR_IN_POST,
	CLR_IN_PUT,
	CLR_IN_PATCH,
	CLR_IN_DELETE,
	CLR_IN_HEAD,
	CLR_IN_OPTIONS,
	CLR_IN_OTHER,
	CLR_IN_METHOD__MAX
};

enum clr_in_method clr_in_method_index(const char *method);

struct clr_metrics;

/*
 * A registry for nroutes route labels (names borrowed, e.g. the patterns
 * of the route table plus the built-ins).  *out new (clr_metrics_free).
 * Updates are lock-free relaxed atomics on fixed arrays: nothing is
 * allocated per request.
 */
enum clr_rc clr_metrics_new(const char *service, const char *const *names, size_t nroutes,
			    struct clr_metrics **out) CLR_MUSTCHECK;
void clr_metrics_free(struct clr_metrics *m);

/* Counts one request; out-of-range route or status are clamped to a bucket. */
void clr_metrics_observe(struct clr_metrics *m, size_t route, enum clr_in_method method, int status,
			 long long usec);

/*
 * Prometheus text format 0.0.4 of all series, plus
 * clearance_db_errors_total = db_errors.  New string (free()) or NULL.
 */
char *clr_metrics_render(const struct clr_metrics *m, unsigned long db_errors);

struct clr_db;
struct clr_job_kind;

/*
 * clearance_jobs{service,kind,state} for the n kinds (at most 32), counted
 * in PostgreSQL on db (borrowed) at most every 10 s per process; after a
 * failed read the database is left alone for 30 s and the series are
 * omitted, so a scrape never waits on a dead database more than once in
 * that time.  New string (free()) or NULL.
 */
char *clr_metrics_jobs(struct clr_db *db, const char *service, const struct clr_job_kind *kinds,
		       size_t n);

/* Forgets the cached counts and a failed read (tests). */
void clr_metrics_jobs_reset(void);

#endif
