/*
 * seclog.h - rate-limited "security:" log lines for refusals.
 *
 * Under attack every refused token would write a line: millions of lines a
 * minute that cost disk, hide everything else and slow the deny path down.
 * So each reason may write at most CLR_SECLOG_BURST lines per second; the
 * lines beyond that are only counted, and the count is written as one
 * summary line ("security: 12345 more 'token refused' lines suppressed in
 * the last 1 s") when the second is over: by the next line of that reason,
 * or by clr_seclog_flush, which the refresher calls every second.
 *
 * Callers never pass the token or a secret: the message is a fixed text or
 * built from fixed texts (jwt.c's error messages).
 *
 * Thread-safe: one small mutex per reason; nothing is allocated.
 */
#ifndef CLR_INTROSPECT_SECLOG_H
#define CLR_INTROSPECT_SECLOG_H

#include "clearance/log.h"

#define CLR_SECLOG_BURST 10

enum clr_seclog_reason {
	CLR_SECLOG_TOKEN_REFUSED,   /* signature / claims / header checks */
	CLR_SECLOG_REVOKED,	    /* client of a revoked registration */
	CLR_SECLOG_UNREGISTERED,    /* no active registration (REQUIRE_REGISTERED) */
	CLR_SECLOG_INTROSPECT_AUTH, /* bad credentials at /v1/introspect */
	CLR_SECLOG_BASIC,	    /* Kong-style Basic at /auth refused */
	CLR_SECLOG__MAX
};

/* Logs "security: <msg>" at info level unless this reason is over its budget. */
void clr_seclog(enum clr_seclog_reason why, const char *reqid, const char *fmt, ...)
    CLR_PRINTF(3, 4);

/* Writes the pending summaries of seconds that are over (now_ms: clr_now_ms()). */
void clr_seclog_flush(long long now_ms);

/* Lines written and suppressed so far (tests, /metrics). */
void clr_seclog_stats(enum clr_seclog_reason why, unsigned long *written,
		      unsigned long *suppressed);

#endif
