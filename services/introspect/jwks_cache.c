/*
 * jwks_cache.c - see jwks_cache.h.
 *
 * One mutex per cache guards the state; the HTTP fetch itself runs with the
 * mutex released and `fetching` set, and everybody else who needs a fetch
 * waits on `done` for that one instead of starting another.  A refetch for
 * an unknown kid runs on a thread of its own (bg_thr, joined before the
 * next one starts and when the cache is freed); its callers wait on `done`
 * with a deadline of a few milliseconds.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clearance/log.h"
#include "jwks_cache.h"

struct ix_jwks_ref {
	atomic_int ref;
	struct clr_jwks *set;
};

struct ix_jwks_cache {
	pthread_mutex_t mu;
	pthread_cond_t done;
	struct ix_jwks_cache_cfg cfg;
	char *uri;
	struct clr_http_opts http; /* ca_pem owned (char *) */
	struct ix_jwks_ref *cur;   /* NULL until the first good fetch */
	char *etag;
	long long fetched_ms; /* last 200 or 304 */
	long long expires_ms;
	long long refresh_ms;
	long long last_attempt_ms;
	long long last_miss_fetch_ms;
	int have_miss_fetch;
	int last_failed;
	char last_error[240];
	long long last_error_ms;
	int fetching;
	unsigned long generation; /* bumped when a fetch completes */
	unsigned long fetches;
	unsigned long not_modified;
	unsigned long rejected; /* sets refused as a whole (CLR_JWKS_STRICT) */
	unsigned long failed;	/* fetches that gave no usable answer */
	unsigned long fresh;	/* fetches that brought a new set */
	atomic_ulong set_gen;	/* bumped whenever cur changes */
	pthread_t bg_thr;	/* the background refetch for an unknown kid */
	int bg_started;		/* bg_thr must be joined */
	long long bg_now_ms;	/* the clock of the miss that started it */
};

const struct clr_jwks *ix_jwks_ref_set(const struct ix_jwks_ref *r)
{
	return r->set;
}

void ix_jwks_ref_release(struct ix_jwks_ref *r)
{
	if (r != NULL && atomic_fetch_sub(&r->ref, 1) == 1) {
		clr_jwks_free(r->set);
		free(r);
	}
}

static struct ix_jwks_ref *ref_take(struct ix_jwks_ref *r)
{
	if (r != NULL)
		atomic_fetch_add(&r->ref, 1);
	return r;
}

static enum clr_rc copy_source(struct ix_jwks_cache *c, const char *uri,
			       const struct clr_http_opts *http)
{
	char *u = strdup(uri), *ca = NULL;

	if (u == NULL)
		return CLR_ERR_NOMEM;
	if (http->ca_pem != NULL && (ca = strdup(http->ca_pem)) == NULL) {
		free(u);
		return CLR_ERR_NOMEM;
	}
	free(c->uri);
	free((char *)c->http.ca_pem);
	c->uri = u;
	c->http = *http;
	c->http.ca_pem = ca;
	return CLR_OK;
}

enum clr_rc ix_jwks_cache_new(const struct ix_jwks_cache_cfg *cfg, const char *uri,
			      const struct clr_http_opts *http, struct ix_jwks_cache **out)
{
	struct ix_jwks_cache *c;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return CLR_ERR_NOMEM;
	c->cfg = *cfg;
	if (c->cfg.min_ttl_s < 1)
		c->cfg.min_ttl_s = 1;
	if (c->cfg.max_ttl_s < c->cfg.min_ttl_s)
		c->cfg.max_ttl_s = c->cfg.min_ttl_s;
	if (c->cfg.retry_ms <= 0)
		c->cfg.retry_ms = 1000;
	if (c->cfg.miss_wait_ms <= 0)
		c->cfg.miss_wait_ms = IX_JWKS_MISS_WAIT_MS;
	if (copy_source(c, uri, http) != CLR_OK) {
		free(c);
		return CLR_ERR_NOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->done, NULL);
	*out = c;
	return CLR_OK;
}

void ix_jwks_cache_free(struct ix_jwks_cache *c)
{
	if (c == NULL)
		return;
	/* A refetch still running ends within IX_JWKS_DEADLINE_MS. */
	if (c->bg_started)
		pthread_join(c->bg_thr, NULL);
	ix_jwks_ref_release(c->cur);
	free(c->etag);
	free(c->uri);
	free((char *)c->http.ca_pem);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->done);
	free(c);
}

static int same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

enum clr_rc ix_jwks_cache_set_source(struct ix_jwks_cache *c, const char *uri,
				     const struct clr_http_opts *http)
{
	enum clr_rc rc = CLR_OK;

	pthread_mutex_lock(&c->mu);
	if (same_str(c->uri, uri) && c->http.allow_http == http->allow_http &&
	    c->http.tls_skip_verify == http->tls_skip_verify &&
	    same_str(c->http.ca_pem, http->ca_pem) && c->http.timeout_ms == http->timeout_ms &&
	    c->http.connect_timeout_ms == http->connect_timeout_ms)
		goto out;
	if ((rc = copy_source(c, uri, http)) != CLR_OK)
		goto out;
	/* Keys from another URL must not verify this provider's tokens. */
	ix_jwks_ref_release(c->cur);
	c->cur = NULL;
	atomic_fetch_add(&c->set_gen, 1);
	free(c->etag);
	c->etag = NULL;
	c->last_failed = 0;
	c->have_miss_fetch = 0;
	c->generation++;
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int usable(const struct ix_jwks_cache *c, long long now_ms)
{
	return c->cur != NULL && now_ms < c->expires_ms + c->cfg.stale_s * 1000LL;
}

static void set_error(struct ix_jwks_cache *c, long long now_ms, const char *detail)
{
	snprintf(c->last_error, sizeof(c->last_error), "%s", detail);
	c->last_error_ms = now_ms;
	c->last_failed = 1;
}

static void set_life(struct ix_jwks_cache *c, long long now_ms, long max_age)
{
	long ttl = max_age < 0 ? c->cfg.min_ttl_s : max_age;

	if (ttl < c->cfg.min_ttl_s)
		ttl = c->cfg.min_ttl_s;
	if (ttl > c->cfg.max_ttl_s)
		ttl = c->cfg.max_ttl_s;
	c->fetched_ms = now_ms;
	c->expires_ms = now_ms + ttl * 1000LL;
	c->refresh_ms = now_ms + ttl * 750LL;
}

/*
 * One fetch.  Called and returns with c->mu held and c->fetching clear;
 * drops the lock around the network I/O.  Waiters are woken at the end.
 */
static enum clr_rc do_fetch(struct ix_jwks_cache *c, struct clr_http_client *http, long long now_ms,
			    struct clr_err *e)
{
	struct clr_http_header hdr[2];
	size_t nh = 0;
	struct clr_http_resp resp;
	struct clr_http_opts opts;
	struct clr_jwks *set = NULL;
	struct clr_err le;
	char *uri = NULL, *etag = NULL, *ca = NULL;
	int ca_lost, strict_refused = 0;
	enum clr_rc rc;

	memset(&resp, 0, sizeof(resp));
	memset(&le, 0, sizeof(le));
	c->fetching = 1;
	c->fetches++;
	c->last_attempt_ms = now_ms;
	uri = strdup(c->uri);
	opts = c->http;
	if (opts.ca_pem != NULL)
		opts.ca_pem = ca = strdup(opts.ca_pem);
	ca_lost = c->http.ca_pem != NULL && ca == NULL;
	if (c->cur != NULL && c->etag != NULL)
		etag = strdup(c->etag);
	pthread_mutex_unlock(&c->mu);

	rc = CLR_ERR_NOMEM;
	if (uri == NULL || ca_lost)
		goto relock;
	/* A hanging IdP holds one fetch for at most this long, in total. */
	if (opts.timeout_ms <= 0 || opts.timeout_ms > IX_JWKS_DEADLINE_MS)
		opts.timeout_ms = IX_JWKS_DEADLINE_MS;
	if (opts.connect_timeout_ms <= 0 || opts.connect_timeout_ms > opts.timeout_ms)
		opts.connect_timeout_ms = opts.timeout_ms;
	hdr[nh].name = "Accept";
	hdr[nh++].value = "application/jwk-set+json, application/json";
	if (etag != NULL) {
		hdr[nh].name = "If-None-Match";
		hdr[nh++].value = etag;
	}
	rc = clr_http_do(http, &opts, "GET", uri, hdr, nh, NULL, 0, &resp, &le);
	if (rc != CLR_OK)
		goto relock;
	if (resp.status == 200) {
		if (!clr_http_is_json(&resp)) {
			rc = clr_err_set(&le, CLR_ERR_UPSTREAM, "jwks", NULL,
					 "JWKS answer is not JSON");
		} else {
			rc =
			    clr_jwks_parse_ex(resp.body, resp.body_len, CLR_JWKS_STRICT, &set, &le);
			if (rc != CLR_OK && strstr(le.msg, "no usable key") == NULL)
				strict_refused = 1;
			if (rc != CLR_OK) {
				char m[200];
				snprintf(m, sizeof(m), "malformed JWKS: %.150s", le.msg);
				rc = clr_err_set(&le, CLR_ERR_UPSTREAM, "jwks", NULL, "%s", m);
			}
		}
	} else if (resp.status != 304 || etag == NULL) {
		rc = clr_err_set(&le, CLR_ERR_UPSTREAM, "jwks", NULL,
				 "JWKS endpoint answered HTTP %ld", resp.status);
	}
relock:
	pthread_mutex_lock(&c->mu);
	if (rc == CLR_OK && !same_str(uri, c->uri)) {
		/* the source changed under us: this answer belongs to the old one */
		clr_jwks_free(set);
		set = NULL;
		rc = clr_err_set(&le, CLR_ERR_UPSTREAM, "jwks", NULL, "JWKS source changed");
	}
	if (rc == CLR_OK && set != NULL) {
		struct ix_jwks_ref *r = calloc(1, sizeof(*r));
		if (r == NULL) {
			clr_jwks_free(set);
			rc = CLR_ERR_NOMEM;
		} else {
			atomic_init(&r->ref, 1);
			r->set = set;
			ix_jwks_ref_release(c->cur);
			c->cur = r;
			atomic_fetch_add(&c->set_gen, 1);
			free(c->etag);
			c->etag = resp.etag != NULL ? strdup(resp.etag) : NULL;
			set_life(c, now_ms, resp.max_age);
			c->last_failed = 0;
			c->fresh++;
		}
	} else if (rc == CLR_OK) {
		/* 304: same keys, a new life */
		c->not_modified++;
		set_life(c, now_ms, resp.max_age);
		c->last_failed = 0;
	}
	if (strict_refused) {
		/* the whole set is refused; the last good one (if any) stays */
		c->rejected++;
		clr_log(NULL, CLR_LOG_ERROR,
			"jwks: set from %s refused, keeping the last good one: %s", c->uri, le.msg);
	}
	if (rc != CLR_OK) {
		c->failed++;
		set_error(c, now_ms, le.msg[0] ? le.msg : clr_rc_name(rc));
		clr_log(NULL, CLR_LOG_WARN, "jwks: fetch from %s failed: %s", c->uri,
			c->last_error);
		if (e != NULL)
			*e = le;
		if (e != NULL && e->rc == CLR_OK)
			e->rc = rc;
	}
	c->fetching = 0;
	c->generation++;
	pthread_cond_broadcast(&c->done);
	clr_http_resp_clear(&resp);
	free(uri);
	free(ca);
	free(etag);
	return rc;
}

static void wait_fetch(struct ix_jwks_cache *c)
{
	while (c->fetching)
		pthread_cond_wait(&c->done, &c->mu);
}

static enum clr_rc fail_from_state(struct ix_jwks_cache *c, struct clr_err *e)
{
	return clr_err_set(e, CLR_ERR_UPSTREAM, "jwks", NULL, "no usable JWKS: %s",
			   c->last_error[0] ? c->last_error : "not fetched");
}

enum clr_rc ix_jwks_cache_get(struct ix_jwks_cache *c, struct clr_http_client *http,
			      long long now_ms, struct ix_jwks_ref **out, struct clr_err *e)
{
	enum clr_rc rc = CLR_OK;

	*out = NULL;
	pthread_mutex_lock(&c->mu);
	if (usable(c, now_ms))
		goto ok;
	if (c->fetching) {
		wait_fetch(c);
		if (usable(c, now_ms))
			goto ok;
		rc = fail_from_state(c, e);
		goto out;
	}
	if (c->last_failed && now_ms - c->last_attempt_ms < c->cfg.retry_ms) {
		rc = fail_from_state(c, e);
		goto out;
	}
	rc = do_fetch(c, http, now_ms, e);
	if (!usable(c, now_ms)) {
		if (rc == CLR_OK)
			rc = fail_from_state(c, e);
		goto out;
	}
ok:
	*out = ref_take(c->cur);
	rc = CLR_OK;
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* The background refetch for an unknown kid; `fetching` is set by its starter. */
static void *bg_main(void *arg)
{
	struct ix_jwks_cache *c = arg;
	struct clr_http_client *http = NULL;

	pthread_mutex_lock(&c->mu);
	if (clr_http_client_new(&http) == CLR_OK) {
		(void)do_fetch(c, http, c->bg_now_ms, NULL);
	} else {
		c->fetching = 0;
		pthread_cond_broadcast(&c->done);
	}
	pthread_mutex_unlock(&c->mu);
	clr_http_client_free(http);
	return NULL;
}

/* Starts bg_main with c->mu held and nothing fetching; 0 when it could not. */
static int bg_start(struct ix_jwks_cache *c, long long now_ms)
{
	/* The last one finished its fetch (fetching is clear) and needs no lock. */
	if (c->bg_started) {
		pthread_join(c->bg_thr, NULL);
		c->bg_started = 0;
	}
	c->bg_now_ms = now_ms;
	c->fetching = 1;
	if (pthread_create(&c->bg_thr, NULL, bg_main, c) != 0) {
		c->fetching = 0;
		return 0;
	}
	c->bg_started = 1;
	return 1;
}

/* Waits on `done` while a fetch runs, for at most ms of real time. */
static void wait_fetch_for(struct ix_jwks_cache *c, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (c->fetching)
		if (pthread_cond_timedwait(&c->done, &c->mu, &ts) == ETIMEDOUT)
			return;
}

enum clr_rc ix_jwks_cache_miss(struct ix_jwks_cache *c, struct clr_http_client *http,
			       long long now_ms, const struct ix_jwks_ref *seen,
			       struct ix_jwks_ref **out, struct clr_err *e)
{
	enum clr_rc rc = CLR_OK;

	(void)http;
	*out = NULL;
	pthread_mutex_lock(&c->mu);
	if (!c->fetching && c->cur == seen) {
		if (c->have_miss_fetch &&
		    now_ms - c->last_miss_fetch_ms < c->cfg.cooldown_s * 1000LL) {
			rc = clr_err_set(e, CLR_ERR_NOTFOUND, "invalid_token", NULL,
					 "unknown kid (JWKS refetch cooling down)");
			goto out;
		}
		c->have_miss_fetch = 1;
		c->last_miss_fetch_ms = now_ms;
		if (!bg_start(c, now_ms)) {
			rc = clr_err_set(e, CLR_ERR_NOTFOUND, "invalid_token", NULL,
					 "unknown kid (JWKS refetch could not start)");
			goto out;
		}
	}
	if (c->fetching)
		wait_fetch_for(c, c->cfg.miss_wait_ms);
	if (c->fetching) {
		/* Never hold a serving thread on a slow IdP: the next token may pass. */
		rc = clr_err_set(e, CLR_ERR_NOTFOUND, "invalid_token", NULL,
				 "unknown kid (JWKS refetch under way)");
		goto out;
	}
	if (!usable(c, now_ms)) {
		rc = fail_from_state(c, e);
		goto out;
	}
	*out = ref_take(c->cur);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

void ix_jwks_cache_maintain(struct ix_jwks_cache *c, struct clr_http_client *http, long long now_ms)
{
	pthread_mutex_lock(&c->mu);
	if (c->fetching)
		goto out;
	if (c->last_failed && now_ms - c->last_attempt_ms < c->cfg.retry_ms)
		goto out;
	/* never fetched: leave it to the first token, so idle providers cost nothing */
	if (c->cur == NULL && c->last_attempt_ms == 0 && c->fetches == 0)
		goto out;
	if (c->cur == NULL || now_ms >= c->refresh_ms)
		(void)do_fetch(c, http, now_ms, NULL);
out:
	pthread_mutex_unlock(&c->mu);
}

enum clr_rc ix_jwks_cache_refresh(struct ix_jwks_cache *c, struct clr_http_client *http,
				  long long now_ms, struct clr_err *e)
{
	enum clr_rc rc;

	pthread_mutex_lock(&c->mu);
	wait_fetch(c);
	rc = do_fetch(c, http, now_ms, e);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static json_t *iso_time(long long t_ms, long long now_ms)
{
	struct timespec ts;
	long long wall;
	time_t secs;
	struct tm tm;
	char buf[40];

	if (t_ms == 0)
		return json_null();
	clock_gettime(CLOCK_REALTIME, &ts);
	wall = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - (now_ms - t_ms);
	secs = (time_t)(wall / 1000);
	gmtime_r(&secs, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

json_t *ix_jwks_cache_info(struct ix_jwks_cache *c, long long now_ms)
{
	json_t *o = json_object(), *kids = json_array(), *skipped = json_array();

	if (o == NULL || kids == NULL || skipped == NULL) {
		json_decref(o);
		json_decref(kids);
		json_decref(skipped);
		return NULL;
	}
	pthread_mutex_lock(&c->mu);
	if (c->cur != NULL) {
		const struct clr_jwks *s = c->cur->set;
		for (size_t i = 0; i < clr_jwks_count(s); i++) {
			size_t len;
			const char *kid = clr_jwks_kid(s, i, &len);
			json_array_append_new(kids, kid ? json_stringn(kid, len) : json_null());
		}
		for (size_t i = 0; i < clr_jwks_skipped_count(s); i++) {
			size_t idx;
			const char *kid, *why;
			if (clr_jwks_skipped(s, i, &idx, &kid, &why) == CLR_OK)
				json_array_append_new(skipped, json_pack("{s:I,s:s,s:s}", "index",
									 (json_int_t)idx, "kid",
									 kid, "reason", why));
		}
	}
	json_object_set_new(o, "jwks_uri", json_string(c->uri));
	json_object_set_new(o, "kids", kids);
	json_object_set_new(o, "skipped", skipped);
	json_object_set_new(o, "usable", json_boolean(usable(c, now_ms)));
	json_object_set_new(o, "fetched_at", iso_time(c->cur ? c->fetched_ms : 0, now_ms));
	json_object_set_new(o, "expires_at", iso_time(c->cur ? c->expires_ms : 0, now_ms));
	json_object_set_new(o, "refresh_at", iso_time(c->cur ? c->refresh_ms : 0, now_ms));
	json_object_set_new(o, "stale_until",
			    iso_time(c->cur ? c->expires_ms + c->cfg.stale_s * 1000LL : 0, now_ms));
	json_object_set_new(o, "last_error",
			    c->last_failed ? json_string(c->last_error) : json_null());
	json_object_set_new(o, "last_error_at", iso_time(c->last_error_ms, now_ms));
	json_object_set_new(o, "etag", c->etag ? json_string(c->etag) : json_null());
	json_object_set_new(o, "fetches", json_integer((json_int_t)c->fetches));
	json_object_set_new(o, "not_modified", json_integer((json_int_t)c->not_modified));
	pthread_mutex_unlock(&c->mu);
	return o;
}

unsigned long ix_jwks_cache_rejected(struct ix_jwks_cache *c)
{
	unsigned long n;

	pthread_mutex_lock(&c->mu);
	n = c->rejected;
	pthread_mutex_unlock(&c->mu);
	return n;
}

unsigned long ix_jwks_cache_set_gen(struct ix_jwks_cache *c)
{
	return atomic_load(&c->set_gen);
}

unsigned long ix_jwks_cache_fetches(struct ix_jwks_cache *c)
{
	unsigned long n;

	pthread_mutex_lock(&c->mu);
	n = c->fetches;
	pthread_mutex_unlock(&c->mu);
	return n;
}

void ix_jwks_cache_stats(struct ix_jwks_cache *c, long long now_ms, struct ix_jwks_stats *out)
{
	pthread_mutex_lock(&c->mu);
	out->fetches = c->fetches;
	out->fresh = c->fresh;
	out->not_modified = c->not_modified;
	out->failed = c->failed;
	out->rejected = c->rejected;
	out->usable = usable(c, now_ms);
	out->age_s = c->cur != NULL ? (now_ms - c->fetched_ms) / 1000 : -1;
	pthread_mutex_unlock(&c->mu);
}
