/*
 * apps.h - the app operations, run by the /v1/apps routes (h_apps.c) and
 * by an access request that brings a new app along (h_requests.c).
 */
#ifndef CLEARANCE_ACC_APPS_H
#define CLEARANCE_ACC_APPS_H

#include <jansson.h>
#include "clearance/db.h"
#include "clearance/fields.h"
#include "clearance/rc.h"

/* Field tables of POST and PATCH /v1/apps (routes.c lists them). */
extern const struct clr_body acc_body_app_create, acc_body_app_patch;

/*
 * Checks an app body: known fields only (name, description,
 * redirect_uris), lengths, each redirect URI by the common rule, none
 * twice.  partial: nothing is required (PATCH).
 */
enum clr_rc acc_app_check(const json_t *body, int partial, struct clr_err *e) CLR_MUSTCHECK;

/* Checks body and inserts the app for developer dev_id (in a tx); *out its view (new). */
enum clr_rc acc_app_insert(struct clr_db *db, const char *dev_id, const json_t *body, json_t **out,
			   struct clr_err *e) CLR_MUSTCHECK;

/*
 * Queues the registrar's client_update job (RFC 7592) for every live client
 * of app_id after its redirect URIs changed to uris (borrowed).  In a tx.
 */
enum clr_rc acc_app_update_clients(struct clr_db *db, const char *app_id, const json_t *uris,
				   struct clr_err *e) CLR_MUSTCHECK;

#endif
