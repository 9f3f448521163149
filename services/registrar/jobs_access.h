/*
 * jobs_access.h - the access service's background jobs, run by the
 * registrar's worker next to the registrar's own kinds (they need its
 * drivers and registration operations, and the access service has none).
 *
 *   email          {to, template, vars}: one templated mail (mail.h)
 *   webhook        {webhook_id, event, data}: one signed delivery
 *   provision      {access_request_id}: register the request's client and
 *                  make the request active (or failed), mail the developer
 *   access_rotate  {access_request_id}: rotate the request's client secret
 *   client_update  {registration_id, redirect_uris}: RFC 7592 update after
 *                  an app's redirect URIs changed
 */
#ifndef CLEARANCE_JOBS_ACCESS_H
#define CLEARANCE_JOBS_ACCESS_H

#include <stddef.h>
#include "clearance/jobs.h"

extern const struct clr_job_kind acc_job_kinds[];
extern const size_t acc_njob_kinds;

/*
 * The registrar's kinds followed by the access kinds, in one static table
 * (built on the first call; call it once from main before threads start).
 */
const struct clr_job_kind *reg_all_job_kinds(size_t *n);

#endif
