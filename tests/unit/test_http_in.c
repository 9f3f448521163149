/*
 * test_http_in.c - http_in.h: the parsers behind routing (route patterns,
 * CONTENT_LENGTH, media type, percent-decoding, query strings), the one
 * rc -> status table, the metrics registry, and the whole request loop
 * driven over its unix socket by a minimal FastCGI client (no database:
 * database_url is NULL, so auth routes answer 503 and /readyz 503).
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "clearance/http_in.h"
#include "clearance/log.h"
#include "../../common/src/http_in_internal.h"

/* ---- clr_in_route_match ---- */

START_TEST(route_match_cases)
{
	static const struct {
		const char *pat, *path;
		int match, n;
		const char *p0, *p1;
	} v[] = {
	    {"/v1/providers", "/v1/providers", 1, 0, NULL, NULL},
	    {"/v1/providers", "/v1/providers/", 0, 0, NULL, NULL},
	    {"/v1/providers", "/v1/provider", 0, 0, NULL, NULL},
	    {"/v1/providers", "/v1/providersx", 0, 0, NULL, NULL},
	    {"/v1/providers/{}", "/v1/providers/abc", 1, 1, "abc", NULL},
	    {"/v1/providers/{}", "/v1/providers/", 0, 0, NULL, NULL},
	    {"/v1/providers/{}", "/v1/providers/a/b", 0, 0, NULL, NULL},
	    {"/v1/providers/{}/client-types", "/v1/providers/p1/client-types", 1, 1, "p1", NULL},
	    {"/v1/providers/{}/client-types", "/v1/providers//client-types", 0, 0, NULL, NULL},
	    {"/v1/a/{}/b/{}", "/v1/a/x/b/y", 1, 2, "x", "y"},
	    {"/v1/a/{}/b/{}", "/v1/a/x/b/", 0, 0, NULL, NULL},
	    {"/{}", "/..", 1, 1, "..", NULL}, /* rejected later by decode_params */
	    {"/{}/{}/{}/{}/{}", "/a/b/c/d/e", 0, 0, NULL, NULL}, /* > CLR_REQ_MAX_PARAMS */
	};
	struct clr_in_span sp[CLR_REQ_MAX_PARAMS];
	size_t i;
	int n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int m = clr_in_route_match(v[i].pat, v[i].path, sp, &n);

		ck_assert_msg(m == v[i].match, "%s vs %s", v[i].pat, v[i].path);
		if (!m)
			continue;
		ck_assert_int_eq(n, v[i].n);
		if (n > 0)
			ck_assert(strncmp(v[i].path + sp[0].off, v[i].p0, sp[0].len) == 0 &&
				  strlen(v[i].p0) == sp[0].len);
		if (n > 1)
			ck_assert(strncmp(v[i].path + sp[1].off, v[i].p1, sp[1].len) == 0 &&
				  strlen(v[i].p1) == sp[1].len);
	}
}
END_TEST

/* ---- clr_in_content_length ---- */

START_TEST(content_length_cases)
{
	size_t n = 99;

	ck_assert_int_eq(clr_in_content_length(NULL, 100, &n), CLR_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(clr_in_content_length("", 100, &n), CLR_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(clr_in_content_length("0", 100, &n), CLR_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(clr_in_content_length("100", 100, &n), CLR_OK);
	ck_assert_uint_eq(n, 100);
	ck_assert_int_eq(clr_in_content_length("007", 100, &n), CLR_OK);
	ck_assert_uint_eq(n, 7);
	ck_assert_int_eq(clr_in_content_length("101", 100, &n), CLR_ERR_TOOBIG);
	ck_assert_int_eq(clr_in_content_length("99999999999999999999999999", 100, &n),
			 CLR_ERR_TOOBIG);
	ck_assert_int_eq(clr_in_content_length("-1", 100, &n), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_in_content_length("+1", 100, &n), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_in_content_length(" 1", 100, &n), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_in_content_length("1 ", 100, &n), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_in_content_length("0x10", 100, &n), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_in_content_length("1e3", 100000, &n), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_in_content_length("99999999999999999999x", 100, &n), CLR_ERR_PARAM);
}
END_TEST

/* ---- clr_in_ctype_is_json ---- */

START_TEST(ctype_cases)
{
	ck_assert(clr_in_ctype_is_json("application/json"));
	ck_assert(clr_in_ctype_is_json("Application/JSON"));
	ck_assert(clr_in_ctype_is_json("application/json; charset=utf-8"));
	ck_assert(clr_in_ctype_is_json("application/json ;charset=utf-8"));
	ck_assert(!clr_in_ctype_is_json(NULL));
	ck_assert(!clr_in_ctype_is_json(""));
	ck_assert(!clr_in_ctype_is_json("application/jsonp"));
	ck_assert(!clr_in_ctype_is_json("text/plain"));
	ck_assert(!clr_in_ctype_is_json("application/x-www-form-urlencoded"));
}
END_TEST

/* ---- clr_in_pct_decode ---- */

START_TEST(pct_decode_cases)
{
	char out[64];
	size_t n;

	ck_assert_int_eq(clr_in_pct_decode("a%20b", 5, out, &n, 0), 0);
	ck_assert_str_eq(out, "a b");
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(clr_in_pct_decode("a+b", 3, out, &n, 0), 0);
	ck_assert_str_eq(out, "a+b");
	ck_assert_int_eq(clr_in_pct_decode("a+b", 3, out, &n, 1), 0);
	ck_assert_str_eq(out, "a b");
	ck_assert_int_eq(clr_in_pct_decode("%2F%2f", 6, out, &n, 0), 0);
	ck_assert_str_eq(out, "//");
	ck_assert_int_eq(clr_in_pct_decode("%", 1, out, &n, 0), -1);
	ck_assert_int_eq(clr_in_pct_decode("%2", 2, out, &n, 0), -1);
	ck_assert_int_eq(clr_in_pct_decode("%zz", 3, out, &n, 0), -1);
	ck_assert_int_eq(clr_in_pct_decode("%00", 3, out, &n, 0), -1);
	/* only n bytes are looked at */
	ck_assert_int_eq(clr_in_pct_decode("ab%41", 2, out, &n, 0), 0);
	ck_assert_str_eq(out, "ab");
}
END_TEST

/* ---- clr_req_query ---- */

START_TEST(query_cases)
{
	struct clr_req r;
	char *v;

	memset(&r, 0, sizeof(r));
	r.query = "a=1&redirect_uri=https%3A%2F%2Fx.example%2Fcb&sp=a+b&flag&empty=";
	ck_assert_int_eq(clr_req_query(&r, "a", &v), CLR_OK);
	ck_assert_str_eq(v, "1");
	free(v);
	ck_assert_int_eq(clr_req_query(&r, "redirect_uri", &v), CLR_OK);
	ck_assert_str_eq(v, "https://x.example/cb");
	free(v);
	ck_assert_int_eq(clr_req_query(&r, "sp", &v), CLR_OK);
	ck_assert_str_eq(v, "a b");
	free(v);
	ck_assert_int_eq(clr_req_query(&r, "flag", &v), CLR_OK);
	ck_assert_str_eq(v, "");
	free(v);
	ck_assert_int_eq(clr_req_query(&r, "empty", &v), CLR_OK);
	ck_assert_str_eq(v, "");
	free(v);
	ck_assert_int_eq(clr_req_query(&r, "missing", &v), CLR_OK);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(clr_req_query(&r, "redirect", &v), CLR_OK);
	ck_assert_ptr_null(v);
	r.query = "x=%zz";
	ck_assert_int_eq(clr_req_query(&r, "x", &v), CLR_ERR_PARAM);
	ck_assert_ptr_null(v);
	r.query = NULL;
	ck_assert_int_eq(clr_req_query(&r, "x", &v), CLR_OK);
	ck_assert_ptr_null(v);
}
END_TEST

/* ---- clr_rc_status ---- */

START_TEST(rc_status_table)
{
	ck_assert_int_eq(clr_rc_status(CLR_ERR_PARAM), 400);
	ck_assert_int_eq(clr_rc_status(CLR_ERR_NOMEM), 500);
	ck_assert_int_eq(clr_rc_status(CLR_ERR_NOTFOUND), 404);
	ck_assert_int_eq(clr_rc_status(CLR_ERR_DENIED), 401);
	ck_assert_int_eq(clr_rc_status(CLR_ERR_FORBIDDEN), 403);
	ck_assert_int_eq(clr_rc_status(CLR_ERR_CONFLICT), 409);
	ck_assert_int_eq(clr_rc_status(CLR_ERR_TOOBIG), 413);
	ck_assert_int_eq(clr_rc_status(CLR_ERR_DB), 503);
	ck_assert_int_eq(clr_rc_status(CLR_ERR_UPSTREAM), 502);
	ck_assert_int_eq(clr_rc_status(CLR_ERR_TIMEOUT), 504);
	ck_assert_int_eq(clr_rc_status(CLR_ERR_INTERNAL), 500);
	ck_assert_int_eq(clr_rc_status(CLR_RC__MAX), 500);
	ck_assert_int_eq(clr_rc_status((enum clr_rc) - 1), 500);
}
END_TEST

/* ---- metrics registry ---- */

START_TEST(metrics_render)
{
	/* "/v1/a/{}" twice: one pattern served for two methods is one label */
	static const char *const names[] = {"/v1/a/{}", "/auth", "/v1/a/{}", "unmatched"};
	struct clr_metrics *m;
	const char *p;
	char *t;
	int n;

	ck_assert_int_eq(clr_metrics_new("svc", names, 4, &m), CLR_OK);
	clr_metrics_observe(m, 0, CLR_IN_GET, 200, 300);     /* 0.0003 s */
	clr_metrics_observe(m, 0, CLR_IN_GET, 200, 2000);    /* 0.002 s */
	clr_metrics_observe(m, 2, CLR_IN_POST, 409, 10);     /* the same pattern's POST entry */
	clr_metrics_observe(m, 1, CLR_IN_GET, 204, 3000000); /* 3 s: only +Inf */
	clr_metrics_observe(m, 1, CLR_IN_GET, 299, 1);	     /* odd code -> 2xx */
	clr_metrics_observe(m, 99, CLR_IN_OTHER, 700, 1);    /* clamped */
	t = clr_metrics_render(m, 7);
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(strstr(t, "# TYPE clearance_http_requests_total counter\n"));
	ck_assert_ptr_nonnull(strstr(t, "clearance_http_requests_total{service=\"svc\",route=\"/v1/"
					"a/{}\",method=\"GET\",status=\"200\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "clearance_http_requests_total{service=\"svc\",route=\"/v1/"
					"a/{}\",method=\"POST\",status=\"409\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "clearance_http_requests_total{service=\"svc\",route=\"/"
					"auth\",method=\"GET\",status=\"2xx\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "clearance_http_requests_total{service=\"svc\",route="
					"\"unmatched\",method=\"OTHER\",status=\"other\"} 1\n"));
	ck_assert_ptr_null(strstr(t, "status=\"404\""));
	ck_assert_ptr_nonnull(
	    strstr(t, "# TYPE clearance_http_request_duration_seconds histogram\n"));
	ck_assert_ptr_nonnull(strstr(t, "clearance_http_request_duration_seconds_bucket{service="
					"\"svc\",route=\"/v1/a/{}\",le=\"0.0005\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "clearance_http_request_duration_seconds_bucket{service="
					"\"svc\",route=\"/v1/a/{}\",le=\"0.001\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "clearance_http_request_duration_seconds_bucket{service="
					"\"svc\",route=\"/v1/a/{}\",le=\"0.0025\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(t, "clearance_http_request_duration_seconds_bucket{service="
					"\"svc\",route=\"/auth\",le=\"2.5\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "clearance_http_request_duration_seconds_bucket{service="
					"\"svc\",route=\"/auth\",le=\"+Inf\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "clearance_http_request_duration_seconds_sum{service="
					"\"svc\",route=\"/v1/a/{}\"} 0.002310\n"));
	ck_assert_ptr_nonnull(strstr(t, "clearance_http_request_duration_seconds_count{service="
					"\"svc\",route=\"/v1/a/{}\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(t, "clearance_db_errors_total{service=\"svc\"} 7\n"));
	/* each series once: Prometheus rejects a scrape that repeats one */
	for (n = 0, p = t; (p = strstr(p, "_count{service=\"svc\",route=\"/v1/a/{}\"}")) != NULL;
	     p++)
		n++;
	ck_assert_int_eq(n, 1);
	ck_assert_ptr_nonnull(strstr(t, "clearance_build_info{service=\"svc\",version=\""));
	ck_assert_ptr_nonnull(strstr(t, "\nprocess_cpu_seconds_total "));
	ck_assert_ptr_nonnull(strstr(t, "\nprocess_resident_memory_bytes "));
	ck_assert_ptr_nonnull(strstr(t, "\nprocess_open_fds "));
	ck_assert_ptr_nonnull(strstr(t, "\nprocess_start_time_seconds "));
	free(t);
	clr_metrics_free(m);
	clr_metrics_free(NULL);
}
END_TEST

START_TEST(method_index)
{
	ck_assert_int_eq(clr_in_method_index("GET"), CLR_IN_GET);
	ck_assert_int_eq(clr_in_method_index("DELETE"), CLR_IN_DELETE);
	ck_assert_int_eq(clr_in_method_index("get"), CLR_IN_OTHER);
	ck_assert_int_eq(clr_in_method_index("BREW"), CLR_IN_OTHER);
	ck_assert_int_eq(clr_in_method_index(NULL), CLR_IN_OTHER);
}
END_TEST

/* ---- the request loop over FastCGI ---- */

static void h_thing(struct clr_req *r)
{
	clr_resp_header(r, "X-Thing", "yes");
	clr_resp_json(r, 200, json_pack("{s:s,s:s}", "id", r->params[0], "route", r->route));
}

static atomic_int create_calls;

static void h_create(struct clr_req *r)
{
	json_t *name = json_object_get(r->json, "name");

	atomic_fetch_add(&create_calls, 1);
	if (!json_is_string(name)) {
		struct clr_err e;

		(void)clr_err_set(&e, CLR_ERR_PARAM, "", "name", "name is required");
		clr_resp_err(r, &e);
		return;
	}
	clr_resp_json(r, 201, json_pack("{s:O}", "name", name));
}

static void h_noresp(struct clr_req *r)
{
	(void)r;
}

static void h_admin(struct clr_req *r)
{
	clr_resp_empty(r, 204);
}

static void h_query(struct clr_req *r)
{
	char *v = NULL;

	if (clr_req_query(r, "q", &v) != CLR_OK) {
		clr_resp_error(r, 400, "invalid_request", "bad query");
		return;
	}
	clr_resp_json(r, 200, json_pack("{s:s?}", "q", v));
	free(v);
}

static const struct clr_route routes[] = {
    {"GET", "/v1/things/{}", h_thing, CLR_AUTH_NONE, 0},
    {"DELETE", "/v1/things/{}", h_admin, CLR_AUTH_ADMIN, 0},
    {"POST", "/v1/things", h_create, CLR_AUTH_NONE, 1},
    {"GET", "/v1/noresp", h_noresp, CLR_AUTH_NONE, 0},
    {"GET", "/v1/admin", h_admin, CLR_AUTH_ADMIN, 0},
    {"GET", "/v1/query", h_query, CLR_AUTH_NONE, 0},
};

/* POST /v1/things accepts a name of 1..8 bytes and nothing else. */
static const struct clr_field thing_fields[] = {
    {"name", CLR_FT_STR, 1, 0, 1, 8, 0, 0},
};
static const struct clr_body thing_body = CLR_BODY(thing_fields, 0, NULL);
static const struct clr_route_body bodies[] = {
    {"POST", "/v1/things", &thing_body},
};

static char sock_dir[64];
static char sock_path[100];
static char listen_spec[112];
static struct clr_config cfg;
static struct clr_server srv;
static pthread_t srv_thr;
static int srv_rc;

static void *srv_main(void *arg)
{
	(void)arg;
	srv_rc = clr_server_run(&srv);
	return NULL;
}

static int fcgi_connect(void)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void srv_setup(void)
{
	int i, fd = -1;

	clr_log_init("test", CLR_LOG_ERROR);
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/clr-http-in-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sock_dir));
	snprintf(sock_path, sizeof(sock_path), "%s/fcgi.sock", sock_dir);
	snprintf(listen_spec, sizeof(listen_spec), "unix:%s", sock_path);
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = listen_spec;
	cfg.threads = 2;
	cfg.database_url = NULL;
	cfg.max_body = 1024;
	memset(&srv, 0, sizeof(srv));
	srv.service = "test";
	srv.cfg = &cfg;
	srv.routes = routes;
	srv.nroutes = sizeof(routes) / sizeof(routes[0]);
	srv.bodies = bodies;
	srv.nbodies = 1;
	srv_rc = -1;
	ck_assert_int_eq(pthread_create(&srv_thr, NULL, srv_main, NULL), 0);
	for (i = 0; i < 200 && fd < 0; i++) {
		fd = fcgi_connect();
		if (fd < 0)
			poll(NULL, 0, 10);
	}
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void srv_teardown(void)
{
	ck_assert_int_eq(raise(SIGTERM), 0);
	pthread_join(srv_thr, NULL);
	ck_assert_int_eq(srv_rc, 0);
	ck_assert_int_ne(access(sock_path, F_OK), 0); /* socket removed */
	rmdir(sock_dir);
}

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void rec(struct buf *b, int type, const void *p, size_t n)
{
	unsigned char h[8] = {
	    1, (unsigned char)type, 0, 1, (unsigned char)(n >> 8), (unsigned char)n, 0, 0};

	buf_add(b, h, 8);
	if (n > 0)
		buf_add(b, p, n);
}

static void param(struct buf *b, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);
	unsigned char l[8];
	size_t k = 0;

	ck_assert(nl < 128 && vl < 65536);
	l[k++] = (unsigned char)nl;
	if (vl < 128) {
		l[k++] = (unsigned char)vl;
	} else {
		l[k++] = (unsigned char)(0x80 | (vl >> 24));
		l[k++] = (unsigned char)(vl >> 16);
		l[k++] = (unsigned char)(vl >> 8);
		l[k++] = (unsigned char)vl;
	}
	buf_add(b, l, k);
	buf_add(b, name, nl);
	buf_add(b, value, vl);
}

struct resp {
	int status;
	char head[2048];
	char *body;
	json_t *json;
};

/*
 * One FastCGI request: env is NULL-terminated name/value pairs.  Returns
 * the parsed CGI response (Status, headers, body).
 */
static void fcgi_request(const char *const *env, const char *body, size_t blen, struct resp *out)
{
	static const unsigned char begin[8] = {0, 1, 0, 0, 0, 0, 0, 0};
	struct buf req = {0}, pr = {0}, so = {0}, in = {0};
	size_t i, off = 0;
	char *sep;
	int fd, done = 0;

	rec(&req, 1, begin, 8);
	for (i = 0; env[i] != NULL; i += 2)
		param(&pr, env[i], env[i + 1]);
	rec(&req, 4, pr.p, pr.len);
	rec(&req, 4, NULL, 0);
	if (blen > 0)
		rec(&req, 5, body, blen);
	rec(&req, 5, NULL, 0);

	fd = fcgi_connect();
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, req.p, req.len), (ssize_t)req.len);
	while (!done) {
		char tmp[4096];
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		ck_assert_int_eq(poll(&p, 1, 5000), 1);
		n = read(fd, tmp, sizeof(tmp));
		if (n <= 0)
			break;
		buf_add(&in, tmp, (size_t)n);
		while (in.len - off >= 8) {
			unsigned char *h = (unsigned char *)in.p + off;
			size_t cl = (size_t)h[4] << 8 | h[5], pl = h[6];

			if (in.len - off < 8 + cl + pl)
				break;
			if (h[1] == 6 && cl > 0)
				buf_add(&so, h + 8, cl);
			if (h[1] == 3)
				done = 1;
			off += 8 + cl + pl;
		}
	}
	close(fd);
	ck_assert_msg(done, "no FCGI_END_REQUEST");
	ck_assert_ptr_nonnull(so.p);
	ck_assert_int_eq(sscanf(so.p, "Status: %d", &out->status), 1);
	sep = strstr(so.p, "\r\n\r\n");
	ck_assert_ptr_nonnull(sep);
	ck_assert_uint_lt((size_t)(sep - so.p), sizeof(out->head));
	memcpy(out->head, so.p, (size_t)(sep - so.p) + 2);
	out->head[sep - so.p + 2] = '\0';
	out->body = strdup(sep + 4);
	out->json = out->body[0] ? json_loads(out->body, 0, NULL) : NULL;
	free(req.p);
	free(pr.p);
	free(so.p);
	free(in.p);
}

static void resp_free(struct resp *r)
{
	free(r->body);
	json_decref(r->json);
}

static int has_header(const struct resp *r, const char *line)
{
	char want[256];

	snprintf(want, sizeof(want), "\r\n%s\r\n", line);
	return strstr(r->head, want) != NULL;
}

static const char *jstr(const struct resp *r, const char *key)
{
	return json_string_value(json_object_get(r->json, key));
}

#define GET(path) ((const char *const[]){"REQUEST_METHOD", "GET", "REQUEST_URI", path, NULL})

START_TEST(loop_builtins)
{
	struct resp r;
	const char *rid;
	size_t i;

	fcgi_request(GET("/healthz"), NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(jstr(&r, "status"), "ok");
	ck_assert(has_header(&r, "Content-Type: application/json"));
	ck_assert(has_header(&r, "Cache-Control: no-store"));
	rid = strstr(r.head, "X-Request-Id: ");
	ck_assert_ptr_nonnull(rid);
	rid += strlen("X-Request-Id: ");
	for (i = 0; i < 32; i++)
		ck_assert_ptr_nonnull(strchr("0123456789abcdef", rid[i]));
	ck_assert_int_eq(rid[32], '\r');
	resp_free(&r);

	fcgi_request(GET("/readyz"), NULL, 0, &r);
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(jstr(&r, "status"), "unavailable");
	/* Every 503 says when to come back (issue 13). */
	ck_assert(has_header(&r, "Retry-After: 5"));
	resp_free(&r);

	fcgi_request(
	    (const char *const[]){"REQUEST_METHOD", "POST", "REQUEST_URI", "/healthz", NULL}, NULL,
	    0, &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert(has_header(&r, "Allow: GET"));
	resp_free(&r);
}
END_TEST

START_TEST(loop_routing)
{
	struct resp r;

	fcgi_request(GET("/v1/things/ab%20c?x=1"), NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(jstr(&r, "id"), "ab c");
	ck_assert_str_eq(jstr(&r, "route"), "/v1/things/{}");
	ck_assert(has_header(&r, "X-Thing: yes"));
	resp_free(&r);

	fcgi_request(GET("/v1/nothing"), NULL, 0, &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_str_eq(jstr(&r, "error"), "not_found");
	resp_free(&r);

	/* An encoded slash or a dot segment never reaches a handler. */
	fcgi_request(GET("/v1/things/a%2Fb"), NULL, 0, &r);
	ck_assert_int_eq(r.status, 404);
	resp_free(&r);
	fcgi_request(GET("/v1/things/%2e%2e"), NULL, 0, &r);
	ck_assert_int_eq(r.status, 404);
	resp_free(&r);

	fcgi_request(
	    (const char *const[]){"REQUEST_METHOD", "PUT", "REQUEST_URI", "/v1/things/x", NULL},
	    NULL, 0, &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert(has_header(&r, "Allow: GET, DELETE"));
	resp_free(&r);

	fcgi_request(GET("/v1/noresp"), NULL, 0, &r);
	ck_assert_int_eq(r.status, 500);
	ck_assert_str_eq(jstr(&r, "error"), "server_error");
	resp_free(&r);

	fcgi_request(GET("/v1/query?q=a%26b+c"), NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(jstr(&r, "q"), "a&b c");
	resp_free(&r);
}
END_TEST

START_TEST(loop_auth_without_db)
{
	struct resp r;

	/* database_url is NULL here, so the token cannot be checked: 503. */
	fcgi_request((const char *const[]){"REQUEST_METHOD", "GET", "REQUEST_URI", "/v1/admin",
					   "HTTP_AUTHORIZATION", "Bearer abc", NULL},
		     NULL, 0, &r);
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(jstr(&r, "error"), "temporarily_unavailable");
	ck_assert(has_header(&r, "Retry-After: 5"));
	ck_assert_ptr_null(strstr(r.body, "abc"));
	resp_free(&r);
}
END_TEST

#define POST(ctype, clen)                                                                          \
	((const char *const[]){"REQUEST_METHOD", "POST", "REQUEST_URI", "/v1/things",              \
			       "CONTENT_TYPE", ctype, "CONTENT_LENGTH", clen, NULL})

START_TEST(loop_bodies)
{
	static const char ok[] = "{\"name\":\"n1\"}";
	static const char dup[] = "{\"name\":\"a\",\"name\":\"b\"}";
	char big[2000];
	struct resp r;

	fcgi_request(POST("application/json; charset=utf-8", "13"), ok, 13, &r);
	ck_assert_int_eq(r.status, 201);
	ck_assert_str_eq(jstr(&r, "name"), "n1");
	resp_free(&r);

	fcgi_request(POST("text/plain", "13"), ok, 13, &r);
	ck_assert_int_eq(r.status, 415);
	resp_free(&r);

	fcgi_request(POST("application/json", "23"), dup, 23, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(jstr(&r, "error"), "invalid_request");
	ck_assert_ptr_nonnull(strstr(jstr(&r, "error_description"), "duplicate"));
	resp_free(&r);

	fcgi_request(POST("application/json", "2"), "[]", 2, &r);
	ck_assert_int_eq(r.status, 400);
	resp_free(&r);

	fcgi_request(POST("application/json", "2"), "{}", 2, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(jstr(&r, "field"), "name");
	ck_assert_str_eq(jstr(&r, "error"), "invalid_request");
	resp_free(&r);

	/* The route's field table is checked before the handler runs. */
	atomic_store(&create_calls, 0);
	fcgi_request(POST("application/json", "25"), "{\"name\":\"a\",\"owner\":\"me\"}", 25, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(jstr(&r, "error_description"), "\"owner\""));
	resp_free(&r);
	fcgi_request(POST("application/json", "20"), "{\"name\":\"123456789\"}", 20, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(jstr(&r, "field"), "name");
	resp_free(&r);
	ck_assert_int_eq(atomic_load(&create_calls), 0);

	memset(big, ' ', sizeof(big));
	fcgi_request(POST("application/json", "2000"), big, sizeof(big), &r);
	ck_assert_int_eq(r.status, 413);
	resp_free(&r);

	fcgi_request(POST("application/json", "12x"), ok, 13, &r);
	ck_assert_int_eq(r.status, 400);
	resp_free(&r);

	/* Content-Length larger than the body actually sent. */
	fcgi_request(POST("application/json", "20"), ok, 13, &r);
	ck_assert_int_eq(r.status, 400);
	resp_free(&r);
}
END_TEST

/*
 * Sends a POST to /v1/things announcing 40 body bytes, sends 8 of them and
 * then stays connected and silent; collects the answer for up to 5 s.
 * *ended: FCGI_END_REQUEST seen, *closed: the server closed the connection.
 */
static int stalled_post(const char *ctype, int *ended, int *closed)
{
	static const unsigned char begin[8] = {0, 1, 0, 0, 0, 0, 0, 0};
	const char *const *env = POST(ctype, "40");
	struct buf req = {0}, pr = {0}, in = {0};
	size_t i, off = 0;
	int fd, status = 0, tries;

	*ended = *closed = 0;
	rec(&req, 1, begin, 8);
	for (i = 0; env[i] != NULL; i += 2)
		param(&pr, env[i], env[i + 1]);
	rec(&req, 4, pr.p, pr.len);
	rec(&req, 4, NULL, 0);
	rec(&req, 5, "{\"name\":", 8);
	fd = fcgi_connect();
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, req.p, req.len), (ssize_t)req.len);
	for (tries = 0; tries < 50 && !*closed; tries++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char tmp[4096];
		ssize_t n;

		if (poll(&p, 1, 100) != 1)
			continue;
		n = read(fd, tmp, sizeof(tmp));
		if (n <= 0)
			*closed = 1;
		else
			buf_add(&in, tmp, (size_t)n);
	}
	close(fd);
	while (in.len - off >= 8) {
		unsigned char *h = (unsigned char *)in.p + off;
		size_t cl = (size_t)h[4] << 8 | h[5], pl = h[6];

		if (in.len - off < 8 + cl + pl)
			break;
		if (h[1] == 6 && cl > 0 && status == 0) {
			char line[32];

			snprintf(line, sizeof(line), "%.*s", (int)(cl < 31 ? cl : 31), h + 8);
			ck_assert_int_eq(sscanf(line, "Status: %d", &status), 1);
		}
		if (h[1] == 3)
			*ended = 1;
		off += 8 + cl + pl;
	}
	free(req.p);
	free(pr.p);
	free(in.p);
	return status;
}

/*
 * Regression: libfcgi reads the body with blocking read(2) and no timeout,
 * so a peer that sent CONTENT_LENGTH and then part of the body while
 * keeping the connection open held a worker thread for ever (and a
 * SIGTERM's join with it).  Now a stalled body read fails after the body
 * timeout with a 400 and the connection is closed.
 */
/* A field table that names no json_body route is a start-up error, not a silent no-op. */
START_TEST(bodies_must_name_a_route)
{
	static const struct clr_route_body stray[] = {
	    {"POST", "/v1/thingz", &thing_body},
	};
	static const struct clr_route_body not_json[] = {
	    {"GET", "/v1/things/{}", &thing_body},
	};
	struct clr_config c;
	struct clr_server bad;

	memset(&c, 0, sizeof(c));
	c.threads = 1;
	c.max_body = 1024;
	memset(&bad, 0, sizeof(bad));
	bad.service = "test";
	bad.cfg = &c;
	bad.routes = routes;
	bad.nroutes = sizeof(routes) / sizeof(routes[0]);
	bad.bodies = stray;
	bad.nbodies = 1;
	ck_assert_int_ne(clr_server_run(&bad), 0);
	bad.bodies = not_json;
	ck_assert_int_ne(clr_server_run(&bad), 0);
}
END_TEST

START_TEST(loop_stalled_body_times_out)
{
	int ended, closed, status;

	clr_in_set_body_timeout_ms(300);
	status = stalled_post("application/json", &ended, &closed);
	clr_in_set_body_timeout_ms(0);
	ck_assert_msg(ended, "no FCGI_END_REQUEST within 5 s: the worker is stuck reading");
	ck_assert_int_eq(status, 400);
	ck_assert_msg(closed, "the connection of a failed body read must be closed");
}
END_TEST

/*
 * A wrong Content-Type is refused before any of the body is read (it used
 * to be checked after reading it all): with the default 30 s body timeout,
 * only an answer that does not wait for the body arrives within 5 s.  The
 * unread body means the connection is closed, not kept.
 */
START_TEST(loop_415_without_reading_body)
{
	int ended, closed, status;

	status = stalled_post("text/plain", &ended, &closed);
	ck_assert_msg(ended, "no answer within 5 s: the body was waited for");
	ck_assert_int_eq(status, 415);
	ck_assert(closed);
}
END_TEST

/* X-Request-Id of the answer (32 bytes at most), copied into out. */
static void resp_reqid(const struct resp *r, char out[65])
{
	const char *rid = strstr(r->head, "X-Request-Id: ");
	size_t n;

	ck_assert_ptr_nonnull(rid);
	rid += strlen("X-Request-Id: ");
	n = strcspn(rid, "\r\n");
	ck_assert_uint_le(n, 64);
	memcpy(out, rid, n);
	out[n] = '\0';
}

START_TEST(loop_request_id_from_nginx)
{
	static const char *const bad[] = {
	    "not-hex-at-all", "abc", "0123456789abcdef0123456789abcdef0", "00c0ffee\"inject", ""};
	struct resp r;
	char rid[65];
	size_t i;

	/* nginx's $request_id is taken as is, and an error body names it */
	fcgi_request((const char *const[]){"REQUEST_METHOD", "GET", "REQUEST_URI", "/nope",
					   "HTTP_X_REQUEST_ID", "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
					   NULL},
		     NULL, 0, &r);
	ck_assert_int_eq(r.status, 404);
	resp_reqid(&r, rid);
	ck_assert_str_eq(rid, "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
	ck_assert_str_eq(jstr(&r, "request_id"), "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
	resp_free(&r);
	/* anything else is replaced by an id made here */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fcgi_request((const char *const[]){"REQUEST_METHOD", "GET", "REQUEST_URI", "/nope",
						   "HTTP_X_REQUEST_ID", bad[i], NULL},
			     NULL, 0, &r);
		resp_reqid(&r, rid);
		ck_assert_uint_eq(strlen(rid), 32);
		ck_assert_uint_eq(strspn(rid, "0123456789abcdef"), 32);
		ck_assert_str_ne(rid, bad[i]);
		ck_assert_str_eq(jstr(&r, "request_id"), rid);
		resp_free(&r);
	}
}
END_TEST

START_TEST(loop_metrics)
{
	struct resp r;

	fcgi_request(GET("/v1/things/one"), NULL, 0, &r);
	resp_free(&r);
	fcgi_request(GET("/v1/things/two"), NULL, 0, &r);
	resp_free(&r);
	fcgi_request(GET("/nope"), NULL, 0, &r);
	resp_free(&r);
	fcgi_request(GET("/metrics"), NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(has_header(&r, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
	ck_assert_ptr_nonnull(
	    strstr(r.body, "clearance_http_requests_total{service=\"test\",route=\"/v1/things/"
			   "{}\",method=\"GET\",status=\"200\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "clearance_http_requests_total{service=\"test\",route="
					     "\"unmatched\",method=\"GET\",status=\"404\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "clearance_http_request_duration_seconds_count{"
					     "service=\"test\",route=\"/v1/things/{}\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "clearance_db_errors_total{service=\"test\"} "));
	resp_free(&r);
}
END_TEST

static Suite *http_in_suite(void)
{
	Suite *s = suite_create("http_in");
	TCase *tc;

	tc = tcase_create("clr_in_route_match");
	tcase_add_test(tc, route_match_cases);
	suite_add_tcase(s, tc);
	tc = tcase_create("clr_in_content_length");
	tcase_add_test(tc, content_length_cases);
	suite_add_tcase(s, tc);
	tc = tcase_create("clr_in_ctype_is_json");
	tcase_add_test(tc, ctype_cases);
	suite_add_tcase(s, tc);
	tc = tcase_create("clr_in_pct_decode");
	tcase_add_test(tc, pct_decode_cases);
	suite_add_tcase(s, tc);
	tc = tcase_create("clr_req_query");
	tcase_add_test(tc, query_cases);
	suite_add_tcase(s, tc);
	tc = tcase_create("clr_rc_status");
	tcase_add_test(tc, rc_status_table);
	tcase_add_test(tc, bodies_must_name_a_route);
	suite_add_tcase(s, tc);
	tc = tcase_create("clr_metrics");
	tcase_add_test(tc, metrics_render);
	tcase_add_test(tc, method_index);
	suite_add_tcase(s, tc);
	tc = tcase_create("clr_server_run");
	tcase_add_checked_fixture(tc, srv_setup, srv_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, loop_builtins);
	tcase_add_test(tc, loop_routing);
	tcase_add_test(tc, loop_auth_without_db);
	tcase_add_test(tc, loop_bodies);
	tcase_add_test(tc, loop_metrics);
	tcase_add_test(tc, loop_request_id_from_nginx);
	tcase_add_test(tc, loop_stalled_body_times_out);
	tcase_add_test(tc, loop_415_without_reading_body);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_in_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
