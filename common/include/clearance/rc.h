/*
 * rc.h - the one error convention of Clearance.
 *
 * Every fallible function returns enum clr_rc and hands results back through
 * out-parameters.  Validators also fill a struct clr_err so the HTTP layer can
 * say which field was wrong; http_in maps clr_rc to a status with one table.
 */
#ifndef CLEARANCE_RC_H
#define CLEARANCE_RC_H

#include <stddef.h>

#define CLR_MUSTCHECK __attribute__((warn_unused_result))
#define CLR_PRINTF(a, b) __attribute__((format(printf, a, b)))

enum clr_rc {
	CLR_OK = 0,
	CLR_ERR_PARAM,	   /* caller's input is wrong: 400 */
	CLR_ERR_NOMEM,	   /* allocation failed: 500 */
	CLR_ERR_NOTFOUND,  /* no such object: 404 */
	CLR_ERR_DENIED,	   /* authentication missing or wrong: 401 */
	CLR_ERR_FORBIDDEN, /* authenticated but not allowed: 403 */
	CLR_ERR_CONFLICT,  /* state does not allow it: 409 */
	CLR_ERR_TOOBIG,	   /* body or field over its cap: 413 */
	CLR_ERR_DB,	   /* PostgreSQL failed: 503 */
	CLR_ERR_UPSTREAM,  /* IdP or other remote answered wrongly: 502 */
	CLR_ERR_TIMEOUT,   /* remote did not answer in time: 504 */
	CLR_ERR_INTERNAL,  /* a bug or an impossible state: 500 */
	CLR_RC__MAX
};

/* Stable lower-case name of rc ("param", "not_found", ...).  Never NULL. */
const char *clr_rc_name(enum clr_rc rc);
/* The rc clr_rc_name gave `name`; CLR_ERR_INTERNAL for NULL or an unknown name. */
enum clr_rc clr_rc_from_name(const char *name);

/*
 * Error detail filled by validators and remote calls, modelled on jansson's
 * json_error_t.  `error` is an RFC 6749/7591 style code such as
 * "invalid_request" or "invalid_client_metadata"; `msg` a human sentence that
 * never contains a secret.
 */
struct clr_err {
	enum clr_rc rc;
	char error[48];
	char field[48];
	char msg[240];
};

/* Set *e (if e is not NULL) and return rc, for `return clr_err_set(...)`. */
enum clr_rc clr_err_set(struct clr_err *e, enum clr_rc rc, const char *error, const char *field,
			const char *fmt, ...) CLR_PRINTF(5, 6);

/* Length-carrying byte string for wire data; p is borrowed. */
struct clr_str {
	const char *p;
	size_t len;
};

#endif
