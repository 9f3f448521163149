/*
 * metrics.c - the request counters and latency histograms behind /metrics.
 *
 * Sized once from the route table: counters[route][method][status slot] and
 * one histogram per route, all relaxed atomics, so the hot path (the
 * gateway's /auth) pays a few uncontended atomic adds and never allocates
 * or locks.  Status codes outside the fixed list fall into a per-class slot
 * ("4xx") to keep the label set bounded.
 *
 * A pattern served for several methods ("GET /v1/apps/{}", "PATCH
 * /v1/apps/{}") has several table entries but is one label value: entries
 * are folded onto one slot per distinct name, so each series is rendered
 * exactly once (Prometheus rejects a scrape with a repeated series).
 */
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include "clearance/db.h"
#include "clearance/jobs.h"
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
	const char *const *names; /* per slot */
	size_t nroutes;		  /* table entries */
	size_t nslots;		  /* distinct names */
	size_t *slot_of;	  /* table entry -> slot */
	const char **slot_name;
	atomic_ulong *counters;	 /* nslots * METHOD__MAX * N_STATUS */
	struct route_hist *hist; /* per slot */
	double start_time;	 /* Unix time the registry was made (process start) */
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
	struct timespec ts;
	size_t i, j;
	int s;

	*out = NULL;
	if (nroutes == 0 || names == NULL)
		return CLR_ERR_PARAM;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return CLR_ERR_NOMEM;
	m->service = service ? service : "clearance";
	m->nroutes = nroutes;
	m->slot_of = calloc(nroutes, sizeof(*m->slot_of));
	m->slot_name = calloc(nroutes, sizeof(*m->slot_name));
	if (m->slot_of == NULL || m->slot_name == NULL) {
		clr_metrics_free(m);
		return CLR_ERR_NOMEM;
	}
	/* Route tables are tens of entries: quadratic folding at start is fine. */
	for (i = 0; i < nroutes; i++) {
		const char *n = names[i] != NULL ? names[i] : "unnamed";

		for (j = 0; j < m->nslots && strcmp(m->slot_name[j], n) != 0; j++)
			;
		if (j == m->nslots)
			m->slot_name[m->nslots++] = n;
		m->slot_of[i] = j;
	}
	m->names = m->slot_name;
	clock_gettime(CLOCK_REALTIME, &ts);
	m->start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	/* calloc'd zero bytes are a valid initial state for lock-free atomics */
	m->counters = calloc(m->nslots * CLR_IN_METHOD__MAX * N_STATUS, sizeof(*m->counters));
	m->hist = calloc(m->nslots, sizeof(*m->hist));
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
	free(m->slot_of);
	free(m->slot_name);
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
	route = m->slot_of[route];
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

#ifndef CLR_VERSION
#define CLR_VERSION "0.1.0"
#endif

/* Seconds of CPU (user + system) this process used. */
static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Resident and virtual size from /proc/self/statm (pages); 0 if unreadable. */
static void mem_bytes(unsigned long long *rss, unsigned long long *vsz)
{
	unsigned long long pages_v = 0, pages_r = 0;
	long pg = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "re");

	*rss = *vsz = 0;
	if (f == NULL)
		return;
	if (fscanf(f, "%llu %llu", &pages_v, &pages_r) == 2 && pg > 0) {
		*vsz = pages_v * (unsigned long long)pg;
		*rss = pages_r * (unsigned long long)pg;
	}
	fclose(f);
}

/* Open descriptors (entries of /proc/self/fd, less the one reading it). */
static long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0;
}

/* Standard process_* series (the names client libraries use) and build info. */
static void render_process(const struct clr_metrics *m, FILE *f)
{
	unsigned long long rss, vsz;
	struct rlimit rl;
	long fds = open_fds();

	mem_bytes(&rss, &vsz);
	fputs("# HELP clearance_build_info The running build (value 1).\n"
	      "# TYPE clearance_build_info gauge\n"
	      "clearance_build_info{service=\"",
	      f);
	put_label(f, m->service);
	fprintf(f, "\",version=\"%s\"} 1\n", CLR_VERSION);
	fprintf(f,
		"# HELP process_cpu_seconds_total User and system CPU time spent in seconds.\n"
		"# TYPE process_cpu_seconds_total counter\n"
		"process_cpu_seconds_total %.6f\n"
		"# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
		"# TYPE process_resident_memory_bytes gauge\n"
		"process_resident_memory_bytes %llu\n"
		"# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
		"# TYPE process_virtual_memory_bytes gauge\n"
		"process_virtual_memory_bytes %llu\n"
		"# HELP process_start_time_seconds Start time of the process since unix epoch in "
		"seconds.\n"
		"# TYPE process_start_time_seconds gauge\n"
		"process_start_time_seconds %.3f\n",
		cpu_seconds(), rss, vsz, m->start_time);
	if (fds >= 0)
		fprintf(f,
			"# HELP process_open_fds Number of open file descriptors.\n"
			"# TYPE process_open_fds gauge\n"
			"process_open_fds %ld\n",
			fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		fprintf(f,
			"# HELP process_max_fds Maximum number of open file descriptors.\n"
			"# TYPE process_max_fds gauge\n"
			"process_max_fds %llu\n",
			(unsigned long long)rl.rlim_cur);
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
	for (r = 0; r < m->nslots; r++) {
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
	for (r = 0; r < m->nslots; r++) {
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
	render_process(m, f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- jobs by state ---- */

#define JOBS_FRESH_S 10 /* a scrape within this reuses the last counts */
#define JOBS_RETRY_S 30 /* after a failure, scrapes skip the database this long */
#define JOBS_MAX_KINDS 32

static const char *const job_states[] = {"queued", "running", "done", "failed"};
#define N_JOB_STATES (sizeof(job_states) / sizeof(job_states[0]))

static pthread_mutex_t jobs_mu = PTHREAD_MUTEX_INITIALIZER;
static time_t jobs_at;	    /* when jobs_count was read; 0 never */
static time_t jobs_fail_at; /* last failed read; 0 none */
static int jobs_busy;	    /* a scrape is reading now: others use the cache */
static unsigned long jobs_count[JOBS_MAX_KINDS][N_JOB_STATES];

/* Reads the counts (one statement, bounded by a 1 s statement_timeout). */
static enum clr_rc jobs_read(struct clr_db *db, const struct clr_job_kind *kinds, size_t n,
			     unsigned long out[][N_JOB_STATES])
{
	char arr[JOBS_MAX_KINDS * 66 + 3];
	const char *params[1];
	PGresult *res = NULL;
	enum clr_rc rc;
	size_t i, k, o = 0;
	int row;

	arr[o++] = '{';
	for (i = 0; i < n; i++) {
		size_t l = strlen(kinds[i].kind);

		/* Kind names are lower-case identifiers (CHECK length 1..64). */
		if (l > 64 || strpbrk(kinds[i].kind, ",{}\"\\ ") != NULL)
			return CLR_ERR_PARAM;
		if (i > 0)
			arr[o++] = ',';
		memcpy(arr + o, kinds[i].kind, l);
		o += l;
	}
	arr[o++] = '}';
	arr[o] = '\0';
	params[0] = arr;
	rc = clr_db_begin(db);
	if (rc != CLR_OK)
		return rc;
	rc = clr_db_exec_sql(db, "SET LOCAL statement_timeout = 1000", 0, NULL, NULL);
	if (rc == CLR_OK)
		rc = clr_db_exec_sql(db,
				     "SELECT kind, state, count(*) FROM jobs WHERE kind = "
				     "ANY($1::text[]) GROUP BY kind, state",
				     1, params, &res);
	if (rc != CLR_OK) {
		clr_db_rollback(db);
		return rc;
	}
	rc = clr_db_commit(db);
	memset(out, 0, sizeof(unsigned long) * N_JOB_STATES * n);
	for (row = 0; rc == CLR_OK && row < PQntuples(res); row++) {
		const char *kind = PQgetvalue(res, row, 0), *state = PQgetvalue(res, row, 1);

		for (i = 0; i < n && strcmp(kinds[i].kind, kind) != 0; i++)
			;
		for (k = 0; k < N_JOB_STATES && strcmp(job_states[k], state) != 0; k++)
			;
		if (i < n && k < N_JOB_STATES)
			out[i][k] = strtoul(PQgetvalue(res, row, 2), NULL, 10);
	}
	PQclear(res);
	return rc;
}

void clr_metrics_jobs_reset(void)
{
	pthread_mutex_lock(&jobs_mu);
	jobs_at = jobs_fail_at = 0;
	jobs_busy = 0;
	pthread_mutex_unlock(&jobs_mu);
}

char *clr_metrics_jobs(struct clr_db *db, const char *service, const struct clr_job_kind *kinds,
		       size_t n)
{
	unsigned long snap[JOBS_MAX_KINDS][N_JOB_STATES];
	char *buf = NULL;
	size_t len = 0, i, k;
	time_t now = time(NULL);
	int have, read_now = 0;
	FILE *f;

	if (kinds == NULL || n == 0 || n > JOBS_MAX_KINDS)
		return NULL;
	pthread_mutex_lock(&jobs_mu);
	if (db != NULL && !jobs_busy && now - jobs_at >= JOBS_FRESH_S &&
	    (jobs_fail_at == 0 || now - jobs_fail_at >= JOBS_RETRY_S)) {
		jobs_busy = 1;
		read_now = 1;
	}
	pthread_mutex_unlock(&jobs_mu);
	if (read_now) {
		enum clr_rc rc = jobs_read(db, kinds, n, snap);

		pthread_mutex_lock(&jobs_mu);
		if (rc == CLR_OK) {
			memcpy(jobs_count, snap, sizeof(snap[0]) * n);
			jobs_at = now;
			jobs_fail_at = 0;
		} else {
			jobs_fail_at = now;
		}
		jobs_busy = 0;
		pthread_mutex_unlock(&jobs_mu);
	}
	pthread_mutex_lock(&jobs_mu);
	/* Counts older than a failed retry window are not shown as current. */
	have = jobs_at != 0 && now - jobs_at < JOBS_FRESH_S + JOBS_RETRY_S;
	if (have)
		memcpy(snap, jobs_count, sizeof(snap[0]) * n);
	pthread_mutex_unlock(&jobs_mu);
	f = open_memstream(&buf, &len);
	if (f == NULL)
		return NULL;
	fputs("# HELP clearance_jobs Jobs of this service's kinds in the queue, by state (read at "
	      "most every 10 s; absent while the database is unreachable).\n"
	      "# TYPE clearance_jobs gauge\n",
	      f);
	for (i = 0; have && i < n; i++)
		for (k = 0; k < N_JOB_STATES; k++) {
			fputs("clearance_jobs{service=\"", f);
			put_label(f, service != NULL ? service : "clearance");
			fputs("\",kind=\"", f);
			put_label(f, kinds[i].kind);
			fprintf(f, "\",state=\"%s\"} %lu\n", job_states[k], snap[i][k]);
		}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
