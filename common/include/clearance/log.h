/*
 * log.h - one JSON object a line on stderr.
 *
 * Lines look like
 *   {"ts":"2026-11-25T15:00:00.123Z","level":"info","service":"registrar",
 *    "req":"9f2c...","msg":"..."}
 * and are built with jansson, so user data can never break the line.  Never
 * pass a secret (tokens, client secrets, passwords, seal keys) to these
 * functions: there is no redaction layer behind them.  Security events start
 * their message with "security: ".  Thread-safe: each line is one write(2).
 * A warning or error repeated within 10 s (same level and message) is
 * counted instead of written; the next copy written carries "suppressed":
 * N.  Security lines are never held back.
 */
#ifndef CLEARANCE_LOG_H
#define CLEARANCE_LOG_H

#include "clearance/rc.h"

enum clr_log_level { CLR_LOG_DEBUG, CLR_LOG_INFO, CLR_LOG_WARN, CLR_LOG_ERROR, CLR_LOG_LEVEL__MAX };

/* Set once at start-up, before threads; service is borrowed (a literal). */
void clr_log_init(const char *service, enum clr_log_level min_level);

/*
 * Changes the minimum level after clr_log_init, e.g. once the configuration
 * (CLEARANCE_LOG_LEVEL) is loaded.  Safe to call while other threads log.
 */
void clr_log_set_level(enum clr_log_level min_level);

/* Parses "debug"/"info"/"warn"/"error". */
enum clr_rc clr_log_level_parse(const char *s, enum clr_log_level *out) CLR_MUSTCHECK;

/*
 * Writes one line.  reqid may be NULL (start-up, worker).  The message is
 * formatted with vsnprintf into a bounded buffer (truncated at 2 KiB).
 */
void clr_log(const char *reqid, enum clr_log_level level, const char *fmt, ...) CLR_PRINTF(3, 4);

/*
 * The same with the request's context: "client" (the peer address) and
 * "route" ("POST /v1/apps/{}") become fields of the line when not NULL.
 * Handlers use clr_log_req (http_in.h), which fills them from the request.
 */
void clr_log_ctx(const char *reqid, const char *client, const char *route, enum clr_log_level level,
		 const char *fmt, ...) CLR_PRINTF(5, 6);

/*
 * The access line of one request: msg "access" and the fields "method",
 * "route" (the pattern), "status", "duration_ms", "client" (the peer
 * address) and "client_id" (the OAuth client, when the gateway knew it).
 * All strings borrowed, any may be NULL.
 */
struct clr_log_access {
	const char *reqid;
	const char *method;
	const char *route;
	const char *remote_addr;
	const char *client_id;
	int status;
	long long usec;
};
void clr_log_access(enum clr_log_level level, const struct clr_log_access *a);

/*
 * Forgets repeated warnings/errors seen so far and sets the window in
 * seconds (<= 0: the default 10).  For tests.
 */
void clr_log_repeat_reset(int window_s);

#endif
