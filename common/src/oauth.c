/*
 * oauth.c - the scope and redirect-URI rules (see oauth.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
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

/*
 * The redirect host rule (issue 10).  The host is judged as written: names
 * are never resolved (a lookup here would race the IdP's own and could be
 * answered differently later), so a public name that resolves to a private
 * address is out of reach of this check by design.
 */
enum host_class { HOST_PUBLIC, HOST_LOOPBACK, HOST_NONPUBLIC, HOST_BAD };

#define ALLOW_MAX 32
#define HOST_MAX 253

struct allow_net {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned bits;
};

struct allow_name {
	char name[HOST_MAX + 1]; /* lower case, no trailing dot */
	int suffix;		 /* ".x": matches names under x */
};

/* Written once at configuration time (clr_redirect_allow_set), then read only. */
struct allow_list {
	int all;
	size_t n_net, n_name;
	struct allow_net net[ALLOW_MAX];
	struct allow_name name[ALLOW_MAX];
};
static struct allow_list allow;

static const char *const private_suffixes[] = {
    "internal", "local", "localdomain", "home.arpa", "lan", "corp", "intranet", "private",
};

static uint32_t be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int in4(uint32_t a, uint32_t net, unsigned bits)
{
	return bits == 0 || (a >> (32 - bits)) == (net >> (32 - bits));
}

/* Classifies an IPv4 address (network byte order bytes); *why names the range. */
static enum host_class class4(const unsigned char *b, const char **why)
{
	static const struct {
		uint32_t net;
		unsigned bits;
		const char *why;
	} ranges[] = {
	    {0x00000000u, 8, "an unspecified (0.0.0.0/8) address"},
	    {0x0a000000u, 8, "a private-range (RFC 1918) address"},
	    {0xac100000u, 12, "a private-range (RFC 1918) address"},
	    {0xc0a80000u, 16, "a private-range (RFC 1918) address"},
	    {0x64400000u, 10, "a shared/CGNAT (100.64.0.0/10) address"},
	    {0xa9fe0000u, 16, "a link-local (169.254.0.0/16, cloud metadata) address"},
	    {0xc0000000u, 24, "an IETF protocol (192.0.0.0/24) address"},
	    {0xc0000200u, 24, "a documentation (TEST-NET) address"},
	    {0xc6336400u, 24, "a documentation (TEST-NET) address"},
	    {0xcb007100u, 24, "a documentation (TEST-NET) address"},
	    {0xc0586300u, 24, "a reserved (6to4 relay) address"},
	    {0xc6120000u, 15, "a benchmarking (198.18.0.0/15) address"},
	    {0xe0000000u, 4, "a multicast address"},
	    {0xf0000000u, 4, "a reserved or broadcast (240.0.0.0/4) address"},
	};
	uint32_t a = be32(b);
	size_t i;

	if (in4(a, 0x7f000000u, 8))
		return HOST_LOOPBACK;
	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		if (in4(a, ranges[i].net, ranges[i].bits)) {
			*why = ranges[i].why;
			return HOST_NONPUBLIC;
		}
	}
	return HOST_PUBLIC;
}

static int prefix6(const unsigned char *b, const unsigned char *p, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(b, p, whole) != 0)
		return 0;
	return rest == 0 || ((b[whole] ^ p[whole]) >> (8 - rest)) == 0;
}

/*
 * The IPv4 address inside an IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96)
 * or 6to4 (2002::/16, bits 16..47) address, else NULL: traffic to those ends
 * at the IPv4 address.
 */
static const unsigned char *embedded4(const unsigned char *b)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

	if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
		return b + 12;
	if (b[0] == 0x20 && b[1] == 0x02)
		return b + 2;
	return NULL;
}

/* Classifies an IPv6 address; forms that embed an IPv4 address are judged by it. */
static enum host_class class6(const unsigned char *b, const char **why)
{
	static const unsigned char zero[16] = {0};
	static const struct {
		unsigned char p[4];
		unsigned bits;
		const char *why;
	} ranges[] = {
	    {{0xfc, 0, 0, 0}, 7, "a unique local (fc00::/7) address"},
	    {{0xfe, 0x80, 0, 0}, 10, "a link-local (fe80::/10) address"},
	    {{0xfe, 0xc0, 0, 0}, 10, "a site-local (fec0::/10) address"},
	    {{0xff, 0, 0, 0}, 8, "a multicast address"},
	    {{0x20, 0x01, 0x0d, 0xb8}, 32, "a documentation (2001:db8::/32) address"},
	    {{0x20, 0x01, 0, 0}, 23, "an IETF protocol (2001::/23, Teredo) address"},
	};
	const unsigned char *v4;
	size_t i;

	if (memcmp(b, zero, 15) == 0 && b[15] == 1)
		return HOST_LOOPBACK;
	if (memcmp(b, zero, 16) == 0) {
		*why = "an unspecified (::) address";
		return HOST_NONPUBLIC;
	}
	if ((v4 = embedded4(b)) != NULL)
		return class4(v4, why);
	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		if (prefix6(b, ranges[i].p, ranges[i].bits)) {
			*why = ranges[i].why;
			return HOST_NONPUBLIC;
		}
	}
	if ((b[0] & 0xe0) != 0x20) {
		*why = "not a global unicast (2000::/3) address";
		return HOST_NONPUBLIC;
	}
	return HOST_PUBLIC;
}

/* WHATWG URL: a host whose last label is a number is parsed as IPv4. */
static int label_numeric(const char *l, size_t n)
{
	size_t i;
	int hex = n >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X');

	if (n == 0)
		return 0;
	for (i = hex ? 2 : 0; i < n; i++) {
		if (!(hex ? isxdigit((unsigned char)l[i]) : isdigit((unsigned char)l[i])))
			return 0;
	}
	return 1;
}

static int name_under(const char *h, size_t n, const char *sfx)
{
	size_t m = strlen(sfx);

	return (n == m && strncasecmp(h, sfx, m) == 0) ||
	       (n > m && h[n - m - 1] == '.' && strncasecmp(h + n - m, sfx, m) == 0);
}

/*
 * Classifies the host as written (h, n bytes; IPv6 with its brackets).
 * Fills addr/family for address hosts (family 0 for names).
 */
static enum host_class class_host(const char *h, size_t n, int *family, unsigned char *addr,
				  const char **why)
{
	char buf[HOST_MAX + 2];
	const char *last;
	size_t i;

	*family = 0;
	*why = "not a valid host";
	if (n == 0 || n > HOST_MAX + 1)
		return HOST_BAD;
	if (h[0] == '[') {
		if (n < 3 || h[n - 1] != ']' || n - 2 > 45)
			return HOST_BAD;
		memcpy(buf, h + 1, n - 2);
		buf[n - 2] = '\0';
		if (strchr(buf, '%') != NULL) {
			*why = "a scoped (zone id) IPv6 address";
			return HOST_BAD;
		}
		if (inet_pton(AF_INET6, buf, addr) != 1)
			return HOST_BAD;
		*family = AF_INET6;
		return class6(addr, why);
	}
	if (h[n - 1] == '.') /* one trailing dot: the same name, fully qualified */
		n--;
	if (n == 0 || n > HOST_MAX)
		return HOST_BAD;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];

		if (!(isalnum(c) || c == '-' || c == '_' || c == '.') || c > 0x7e) {
			*why =
			    "not a plain ASCII host name or address (write IDN names as punycode)";
			return HOST_BAD;
		}
		if (c == '.' && (i == 0 || h[i - 1] == '.'))
			return HOST_BAD;
	}
	memcpy(buf, h, n);
	buf[n] = '\0';
	last = strrchr(buf, '.');
	last = last != NULL ? last + 1 : buf;
	if (label_numeric(last, strlen(last))) {
		/*
		 * Resolvers (inet_aton) accept 2130706433, 0x0a.0.0.1, 012.1 ...;
		 * only the dotted-decimal form is accepted, so what is stored is
		 * what every reader understands.
		 */
		if (inet_pton(AF_INET, buf, addr) != 1) {
			*why = "an IPv4 address not written as four decimal numbers";
			return HOST_BAD;
		}
		*family = AF_INET;
		return class4(addr, why);
	}
	if (name_under(buf, n, "localhost"))
		return HOST_LOOPBACK;
	if (strchr(buf, '.') == NULL) {
		*why = "a single-label name (resolved through local search domains)";
		return HOST_NONPUBLIC;
	}
	for (i = 0; i < sizeof(private_suffixes) / sizeof(private_suffixes[0]); i++) {
		if (name_under(buf, n, private_suffixes[i])) {
			*why = "a name under a private-use domain (.internal, .local, ...)";
			return HOST_NONPUBLIC;
		}
	}
	return HOST_PUBLIC;
}

static int allowed(const char *h, size_t n, int family, const unsigned char *addr)
{
	const unsigned char *v4;
	size_t i, m;

	if (allow.all)
		return 1;
	for (i = 0; family != 0 && i < allow.n_net; i++) {
		if (allow.net[i].family == family &&
		    prefix6(addr, allow.net[i].addr, allow.net[i].bits))
			return 1;
	}
	/* An IPv6 form judged by its IPv4 address is allowed by that address too. */
	if (family == AF_INET6 && (v4 = embedded4(addr)) != NULL)
		return allowed(NULL, 0, AF_INET, v4);
	if (family != 0)
		return 0;
	if (n > 0 && h[n - 1] == '.')
		n--;
	for (i = 0; i < allow.n_name; i++) {
		m = strlen(allow.name[i].name);
		if (allow.name[i].suffix ? name_under(h, n, allow.name[i].name) && n > m
					 : n == m && strncasecmp(h, allow.name[i].name, m) == 0)
			return 1;
	}
	return 0;
}

static enum clr_rc allow_entry(const char *s, size_t n, struct clr_err *e)
{
	char buf[HOST_MAX + 2], *slash, *end;
	struct allow_net net;
	const char *why;
	unsigned char tmp[16];
	int fam;
	long bits;

	if (n == 0 || n > HOST_MAX + 1)
		goto bad;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(&net, 0, sizeof(net));
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, net.addr) == 1)
		net.family = AF_INET, net.bits = 32;
	else if (inet_pton(AF_INET6, buf, net.addr) == 1)
		net.family = AF_INET6, net.bits = 128;
	if (net.family != 0) {
		if (slash != NULL) {
			errno = 0;
			bits = strtol(slash + 1, &end, 10);
			if (slash[1] == '\0' || *end != '\0' || errno != 0 || bits < 0 ||
			    bits > (long)net.bits)
				goto bad;
			net.bits = (unsigned)bits;
		}
		if (allow.n_net == ALLOW_MAX)
			goto full;
		allow.net[allow.n_net++] = net;
		return CLR_OK;
	}
	if (slash != NULL)
		goto bad;
	if (buf[0] == '.' && class_host(buf + 1, n - 1, &fam, tmp, &why) != HOST_BAD && fam == 0) {
		if (allow.n_name == ALLOW_MAX)
			goto full;
		allow.name[allow.n_name].suffix = 1;
		memcpy(allow.name[allow.n_name++].name, buf + 1, n);
		return CLR_OK;
	}
	if (class_host(buf, n, &fam, tmp, &why) != HOST_BAD && fam == 0) {
		if (allow.n_name == ALLOW_MAX)
			goto full;
		allow.name[allow.n_name].suffix = 0;
		memcpy(allow.name[allow.n_name++].name, buf, n + 1);
		return CLR_OK;
	}
bad:
	return clr_err_set(e, CLR_ERR_PARAM, "invalid_setting", NULL,
			   "\"%.*s\" is not a CIDR, address, host name or .suffix",
			   (int)(n > 64 ? 64 : n), s);
full:
	return clr_err_set(e, CLR_ERR_PARAM, "invalid_setting", NULL,
			   "at most %d addresses and %d names", ALLOW_MAX, ALLOW_MAX);
}

enum clr_rc clr_redirect_allow_set(const char *list, struct clr_err *e)
{
	const char *p, *q;
	size_t n;
	enum clr_rc rc;
	struct allow_list saved = allow;

	memset(&allow, 0, sizeof(allow));
	if (list == NULL || *list == '\0' || strcmp(list, "0") == 0)
		return CLR_OK;
	if (strcmp(list, "1") == 0 || strcasecmp(list, "all") == 0) {
		allow.all = 1;
		return CLR_OK;
	}
	for (p = list;; p = q + 1) {
		q = strchr(p, ',');
		n = q != NULL ? (size_t)(q - p) : strlen(p);
		while (n > 0 && *p == ' ')
			p++, n--;
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if ((rc = allow_entry(p, n, e)) != CLR_OK) {
			allow = saved;
			return rc;
		}
		if (q == NULL)
			break;
	}
	return CLR_OK;
}

/* The host as written: after "scheme://", up to the port, path, query or end. */
static void raw_host(const char *uri, const char **h, size_t *n)
{
	const char *p = strstr(uri, "://"), *q;

	*h = p != NULL ? p + 3 : uri;
	if (**h == '[') {
		q = strchr(*h, ']');
		*n = q != NULL ? (size_t)(q - *h) + 1 : strlen(*h);
		return;
	}
	*n = strcspn(*h, ":/?#");
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
	const char *h, *why = NULL;
	unsigned char addr[16];
	size_t hn;
	int https, family;
	enum host_class cls;
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
	https = strcmp(scheme, "https") == 0;
	if (!https && strcmp(scheme, "http") != 0) {
		clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri", field,
			    "%s must use https (http only on a loopback host)", field);
		goto out;
	}
	raw_host(uri, &h, &hn);
	if (strncmp(uri, https ? "https://" : "http://", https ? 8 : 7) != 0) {
		clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri", field,
			    "%s must be written \"https://host/...\" (or "
			    "\"http://<loopback>/...\") in lower case",
			    field);
		goto out;
	}
	cls = class_host(h, hn, &family, addr, &why);
	/* libcurl must have read the same host (it is what the IdP will check). */
	if (cls == HOST_BAD ||
	    (h[0] != '[' && (strlen(host) != hn || strncasecmp(host, h, hn) != 0))) {
		clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri", field,
			    "%s host \"%.*s\" is %s", field, (int)(hn > 80 ? 80 : hn), h,
			    cls == HOST_BAD ? why : "not written in its plain form");
		goto out;
	}
	/* RFC 8252 s.7.3: plain http only for the loopback literals and localhost. */
	if (!https && !(cls == HOST_LOOPBACK &&
			(family == AF_INET || strcasecmp(host, "localhost") == 0 ||
			 (family == AF_INET6 && addr[15] == 1 && addr[0] == 0 && addr[10] == 0)))) {
		clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri", field,
			    "%s must use https (http only on a loopback host)", field);
		goto out;
	}
	if (cls == HOST_NONPUBLIC && !allowed(h, hn, family, addr)) {
		clr_err_set(e, CLR_ERR_PARAM, "invalid_redirect_uri", field,
			    "%s host \"%.*s\" is %s: only a public host (or loopback) is "
			    "accepted unless the operator allows it "
			    "(CLEARANCE_REDIRECT_ALLOW_PRIVATE)",
			    field, (int)(hn > 80 ? 80 : hn), h, why);
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
