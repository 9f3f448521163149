/*
 * fields.h - the one checker of JSON request bodies: a table of the fields
 * a route accepts (kcgi's kvalid idea, STYLE.md), checked before any
 * handler code runs.  A route declares its table (struct clr_body) in its
 * route entry and http_in's dispatch checks r->json against it; handlers
 * that read a nested object call clr_fields_check themselves.
 */
#ifndef CLEARANCE_FIELDS_H
#define CLEARANCE_FIELDS_H

#include <stddef.h>
#include <jansson.h>
#include "clearance/rc.h"

/* CLR_FT_OBJARR: an array of at most maxitems objects; their members are the handler's. */
enum clr_ftype { CLR_FT_STR, CLR_FT_BOOL, CLR_FT_STRARR, CLR_FT_INT, CLR_FT_OBJ, CLR_FT_OBJARR };

/* One accepted body field. */
struct clr_field {
	const char *name;
	enum clr_ftype type;
	int required;	 /* unless the check is partial (PATCH) */
	int nullable;	 /* JSON null accepted (clears an optional value) */
	size_t minlen;	 /* strings / array items; minimum for ints */
	size_t maxlen;	 /* strings / array items; maximum for ints */
	size_t maxitems; /* arrays */
	int multiline;	 /* \n, \r and \t allowed (descriptions, PEM) */
};

/* A route's body: its fields, and how failures are reported. */
struct clr_body {
	const struct clr_field *fields;
	size_t n;
	int partial;		/* nothing required, but at least one field given */
	const char *error_code; /* "error" for a bad value; NULL: invalid_request */
};

#define CLR_BODY(tbl, partial, code)                                                               \
	{                                                                                          \
		(tbl), sizeof(tbl) / sizeof((tbl)[0]), (partial), (code)                           \
	}

/*
 * Checks obj: an object, no unknown field (so status, owner or secrets can
 * never be smuggled in), the right types, lengths and item counts, no
 * control characters (nor NUL) in strings, the required ones present (not
 * null) unless partial; partial needs at least one field.  CLR_ERR_PARAM
 * with e naming the field.
 */
enum clr_rc clr_fields_check(const json_t *obj, const struct clr_body *spec,
			     struct clr_err *e) CLR_MUSTCHECK;

#endif
