/*
 * log.c - one JSON object a line on stderr, built with jansson.
 *
 * Nothing here is shared and mutable apart from the level, which is atomic:
 * each call formats into its own stack buffer and emits the line with one
 * write(2), so lines from different threads never interleave.
 *
 * Repeated warnings and errors are rate-limited: a line whose level and
 * message were already written within the last LOG_REPEAT_S seconds is
 * counted instead of written, and the next copy written carries
 * "suppressed": N (an outage of PostgreSQL makes every thread report the
 * same failure many times a second).  Security lines are not limited.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "clearance/log.h"

#define LOG_MSG_MAX 2048 /* bytes of message text kept, including the NUL */
#define LOG_LINE_STACK 4096
#define LOG_REPEAT_S 10	    /* one copy of a repeated warning/error per this many seconds */
#define LOG_REPEAT_SLOTS 64 /* distinct repeated messages tracked at once */

struct repeat_slot {
	uint64_t hash; /* 0: free */
	time_t last;   /* when a copy was last written */
	unsigned long suppressed;
};

static pthread_mutex_t repeat_mu = PTHREAD_MUTEX_INITIALIZER;
static struct repeat_slot repeat_tab[LOG_REPEAT_SLOTS];
static int repeat_window_s = LOG_REPEAT_S; /* under repeat_mu */

static const char *log_service = "clearance";
static atomic_int log_min_level = CLR_LOG_INFO;

static const char *const level_names[CLR_LOG_LEVEL__MAX] = {
    [CLR_LOG_DEBUG] = "debug",
    [CLR_LOG_INFO] = "info",
    [CLR_LOG_WARN] = "warn",
    [CLR_LOG_ERROR] = "error",
};

void clr_log_init(const char *service, enum clr_log_level min_level)
{
	if (service != NULL)
		log_service = service;
	clr_log_set_level(min_level);
}

void clr_log_set_level(enum clr_log_level min_level)
{
	if ((unsigned)min_level >= CLR_LOG_LEVEL__MAX)
		min_level = CLR_LOG_INFO;
	atomic_store_explicit(&log_min_level, (int)min_level, memory_order_relaxed);
}

enum clr_rc clr_log_level_parse(const char *s, enum clr_log_level *out)
{
	int i;

	if (s == NULL)
		return CLR_ERR_PARAM;
	for (i = 0; i < CLR_LOG_LEVEL__MAX; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum clr_log_level)i;
			return CLR_OK;
		}
	}
	return CLR_ERR_PARAM;
}

/*
 * Length of the valid UTF-8 sequence (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF) at p, or 0 if the bytes there are not one.
 */
static size_t utf8_seq_len(const unsigned char *p, size_t avail)
{
	size_t n, i;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		n = 2;
		cp = p[0] & 0x1F;
	} else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		n = 3;
		cp = p[0] & 0x0F;
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) ||
	    cp > 0x10FFFF)
		return 0;
	return n;
}

/*
 * jansson refuses strings that are not UTF-8, and a log line must never be
 * lost because a caller logged raw bytes or the 2 KiB cut split a character;
 * so invalid bytes become '?' in place.  Returns the new length.
 */
static size_t utf8_sanitize(char *s, size_t len)
{
	unsigned char *p = (unsigned char *)s;
	size_t i = 0, o = 0, n;

	while (i < len) {
		n = utf8_seq_len(p + i, len - i);
		if (n == 0) {
			p[o++] = '?';
			i++;
			continue;
		}
		memmove(p + o, p + i, n);
		o += n;
		i += n;
	}
	s[o] = '\0';
	return o;
}

static json_t *json_text(const char *s)
{
	char buf[256];
	size_t len = strlen(s);

	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	len = utf8_sanitize(buf, len);
	return json_stringn(buf, len);
}

static void write_all(const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(STDERR_FILENO, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* nowhere left to report it */
		}
		p += n;
		len -= (size_t)n;
	}
}

static void timestamp(char out[48])
{
	struct timespec ts;
	struct tm tm;
	char base[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 48, "%s.%03dZ", base, (int)(ts.tv_nsec / 1000000L) % 1000);
}

/* FNV-1a of the level and message: the identity of a repeated line. */
static uint64_t line_hash(enum clr_log_level level, const char *msg, size_t len)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)level;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)msg[i];
		h *= 1099511628211ULL;
	}
	return h != 0 ? h : 1;
}

/*
 * 1 if this line is to be written; *suppressed gets how many copies were
 * held back since the last one written.  Evicts the oldest slot when full
 * (its pending count is then lost, which only under-reports).
 */
static int repeat_admit(uint64_t h, unsigned long *suppressed)
{
	time_t now = time(NULL);
	struct repeat_slot *s = NULL, *oldest = &repeat_tab[0];
	int ok = 1;
	size_t i;

	*suppressed = 0;
	pthread_mutex_lock(&repeat_mu);
	for (i = 0; i < LOG_REPEAT_SLOTS; i++) {
		if (repeat_tab[i].hash == h) {
			s = &repeat_tab[i];
			break;
		}
		if (repeat_tab[i].last < oldest->last)
			oldest = &repeat_tab[i];
	}
	if (s == NULL) {
		s = oldest;
		s->hash = h;
		s->last = now;
		s->suppressed = 0;
	} else if (now - s->last < repeat_window_s) {
		s->suppressed++;
		ok = 0;
	} else {
		*suppressed = s->suppressed;
		s->suppressed = 0;
		s->last = now;
	}
	pthread_mutex_unlock(&repeat_mu);
	return ok;
}

void clr_log_repeat_reset(int window_s)
{
	pthread_mutex_lock(&repeat_mu);
	memset(repeat_tab, 0, sizeof(repeat_tab));
	repeat_window_s = window_s > 0 ? window_s : LOG_REPEAT_S;
	pthread_mutex_unlock(&repeat_mu);
}

/* Writes one line; client, route and extra (stolen) may be NULL. */
static void log_line(const char *reqid, const char *client, const char *route,
		     enum clr_log_level level, json_t *extra, char *msg, size_t msglen)
{
	static const char oom_line[] = "{\"level\":\"error\",\"msg\":\"log: out of memory\"}\n";
	char ts[48];
	char stackline[LOG_LINE_STACK];
	char *line = stackline;
	size_t need;
	unsigned long suppressed = 0;
	json_t *o = NULL;
	int ok;

	msglen = utf8_sanitize(msg, msglen);
	if (level >= CLR_LOG_WARN && strncmp(msg, "security: ", 10) != 0 &&
	    !repeat_admit(line_hash(level, msg, msglen), &suppressed)) {
		json_decref(extra);
		return;
	}
	timestamp(ts);

	o = json_object();
	if (o == NULL)
		goto oom;
	ok = json_object_set_new(o, "ts", json_string(ts)) == 0 &&
	     json_object_set_new(o, "level", json_string(level_names[level])) == 0 &&
	     json_object_set_new(o, "service", json_text(log_service)) == 0 &&
	     (reqid == NULL || json_object_set_new(o, "req", json_text(reqid)) == 0) &&
	     (client == NULL || json_object_set_new(o, "client", json_text(client)) == 0) &&
	     (route == NULL || json_object_set_new(o, "route", json_text(route)) == 0) &&
	     json_object_set_new(o, "msg", json_stringn(msg, msglen)) == 0 &&
	     (suppressed == 0 ||
	      json_object_set_new(o, "suppressed", json_integer((json_int_t)suppressed)) == 0) &&
	     (extra == NULL || json_object_update(o, extra) == 0);
	if (!ok)
		goto oom;

	need = json_dumpb(o, stackline, sizeof(stackline) - 1, JSON_COMPACT);
	if (need == 0)
		goto oom;
	if (need > sizeof(stackline) - 1) {
		line = malloc(need + 1);
		if (line == NULL)
			goto oom;
		if (json_dumpb(o, line, need, JSON_COMPACT) != need)
			goto oom;
	}
	line[need] = '\n';
	write_all(line, need + 1);
	goto out;
oom:
	write_all(oom_line, sizeof(oom_line) - 1);
out:
	if (line != stackline)
		free(line);
	json_decref(o);
	json_decref(extra);
}

/* Formats the message (bounded, cut marked) and writes the line. */
static void CLR_PRINTF(5, 0) log_v(const char *reqid, const char *client, const char *route,
				   enum clr_log_level level, const char *fmt, va_list ap)
{
	char msg[LOG_MSG_MAX];
	size_t msglen;
	int n;

	if ((unsigned)level >= CLR_LOG_LEVEL__MAX)
		level = CLR_LOG_ERROR;
	if ((int)level < atomic_load_explicit(&log_min_level, memory_order_relaxed))
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0) {
		snprintf(msg, sizeof(msg), "log: bad format");
		n = (int)strlen(msg);
	}
	msglen = (size_t)n;
	if (msglen >= sizeof(msg)) {
		/* Mark the cut so a reader knows the line is not whole. */
		msglen = sizeof(msg) - 1;
		memcpy(msg + msglen - 3, "...", 3);
	}
	log_line(reqid, client, route, level, NULL, msg, msglen);
}

void clr_log_access(enum clr_log_level level, const struct clr_log_access *a)
{
	char msg[8] = "access";
	char m[17];
	json_t *x;

	if ((unsigned)level >= CLR_LOG_LEVEL__MAX)
		level = CLR_LOG_ERROR;
	if ((int)level < atomic_load_explicit(&log_min_level, memory_order_relaxed))
		return;
	snprintf(m, sizeof(m), "%s", a->method != NULL ? a->method : "");
	x = json_object();
	if (x == NULL || json_object_set_new(x, "method", json_text(m)) != 0 ||
	    json_object_set_new(x, "status", json_integer(a->status)) != 0 ||
	    json_object_set_new(x, "duration_ms",
				json_real((double)(a->usec < 0 ? 0 : a->usec) / 1000.0)) != 0 ||
	    (a->client_id != NULL && a->client_id[0] != '\0' &&
	     json_object_set_new(x, "client_id", json_text(a->client_id)) != 0)) {
		json_decref(x);
		x = NULL;
	}
	log_line(a->reqid, a->remote_addr, a->route, level, x, msg, strlen(msg));
}

void clr_log(const char *reqid, enum clr_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(reqid, NULL, NULL, level, fmt, ap);
	va_end(ap);
}

void clr_log_ctx(const char *reqid, const char *client, const char *route, enum clr_log_level level,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(reqid, client, route, level, fmt, ap);
	va_end(ap);
}
