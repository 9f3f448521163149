/*
 * util.h - the database, role and audit helpers the access handlers and
 * operations share (util.c).
 */
#ifndef CLEARANCE_ACC_UTIL_H
#define CLEARANCE_ACC_UTIL_H

#include <jansson.h>
#include "clearance/db.h"
#include "clearance/http_in.h"
#include "clearance/rc.h"

/*
 * Runs statement `name` whose single column is JSON text (built by
 * PostgreSQL).  One row expected: *out is the parsed value (new).
 * No row: CLR_ERR_NOTFOUND.
 */
enum clr_rc acc_db_json(struct clr_db *db, const char *name, int n, const char *const *v,
			json_t **out, struct clr_err *e) CLR_MUSTCHECK;

/* Same, for a statement that returns one JSON array (json_agg) row. */
enum clr_rc acc_db_json_list(struct clr_db *db, const char *name, int n, const char *const *v,
			     json_t **out, struct clr_err *e) CLR_MUSTCHECK;

/* Runs a statement, ignoring rows; maps failures into e with msg `what`. */
enum clr_rc acc_db_do(struct clr_db *db, const char *name, int n, const char *const *v,
		      int *affected, const char *what, struct clr_err *e) CLR_MUSTCHECK;

int acc_is_admin(const struct clr_req *r);
int acc_is_dev(const struct clr_req *r);
/* The developer's account id, or NULL for admins. */
const char *acc_dev_id(const struct clr_req *r);

/*
 * acc_audit with an explicit actor, for requests without a principal
 * (logins: the account that logged in, or "none" and the address tried).
 * Steals detail_take.  Login callers ignore the result: a failed audit
 * insert (logged) must not change a login's answer.
 */
enum clr_rc acc_audit_as(struct clr_req *r, const char *role, const char *actor_id,
			 const char *actor_name, const char *action, const char *target_type,
			 const char *target_id, json_t *detail_take);
/* Audit row (inside the caller's transaction when one is open). */
enum clr_rc acc_audit(struct clr_req *r, const char *action, const char *target_type,
		      const char *target_id, json_t *detail_take) CLR_MUSTCHECK;

/* Enqueues one `webhook` job per webhook subscribed to event (in a tx). */
enum clr_rc acc_emit(struct clr_db *db, const char *event, const json_t *data) CLR_MUSTCHECK;

/* Enqueues one `email` job (in a tx).  vars borrowed. */
enum clr_rc acc_mail(struct clr_db *db, const char *to, const char *tpl,
		     const json_t *vars) CLR_MUSTCHECK;

/* Parses an optional JSON object body of a route declared without json_body. */
enum clr_rc acc_optional_body(struct clr_req *r, json_t **out, struct clr_err *e) CLR_MUSTCHECK;

#endif
