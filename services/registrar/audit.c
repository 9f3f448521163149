/*
 * audit.c - registrar changes in audit_log, the shared append-only log
 * (sql/005, 057) that access lists at GET /v1/audit.
 *
 * One table names each changing route's handler, action and object type,
 * so no handler carries audit code and a new changing route is audited by
 * adding one line here and pointing its route at reg_audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit.h"
#include "clearance/auth.h"
#include "clearance/log.h"
#include "grants.h"
#include "h_client_types.h"
#include "h_providers.h"
#include "h_reconcile.h"
#include "h_registrations.h"

struct audited_route {
	const char *method, *pattern;
	clr_handler fn;
	const char *action, *target_type;
	int target_is_param; /* the path's {} names the object itself */
};

static const struct audited_route audited[] = {
    {"POST", "/v1/providers", reg_h_providers_create, "provider.create", "provider", 0},
    {"PATCH", "/v1/providers/{}", reg_h_providers_patch, "provider.update", "provider", 1},
    {"DELETE", "/v1/providers/{}", reg_h_providers_delete, "provider.delete", "provider", 1},
    {"POST", "/v1/providers/{}/discover", reg_h_providers_discover, "provider.discover", "provider",
     1},
    {"POST", "/v1/providers/{}/client-types", reg_h_ctypes_create, "client_type.create",
     "client_type", 0},
    {"PATCH", "/v1/client-types/{}", reg_h_ctypes_patch, "client_type.update", "client_type", 1},
    {"DELETE", "/v1/client-types/{}", reg_h_ctypes_delete, "client_type.delete", "client_type", 1},
    {"POST", "/v1/registrations", reg_h_regs_create, "registration.create", "registration", 0},
    {"PUT", "/v1/registrations/{}", reg_h_regs_put, "registration.update", "registration", 1},
    {"DELETE", "/v1/registrations/{}", reg_h_regs_delete, "registration.delete", "registration", 1},
    /* The answer shows the new secret once: a secret revealed and rotated. */
    {"POST", "/v1/registrations/{}/rotate-secret", reg_h_regs_rotate, "registration.rotate_secret",
     "registration", 1},
    {"PUT", "/v1/registrations/{}/grants", reg_h_grants_put, "registration.grants", "registration",
     1},
    /* An admin settles a parked outcome: adopted or declared gone. */
    {"POST", "/v1/registrations/{}/resolve", reg_h_regs_resolve, "registration.resolve",
     "registration", 1},
    /* The secret of an async registration or rotation, shown once. */
    {"POST", "/v1/registrations/{}/client-secret", reg_h_regs_secret,
     "registration.secret_revealed", "registration", 1},
    /* Reconcile settings (policy, listing credential) and an operator's run. */
    {"PUT", "/v1/providers/{}/reconcile", reg_h_reconcile_put, "provider.reconcile_settings",
     "provider", 1},
    {"POST", "/v1/providers/{}/reconcile", reg_h_reconcile_run, "provider.reconcile", "provider",
     1},
};
#define NAUDITED (sizeof(audited) / sizeof(audited[0]))

/* {"name": ..., "parent_id": ...} from what the request named; NULL if nothing. */
static json_t *detail_of(const struct clr_req *r, const struct audited_route *a)
{
	static const char *const names[] = {"name", "display_name", "client_name"};
	json_t *d = json_object(), *v;

	if (d == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		v = json_object_get(r->json, names[i]);
		if (json_is_string(v) && json_string_length(v) <= 200) {
			json_object_set(d, "name", v);
			break;
		}
	}
	if (!a->target_is_param && r->nparams > 0)
		json_object_set_new(d, "parent_id", json_string(r->params[0]));
	return d;
}

static void audit_row(struct clr_req *r, const struct audited_route *a)
{
	static const char sql[] = "INSERT INTO audit_log (actor_role, actor_id, actor_name, action,"
				  " target_type, target_id, detail, request_id)"
				  " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)";
	const char *p[8];
	json_t *d = detail_of(r, a);
	char *ds = d != NULL ? json_dumps(d, JSON_COMPACT) : NULL;

	p[0] = clr_role_name(r->who.role);
	p[1] = r->who.subject_id[0] != '\0' ? r->who.subject_id : NULL;
	p[2] = r->who.name[0] != '\0' ? r->who.name : r->who.token_id;
	p[3] = a->action;
	p[4] = a->target_type;
	p[5] = a->target_is_param && r->nparams > 0 ? r->params[0] : NULL;
	p[6] = ds != NULL ? ds : "{}";
	p[7] = r->reqid[0] != '\0' ? r->reqid : NULL;
	if (clr_db_exec_sql(r->db, sql, 8, p, NULL) != CLR_OK)
		clr_log_req(r, CLR_LOG_ERROR, "audit row for %s could not be written", a->action);
	free(ds);
	json_decref(d);
}

void reg_audited(struct clr_req *r)
{
	const struct audited_route *a = NULL;
	int st;

	for (size_t i = 0; i < NAUDITED && a == NULL; i++)
		if (strcmp(audited[i].method, r->method) == 0 &&
		    strcmp(audited[i].pattern, r->route) == 0)
			a = &audited[i];
	if (a == NULL) {
		/* routes.c points a route here that the table does not name: a bug. */
		clr_log_req(r, CLR_LOG_ERROR, "bug: %s %s has no audit entry", r->method, r->route);
		clr_resp_error(r, 500, "server_error", "route not configured");
		return;
	}
	a->fn(r);
	st = clr_resp_status(r);
	if (st >= 200 && st < 300)
		audit_row(r, a);
}
