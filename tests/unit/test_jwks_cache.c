/*
 * test_jwks_cache.c - services/introspect/jwks_cache.c against an
 * in-process HTTP server (stub_http) that counts fetches: max-age TTL
 * clamped to bounds, ETag/304 refresh, unknown-kid refetch at most once per
 * cooldown, concurrent misses sharing one fetch, stale keys kept while the
 * IdP is down (with the failure visible), and a malformed, empty or
 * non-JSON answer never replacing a good set.
 */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/http_out.h"
#include "clearance/util.h"
#include "stub_http.h"
#include "test_jose_kit.h"
#include "../../services/introspect/jwks_cache.h"

struct idp {
	pthread_mutex_t mu;
	int status;
	char body[16384];
	char ctype[64];
	long max_age;  /* -1: no Cache-Control */
	char etag[32]; /* "" = none */
	long delay_ms;
	int saw_inm; /* last request carried If-None-Match equal to etag */
	char hdrs[512];
};

static struct idp idp;
static struct stub_http *srv;
static char url[128];
static struct clr_http_client *cli;
static char *set_a, *set_ab; /* {"keys":[a]} and {"keys":[a,b]} */

static void handler(const struct stub_http_req *req, struct stub_http_resp *resp, void *arg)
{
	struct idp *s = arg;
	char inm[64];
	size_t off = 0;

	pthread_mutex_lock(&s->mu);
	s->saw_inm = stub_http_header(req->headers, "If-None-Match", inm, sizeof(inm)) &&
		     s->etag[0] && strcmp(inm, s->etag) == 0;
	off += (size_t)snprintf(s->hdrs + off, sizeof(s->hdrs) - off, "Content-Type: %s\r\n",
				s->ctype);
	if (s->max_age >= 0)
		off += (size_t)snprintf(s->hdrs + off, sizeof(s->hdrs) - off,
					"Cache-Control: public, max-age=%ld\r\n", s->max_age);
	if (s->etag[0])
		snprintf(s->hdrs + off, sizeof(s->hdrs) - off, "ETag: %s\r\n", s->etag);
	resp->headers = s->hdrs;
	if (s->saw_inm && s->status == 200) {
		resp->status = 304;
		resp->body = NULL;
	} else {
		resp->status = s->status;
		resp->body = s->body;
	}
	resp->delay_ms = s->delay_ms;
	pthread_mutex_unlock(&s->mu);
}

static void serve(int status, const char *ctype, const char *body, long max_age, const char *etag)
{
	pthread_mutex_lock(&idp.mu);
	idp.status = status;
	snprintf(idp.ctype, sizeof(idp.ctype), "%s", ctype);
	snprintf(idp.body, sizeof(idp.body), "%s", body);
	idp.max_age = max_age;
	snprintf(idp.etag, sizeof(idp.etag), "%s", etag ? etag : "");
	pthread_mutex_unlock(&idp.mu);
}

static char *make_set(EVP_PKEY **keys, const char **kids, size_t n)
{
	json_t *set = json_object(), *arr = json_array();
	char *s;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, kit_jwk_json(keys[i], kids[i], "ES256"));
	json_object_set_new(set, "keys", arr);
	s = json_dumps(set, JSON_COMPACT);
	json_decref(set);
	return s;
}

static void setup_all(void)
{
	EVP_PKEY *k[2];
	const char *kids[2] = {"a", "b"};

	pthread_mutex_init(&idp.mu, NULL);
	k[0] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	k[1] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ck_assert_ptr_nonnull(k[0]);
	ck_assert_ptr_nonnull(k[1]);
	set_a = make_set(k, kids, 1);
	set_ab = make_set(k, kids, 2);
	EVP_PKEY_free(k[0]);
	EVP_PKEY_free(k[1]);
}

static void setup(void)
{
	int port = 0;

	if (set_a == NULL)
		setup_all();
	idp.delay_ms = 0;
	serve(200, "application/jwk-set+json", set_a, 120, "\"v1\"");
	srv = stub_http_start(handler, &idp, &port);
	ck_assert_ptr_nonnull(srv);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/jwks", port);
	ck_assert_int_eq(clr_http_client_new(&cli), CLR_OK);
}

static void teardown(void)
{
	stub_http_stop(srv);
	clr_http_client_free(cli);
}

static struct ix_jwks_cache *new_cache(long min_ttl, long max_ttl, long cooldown, long stale)
{
	/* A generous miss wait: these tests check what a refetch finds, also under valgrind. */
	struct ix_jwks_cache_cfg cfg = {min_ttl, max_ttl, cooldown, stale, 1000, 20000};
	struct clr_http_opts o;
	struct ix_jwks_cache *c = NULL;

	memset(&o, 0, sizeof(o));
	o.allow_http = 1;
	o.timeout_ms = 5000;
	ck_assert_int_eq(ix_jwks_cache_new(&cfg, url, &o, &c), CLR_OK);
	return c;
}

static int has_kid(const struct ix_jwks_ref *r, const char *kid)
{
	return clr_jwks_find(ix_jwks_ref_set(r), kid, strlen(kid), CLR_JWS_ES256) != NULL;
}

START_TEST(ttl_and_etag)
{
	struct ix_jwks_cache *c = new_cache(10, 3600, 30, 600);
	struct ix_jwks_ref *r = NULL;
	struct clr_err e;
	long long t0 = 1000000;
	json_t *info;

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, t0, &r, &e), CLR_OK);
	ck_assert(has_kid(r, "a"));
	ix_jwks_ref_release(r);
	ck_assert_uint_eq(stub_http_count(srv), 1);
	/* within max-age: no fetch, neither by a request nor by maintenance */
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, t0 + 100000, &r, &e), CLR_OK);
	ix_jwks_ref_release(r);
	ix_jwks_cache_maintain(c, cli, t0 + 89000);
	ck_assert_uint_eq(stub_http_count(srv), 1);
	/* from 3/4 of the life on, maintenance revalidates with If-None-Match */
	ix_jwks_cache_maintain(c, cli, t0 + 91000);
	ck_assert_uint_eq(stub_http_count(srv), 2);
	ck_assert_int_eq(idp.saw_inm, 1);
	info = ix_jwks_cache_info(c, t0 + 91000);
	ck_assert_int_eq(json_integer_value(json_object_get(info, "not_modified")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(info, "etag")), "\"v1\"");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(info, "kids"), 0)), "a");
	ck_assert(json_is_null(json_object_get(info, "last_error")));
	json_decref(info);
	/* the 304 restarted the life: nothing due right after */
	ix_jwks_cache_maintain(c, cli, t0 + 95000);
	ck_assert_uint_eq(stub_http_count(srv), 2);
	/* still the same keys */
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, t0 + 95000, &r, &e), CLR_OK);
	ck_assert(has_kid(r, "a"));
	ix_jwks_ref_release(r);
	ix_jwks_cache_free(c);
}
END_TEST

START_TEST(max_age_clamped)
{
	struct ix_jwks_cache *c = new_cache(10, 3600, 30, 600);
	struct ix_jwks_ref *r = NULL;
	struct clr_err e;
	long long t0 = 5000000;

	memset(&e, 0, sizeof(e));
	serve(200, "application/json", set_a, 1, NULL); /* raised to 10 s */
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, t0, &r, &e), CLR_OK);
	ix_jwks_ref_release(r);
	ix_jwks_cache_maintain(c, cli, t0 + 7000);
	ck_assert_uint_eq(stub_http_count(srv), 1);
	serve(200, "application/json", set_a, 9999999, NULL); /* cut to 3600 s */
	ix_jwks_cache_maintain(c, cli, t0 + 7600);
	ck_assert_uint_eq(stub_http_count(srv), 2);
	ix_jwks_cache_maintain(c, cli, t0 + 7600 + 2699000);
	ck_assert_uint_eq(stub_http_count(srv), 2);
	ix_jwks_cache_maintain(c, cli, t0 + 7600 + 2701000);
	ck_assert_uint_eq(stub_http_count(srv), 3);
	ix_jwks_cache_free(c);
}
END_TEST

START_TEST(unknown_kid_cooldown)
{
	struct ix_jwks_cache *c = new_cache(10, 3600, 30, 600);
	struct ix_jwks_ref *r = NULL, *r2 = NULL, *r3 = NULL;
	struct clr_err e;
	long long t0 = 9000000;

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, t0, &r, &e), CLR_OK);
	ck_assert(!has_kid(r, "b"));
	serve(200, "application/json", set_ab, 120, "\"v2\"");
	/* the first miss refetches at once and finds the new key */
	ck_assert_int_eq(ix_jwks_cache_miss(c, cli, t0 + 1000, r, &r2, &e), CLR_OK);
	ck_assert_uint_eq(stub_http_count(srv), 2);
	ck_assert(has_kid(r2, "b"));
	/* a caller still holding the old set gets the new one without a fetch */
	ck_assert_int_eq(ix_jwks_cache_miss(c, cli, t0 + 1500, r, &r3, &e), CLR_OK);
	ck_assert_ptr_eq(r3, r2);
	ix_jwks_ref_release(r3);
	r3 = NULL;
	/* random kids within the cooldown cost no fetch */
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(ix_jwks_cache_miss(c, cli, t0 + 2000 + i, r2, &r3, &e),
				 CLR_ERR_NOTFOUND);
		ck_assert_ptr_null(r3);
	}
	ck_assert_uint_eq(stub_http_count(srv), 2);
	/* after the cooldown one more refetch is allowed */
	ck_assert_int_eq(ix_jwks_cache_miss(c, cli, t0 + 31001, r2, &r3, &e), CLR_OK);
	ck_assert_uint_eq(stub_http_count(srv), 3);
	ix_jwks_ref_release(r);
	ix_jwks_ref_release(r2);
	ix_jwks_ref_release(r3);
	ix_jwks_cache_free(c);
}
END_TEST

/*
 * Issue 13: a hanging JWKS endpoint.  The refetch for an unknown kid runs
 * in the background: the miss is refused after miss_wait_ms, other misses
 * at once, and known kids are served from the current set meanwhile.
 */
START_TEST(slow_refetch_never_blocks)
{
	struct ix_jwks_cache_cfg cfg = {10, 3600, 30, 600, 1000, 20};
	struct ix_jwks_cache *c = NULL;
	struct ix_jwks_ref *r = NULL, *r2 = NULL, *r3 = NULL;
	struct clr_err e;
	long long t0 = 5000000, t;

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(ix_jwks_cache_new(&cfg, url, &(struct clr_http_opts){.allow_http = 1}, &c),
			 CLR_OK);
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, t0, &r, &e), CLR_OK);
	pthread_mutex_lock(&idp.mu);
	idp.delay_ms = 3000;
	pthread_mutex_unlock(&idp.mu);
	serve(200, "application/json", set_ab, 120, "\"v2\"");
	t = clr_now_ms();
	ck_assert_int_eq(ix_jwks_cache_miss(c, cli, t0 + 1000, r, &r2, &e), CLR_ERR_NOTFOUND);
	ck_assert_ptr_null(r2);
	ck_assert_str_eq(e.msg, "unknown kid (JWKS refetch under way)");
	ck_assert_int_lt(clr_now_ms() - t, 1000);
	/* another unknown kid: refused at once, no second fetch */
	t = clr_now_ms();
	ck_assert_int_eq(ix_jwks_cache_miss(c, cli, t0 + 1001, r, &r2, &e), CLR_ERR_NOTFOUND);
	/* a known kid: the current set, without waiting for the fetch */
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, t0 + 1002, &r3, &e), CLR_OK);
	ck_assert(has_kid(r3, "a"));
	ck_assert_int_lt(clr_now_ms() - t, 1000);
	ix_jwks_ref_release(r3);
	r3 = NULL;
	/* once the background fetch lands, the new key is there */
	for (int i = 0; i < 100 && r3 == NULL; i++) {
		if (ix_jwks_cache_miss(c, cli, t0 + 1003, r, &r3, &e) != CLR_OK)
			poll(NULL, 0, 100);
	}
	ck_assert_ptr_nonnull(r3);
	ck_assert(has_kid(r3, "b"));
	ck_assert_uint_eq(stub_http_count(srv), 2);
	ix_jwks_ref_release(r);
	ix_jwks_ref_release(r3);
	ix_jwks_cache_free(c);
}
END_TEST

struct racer {
	struct ix_jwks_cache *c;
	long long now;
	int ok;
};

static void *race(void *arg)
{
	struct racer *ra = arg;
	struct clr_http_client *h = NULL;
	struct ix_jwks_ref *r = NULL;
	struct clr_err e;

	memset(&e, 0, sizeof(e));
	if (clr_http_client_new(&h) != CLR_OK)
		return NULL;
	ra->ok = ix_jwks_cache_get(ra->c, h, ra->now, &r, &e) == CLR_OK && has_kid(r, "a");
	ix_jwks_ref_release(r);
	clr_http_client_free(h);
	return NULL;
}

START_TEST(concurrent_misses_share_one_fetch)
{
	struct ix_jwks_cache *c = new_cache(10, 3600, 30, 600);
	pthread_t t[8];
	struct racer ra[8];

	pthread_mutex_lock(&idp.mu);
	idp.delay_ms = 300;
	pthread_mutex_unlock(&idp.mu);
	for (int i = 0; i < 8; i++) {
		ra[i].c = c;
		ra[i].now = 100000;
		ra[i].ok = 0;
		ck_assert_int_eq(pthread_create(&t[i], NULL, race, &ra[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(ra[i].ok, 1);
	}
	ck_assert_uint_eq(stub_http_count(srv), 1);
	ix_jwks_cache_free(c);
}
END_TEST

START_TEST(stale_keys_while_idp_down)
{
	struct ix_jwks_cache *c = new_cache(10, 10, 30, 60);
	struct ix_jwks_ref *r = NULL;
	struct clr_err e;
	long long t0 = 2000000;
	json_t *info;

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, t0, &r, &e), CLR_OK);
	ix_jwks_ref_release(r);
	serve(503, "application/json", "{\"error\":\"down\"}", -1, NULL);
	/* expired but within the stale limit: served at once, no fetch in the request */
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, t0 + 15000, &r, &e), CLR_OK);
	ck_assert(has_kid(r, "a"));
	ix_jwks_ref_release(r);
	ck_assert_uint_eq(stub_http_count(srv), 1);
	ix_jwks_cache_maintain(c, cli, t0 + 15000);
	ck_assert_uint_eq(stub_http_count(srv), 2);
	info = ix_jwks_cache_info(c, t0 + 15000);
	ck_assert_ptr_nonnull(
	    strstr(json_string_value(json_object_get(info, "last_error")), "503"));
	ck_assert(json_is_true(json_object_get(info, "usable")));
	json_decref(info);
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, t0 + 69000, &r, &e), CLR_OK);
	ix_jwks_ref_release(r);
	/* past expiry + stale limit the keys are gone and the request says why */
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, t0 + 71000, &r, &e), CLR_ERR_UPSTREAM);
	ck_assert_ptr_null(r);
	ck_assert_ptr_nonnull(strstr(e.msg, "503"));
	/* a failure is not retried by every request */
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, t0 + 71100, &r, &e), CLR_ERR_UPSTREAM);
	ck_assert_uint_eq(stub_http_count(srv), 3);
	/* the IdP comes back: the next attempt after the pause recovers */
	serve(200, "application/json", set_a, 10, NULL);
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, t0 + 72200, &r, &e), CLR_OK);
	ix_jwks_ref_release(r);
	ix_jwks_cache_free(c);
}
END_TEST

START_TEST(bad_answers_never_replace_good_keys)
{
	static const struct {
		const char *ctype, *body;
	} bad[] = {
	    {"application/json", "{\"keys\":[]}"},
	    {"application/json", "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\",\"kid\":\"x\"}]}"},
	    {"application/json", "{\"keys\": ["},
	    {"text/html", "<html>hi</html>"},
	    {"application/json", "{\"keys\":[],\"keys\":[]}"},
	};
	struct ix_jwks_cache *c = new_cache(10, 3600, 30, 600);
	struct ix_jwks_ref *r = NULL;
	struct clr_err e;
	json_t *info;

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, 1000, &r, &e), CLR_OK);
	ix_jwks_ref_release(r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		serve(200, bad[i].ctype, bad[i].body, 60, NULL);
		ck_assert_int_ne(ix_jwks_cache_refresh(c, cli, 2000 + (long long)i, &e), CLR_OK);
		ck_assert_int_eq(ix_jwks_cache_get(c, cli, 2000 + (long long)i, &r, &e), CLR_OK);
		ck_assert_msg(has_kid(r, "a"), "case %zu replaced the keys", i);
		ix_jwks_ref_release(r);
		info = ix_jwks_cache_info(c, 2000);
		ck_assert(json_is_string(json_object_get(info, "last_error")));
		json_decref(info);
	}
	ix_jwks_cache_free(c);
}
END_TEST

START_TEST(source_change_drops_keys)
{
	struct ix_jwks_cache *c = new_cache(10, 3600, 30, 600);
	struct ix_jwks_ref *r = NULL;
	struct clr_http_opts o;
	struct clr_err e;

	memset(&e, 0, sizeof(e));
	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, 1000, &r, &e), CLR_OK);
	ix_jwks_ref_release(r);
	/* https only now: the stub is http, so the new source cannot be fetched */
	ck_assert_int_eq(ix_jwks_cache_set_source(c, url, &o), CLR_OK);
	ck_assert_int_ne(ix_jwks_cache_get(c, cli, 1001, &r, &e), CLR_OK);
	ck_assert_ptr_null(r);
	ix_jwks_cache_free(c);
}
END_TEST

/*
 * A set with a private member or a repeated kid is refused as a whole: the
 * good key next to it is not used, the last good set stays, the refusal is
 * counted (metric) and the set generation does not move.
 */
START_TEST(strict_set_keeps_last_good)
{
	struct ix_jwks_cache *c = new_cache(10, 3600, 30, 600);
	struct ix_jwks_ref *r = NULL;
	struct clr_err e;
	json_t *doc = json_loads(set_ab, 0, NULL), *k1;
	char *with_d, *dup;
	unsigned long gen;

	ck_assert_ptr_nonnull(doc);
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, 1000, &r, &e), CLR_OK);
	ix_jwks_ref_release(r);
	gen = ix_jwks_cache_set_gen(c);
	k1 = json_array_get(json_object_get(doc, "keys"), 1);
	json_object_set_new(k1, "d", json_string("AAAA"));
	with_d = json_dumps(doc, JSON_COMPACT);
	json_object_del(k1, "d");
	json_object_set_new(k1, "kid", json_string("a"));
	dup = json_dumps(doc, JSON_COMPACT);
	serve(200, "application/json", with_d, 60, NULL);
	ck_assert_int_ne(ix_jwks_cache_refresh(c, cli, 2000, &e), CLR_OK);
	ck_assert_ptr_nonnull(strstr(e.msg, "private key material"));
	serve(200, "application/json", dup, 60, NULL);
	ck_assert_int_ne(ix_jwks_cache_refresh(c, cli, 3000, &e), CLR_OK);
	ck_assert_ptr_nonnull(strstr(e.msg, "share a kid"));
	ck_assert_uint_eq(ix_jwks_cache_rejected(c), 2);
	ck_assert_uint_eq(ix_jwks_cache_set_gen(c), gen);
	{
		/* the metrics' view: one new set, two failures, still usable, 2 s old */
		struct ix_jwks_stats st;

		ix_jwks_cache_stats(c, 3000, &st);
		ck_assert_uint_eq(st.fetches, 3);
		ck_assert_uint_eq(st.fresh, 1);
		ck_assert_uint_eq(st.failed, 2);
		ck_assert_uint_eq(st.rejected, 2);
		ck_assert_uint_eq(st.not_modified, 0);
		ck_assert_int_eq(st.usable, 1);
		ck_assert_int_eq(st.age_s, 2);
	}
	ck_assert_int_eq(ix_jwks_cache_get(c, cli, 3000, &r, &e), CLR_OK);
	ck_assert(has_kid(r, "a"));
	ck_assert(!has_kid(r, "b"));
	ix_jwks_ref_release(r);
	/* a good set again: replaced, the generation moves */
	serve(200, "application/json", set_ab, 60, NULL);
	ck_assert_int_eq(ix_jwks_cache_refresh(c, cli, 4000, &e), CLR_OK);
	ck_assert_uint_gt(ix_jwks_cache_set_gen(c), gen);
	free(with_d);
	free(dup);
	json_decref(doc);
	ix_jwks_cache_free(c);
}
END_TEST

/*
 * A hanging IdP holds a fetch for at most IX_JWKS_DEADLINE_MS (5 s) even
 * when the provider's HTTP timeout is longer.  Not a speed test: it only
 * bounds the wait from above, with room for a loaded machine.
 */
START_TEST(fetch_deadline)
{
	struct ix_jwks_cache_cfg cfg = {10, 3600, 30, 600, 1000, 20000};
	struct clr_http_opts o;
	struct ix_jwks_cache *c = NULL;
	struct ix_jwks_ref *r = NULL;
	struct clr_err e;
	long long t0;

	memset(&o, 0, sizeof(o));
	memset(&e, 0, sizeof(e));
	o.allow_http = 1;
	o.timeout_ms = 60000;
	ck_assert_int_eq(ix_jwks_cache_new(&cfg, url, &o, &c), CLR_OK);
	pthread_mutex_lock(&idp.mu);
	idp.delay_ms = 9000;
	pthread_mutex_unlock(&idp.mu);
	t0 = clr_now_ms();
	ck_assert_int_ne(ix_jwks_cache_get(c, cli, 1000, &r, &e), CLR_OK);
	ck_assert_ptr_null(r);
	ck_assert_int_lt(clr_now_ms() - t0, 8500);
	ck_assert_int_ge(clr_now_ms() - t0, IX_JWKS_DEADLINE_MS - 100);
	ix_jwks_cache_free(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("jwks_cache");
	TCase *tc = tcase_create("ix_jwks_cache");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ttl_and_etag);
	tcase_add_test(tc, max_age_clamped);
	tcase_add_test(tc, unknown_kid_cooldown);
	tcase_add_test(tc, concurrent_misses_share_one_fetch);
	tcase_add_test(tc, slow_refetch_never_blocks);
	tcase_add_test(tc, stale_keys_while_idp_down);
	tcase_add_test(tc, bad_answers_never_replace_good_keys);
	tcase_add_test(tc, source_change_drops_keys);
	tcase_add_test(tc, strict_set_keeps_last_good);
	tcase_add_test(tc, fetch_deadline);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
