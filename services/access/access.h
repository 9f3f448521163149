/*
 * access.h - internals of the access service shared by its files: the
 * application context, the statement table, request helpers and the
 * handlers.  Nothing here is part of libclearance.
 *
 * Visibility rule every handler keeps: a developer's lookups always carry
 * the developer's id in the WHERE clause, so another developer's object is
 * simply "not found" (404), never "forbidden" (which would confirm that it
 * exists).
 */
#ifndef CLEARANCE_ACCESS_H
#define CLEARANCE_ACCESS_H

#include <stddef.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "clearance/rc.h"
#include "clearance/config.h"
#include "clearance/db.h"
#include "clearance/http_in.h"
#include "clearance/seal.h"

struct acc_app {
	const struct clr_config *cfg;
	const struct clr_sealer *sealer;
};

/* store.c */
extern const struct clr_db_stmt acc_stmts[];
extern const size_t acc_nstmts;

/* routes.c: the routes and the field tables dispatch checks first */
extern const struct clr_route acc_routes[];
extern const size_t acc_nroutes;
extern const struct clr_route_body acc_route_bodies[];
extern const size_t acc_nroute_bodies;

/* The bodies of the json_body routes (next to each handler's field table). */
extern const struct clr_body acc_body_signup, acc_body_login, acc_body_dev_patch;
extern const struct clr_body acc_body_product_create, acc_body_product_patch;
extern const struct clr_body acc_body_plan_create, acc_body_plan_patch;
extern const struct clr_body acc_body_app_create, acc_body_app_patch;
extern const struct clr_body acc_body_request_create, acc_body_request_reject;
extern const struct clr_body acc_body_webhook_create;

/* ---- util.c: the database and audit helpers the handlers share ---------- */

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

/* ---- handlers ------------------------------------------------------------ */

void acc_h_signup(struct clr_req *r);
void acc_h_devs_list(struct clr_req *r);
void acc_h_devs_get(struct clr_req *r);
void acc_h_devs_patch(struct clr_req *r);
void acc_h_login(struct clr_req *r);
void acc_h_logout(struct clr_req *r);
void acc_h_me(struct clr_req *r);

void acc_h_products_create(struct clr_req *r);
void acc_h_products_list(struct clr_req *r);
void acc_h_products_get(struct clr_req *r);
void acc_h_products_patch(struct clr_req *r);
void acc_h_products_delete(struct clr_req *r);
void acc_h_plans_create(struct clr_req *r);
void acc_h_plans_list(struct clr_req *r);
void acc_h_plans_get(struct clr_req *r);
void acc_h_plans_patch(struct clr_req *r);
void acc_h_plans_delete(struct clr_req *r);
void acc_h_catalogue(struct clr_req *r);

void acc_h_apps_create(struct clr_req *r);
void acc_h_apps_list(struct clr_req *r);
void acc_h_apps_get(struct clr_req *r);
void acc_h_apps_patch(struct clr_req *r);
void acc_h_apps_delete(struct clr_req *r);
void acc_h_creds_get(struct clr_req *r);
void acc_h_creds_rotate(struct clr_req *r);

void acc_h_reqs_create(struct clr_req *r);
void acc_h_reqs_list(struct clr_req *r);
void acc_h_reqs_get(struct clr_req *r);
void acc_h_reqs_approve(struct clr_req *r);
void acc_h_reqs_reject(struct clr_req *r);
void acc_h_reqs_revoke(struct clr_req *r);
void acc_h_reqs_retry(struct clr_req *r);

void acc_h_webhooks_create(struct clr_req *r);
void acc_h_webhooks_list(struct clr_req *r);
void acc_h_webhooks_get(struct clr_req *r);
void acc_h_webhooks_delete(struct clr_req *r);
void acc_h_audit_list(struct clr_req *r);

#endif
