/*
 * metrics.c - the request counters and latency histograms behind /metrics.
 *
 * Sized once from the route table: counters[route][method][status slot] and
 * one histogram per route, all relaxed atomics, so the hot path (the
 * gateway's /auth) pays a few uncontended atomic adds and never allocates
 * or locks.  Status codes outside the fixed list fall into a per-class slot
 * ("4xx") to keep the label set bounded.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/log.h"
#include "http_in_internal.h"

static const int status_codes[] = {
    200, 201, 202, 204, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404,
    405, 406, 409, 410, 413, 415, 422, 429, 500, 501, 502, 503, 504,
};
#define N_CODES (sizeof(status_codes) / sizeof(status_codes[0]))
/* slots N_CODES .. N_CODES+4 are "1xx".."5xx", the last one anything else */
#define N_STATUS (N_CODES + 6)

static const double bucket_le[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
};
#define N_BUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

static const char *const method_names[CLR_IN_METHOD__MAX] = {
    [CLR_IN_GET] = "GET",	  [CLR_IN_POST] = "POST",     [CLR_IN_PUT] = "PUT",
    [CLR_IN_PATCH] = "PATCH",	  [CLR_IN_DELETE] = "DELETE", [CLR_IN_HEAD] = "HEAD",
    [CLR_IN_OPTIONS] = "OPTIONS", [CLR_IN_OTHER] = "OTHER",
};

struct route_hist {
	atomic_ulong bucket[N_BUCKETS + 1]; /* per bucket, not cumulative; last = over 2.5 s */
	atomic_ullong sum_us;
};

struct clr_metrics {
	const char *service;
	const char *const *names;
	size_t nroutes;
	atomic_ulong *counters; /* nroutes * METHOD__MAX * N_STATUS */
	struct route_hist *hist;
	unsigned char status_slot[600];
};

enum clr_in_method clr_in_method_index(const char *m)
{
	int i;

	if (m == NULL)
		return CLR_IN_OTHER;
	for (i = 0; i < CLR_IN_OTHER; i++) {
		if (strcmp(m, method_names[i]) == 0)
			return (enum clr_in_method)i;
	}
	return CLR_IN_OTHER;
}

enum clr_rc clr_metrics_new(const char *service, const char *const *names, size_t nroutes,
			    struct clr_metrics **out)
{
	struct clr_metrics *m;
	size_t i;
	int s;

	*out = NULL;
	if (nroutes == 0 || names == NULL)
		return CLR_ERR_PARAM;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return CLR_ERR_NOMEM;
	m->service = service ? service : "clearance";
	m->names = names;
	m->nroutes = nroutes;
	/* calloc'd zero bytes are a valid initial state for lock-free atomics */
	m->counters = calloc(nroutes * CLR_IN_METHOD__MAX * N_STATUS, sizeof(*m->counters));
	m->hist = calloc(nroutes, sizeof(*m->hist));
	if (m->counters == NULL || m->hist == NULL) {
		clr_metrics_free(m);
		return CLR_ERR_NOMEM;
	}
	for (s = 0; s < 600; s++)
		m->status_slot[s] =
		    (unsigned char)(s >= 100 ? N_CODES + (size_t)(s / 100) - 1 : N_STATUS - 1);
	for (i = 0; i < N_CODES; i++)
		m->status_slot[status_codes[i]] = (unsigned char)i;
	*out = m;
	return CLR_OK;
}

void clr_metrics_free(struct clr_metrics *m)
{
	if (m == NULL)
		return;
	free(m->counters);
	free(m->hist);
	free(m);
}

void clr_metrics_observe(struct clr_metrics *m, size_t route, enum clr_in_method method, int status,
			 long long usec)
{
	struct route_hist *h;
	size_t slot, b;
	double secs;

	if (m == NULL)
		return;
	if (route >= m->nroutes)
		route = m->nroutes - 1;
	if ((unsigned)method >= CLR_IN_METHOD__MAX)
		method = CLR_IN_OTHER;
	slot = status >= 0 && status < 600 ? m->status_slot[status] : N_STATUS - 1;
	atomic_fetch_add_explicit(
	    &m->counters[(route * CLR_IN_METHOD__MAX + (size_t)method) * N_STATUS + slot], 1,
	    memory_order_relaxed);
	if (usec < 0)
		usec = 0;
	secs = (double)usec / 1e6;
	for (b = 0; b < N_BUCKETS && secs > bucket_le[b]; b++)
		;
	h = &m->hist[route];
	atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (unsigned long long)usec, memory_order_relaxed);
}

/* Label values are escaped as the text format requires. */
static void put_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void put_status(FILE *f, size_t slot)
{
	if (slot < N_CODES)
		fprintf(f, "%d", status_codes[slot]);
	else if (slot < N_CODES + 5)
		fprintf(f, "%zuxx", slot - N_CODES + 1);
	else
		fputs("other", f);
}

char *clr_metrics_render(const struct clr_metrics *m, unsigned long db_errors)
{
	char *buf = NULL;
	size_t len = 0, r, b;
	int meth;
	FILE *f;

	if (m == NULL)
		return NULL;
	f = open_memstream(&buf, &len);
	if (f == NULL)
		return NULL;
	fputs("# HELP clearance_http_requests_total HTTP requests answered, by route pattern, "
	      "method and status.\n"
	      "# TYPE clearance_http_requests_total counter\n",
	      f);
	for (r = 0; r < m->nroutes; r++) {
		for (meth = 0; meth < CLR_IN_METHOD__MAX; meth++) {
			for (b = 0; b < N_STATUS; b++) {
				unsigned long v = atomic_load_explicit(
				    &m->counters[(r * CLR_IN_METHOD__MAX + (size_t)meth) *
						     N_STATUS +
						 b],
				    memory_order_relaxed);

				if (v == 0)
					continue;
				fputs("clearance_http_requests_total{service=\"", f);
				put_label(f, m->service);
				fputs("\",route=\"", f);
				put_label(f, m->names[r]);
				fprintf(f, "\",method=\"%s\",status=\"", method_names[meth]);
				put_status(f, b);
				fprintf(f, "\"} %lu\n", v);
			}
		}
	}
	fputs("# HELP clearance_http_request_duration_seconds Time from accepting a request to its "
	      "response, by route pattern.\n"
	      "# TYPE clearance_http_request_duration_seconds histogram\n",
	      f);
	for (r = 0; r < m->nroutes; r++) {
		const struct route_hist *h = &m->hist[r];
		unsigned long cum = 0;
		unsigned long long sum = atomic_load_explicit(&h->sum_us, memory_order_relaxed);

		for (b = 0; b <= N_BUCKETS; b++) {
			cum += atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
			fputs("clearance_http_request_duration_seconds_bucket{service=\"", f);
			put_label(f, m->service);
			fputs("\",route=\"", f);
			put_label(f, m->names[r]);
			if (b < N_BUCKETS)
				fprintf(f, "\",le=\"%g\"} %lu\n", bucket_le[b], cum);
			else
				fprintf(f, "\",le=\"+Inf\"} %lu\n", cum);
		}
		/* _count is the +Inf bucket, so the two agree even while other
		 * threads are updating; _sum may be a request ahead or behind. */
		fputs("clearance_http_request_duration_seconds_sum{service=\"", f);
		put_label(f, m->service);
		fputs("\",route=\"", f);
		put_label(f, m->names[r]);
		fprintf(f, "\"} %llu.%06llu\n", sum / 1000000ULL, sum % 1000000ULL);
		fputs("clearance_http_request_duration_seconds_count{service=\"", f);
		put_label(f, m->service);
		fputs("\",route=\"", f);
		put_label(f, m->names[r]);
		fprintf(f, "\"} %lu\n", cum);
	}
	fputs("# HELP clearance_db_errors_total Database errors since start.\n"
	      "# TYPE clearance_db_errors_total counter\n"
	      "clearance_db_errors_total{service=\"",
	      f);
	put_label(f, m->service);
	fprintf(f, "\"} %lu\n", db_errors);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
