/*
 * http_in_priv.h - what the three parts of the FastCGI side share (not
 * tested on its own, not for services): the per-thread worker, the running
 * server, a request's response state, and the calls between the parts.
 *
 *   http_in.c      the server: threads, signals, the listener, start/stop
 *   http_router.c  one request: path, route match, auth, body, dispatch
 *   http_resp.c    the request/response kit handlers use (http_in.h)
 */
#ifndef CLEARANCE_HTTP_IN_PRIV_H
#define CLEARANCE_HTTP_IN_PRIV_H

#include <pthread.h>
#include <stddef.h>
#include <fcgiapp.h>

#include "clearance/http_in.h"
#include "http_in_internal.h"

#define IN_PATH_MAX 2048 /* longest request path we route */
#define IN_HDR_BUF 2048	 /* extra response header bytes per request */
#define IN_HDR_MAX 16	 /* extra response headers per request */
#define IN_ALLOW_BUF 128
#define IN_BACKLOG 1024
#define IN_ACCEPT_ERR_MAX 50	 /* consecutive accept failures before giving up */
#define IN_BODY_TIMEOUT_MS 30000 /* longest wait for one read of the body */

/* Built-in routes come after the table routes in the metrics registry. */
enum { BI_HEALTHZ, BI_READYZ, BI_METRICS, BI_UNMATCHED, BI__MAX };
/* Their paths (http_router.c); the last is the label of unmatched requests. */
extern const char *const clr_in_builtin_paths[BI__MAX];

struct clr_req_priv {
	FCGX_Request *fx;
	int status; /* 0 until a response was sent */
	size_t hlen;
	int nhdrs;
	char hdrs[IN_HDR_BUF];
	char client_id[129]; /* for the access line (clr_req_set_client_id) */
};

struct worker {
	struct server *sv;
	pthread_t thr;
	int idx;
	FCGX_Request fx;
	struct clr_db *db;
	struct clr_http_client *http;
	void *tctx;
	int tctx_set;
	int idle_fd; /* under sv->mu: fd parked in accept, -2 busy */
	char path[IN_PATH_MAX + 1];
	char pbuf[IN_PATH_MAX + 1];
	char *body;
	size_t body_cap;
};

struct server {
	const struct clr_server *srv;
	struct clr_metrics *metrics;
	const char **route_names;
	int lfd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ready;  /* workers done with set-up */
	int failed; /* a worker failed its set-up */
	int go;	    /* 1 run, -1 abort */
	int fatal;  /* a worker gave up on accept */
	struct worker *w;
	int nw;
};

/* Serves the request just accepted on w->fx (http_router.c). */
void clr_in_serve_one(struct worker *w);

#endif
