/*
 * rc.c - names for enum clr_rc and the clr_err filler.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clearance/rc.h"

/* Parallel to enum clr_rc; the names are stable because logs and metrics use them. */
static const char *const rc_names[CLR_RC__MAX] = {
    [CLR_OK] = "ok",
    [CLR_ERR_PARAM] = "param",
    [CLR_ERR_NOMEM] = "nomem",
    [CLR_ERR_NOTFOUND] = "not_found",
    [CLR_ERR_DENIED] = "denied",
    [CLR_ERR_FORBIDDEN] = "forbidden",
    [CLR_ERR_CONFLICT] = "conflict",
    [CLR_ERR_TOOBIG] = "too_big",
    [CLR_ERR_DB] = "db",
    [CLR_ERR_UPSTREAM] = "upstream",
    [CLR_ERR_TIMEOUT] = "timeout",
    [CLR_ERR_INTERNAL] = "internal",
};

const char *clr_rc_name(enum clr_rc rc)
{
	if ((unsigned)rc >= CLR_RC__MAX || rc_names[rc] == NULL)
		return "unknown";
	return rc_names[rc];
}

enum clr_rc clr_rc_from_name(const char *name)
{
	unsigned i;

	for (i = 0; name != NULL && i < CLR_RC__MAX; i++)
		if (rc_names[i] != NULL && strcmp(rc_names[i], name) == 0)
			return (enum clr_rc)i;
	return CLR_ERR_INTERNAL;
}

enum clr_rc clr_err_set(struct clr_err *e, enum clr_rc rc, const char *error, const char *field,
			const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return rc;
	e->rc = rc;
	/* snprintf truncates safely; an over-long code is a bug, not a crash. */
	snprintf(e->error, sizeof(e->error), "%s", error != NULL ? error : "");
	snprintf(e->field, sizeof(e->field), "%s", field != NULL ? field : "");
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	} else {
		e->msg[0] = '\0';
	}
	return rc;
}
