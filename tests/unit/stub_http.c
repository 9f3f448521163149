/*
 * stub_http.c - see stub_http.h.  Deliberately simple: one server thread,
 * one request per connection, blocking I/O bounded by poll() timeouts so a
 * misbehaving client cannot hang a test run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stub_http.h"

#define STUB_HDR_MAX (64 * 1024)
#define STUB_BODY_MAX (4 * 1024 * 1024)
#define STUB_IO_TIMEOUT_MS 3000

struct stub_http {
	int lfd;
	int stop_pipe[2];
	pthread_t thr;
	stub_http_handler fn;
	void *arg;
	pthread_mutex_t mu;
	unsigned count;
	struct stub_http_record last;
};

/* 1 when fd is readable, 0 on timeout or stop, -1 on error. */
static int stub_wait(struct stub_http *s, int fd, short ev, int timeout_ms)
{
	struct pollfd p[2];
	int n;

	p[0].fd = fd;
	p[0].events = ev;
	p[1].fd = s->stop_pipe[0];
	p[1].events = POLLIN;
	do {
		n = poll(p, 2, timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n <= 0 || (p[1].revents & POLLIN))
		return n < 0 ? -1 : 0;
	return 1;
}

static void stub_sleep(struct stub_http *s, long ms)
{
	struct pollfd p;

	p.fd = s->stop_pipe[0];
	p.events = POLLIN;
	while (poll(&p, 1, (int)ms) < 0 && errno == EINTR)
		;
}

static int stub_write_all(struct stub_http *s, int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w;

		if (stub_wait(s, fd, POLLOUT, STUB_IO_TIMEOUT_MS) != 1)
			return -1;
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static char *stub_dup(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s != NULL) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

int stub_http_header(const char *headers, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *line = headers;

	while (line != NULL && *line) {
		const char *eol = strstr(line, "\r\n");

		if (eol == NULL)
			eol = line + strlen(line);
		if ((size_t)(eol - line) > nl && line[nl] == ':' &&
		    strncasecmp(line, name, nl) == 0) {
			const char *v = line + nl + 1;
			size_t n;

			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			n = (size_t)(eol - v);
			if (outlen > 0) {
				if (n >= outlen)
					n = outlen - 1;
				memcpy(out, v, n);
				out[n] = '\0';
			}
			return 1;
		}
		line = *eol ? eol + 2 : eol;
	}
	return 0;
}

static const char *stub_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 302:
		return "Found";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Status";
	}
}

static void stub_record(struct stub_http *s, const struct stub_http_req *rq)
{
	pthread_mutex_lock(&s->mu);
	stub_http_record_free(&s->last);
	s->last.method = strdup(rq->method);
	s->last.path = strdup(rq->path);
	s->last.headers = strdup(rq->headers);
	s->last.body = stub_dup(rq->body, rq->body_len);
	s->last.body_len = rq->body_len;
	s->count++;
	pthread_mutex_unlock(&s->mu);
}

static void stub_serve(struct stub_http *s, int fd)
{
	char *buf = NULL, *hdr_end, *sp1, *sp2, *eol;
	size_t len = 0, need, hlen, path_off, hdrs_off;
	struct stub_http_req rq;
	struct stub_http_resp rs;
	char cl[32], head[1024];
	long clen = 0;
	int n;

	buf = malloc(STUB_HDR_MAX + 1);
	if (buf == NULL)
		goto out;
	for (;;) {
		ssize_t r;

		if (len >= STUB_HDR_MAX || stub_wait(s, fd, POLLIN, STUB_IO_TIMEOUT_MS) != 1)
			goto out;
		r = recv(fd, buf + len, STUB_HDR_MAX - len, 0);
		if (r <= 0)
			goto out;
		len += (size_t)r;
		buf[len] = '\0';
		hdr_end = strstr(buf, "\r\n\r\n");
		if (hdr_end != NULL)
			break;
	}
	hlen = (size_t)(hdr_end - buf) + 4;
	eol = strstr(buf, "\r\n");
	sp1 = memchr(buf, ' ', (size_t)(eol - buf));
	if (sp1 == NULL)
		goto out;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (sp2 == NULL)
		goto out;
	*sp1 = '\0';
	*sp2 = '\0';
	hdr_end[2] = '\0'; /* the header block keeps its last "\r\n" */
	path_off = (size_t)(sp1 + 1 - buf);
	hdrs_off = (size_t)(eol + 2 - buf);
	if (stub_http_header(buf + hdrs_off, "Content-Length", cl, sizeof(cl)))
		clen = strtol(cl, NULL, 10);
	if (clen < 0 || clen > STUB_BODY_MAX)
		goto out;
	need = hlen + (size_t)clen;
	if (need > STUB_HDR_MAX) {
		char *nb = realloc(buf, need + 1);

		if (nb == NULL)
			goto out;
		buf = nb;
	}
	while (len < need) {
		ssize_t r;

		if (stub_wait(s, fd, POLLIN, STUB_IO_TIMEOUT_MS) != 1)
			goto out;
		r = recv(fd, buf + len, need - len, 0);
		if (r <= 0)
			goto out;
		len += (size_t)r;
	}
	buf[need] = '\0';
	rq.method = buf;
	rq.path = buf + path_off;
	rq.headers = buf + hdrs_off;
	rq.body = buf + hlen;
	rq.body_len = (size_t)clen;
	stub_record(s, &rq);

	memset(&rs, 0, sizeof(rs));
	rs.status = 200;
	s->fn(&rq, &rs, s->arg);
	if (rs.body != NULL && rs.body_len == 0)
		rs.body_len = strlen(rs.body);
	if (rs.delay_ms > 0)
		stub_sleep(s, rs.delay_ms);
	if (rs.no_length)
		n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nConnection: close\r\n%s\r\n",
			     rs.status, stub_reason(rs.status), rs.headers ? rs.headers : "");
	else
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Length: %zu\r\n%s\r\n",
			     rs.status, stub_reason(rs.status), rs.body_len,
			     rs.headers ? rs.headers : "");
	if (n > 0 && (size_t)n < sizeof(head) && stub_write_all(s, fd, head, (size_t)n) == 0 &&
	    rs.body_len > 0)
		(void)stub_write_all(s, fd, rs.body, rs.body_len);
	if (rs.free_body)
		free((void *)rs.body);
out:
	free(buf);
}

static void *stub_main(void *arg)
{
	struct stub_http *s = arg;
	int conns;

	for (conns = 0; conns < STUB_HTTP_MAX_CONN; conns++) {
		int fd;

		if (stub_wait(s, s->lfd, POLLIN, -1) != 1)
			break;
		fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		stub_serve(s, fd);
		shutdown(fd, SHUT_WR);
		close(fd);
	}
	return NULL;
}

struct stub_http *stub_http_start(stub_http_handler fn, void *arg, int *port)
{
	struct stub_http *s;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->fn = fn;
	s->arg = arg;
	s->lfd = -1;
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	pthread_mutex_init(&s->mu, NULL);
	if (pipe(s->stop_pipe) != 0)
		goto fail;
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		goto fail;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(s->lfd, 16) != 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&sa, &sl) != 0)
		goto fail;
	*port = ntohs(sa.sin_port);
	if (pthread_create(&s->thr, NULL, stub_main, s) != 0)
		goto fail;
	return s;
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->stop_pipe[0] >= 0) {
		close(s->stop_pipe[0]);
		close(s->stop_pipe[1]);
	}
	pthread_mutex_destroy(&s->mu);
	free(s);
	return NULL;
}

void stub_http_stop(struct stub_http *s)
{
	if (s == NULL)
		return;
	if (write(s->stop_pipe[1], "x", 1) != 1)
		perror("stub_http_stop");
	pthread_join(s->thr, NULL);
	close(s->lfd);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	stub_http_record_free(&s->last);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

unsigned stub_http_count(struct stub_http *s)
{
	unsigned n;

	pthread_mutex_lock(&s->mu);
	n = s->count;
	pthread_mutex_unlock(&s->mu);
	return n;
}

void stub_http_last(struct stub_http *s, struct stub_http_record *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->mu);
	if (s->last.method != NULL) {
		out->method = strdup(s->last.method);
		out->path = strdup(s->last.path);
		out->headers = strdup(s->last.headers);
		out->body = stub_dup(s->last.body, s->last.body_len);
		out->body_len = s->last.body_len;
	}
	pthread_mutex_unlock(&s->mu);
}

void stub_http_record_free(struct stub_http_record *r)
{
	if (r == NULL)
		return;
	free(r->method);
	free(r->path);
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
}
