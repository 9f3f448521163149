/*
 * form.h - application/x-www-form-urlencoded, both ways, for every caller:
 * token requests and Basic credentials sent to IdPs (RFC 6749 s.2.3.1 and
 * appendix B), form bodies received (RFC 7662), and query strings.
 *
 * Encoding: the unreserved characters A-Z a-z 0-9 - . _ ~ stay as they
 * are, a space becomes '+', every other byte %XX (upper-case hex) - the
 * WHATWG form serializer that RFC 6749 appendix B refers to.  Decoding
 * accepts '+' and %20 for a space and refuses a malformed escape or a
 * decoded NUL.
 */
#ifndef CLEARANCE_FORM_H
#define CLEARANCE_FORM_H

#include <stddef.h>
#include "clearance/rc.h"

/* Encodes len bytes of s.  New string (free()), or NULL when out of memory. */
char *clr_form_escape(const char *s, size_t len);

/*
 * The value of `name` in the form (or query string) text [form, form+len),
 * decoded: *out new (free()), NULL when absent.  A pair without '=' has the
 * value "".  *dup (may be NULL) is set to 1 when the name occurs more than
 * once (the first value is returned; RFC 6749 s.3.1 callers refuse it).
 * CLR_ERR_PARAM on a malformed escape, CLR_ERR_NOMEM.
 */
enum clr_rc clr_form_value(const char *form, size_t len, const char *name, char **out,
			   int *dup) CLR_MUSTCHECK;

/*
 * Percent-decodes n bytes of p into out (room for n + 1), NUL-terminated,
 * length in *outlen (may be NULL); plus_space turns '+' into ' ' (form
 * text; not in paths).  -1 on a malformed escape or a decoded NUL.
 */
int clr_pct_decode(const char *p, size_t n, char *out, size_t *outlen, int plus_space);

#endif
