/*
 * oauth.c - the scope and redirect-URI rules (see oauth.h).
 */
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "clearance/oauth.h"

int clr_scope_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0)
		return 1;
	if (s[0] == ' ' || s[n - 1] == ' ')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ' ') {
			if (s[i + 1] == ' ')
				return 0;
			continue;
		}
		if (c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e)
			return 0;
	}
	return 1;
}

static int host_is_loopback(const char *h)
{
	return strcasecmp(h, "localhost") == 0 || strcmp(h, "[::1]") == 0 ||
	       strcmp(h, "127.0.0.1") == 0;
}

/* The written form agrees with what libcurl understood (see oauth.h). */
static int raw_form_ok(const char *uri, int https)
{
	static const char *const loop[] = {"localhost", "127.0.0.1", "[::1]"};
	const char *h;
	size_t i, n;

	if (https)
		return strncmp(uri, "https://", 8) == 0 && uri[8] != '\0' && uri[8] != '/';
	if (strncmp(uri, "http://", 7) != 0)
		return 0;
	h = uri + 7;
	for (i = 0; i < sizeof(loop) / sizeof(loop[0]); i++) {
		n = strlen(loop[i]);
		if (strncasecmp(h, loop[i], n) == 0 &&
		    (h[n] == '\0' || h[n] == ':' || h[n] == '/' || h[n] == '?'))
			return 1;
	}
	return 0;
}

static int has_ctl_or_space(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s == 0x7f)
			return 1;
	return 0;
}

enum clr_rc clr_redirect_uri_check(const char *uri, const char *field, struct clr_err *e)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *user = NULL, *frag = NULL;
	enum clr_rc rc = CLR_ERR_PARAM;

	if (uri == NULL || strlen(uri) > 2048 || strchr(uri, '#') != NULL ||
	    has_ctl_or_space(uri)) {
		clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri", field,
			    "%s must be at most 2048 bytes, with no space, control character "
			    "or fragment",
			    field);
		return CLR_ERR_PARAM;
	}
	u = curl_url();
	if (u == NULL)
		return clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, uri, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
		clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri", field,
			    "%s must be an absolute URL", field);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
		clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri", field,
			    "%s must have no user info and no fragment", field);
		goto out;
	}
	if ((strcmp(scheme, "https") != 0 &&
	     !(strcmp(scheme, "http") == 0 && host_is_loopback(host))) ||
	    !raw_form_ok(uri, strcmp(scheme, "https") == 0)) {
		clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri", field,
			    "%s must use https (http only on a loopback host)", field);
		goto out;
	}
	rc = CLR_OK;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(frag);
	curl_url_cleanup(u);
	return rc;
}
