/*
 * seclog.c - see seclog.h.  A fixed window of one second per reason.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "clearance/util.h"
#include "seclog.h"

static const char *const reason_name[IX_SECLOG__MAX] = {
    [IX_SECLOG_TOKEN_REFUSED] = "token refused",
    [IX_SECLOG_REVOKED] = "revoked client",
    [IX_SECLOG_UNREGISTERED] = "unregistered client",
    [IX_SECLOG_INTROSPECT_AUTH] = "introspect caller refused",
    [IX_SECLOG_BASIC] = "basic credentials refused",
};

struct window {
	pthread_mutex_t mu;
	long long start_ms;    /* start of the current one-second window */
	unsigned in_window;    /* lines written in it */
	unsigned long pending; /* suppressed, not yet summarised */
	long long pending_since_ms;
	unsigned long written, suppressed; /* totals */
};

static struct window win[IX_SECLOG__MAX] = {
    [0 ... IX_SECLOG__MAX - 1] = {.mu = PTHREAD_MUTEX_INITIALIZER},
};

/* Called with w->mu held: the summary of a window that is over, if any. */
static unsigned long take_summary(struct window *w, long long now_ms, long long *span_ms)
{
	unsigned long n = 0;

	if (now_ms - w->start_ms >= 1000) {
		n = w->pending;
		*span_ms = now_ms - w->pending_since_ms;
		w->pending = 0;
		w->start_ms = now_ms;
		w->in_window = 0;
	}
	return n;
}

static void summary(enum ix_seclog_reason why, unsigned long n, long long span_ms)
{
	if (n > 0)
		clr_log(NULL, CLR_LOG_INFO,
			"security: %lu more '%s' lines suppressed in the last %lld s", n,
			reason_name[why], span_ms < 1000 ? 1 : (span_ms + 999) / 1000);
}

void ix_seclog(enum ix_seclog_reason why, const char *reqid, const char *fmt, ...)
{
	struct window *w;
	long long now = clr_now_ms(), span = 0;
	unsigned long sum;
	int write;
	char msg[256];
	va_list ap;

	if ((unsigned)why >= IX_SECLOG__MAX)
		return;
	w = &win[why];
	pthread_mutex_lock(&w->mu);
	sum = take_summary(w, now, &span);
	write = w->in_window < IX_SECLOG_BURST;
	if (write) {
		w->in_window++;
		w->written++;
	} else {
		if (w->pending == 0)
			w->pending_since_ms = now;
		w->pending++;
		w->suppressed++;
	}
	pthread_mutex_unlock(&w->mu);
	summary(why, sum, span);
	if (!write)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clr_log(reqid, CLR_LOG_INFO, "security: %s", msg);
}

void ix_seclog_flush(long long now_ms)
{
	for (int i = 0; i < IX_SECLOG__MAX; i++) {
		long long span = 0;
		unsigned long sum;

		pthread_mutex_lock(&win[i].mu);
		sum = win[i].pending ? take_summary(&win[i], now_ms, &span) : 0;
		pthread_mutex_unlock(&win[i].mu);
		summary((enum ix_seclog_reason)i, sum, span);
	}
}

void ix_seclog_stats(enum ix_seclog_reason why, unsigned long *written, unsigned long *suppressed)
{
	*written = *suppressed = 0;
	if ((unsigned)why >= IX_SECLOG__MAX)
		return;
	pthread_mutex_lock(&win[why].mu);
	*written = win[why].written;
	*suppressed = win[why].suppressed;
	pthread_mutex_unlock(&win[why].mu);
}
