/*
 * test_http_out.c - http_out.h against the in-process stub server on
 * 127.0.0.1: what is parsed from a response, which statuses pass through,
 * that redirects are not followed, and that the size cap, the timeout and
 * the https-only rule hold.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clearance/http_out.h"
#include "clearance/util.h"
#include "stub_http.h"

static struct stub_http *srv;
static int port;
static struct clr_http_client *cli;
static struct clr_http_opts opts;

/* The handler picks its behaviour from the request path. */
static void handler(const struct stub_http_req *req, struct stub_http_resp *resp, void *arg)
{
	(void)arg;
	if (strcmp(req->path, "/json") == 0) {
		resp->headers = "Content-Type: Application/JSON; Charset=UTF-8\r\n"
				"ETag: \"v1-abc\"\r\n"
				"Cache-Control: public, max-age=300\r\n";
		resp->body = "{\"keys\":[]}";
	} else if (strcmp(req->path, "/err") == 0) {
		resp->status = 500;
		resp->headers = "Content-Type: text/plain\r\n";
		resp->body = "boom";
	} else if (strcmp(req->path, "/unauth") == 0) {
		resp->status = 401;
		resp->headers = "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n";
	} else if (strcmp(req->path, "/redirect") == 0) {
		resp->status = 302;
		resp->headers = "Location: /json\r\n";
	} else if (strcmp(req->path, "/big") == 0 || strcmp(req->path, "/big-nolen") == 0) {
		char *b = malloc(200000);

		if (b != NULL) {
			memset(b, 'a', 200000);
			resp->body = b;
			resp->body_len = 200000;
			resp->free_body = 1;
		}
		resp->no_length = strcmp(req->path, "/big-nolen") == 0;
	} else if (strcmp(req->path, "/slow") == 0) {
		resp->delay_ms = 3000;
		resp->body = "late";
	} else if (strcmp(req->path, "/echo") == 0) {
		resp->status = 201;
		resp->headers = "Content-Type: application/json\r\n";
		resp->body = "{}";
	} else {
		resp->status = 404;
	}
}

static void setup(void)
{
	srv = stub_http_start(handler, NULL, &port);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(clr_http_client_new(&cli), CLR_OK);
	memset(&opts, 0, sizeof(opts));
	opts.allow_http = 1;
	opts.connect_timeout_ms = 2000;
	opts.timeout_ms = 5000;
}

static void teardown(void)
{
	clr_http_client_free(cli);
	cli = NULL;
	stub_http_stop(srv);
	srv = NULL;
}

static void url(char *buf, size_t n, const char *path)
{
	snprintf(buf, n, "http://127.0.0.1:%d%s", port, path);
}

START_TEST(get_json_parsed)
{
	struct clr_http_resp r;
	struct clr_err e;
	char u[128];

	url(u, sizeof(u), "/json");
	ck_assert_int_eq(clr_http_do(cli, &opts, "GET", u, NULL, 0, NULL, 0, &r, &e), CLR_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"keys\":[]}");
	ck_assert_uint_eq(r.body_len, strlen("{\"keys\":[]}"));
	ck_assert_str_eq(r.content_type, "application/json; charset=utf-8");
	ck_assert(clr_http_is_json(&r));
	ck_assert_str_eq(r.etag, "\"v1-abc\"");
	ck_assert_int_eq(r.max_age, 300);
	ck_assert_ptr_null(r.www_authenticate);
	clr_http_resp_clear(&r);
	ck_assert_ptr_null(r.body);
	ck_assert_uint_eq(stub_http_count(srv), 1);
}
END_TEST

START_TEST(client_reused)
{
	struct clr_http_resp r;
	struct clr_err e;
	char u[128];
	int i;

	for (i = 0; i < 3; i++) {
		url(u, sizeof(u), i == 1 ? "/err" : "/json");
		ck_assert_int_eq(clr_http_do(cli, &opts, "GET", u, NULL, 0, NULL, 0, &r, &e),
				 CLR_OK);
		ck_assert_int_eq(r.status, i == 1 ? 500 : 200);
		/* headers of an earlier response must not leak into this one */
		if (i == 1) {
			ck_assert_ptr_null(r.etag);
			ck_assert_int_eq(r.max_age, -1);
		}
		clr_http_resp_clear(&r);
	}
	ck_assert_uint_eq(stub_http_count(srv), 3);
}
END_TEST

START_TEST(error_status_is_ok)
{
	struct clr_http_resp r;
	struct clr_err e;
	char u[128];

	url(u, sizeof(u), "/err");
	ck_assert_int_eq(clr_http_do(cli, &opts, "GET", u, NULL, 0, NULL, 0, &r, &e), CLR_OK);
	ck_assert_int_eq(r.status, 500);
	ck_assert_str_eq(r.body, "boom");
	ck_assert_str_eq(r.content_type, "text/plain");
	ck_assert(!clr_http_is_json(&r));
	ck_assert_int_eq(r.max_age, -1);
	ck_assert_ptr_null(r.etag);
	clr_http_resp_clear(&r);

	url(u, sizeof(u), "/unauth");
	ck_assert_int_eq(clr_http_do(cli, &opts, "GET", u, NULL, 0, NULL, 0, &r, &e), CLR_OK);
	ck_assert_int_eq(r.status, 401);
	ck_assert_str_eq(r.www_authenticate, "Bearer error=\"invalid_token\"");
	ck_assert_str_eq(r.body, "");
	ck_assert_uint_eq(r.body_len, 0);
	clr_http_resp_clear(&r);
}
END_TEST

START_TEST(redirect_not_followed)
{
	struct clr_http_resp r;
	struct clr_err e;
	char u[128];

	url(u, sizeof(u), "/redirect");
	ck_assert_int_eq(clr_http_do(cli, &opts, "GET", u, NULL, 0, NULL, 0, &r, &e), CLR_OK);
	ck_assert_int_eq(r.status, 302);
	clr_http_resp_clear(&r);
	ck_assert_uint_eq(stub_http_count(srv), 1);
}
END_TEST

START_TEST(oversize_refused)
{
	static const char *const paths[] = {"/big", "/big-nolen"};
	struct clr_http_resp r;
	struct clr_err e;
	char u[128];

	opts.max_response = 100000;
	url(u, sizeof(u), paths[_i]);
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(clr_http_do(cli, &opts, "GET", u, NULL, 0, NULL, 0, &r, &e),
			 CLR_ERR_UPSTREAM);
	ck_assert_int_eq(e.rc, CLR_ERR_UPSTREAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "response too large"));
	ck_assert_ptr_null(r.body);

	/* The same body fits under a larger cap. */
	opts.max_response = 200000;
	ck_assert_int_eq(clr_http_do(cli, &opts, "GET", u, NULL, 0, NULL, 0, &r, &e), CLR_OK);
	ck_assert_uint_eq(r.body_len, 200000);
	ck_assert_int_eq(r.body[199999], 'a');
	ck_assert_int_eq(r.body[200000], '\0');
	clr_http_resp_clear(&r);
}
END_TEST

START_TEST(slow_times_out)
{
	struct clr_http_resp r;
	struct clr_err e;
	char u[128];
	long long t0, dt;

	opts.timeout_ms = 300;
	url(u, sizeof(u), "/slow");
	t0 = clr_now_ms();
	ck_assert_int_eq(clr_http_do(cli, &opts, "GET", u, NULL, 0, NULL, 0, &r, &e),
			 CLR_ERR_TIMEOUT);
	dt = clr_now_ms() - t0;
	ck_assert_int_ge(dt, 250);
	ck_assert_int_lt(dt, 2000);
	ck_assert_int_eq(e.rc, CLR_ERR_TIMEOUT);
	ck_assert_ptr_null(r.body);
}
END_TEST

START_TEST(http_refused_without_allow_http)
{
	struct clr_http_resp r;
	struct clr_err e;
	char u[128];

	opts.allow_http = 0;
	url(u, sizeof(u), "/json");
	ck_assert_int_eq(clr_http_do(cli, &opts, "GET", u, NULL, 0, NULL, 0, &r, &e),
			 CLR_ERR_UPSTREAM);
	ck_assert_str_eq(e.msg, "scheme not allowed (https required)");
	ck_assert_uint_eq(stub_http_count(srv), 0);

	/* Other schemes are refused even with allow_http. */
	opts.allow_http = 1;
	ck_assert_int_eq(
	    clr_http_do(cli, &opts, "GET", "file:///etc/passwd", NULL, 0, NULL, 0, &r, &e),
	    CLR_ERR_UPSTREAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "scheme not allowed"));
}
END_TEST

/* A port that was bound a moment ago and is now closed: nothing listens. */
static int closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	p = ntohs(sa.sin_port);
	close(fd);
	return p;
}

START_TEST(connection_refused)
{
	struct clr_http_resp r;
	struct clr_err e;
	char u[128];

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", closed_port());
	ck_assert_int_eq(clr_http_do(cli, &opts, "GET", u, NULL, 0, NULL, 0, &r, &e),
			 CLR_ERR_UPSTREAM);
	ck_assert_int_eq(e.rc, CLR_ERR_UPSTREAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "onnect"));
}
END_TEST

START_TEST(headers_and_body_sent)
{
	static const struct clr_http_header hs[] = {
	    {"Content-Type", "application/json"},
	    {"X-Test", "one two"},
	};
	static const char body[] = "{\"redirect_uris\":[\"https://a.example/cb\"]}";
	struct stub_http_record rec;
	struct clr_http_resp r;
	struct clr_err e;
	char u[128], v[128];

	url(u, sizeof(u), "/echo");
	ck_assert_int_eq(clr_http_do(cli, &opts, "PUT", u, hs, 2, body, strlen(body), &r, &e),
			 CLR_OK);
	ck_assert_int_eq(r.status, 201);
	clr_http_resp_clear(&r);
	stub_http_last(srv, &rec);
	ck_assert_str_eq(rec.method, "PUT");
	ck_assert_str_eq(rec.path, "/echo");
	ck_assert_uint_eq(rec.body_len, strlen(body));
	ck_assert_str_eq(rec.body, body);
	ck_assert(stub_http_header(rec.headers, "content-type", v, sizeof(v)));
	ck_assert_str_eq(v, "application/json");
	ck_assert(stub_http_header(rec.headers, "X-Test", v, sizeof(v)));
	ck_assert_str_eq(v, "one two");
	ck_assert(!stub_http_header(rec.headers, "Expect", v, sizeof(v)));
	stub_http_record_free(&rec);

	/* POST without body and DELETE carry the method. */
	ck_assert_int_eq(clr_http_do(cli, &opts, "POST", u, NULL, 0, NULL, 0, &r, &e), CLR_OK);
	clr_http_resp_clear(&r);
	stub_http_last(srv, &rec);
	ck_assert_str_eq(rec.method, "POST");
	ck_assert_uint_eq(rec.body_len, 0);
	stub_http_record_free(&rec);
	ck_assert_int_eq(clr_http_do(cli, &opts, "DELETE", u, NULL, 0, NULL, 0, &r, &e), CLR_OK);
	clr_http_resp_clear(&r);
	stub_http_last(srv, &rec);
	ck_assert_str_eq(rec.method, "DELETE");
	stub_http_record_free(&rec);
}
END_TEST

START_TEST(header_injection_refused)
{
	static const struct clr_http_header bad[] = {{"X-A", "v\r\nX-Evil: 1"}};
	struct clr_http_resp r;
	struct clr_err e;
	char u[128];

	url(u, sizeof(u), "/echo");
	ck_assert_int_eq(clr_http_do(cli, &opts, "GET", u, bad, 1, NULL, 0, &r, &e), CLR_ERR_PARAM);
	ck_assert_uint_eq(stub_http_count(srv), 0);
}
END_TEST

START_TEST(is_json_types)
{
	static const struct {
		const char *ct;
		int json;
	} v[] = {
	    {"application/json", 1},
	    {"application/json; charset=utf-8", 1},
	    {"application/jwk-set+json", 1},
	    {"application/problem+json ; x=y", 1},
	    {"application/jsonp", 0},
	    {"text/html", 0},
	    {"+json", 0},
	    {"application/x-json-ish", 0},
	};
	struct clr_http_resp r;
	size_t i;

	memset(&r, 0, sizeof(r));
	ck_assert(!clr_http_is_json(&r));
	ck_assert(!clr_http_is_json(NULL));
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		r.content_type = (char *)v[i].ct;
		ck_assert_msg(clr_http_is_json(&r) == v[i].json, "%s", v[i].ct);
	}
}
END_TEST

/*
 * Regression: libcurl obeys http_proxy/HTTPS_PROXY/ALL_PROXY from the
 * environment by default, so a stray variable would route IdP calls (with
 * their bearer tokens) through whatever it names.  Only opts.proxy counts.
 */
static void proxy_handler(const struct stub_http_req *req, struct stub_http_resp *resp, void *arg)
{
	(void)req;
	(void)arg;
	resp->status = 200;
	resp->headers = "Content-Type: application/json\r\n";
	resp->body = "{\"via\":\"proxy\"}";
}

START_TEST(proxy_env_ignored)
{
	struct clr_http_resp r = {0};
	struct clr_err e = {0};
	struct stub_http *px;
	char u[128], pu[64];
	int pport;

	px = stub_http_start(proxy_handler, NULL, &pport);
	ck_assert_ptr_nonnull(px);
	snprintf(pu, sizeof(pu), "http://127.0.0.1:%d", pport);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	setenv("http_proxy", pu, 1);
	setenv("HTTPS_PROXY", pu, 1);
	setenv("ALL_PROXY", pu, 1);
	url(u, sizeof(u), "/json");
	ck_assert_int_eq(clr_http_do(cli, &opts, "GET", u, NULL, 0, NULL, 0, &r, &e), CLR_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"keys\":[]}");
	ck_assert_uint_eq(stub_http_count(px), 0);
	ck_assert_uint_eq(stub_http_count(srv), 1);
	clr_http_resp_clear(&r);

	/* The explicit setting does take effect. */
	unsetenv("http_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	opts.proxy = pu;
	ck_assert_int_eq(clr_http_do(cli, &opts, "GET", u, NULL, 0, NULL, 0, &r, &e), CLR_OK);
	ck_assert_str_eq(r.body, "{\"via\":\"proxy\"}");
	ck_assert_uint_eq(stub_http_count(px), 1);
	ck_assert_uint_eq(stub_http_count(srv), 1);
	clr_http_resp_clear(&r);
	opts.proxy = NULL;
	stub_http_stop(px);
}
END_TEST

static Suite *http_out_suite(void)
{
	Suite *s = suite_create("http_out");
	TCase *tc;

	tc = tcase_create("clr_http_do");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, get_json_parsed);
	tcase_add_test(tc, client_reused);
	tcase_add_test(tc, error_status_is_ok);
	tcase_add_test(tc, redirect_not_followed);
	tcase_add_loop_test(tc, oversize_refused, 0, 2);
	tcase_add_test(tc, slow_times_out);
	tcase_add_test(tc, http_refused_without_allow_http);
	tcase_add_test(tc, connection_refused);
	tcase_add_test(tc, headers_and_body_sent);
	tcase_add_test(tc, header_injection_refused);
	tcase_add_test(tc, proxy_env_ignored);
	suite_add_tcase(s, tc);

	tc = tcase_create("clr_http_is_json");
	tcase_add_test(tc, is_json_types);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_out_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
