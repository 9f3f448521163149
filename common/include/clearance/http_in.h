/*
 * http_in.h - the FastCGI side: a threaded FCGX_Accept_r loop, a route
 * table, auth before handlers, JSON responses and errors, /healthz,
 * /readyz and /metrics for every service.
 *
 * Each worker thread owns one FCGX_Request, one clr_db and one
 * clr_http_client; everything about a request lives in struct clr_req,
 * never in globals (the fcgi_stdio API is not used).
 *
 * Body handling: CONTENT_LENGTH is checked against cfg->max_body before
 * reading (413 if over or malformed) and exactly that many bytes are read.
 * Routes flagged json_body get the body parsed with JSON_REJECT_DUPLICATES
 * into req->json (an object, else 400) before the handler runs.
 */
#ifndef CLEARANCE_HTTP_IN_H
#define CLEARANCE_HTTP_IN_H

#include <jansson.h>
#include "clearance/rc.h"
#include "clearance/config.h"
#include "clearance/db.h"
#include "clearance/auth.h"
#include "clearance/http_out.h"
#include "clearance/fields.h"
#include "clearance/log.h"

#define CLR_REQ_MAX_PARAMS 4

struct clr_req_priv;

struct clr_req {
	char reqid[33];	     /* nginx's X-Request-Id or random hex; sent back as X-Request-Id */
	const char *method;  /* borrowed from the FastCGI env */
	const char *path;    /* path without query, NUL-terminated copy */
	const char *query;   /* "" if none */
	const char *route;   /* the matched route pattern, for metrics */
	struct clr_str body; /* raw body (NUL-terminated too) */
	json_t *json;	     /* parsed body for json_body routes, borrowed */
	const char *params[CLR_REQ_MAX_PARAMS]; /* values of {} path segments */
	int nparams;
	struct clr_principal who;     /* filled when the route needs auth */
	struct clr_db *db;	      /* this thread's connection, borrowed */
	struct clr_http_client *http; /* this thread's outgoing client, borrowed */
	const struct clr_config *cfg;
	void *app;		   /* the service's shared context, borrowed */
	void *tctx;		   /* the service's per-thread context */
	struct clr_req_priv *priv; /* response state, internal */
};

enum clr_route_auth {
	CLR_AUTH_NONE,	/* public */
	CLR_AUTH_ANY,	/* any valid bearer token (developer or admin) */
	CLR_AUTH_ADMIN, /* admin token; developer gets 403 */
	CLR_AUTH__MAX
};

typedef void (*clr_handler)(struct clr_req *r);

/*
 * A route.  pattern segments "{}" match one non-empty segment without '/'
 * and land in params[] in order, e.g. "/v1/providers/{}/client-types".
 * A path that matches a pattern with another method gets 405 with Allow.
 */
struct clr_route {
	const char *method;
	const char *pattern;
	clr_handler fn;
	enum clr_route_auth auth;
	int json_body;
};

/*
 * The field table of a json_body route (method and pattern as in the route
 * table): the dispatcher checks req->json against it after auth and before
 * the handler runs, and answers 400 naming the field.  clr_server_run
 * refuses to start when an entry names no json_body route.
 */
struct clr_route_body {
	const char *method;
	const char *pattern;
	const struct clr_body *body;
};

/* Value of a FastCGI param such as "HTTP_AUTHORIZATION"; borrowed, or NULL. */
const char *clr_req_env(const struct clr_req *r, const char *name);

/* Value of query parameter `name` (URL-decoded) or NULL; *out new (free()). */
enum clr_rc clr_req_query(const struct clr_req *r, const char *name, char **out) CLR_MUSTCHECK;

/*
 * Path parameter i when it is a uuid (borrowed); otherwise answers 404
 * "no such <what>" (a malformed id names nothing) and returns NULL.
 */
const char *clr_req_param_id(struct clr_req *r, int i, const char *what);

/*
 * The query's limit (1..1000, default 100) and offset (0..1000000, default
 * 0) as decimal text.  CLR_ERR_PARAM with e naming the parameter.
 */
enum clr_rc clr_req_paging(const struct clr_req *r, char lim[16], char off[16],
			   struct clr_err *e) CLR_MUSTCHECK;

/*
 * Query parameter `name` (*out new, NULL when absent) that must be one of
 * the n strings in allowed; CLR_ERR_PARAM with e naming it (and listing
 * the allowed values) otherwise.
 */
enum clr_rc clr_req_query_enum(const struct clr_req *r, const char *name,
			       const char *const *allowed, size_t n, char **out,
			       struct clr_err *e) CLR_MUSTCHECK;

/*
 * clr_log with the request's id, client address (REMOTE_ADDR) and route
 * ("PATCH /v1/apps/{}") on the line.
 */
void clr_log_req(const struct clr_req *r, enum clr_log_level level, const char *fmt, ...)
    CLR_PRINTF(3, 4);

/*
 * Names the OAuth client the request acted for, for the access line's
 * "client_id" (copied, cut at 128 bytes).
 */
void clr_req_set_client_id(struct clr_req *r, const char *client_id);

/*
 * Value of field `name` of an application/x-www-form-urlencoded body
 * (URL-decoded) or NULL; *out new (free()).  The caller checks
 * CONTENT_TYPE.  CLR_ERR_CONFLICT if the field occurs twice
 * (RFC 6749 s.3.1: parameters must not be repeated), CLR_ERR_PARAM if
 * badly encoded.
 */
enum clr_rc clr_req_form(const struct clr_req *r, const char *name, char **out) CLR_MUSTCHECK;

/* Adds a response header; call before any clr_resp_* that writes a body. */
void clr_resp_header(struct clr_req *r, const char *name, const char *value);

/* Sends status and a JSON body; steals `body` (may be NULL for no body). */
void clr_resp_json(struct clr_req *r, int status, json_t *body);

/* The status already sent for r, 0 before any response (audit after a handler). */
int clr_resp_status(const struct clr_req *r);

/* Sends status with no body (204, or a bare 401/403 for auth_request). */
void clr_resp_empty(struct clr_req *r, int status);

/* Sends plain text (metrics).  text borrowed. */
void clr_resp_text(struct clr_req *r, int status, const char *ctype, const char *text, size_t len);

/*
 * Sends {"error": error, "error_description": desc} with `status`.
 * desc must not contain a secret.
 */
void clr_resp_error(struct clr_req *r, int status, const char *error, const char *desc);

/*
 * Sends the error in e with the status from the one rc -> status table
 * (plus "field" when set).  If e->error is empty, a default code per rc is
 * used ("invalid_request", "not_found", ...).
 */
void clr_resp_err(struct clr_req *r, const struct clr_err *e);

/*
 * The one failure reply of a handler: clr_resp_err, and a 5xx is logged
 * once here (error level, with the request's context).  Handlers never log
 * the failures they answer with this.
 */
void clr_resp_fail(struct clr_req *r, const struct clr_err *e);

/* The status for an rc (400, 404, 401, 403, 409, 413, 503, 502, 504, 500). */
int clr_rc_status(enum clr_rc rc);

struct clr_job_kind;

/* Extra Prometheus text appended to /metrics; returns new string or NULL. */
typedef char *(*clr_metrics_fn)(void *app);
/* The same, read from the database at scrape time (db borrowed, the request's). */
typedef char *(*clr_metrics_db_fn)(void *app, struct clr_db *db);

struct clr_server {
	const char *service; /* "registrar", ... */
	const struct clr_config *cfg;
	const struct clr_route *routes;
	size_t nroutes;
	const struct clr_db_stmt *stmts; /* prepared on each thread's conn */
	size_t nstmts;
	void *app;
	/* optional per-thread context set-up/tear-down */
	enum clr_rc (*thread_init)(void *app, void **tctx);
	void (*thread_fini)(void *app, void *tctx);
	clr_metrics_fn metrics;
	const struct clr_route_body *bodies; /* may be NULL */
	size_t nbodies;
	/* the service's job kinds: /metrics shows clearance_jobs for them */
	const struct clr_job_kind *job_kinds; /* may be NULL */
	size_t njob_kinds;
	clr_metrics_db_fn metrics_db; /* may be NULL */
};

/*
 * Opens the listening socket (cfg->listen, or fd 0 when NULL), starts
 * cfg->threads workers and serves until SIGTERM/SIGINT, then lets running
 * requests finish and returns 0 (non-zero if it could not start).
 * /healthz, /readyz and /metrics are answered without auth.
 */
int clr_server_run(const struct clr_server *srv);

/* Set by the signal handler; long-running threads (job worker) poll it. */
int clr_server_stopping(void);

#endif
