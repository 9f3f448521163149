/*
 * log.c - one JSON object a line on stderr, built with jansson.
 *
 * Nothing here is shared and mutable apart from the level, which is atomic:
 * each call formats into its own stack buffer and emits the line with one
 * write(2), so lines from different threads never interleave.
 */
#include <errno.h>
#include <stdarg.h>
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

/* Writes one line; client and route may be NULL. */
static void CLR_PRINTF(5, 0) log_v(const char *reqid, const char *client, const char *route,
				   enum clr_log_level level, const char *fmt, va_list ap)
{
	static const char oom_line[] = "{\"level\":\"error\",\"msg\":\"log: out of memory\"}\n";
	char msg[LOG_MSG_MAX];
	char ts[48];
	char stackline[LOG_LINE_STACK];
	char *line = stackline;
	size_t msglen, need;
	json_t *o = NULL;
	int n, ok;

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
	msglen = utf8_sanitize(msg, msglen);
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
	     json_object_set_new(o, "msg", json_stringn(msg, msglen)) == 0;
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
