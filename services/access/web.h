/*
 * web.h - what the web portal adds to the access service: the session
 * cookie at login and logout, e-mail verification, password reset and
 * change (single-use, expiring tokens stored as SHA-256 hashes in
 * account_tokens), and one OpenAPI document per product.
 */
#ifndef CLEARANCE_ACCESS_WEB_H
#define CLEARANCE_ACCESS_WEB_H

#include "clearance/fields.h"
#include "access.h"

/* 1 when a login asks for a cookie session ("X-Clearance-Session: cookie"). */
int acc_web_wants_cookie(const struct clr_req *r);

/* Sets (token borrowed) or clears the session cookie on the response. */
void acc_web_set_cookie(struct clr_req *r, const char *token, long ttl_s);
void acc_web_clear_cookie(struct clr_req *r);

/*
 * After a sign-up inserted `account` (borrowed, in the caller's tx):
 * stores a verification token and enqueues the mail.
 */
enum clr_rc acc_web_signup_verify(struct clr_req *r, const json_t *account,
				  struct clr_err *e) CLR_MUSTCHECK;

/*
 * Sign-up for an address that has an account: answers exactly like a new
 * sign-up (201, same shape) and mails the owner instead.
 */
void acc_web_signup_existing(struct clr_req *r, const char *email, const char *name);

/*
 * For developer-only actions that need a verified address: 1 if verified
 * (or the caller is an admin); else answers 403 email_unverified, returns 0.
 */
int acc_web_require_verified(struct clr_req *r);

/* Field tables of the JSON-body routes above, checked by dispatch. */
extern const struct clr_body acc_body_verify_confirm, acc_body_reset_request,
    acc_body_reset_confirm, acc_body_password_change;

void acc_h_verify_confirm(struct clr_req *r);
void acc_h_verify_status(struct clr_req *r);
void acc_h_verify_resend(struct clr_req *r);
void acc_h_reset_request(struct clr_req *r);
void acc_h_reset_confirm(struct clr_req *r);
void acc_h_password_change(struct clr_req *r);
void acc_h_openapi_put(struct clr_req *r);
void acc_h_openapi_get(struct clr_req *r);
void acc_h_openapi_delete(struct clr_req *r);

#endif
