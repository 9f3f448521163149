/*
 * mail.c - templated plain-text e-mail over SMTP with libcurl.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "clearance/log.h"
#include "clearance/mail.h"
#include "clearance/util.h"

#define TPL_MAX (64 * 1024)
#define OUT_MAX (256 * 1024)

struct buf {
	char *p;
	size_t len, cap;
	int oom;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->oom)
		return;
	if (b->len + n + 1 > OUT_MAX) {
		b->oom = 1;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		np = realloc(b->p, ncap);
		if (np == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static int name_valid(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n <= 64 && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static enum clr_rc read_template(const char *dir, const char *name, char **out, struct clr_err *e)
{
	char path[1024];
	FILE *f;
	char *buf;
	size_t n;

	*out = NULL;
	if (!name_valid(name))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "template",
				   "template names are [a-z0-9_]{1,64}");
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.txt", dir, name) >= sizeof(path))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "template",
				   "the template path is too long");
	f = fopen(path, "rb");
	if (f == NULL)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "template",
				   "mail template %.200s cannot be opened: %s", path,
				   strerror(errno));
	buf = malloc(TPL_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		return clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
	}
	n = fread(buf, 1, TPL_MAX + 1, f);
	fclose(f);
	if (n > TPL_MAX || memchr(buf, '\0', n) != NULL) {
		free(buf);
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "template",
				   "mail template %s is over 64 KiB or binary", name);
	}
	buf[n] = '\0';
	*out = buf;
	return CLR_OK;
}

/* Appends text with {{key}} replaced; in_subject drops control characters. */
static enum clr_rc expand(struct buf *b, const char *text, size_t len, const json_t *vars,
			  int in_subject, const char *name, struct clr_err *e)
{
	const char *p = text, *end = text + len, *open, *close;
	char key[65], num[32];
	const json_t *v;
	const char *val;
	size_t klen, i;

	while (p < end) {
		open = memmem(p, (size_t)(end - p), "{{", 2);
		if (open == NULL) {
			buf_add(b, p, (size_t)(end - p));
			break;
		}
		buf_add(b, p, (size_t)(open - p));
		close = memmem(open + 2, (size_t)(end - open - 2), "}}", 2);
		if (close == NULL)
			return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "template",
					   "mail template %s: unclosed {{", name);
		klen = (size_t)(close - open - 2);
		if (klen == 0 || klen >= sizeof(key))
			return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "template",
					   "mail template %s: bad placeholder", name);
		memcpy(key, open + 2, klen);
		key[klen] = '\0';
		v = vars != NULL ? json_object_get(vars, key) : NULL;
		if (json_is_string(v)) {
			val = json_string_value(v);
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			val = num;
		} else {
			return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "template",
					   "mail template %s uses {{%.64s}}, which has no value",
					   name, key);
		}
		if (in_subject) {
			for (i = 0; val[i] != '\0'; i++) {
				if ((unsigned char)val[i] >= 0x20 && val[i] != 0x7f)
					buf_add(b, val + i, 1);
			}
		} else {
			buf_add(b, val, strlen(val));
		}
		p = close + 2;
	}
	return b->oom ? clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "mail too large or out of memory")
		      : CLR_OK;
}

enum clr_rc clr_mail_render(const char *dir, const char *name, const json_t *vars, char **subject,
			    char **body, struct clr_err *e)
{
	struct buf s = {0}, bd = {0};
	char *tpl = NULL, *nl, *rest;
	enum clr_rc rc;

	*subject = NULL;
	*body = NULL;
	if ((rc = read_template(dir, name, &tpl, e)) != CLR_OK)
		return rc;
	nl = strchr(tpl, '\n');
	if (strncmp(tpl, "Subject: ", 9) != 0 || nl == NULL) {
		rc = clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "template",
				 "mail template %s must start with a \"Subject: \" line", name);
		goto out;
	}
	rest = nl + 1;
	if (*rest == '\r')
		rest++;
	if (*rest == '\n')
		rest++;
	else {
		rc = clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "template",
				 "mail template %s: an empty line must follow the subject", name);
		goto out;
	}
	if (nl > tpl && nl[-1] == '\r')
		nl--;
	if ((rc = expand(&s, tpl + 9, (size_t)(nl - tpl - 9), vars, 1, name, e)) != CLR_OK ||
	    (rc = expand(&bd, rest, strlen(rest), vars, 0, name, e)) != CLR_OK)
		goto out;
	if (s.p == NULL)
		buf_add(&s, "", 0);
	if (bd.p == NULL)
		buf_add(&bd, "", 0);
	if (s.oom || bd.oom) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	*subject = s.p;
	*body = bd.p;
	s.p = bd.p = NULL;
out:
	free(s.p);
	free(bd.p);
	free(tpl);
	return rc;
}

int clr_mail_addr_valid(const char *addr)
{
	const char *at;
	size_t i, n;

	if (addr == NULL)
		return 0;
	n = strlen(addr);
	if (n < 3 || n > 254)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)addr[i];

		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '(' || c == ')' ||
		    c == ',' || c == ';' || c == ':' || c == '\\' || c == '"' || c == '[' ||
		    c == ']')
			return 0;
	}
	at = strchr(addr, '@');
	return at != NULL && at != addr && at[1] != '\0' && strchr(at + 1, '@') == NULL &&
	       at[1] != '.' && addr[n - 1] != '.';
}

struct reader {
	const char *p;
	size_t left;
};

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *ud)
{
	struct reader *r = ud;
	size_t n = size * nmemb;

	if (n > r->left)
		n = r->left;
	memcpy(dst, r->p, n);
	r->p += n;
	r->left -= n;
	return n;
}

/* The whole message, headers and CRLF-normalised body. */
static enum clr_rc build_message(const char *from, const char *to, const char *subject,
				 const char *body, struct buf *m)
{
	static const char mime[] = "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; "
				   "charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
	char line[512], date[64], id[37];
	time_t now = time(NULL);
	struct tm tm;
	const char *p;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	if (clr_uuid_new(id) != CLR_OK)
		return CLR_ERR_INTERNAL;
	snprintf(line, sizeof(line), "Date: %s\r\nFrom: <%s>\r\nTo: <%s>\r\n", date, from, to);
	buf_add(m, line, strlen(line));
	snprintf(line, sizeof(line), "Message-ID: <%s@clearance>\r\n", id);
	buf_add(m, line, strlen(line));
	buf_add(m, "Subject: ", 9);
	buf_add(m, subject, strlen(subject));
	buf_add(m, mime, sizeof(mime) - 1);
	for (p = body; *p != '\0'; p++) {
		if (*p == '\n' && (p == body || p[-1] != '\r'))
			buf_add(m, "\r\n", 2);
		else
			buf_add(m, p, 1);
	}
	if (m->len < 2 || memcmp(m->p + m->len - 2, "\r\n", 2) != 0)
		buf_add(m, "\r\n", 2);
	return m->oom ? CLR_ERR_NOMEM : CLR_OK;
}

enum clr_rc clr_mail_send(const struct clr_config *cfg, const char *to, const char *subject,
			  const char *body, struct clr_err *e)
{
	const char *from = cfg->mail_from != NULL ? cfg->mail_from : CLR_MAIL_DEFAULT_FROM;
	struct curl_slist *rcpt = NULL;
	struct buf m = {0};
	struct reader rd;
	char addr[300];
	CURL *c = NULL;
	CURLcode cc = CURLE_OK;
	enum clr_rc rc;

	if (cfg->smtp_url == NULL)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
				   "CLEARANCE_SMTP_URL is not set: no mail can be sent");
	if (!clr_mail_addr_valid(to) || !clr_mail_addr_valid(from))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "to",
				   "not a valid e-mail address");
	if (strpbrk(subject, "\r\n") != NULL)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "subject",
				   "the subject must be one line");
	if ((rc = build_message(from, to, subject, body, &m)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "the message could not be built");
		goto out;
	}
	c = curl_easy_init();
	snprintf(addr, sizeof(addr), "<%s>", to);
	rcpt = curl_slist_append(NULL, addr);
	if (c == NULL || rcpt == NULL) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	snprintf(addr, sizeof(addr), "<%s>", from);
	rd.p = m.p;
	rd.left = m.len;
	if ((cc = curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps")) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_MAIL_FROM, addr)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_READDATA, &rd)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_UPLOAD, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, cfg->http_connect_timeout_ms)) !=
		CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, cfg->http_timeout_ms)) != CURLE_OK) {
		rc = clr_err_set(e, CLR_ERR_INTERNAL, NULL, NULL, "libcurl option failed: %s",
				 curl_easy_strerror(cc));
		goto out;
	}
	cc = curl_easy_perform(c);
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		rc = clr_err_set(e, CLR_ERR_TIMEOUT, "smtp_error", NULL,
				 "the SMTP server did not answer in time");
		goto out;
	}
	if (cc != CURLE_OK) {
		rc = clr_err_set(e, CLR_ERR_UPSTREAM, "smtp_error", NULL, "sending mail failed: %s",
				 curl_easy_strerror(cc));
		goto out;
	}
	rc = CLR_OK;
out:
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	free(m.p);
	return rc;
}

/*
 * The templates' directory when MAIL_TEMPLATES is unset: deploy/mail when the
 * working directory is a source tree (make run), else where `make install`
 * puts them, <program dir>/../share/clearance/mail.  Returns a constant or buf.
 */
static const char *mail_default_dir(char *buf, size_t cap)
{
	struct stat st;
	char exe[PATH_MAX];
	ssize_t n;

	if (stat(CLR_MAIL_DEFAULT_DIR, &st) == 0 && S_ISDIR(st.st_mode))
		return CLR_MAIL_DEFAULT_DIR;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return CLR_MAIL_DEFAULT_DIR;
	exe[n] = '\0';
	if (snprintf(buf, cap, "%s/../share/clearance/mail", dirname(exe)) >= (int)cap)
		return CLR_MAIL_DEFAULT_DIR;
	return buf;
}

enum clr_rc clr_mail_send_template(const struct clr_config *cfg, const char *to, const char *name,
				   const json_t *vars, struct clr_err *e)
{
	char dbuf[PATH_MAX + 32];
	const char *dir = cfg->mail_templates != NULL ? cfg->mail_templates
						      : mail_default_dir(dbuf, sizeof(dbuf));
	char *subject = NULL, *body = NULL;
	enum clr_rc rc;

	if ((rc = clr_mail_render(dir, name, vars, &subject, &body, e)) != CLR_OK)
		return rc;
	rc = clr_mail_send(cfg, to, subject, body, e);
	free(subject);
	free(body);
	return rc;
}
