/*
 * h_webhooks.h - the webhook routes (h_webhooks.c)
 */
#ifndef CLEARANCE_ACC_H_WEBHOOKS_H
#define CLEARANCE_ACC_H_WEBHOOKS_H

#include "clearance/fields.h"
#include "clearance/http_in.h"

void acc_h_webhooks_create(struct clr_req *r);
void acc_h_webhooks_list(struct clr_req *r);
void acc_h_webhooks_get(struct clr_req *r);
void acc_h_webhooks_delete(struct clr_req *r);

void acc_h_webhooks_patch(struct clr_req *r);
void acc_h_webhooks_rotate(struct clr_req *r);
void acc_h_webhooks_test(struct clr_req *r);
void acc_h_webhooks_deliveries(struct clr_req *r);

/* Checks the url and events a body gives (either may be absent). */
enum clr_rc acc_webhook_check(const json_t *body, struct clr_err *e) CLR_MUSTCHECK;

struct acc_app;

/*
 * A new signing secret for webhook id: *secret (new, wipe with
 * acc_webhook_secret_free) and *sealed, its sealed form to store (new).
 */
enum clr_rc acc_webhook_secret_new(const struct acc_app *app, const char *id, char **secret,
				   char **sealed, struct clr_err *e) CLR_MUSTCHECK;
/* Wipes and frees what acc_webhook_secret_new made (either may be NULL). */
void acc_webhook_secret_free(char *secret, char *sealed);
/* Answers out (steals) with the secret added, not to be cached. */
void acc_webhook_secret_reply(struct clr_req *r, int status, json_t *out_take, const char *secret);

/* Field tables of its json_body routes (routes.c lists them). */
extern const struct clr_body acc_body_webhook_create;
extern const struct clr_body acc_body_webhook_patch;

#endif
