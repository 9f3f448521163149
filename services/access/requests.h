/*
 * requests.h - the access-request operations (the state machine):
 *
 *   pending -> provisioning -> active -> revoked
 *                          \-> failed -> (retry) provisioning
 *   pending -> rejected
 *
 * The access service writes only its own tables and the jobs queue.  The
 * IdP work is the registrar's: approval queues its `provision` job (with a
 * registration id chosen here), revocation its `deregister` job.  The
 * registrar reports back through its registrations rows; a trigger
 * (sql/010) queues `request_settle`, which acc_req_settle runs.
 *
 * Handlers (h_requests.c, h_apps.c) parse, call one of these, render.
 */
#ifndef CLEARANCE_ACC_REQUESTS_H
#define CLEARANCE_ACC_REQUESTS_H

#include <jansson.h>
#include "clearance/db.h"
#include "clearance/jobs.h"
#include "clearance/rc.h"

/*
 * Moves request id to provisioning with a new registration id and queues
 * the registrar's provision job (client metadata from the app, product and
 * plan).  `by` is recorded as decided_by.  In the caller's transaction.
 */
enum clr_rc acc_req_provision(struct clr_db *db, const char *id, const char *by,
			      struct clr_err *e) CLR_MUSTCHECK;

/*
 * Ends a live request (in the caller's tx; the row is locked here): it
 * becomes revoked, its registration (if any) is queued for the registrar's
 * deregister job, which takes it out of service first.  Mails the
 * developer when it was active; emits access_request.revoked.
 */
enum clr_rc acc_req_revoke(struct clr_db *db, const char *id, const char *reason, const char *by,
			   struct clr_err *e) CLR_MUSTCHECK;

/* Queues the mail `tpl` (may be NULL) and the webhook `event` (may be NULL) about rq. */
enum clr_rc acc_req_notify(struct clr_db *db, const json_t *rq, const char *tpl, const char *event,
			   const char *reason) CLR_MUSTCHECK;

/* Template variables for the mails about request `rq` (its JSON view); new. */
json_t *acc_req_mail_vars(const json_t *rq, const char *reason);

/*
 * The request_settle job: registration `reg_id`, which request `id` asked
 * for, changed.  Makes the request active (mail, credential.created) or
 * failed, records the registrar's last error, emits credential.rotated for
 * a rotation, and queues the deregistration of a client whose request was
 * withdrawn meanwhile.  Own transaction.
 */
enum clr_rc acc_req_settle(struct clr_db *db, const char *id, const char *reg_id, int rotated,
			   struct clr_err *e) CLR_MUSTCHECK;

#endif
