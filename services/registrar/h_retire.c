/*
 * h_retire.c - retiring an orphaned registration.
 *
 * An orphaned registration is one Clearance could not delete at the IdP
 * (the IdP refused, or no registration access token is stored): its
 * deregistration job finished at once instead of retrying.  Once an admin
 * has removed the client at the IdP by hand, this marks the row deleted
 * (its client_id stays, so the gateway keeps refusing it) and writes an
 * audit row in the same statement, so neither happens without the other.
 * audit_log is the shared append-only log (sql/005): every service may
 * insert into it, none updates or deletes.
 */
#include <stdio.h>
#include <string.h>

#include "clearance/auth.h"
#include "clearance/log.h"
#include "h_retire.h"
#include "routes.h"

void reg_h_regs_retire(struct clr_req *r)
{
	static const char retire[] =
	    "WITH u AS (UPDATE registrations SET status = 'deleted',"
	    " client_secret_sealed = NULL, registration_access_token_sealed = NULL,"
	    " last_error = 'removed at the IdP by hand (retired by an admin)',"
	    " deleted_at = now(), revision = revision + 1, updated_at = now()"
	    " WHERE id = $1::uuid AND status = 'orphaned' RETURNING id, client_id, provider_id),"
	    " a AS (INSERT INTO audit_log (actor_role, actor_id, actor_name, action,"
	    " target_type, target_id, detail, request_id) SELECT $2, $3, $4,"
	    " 'registration.retire', 'registration', u.id::text,"
	    " jsonb_build_object('client_id', u.client_id, 'provider_id', u.provider_id), $5"
	    " FROM u)"
	    " SELECT count(*) FROM u";
	static const char status[] = "SELECT status FROM registrations WHERE id = $1::uuid";
	const char *id = clr_req_param_id(r, 0, "registration");
	const char *p[5];
	char msg[96];
	PGresult *res = NULL;
	struct clr_err e = {0};

	if (id == NULL)
		return;
	p[0] = id;
	p[1] = clr_role_name(r->who.role);
	p[2] = r->who.subject_id[0] != '\0' ? r->who.subject_id : NULL;
	p[3] = r->who.name[0] != '\0' ? r->who.name : r->who.token_id;
	p[4] = r->reqid[0] != '\0' ? r->reqid : NULL;
	if ((e.rc = clr_db_exec_sql(r->db, retire, 5, p, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "retiring the registration failed");
		goto fail;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "1") == 0) {
		clr_log_req(r, CLR_LOG_INFO, "registration %s retired (removed at the IdP by hand)",
			    id);
		PQclear(res);
		reg_get_one(r, "registration", "reg_rg_get");
		return;
	}
	PQclear(res);
	res = NULL;
	if ((e.rc = clr_db_exec_sql(r->db, status, 1, p, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "reading the registration failed");
		goto fail;
	}
	if (PQntuples(res) != 1)
		clr_resp_error(r, 404, "not_found", "no such registration");
	else {
		snprintf(msg, sizeof(msg),
			 "only an orphaned registration can be retired; this one is %.16s",
			 PQgetvalue(res, 0, 0));
		clr_resp_error(r, 409, "conflict", msg);
	}
	PQclear(res);
	return;
fail:
	PQclear(res);
	clr_resp_fail(r, &e);
}
