/*
 * fuzz_http_in.c - libFuzzer target for the request-parsing pieces of
 * http_in.c (common/src/http_in_internal.h).  The first input byte picks
 * the function, the rest is its input (NUL-terminated copy, as FastCGI
 * params are):
 *   0: clr_in_content_length (max from byte 1), 1-2: clr_in_route_match
 *   against the route patterns the services use, 3: clr_in_pct_decode,
 *   4: clr_in_ctype_is_json.
 *
 * Properties: a CONTENT_LENGTH that passes is all digits and at most max;
 * a route match yields non-empty parameter spans inside the path without
 * '/', and a literal-only pattern matches only itself; percent-decoding
 * never grows its input and never yields a NUL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/http_in.h"
#include "../../common/src/http_in_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const patterns[] = {
    "/auth",
    "/v1/introspect",
    "/v1/providers/{}/jwks",
    "/v1/providers/{}/jwks/refresh",
    "/v1/introspection-clients/{}",
    "/v1/{}/{}/{}/{}",
    "/v1/{}/{}/{}/{}/{}",
};

static void fuzz_route(const char *path)
{
	struct clr_in_span sp[CLR_REQ_MAX_PARAMS];
	size_t plen = strlen(path);
	int n;

	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		n = -1;
		if (!clr_in_route_match(patterns[i], path, sp, &n)) {
			if (n != 0)
				abort();
			continue;
		}
		if (n < 0 || n > CLR_REQ_MAX_PARAMS)
			abort();
		if (n == 0 && strcmp(patterns[i], path) != 0)
			abort();
		for (int k = 0; k < n; k++) {
			if (sp[k].len == 0 || sp[k].off + sp[k].len > plen ||
			    memchr(path + sp[k].off, '/', sp[k].len) != NULL)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *out;
	size_t n, olen = 0;
	long max;

	if (size < 1)
		return 0;
	n = size - 1;
	s = malloc(n + 1);
	out = malloc(n + 1);
	if (s == NULL || out == NULL)
		abort();
	memcpy(s, data + 1, n);
	s[n] = '\0';
	switch (data[0] % 5) {
	case 0: {
		size_t v = 7;
		max = n > 0 ? (long)((unsigned char)s[0]) * 1000003L : 65536L;
		enum clr_rc rc = clr_in_content_length(s, max, &v);
		if (rc == CLR_OK) {
			if ((long long)v > max)
				abort();
			for (const char *p = s; *p; p++)
				if (*p < '0' || *p > '9')
					abort();
		} else if (rc != CLR_ERR_PARAM && rc != CLR_ERR_TOOBIG) {
			abort();
		}
		break;
	}
	case 1:
	case 2:
		fuzz_route(s);
		break;
	case 3:
		if (clr_in_pct_decode(s, strlen(s), out, &olen, data[0] & 8) == 0) {
			if (olen > strlen(s) || strlen(out) != olen)
				abort();
		}
		break;
	default:
		(void)clr_in_ctype_is_json(s);
		break;
	}
	free(s);
	free(out);
	return 0;
}
