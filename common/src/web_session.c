/*
 * web_session.c - cookie sessions and their CSRF check (web_session.h).
 *
 * The cookie holds the very token a bearer client would send, so
 * revocation, expiry, blocking and logout work the same for both; only
 * the transport and the CSRF rule differ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "clearance/auth.h"
#include "clearance/log.h"
#include "clearance/web_session.h"

#define WEB_TOKEN_MAX 512
#define ORIGIN_MAX 512

int clr_web_cookie_get(const char *header, const char *name, char *buf, size_t cap)
{
	size_t nl = strlen(name), vl;
	const char *p = header, *v, *end;

	if (header == NULL || cap == 0)
		return 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == ';' || *p == '\t')
			p++;
		if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
			v = p + nl + 1;
			end = strchr(v, ';');
			vl = end != NULL ? (size_t)(end - v) : strlen(v);
			while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (vl == 0 || vl >= cap)
				return 0;
			memcpy(buf, v, vl);
			buf[vl] = '\0';
			return 1;
		}
		end = strchr(p, ';');
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

int clr_web_has_session(const struct clr_req *r)
{
	char buf[WEB_TOKEN_MAX + 1];
	int found =
	    clr_web_cookie_get(clr_req_env(r, "HTTP_COOKIE"), CLR_WEB_COOKIE, buf, sizeof(buf));

	OPENSSL_cleanse(buf, sizeof(buf));
	return found;
}

/* The request's own origin: scheme://host, plus the port unless it is the default. */
static int own_origin(const struct clr_req *r, char *out, size_t cap)
{
	const char *scheme = clr_req_env(r, "REQUEST_SCHEME");
	const char *host = clr_req_env(r, "HTTP_HOST");
	const char *port = clr_req_env(r, "SERVER_PORT");
	const char *colon;
	int n, dflt;

	if (scheme == NULL || scheme[0] == '\0')
		scheme = clr_req_env(r, "HTTPS") != NULL ? "https" : "http";
	if (host == NULL || host[0] == '\0')
		return 0;
	/* A Host that already names a port (lighttpd passes it as sent) is used as is. */
	colon = strrchr(host, ':');
	if (colon != NULL && strchr(colon, ']') == NULL)
		port = NULL;
	dflt = port == NULL || port[0] == '\0' ||
	       (strcmp(scheme, "http") == 0 && strcmp(port, "80") == 0) ||
	       (strcmp(scheme, "https") == 0 && strcmp(port, "443") == 0);
	n = dflt ? snprintf(out, cap, "%s://%s", scheme, host)
		 : snprintf(out, cap, "%s://%s:%s", scheme, host, port);
	return n > 0 && (size_t)n < cap;
}

int clr_web_origin_ok(const struct clr_req *r, const char *origin)
{
	const char *list = r->cfg != NULL ? r->cfg->public_origins : NULL;
	char own[ORIGIN_MAX];
	size_t ol;

	if (origin == NULL || origin[0] == '\0' || strcmp(origin, "null") == 0)
		return 0;
	ol = strlen(origin);
	if (list != NULL && list[0] != '\0') {
		const char *p = list;

		while (*p != '\0') {
			size_t n;

			while (*p == ' ' || *p == ',')
				p++;
			n = strcspn(p, " ,");
			if (n > 0 && n == ol && strncasecmp(p, origin, n) == 0)
				return 1;
			p += n;
		}
		return 0;
	}
	return own_origin(r, own, sizeof(own)) && strcasecmp(own, origin) == 0;
}

int clr_web_public_origin(const struct clr_req *r, char *out, size_t cap)
{
	const char *list = r->cfg != NULL ? r->cfg->public_origins : NULL;
	size_t n;

	if (cap == 0)
		return 0;
	out[0] = '\0';
	if (list != NULL && list[0] != '\0') {
		list += strspn(list, " ,");
		n = strcspn(list, " ,");
		if (n == 0 || n >= cap)
			return 0;
		memcpy(out, list, n);
		out[n] = '\0';
		return 1;
	}
	if (!own_origin(r, out, cap)) {
		out[0] = '\0';
		return 0;
	}
	return 1;
}

int clr_web_insecure_ok(const struct clr_req *r)
{
	const char *scheme = clr_req_env(r, "REQUEST_SCHEME");
	const char *host = clr_req_env(r, "HTTP_HOST");
	static const char *const loop[] = {"127.0.0.1", "localhost", "[::1]"};
	size_t i, n;

	if (clr_req_env(r, "HTTPS") != NULL || scheme == NULL || strcmp(scheme, "http") != 0 ||
	    host == NULL)
		return 0;
	for (i = 0; i < sizeof(loop) / sizeof(loop[0]); i++) {
		n = strlen(loop[i]);
		if (strncasecmp(host, loop[i], n) == 0 && (host[n] == '\0' || host[n] == ':'))
			return 1;
	}
	return 0;
}

static int safe_method(const char *m)
{
	return m != NULL &&
	       (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0);
}

enum clr_rc clr_web_auth(struct clr_req *r, struct clr_principal *out)
{
	char tok[WEB_TOKEN_MAX + 1], hdr[WEB_TOKEN_MAX + 16];
	const char *csrf;
	enum clr_rc rc;

	memset(out, 0, sizeof(*out));
	if (!clr_web_cookie_get(clr_req_env(r, "HTTP_COOKIE"), CLR_WEB_COOKIE, tok, sizeof(tok)))
		return CLR_ERR_DENIED;
	if (!safe_method(r->method)) {
		csrf = clr_req_env(r, "HTTP_X_CLEARANCE_CSRF");
		if (csrf == NULL || strcmp(csrf, "1") != 0 ||
		    !clr_web_origin_ok(r, clr_req_env(r, "HTTP_ORIGIN"))) {
			clr_log(r->reqid, CLR_LOG_WARN,
				"security: cookie-authenticated %s %s refused (CSRF: %s)",
				r->method, r->path,
				csrf == NULL ? "no X-Clearance-CSRF header" : "wrong origin");
			rc = CLR_ERR_FORBIDDEN;
			goto out;
		}
	}
	snprintf(hdr, sizeof(hdr), "Bearer %s", tok);
	rc = clr_auth_bearer(r->db, hdr, out);
	OPENSSL_cleanse(hdr, sizeof(hdr));
out:
	OPENSSL_cleanse(tok, sizeof(tok));
	return rc;
}
