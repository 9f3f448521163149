/*
 * catalogue.h - the product and plan operations, run by the catalogue
 * routes (h_catalogue.c) inside the caller's transaction: the caller
 * begins, writes its audit row next to the change, and commits, so a bad
 * id leaves nothing half-applied.
 */
#ifndef CLEARANCE_ACC_CATALOGUE_H
#define CLEARANCE_ACC_CATALOGUE_H

#include <jansson.h>
#include "clearance/db.h"
#include "clearance/rc.h"

/* What a catalogue operation acts on. */
enum acc_cat_kind { ACC_CAT_PRODUCT, ACC_CAT_PLAN };

/* "product" or "plan". */
const char *acc_cat_name(enum acc_cat_kind k);

/*
 * Checks body (already shaped by the route's field table: the rules that
 * span fields or rows) and stores it: a new row when id is NULL, else the
 * given fields of row id, locked first.  A product's plan and client-type
 * links are replaced as a whole when given.  On CLR_OK *out is the row's
 * view (new) and *created says whether it was inserted.  In a tx.
 * Errors: CLR_ERR_PARAM (field named), CLR_ERR_NOTFOUND, CLR_ERR_CONFLICT
 * (name taken), database errors.
 */
enum clr_rc acc_cat_store(struct clr_db *db, enum acc_cat_kind k, const char *id,
			  const json_t *body, json_t **out, int *created,
			  struct clr_err *e) CLR_MUSTCHECK;

/*
 * Soft-deletes row id, refused (CLR_ERR_CONFLICT) while access requests for
 * it are pending or active.  CLR_ERR_NOTFOUND when there is none.  In a tx.
 */
enum clr_rc acc_cat_remove(struct clr_db *db, enum acc_cat_kind k, const char *id,
			   struct clr_err *e) CLR_MUSTCHECK;

#endif
