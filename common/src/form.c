/*
 * form.c - application/x-www-form-urlencoded (see form.h).
 */
#include <stdlib.h>
#include <string.h>

#include "clearance/form.h"
#include "http_in_internal.h"

char *clr_form_escape(const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	char *o, *q;
	size_t i;

	if (len > (((size_t)-1) - 1) / 3 || (o = malloc(3 * len + 1)) == NULL)
		return NULL;
	q = o;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			*q++ = (char)c;
		} else if (c == ' ') {
			*q++ = '+';
		} else {
			*q++ = '%';
			*q++ = hex[c >> 4];
			*q++ = hex[c & 15];
		}
	}
	*q = '\0';
	return o;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int clr_pct_decode(const char *p, size_t n, char *out, size_t *outlen, int plus_space)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -1;
			hi = hexval(p[i + 1]);
			lo = hexval(p[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		} else if (c == '\0') {
			return -1;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	return 0;
}

/* The old name, kept for the parsers' tests and the fuzz target. */
int clr_in_pct_decode(const char *p, size_t n, char *out, size_t *outlen, int plus_space)
{
	return clr_pct_decode(p, n, out, outlen, plus_space);
}

enum clr_rc clr_form_value(const char *form, size_t len, const char *name, char **out, int *dup)
{
	size_t nlen = strlen(name), i = 0, klen;
	char kbuf[128];

	*out = NULL;
	if (dup != NULL)
		*dup = 0;
	while (i < len) {
		size_t end = i, eq;

		while (end < len && form[end] != '&')
			end++;
		for (eq = i; eq < end && form[eq] != '='; eq++)
			;
		klen = eq - i;
		/* A key longer than any name we look for cannot be one. */
		if (klen < sizeof(kbuf)) {
			if (clr_pct_decode(form + i, klen, kbuf, &klen, 1) != 0)
				goto bad;
			if (klen == nlen && memcmp(kbuf, name, nlen) == 0) {
				const char *v = eq < end ? form + eq + 1 : form + end;
				size_t vlen = (size_t)(form + end - v);
				char *s;

				if (*out != NULL) {
					if (dup != NULL)
						*dup = 1;
					return CLR_OK;
				}
				if ((s = malloc(vlen + 1)) == NULL)
					return CLR_ERR_NOMEM;
				if (clr_pct_decode(v, vlen, s, NULL, 1) != 0) {
					free(s);
					goto bad;
				}
				*out = s;
				if (dup == NULL)
					return CLR_OK;
			}
		}
		i = end + 1;
	}
	return CLR_OK;
bad:
	free(*out);
	*out = NULL;
	return CLR_ERR_PARAM;
}
