/*
 * seclog.h - rate-limited "security:" log lines for refusals.
 *
 * Under attack every refused token would write a line: millions of lines a
 * minute that cost disk, hide everything else and slow the deny path down.
 * So each reason may write at most IX_SECLOG_BURST lines per second; the
 * lines beyond that are only counted, and the count is written as one
 * summary line ("security: 12345 more 'token refused' lines suppressed in
 * the last 1 s") when the second is over: by the next line of that reason,
 * or by ix_seclog_flush, which the refresher calls every second.
 *
 * Callers never pass the token or a secret: the message is a fixed text or
 * built from fixed texts (jwt.c's error messages).
 *
 * Thread-safe: one small mutex per reason; nothing is allocated.
 */
#ifndef IX_SECLOG_H
#define IX_SECLOG_H

#include "clearance/log.h"

#define IX_SECLOG_BURST 10

enum ix_seclog_reason {
	IX_SECLOG_TOKEN_REFUSED,   /* signature / claims / header checks */
	IX_SECLOG_REVOKED,	   /* client of a revoked registration */
	IX_SECLOG_UNREGISTERED,	   /* no active registration (REQUIRE_REGISTERED) */
	IX_SECLOG_INTROSPECT_AUTH, /* bad credentials at /v1/introspect */
	IX_SECLOG_BASIC,	   /* Kong-style Basic at /auth refused */
	IX_SECLOG__MAX
};

/* Logs "security: <msg>" at info level unless this reason is over its budget. */
void ix_seclog(enum ix_seclog_reason why, const char *reqid, const char *fmt, ...) CLR_PRINTF(3, 4);

/* Writes the pending summaries of seconds that are over (now_ms: clr_now_ms()). */
void ix_seclog_flush(long long now_ms);

/* Lines written and suppressed so far (tests, /metrics). */
void ix_seclog_stats(enum ix_seclog_reason why, unsigned long *written, unsigned long *suppressed);

#endif
