/*
 * registrations.c - the registration operations (see registrations.h),
 * which the /v1/registrations routes and the job worker both run.
 *
 * Rules the code keeps:
 *  - Nothing is stored when the IdP refuses or fails: the row is written
 *    only from what the IdP returned, after it returned it.  If that write
 *    fails, the new client is deleted at the IdP again (compensation).
 *  - Update, rotate and delete hold the row lock across the IdP call, so two
 *    requests never use the same registration access token concurrently
 *    (RFC 7592 IdPs rotate it on every use) and the newest one is committed
 *    in the same transaction as the metadata that came with it.
 *  - Views never select a sealed column.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/jobs.h"
#include "clearance/log.h"
#include "clearance/util.h"
#include "driver.h"
#include "reconcile.h"
#include "registrar.h"
#include "registrations.h"
#include "store.h"

/* ---- IdP error translation ------------------------------------------- */

/* Turns a driver error into the answer for the admin (or the job's error). */
static enum clr_rc idp_fail(const char *what, const struct clr_err *de, struct clr_err *e)
{
	switch (de->rc) {
	case CLR_ERR_DENIED:
		return clr_err_set(e, CLR_ERR_UPSTREAM, "idp_rejected", NULL,
				   "the IdP refused %s: %s", what, de->msg);
	case CLR_ERR_PARAM:
		return clr_err_set(e, CLR_ERR_PARAM,
				   strcmp(de->error, "invalid_redirect_uri") == 0
				       ? "invalid_redirect_uri"
				       : "invalid_client_metadata",
				   de->field[0] != '\0' ? de->field : NULL,
				   "the IdP refused the client metadata: %s", de->msg);
	case CLR_ERR_NOTFOUND:
		return clr_err_set(e, CLR_ERR_UPSTREAM, "idp_error", NULL,
				   "the IdP has no such endpoint or client: %s", de->msg);
	case CLR_ERR_TIMEOUT:
		return clr_err_set(e, CLR_ERR_TIMEOUT, "idp_unavailable", NULL,
				   "the IdP did not answer in time: %s", de->msg);
	case CLR_ERR_UPSTREAM:
		return clr_err_set(e, CLR_ERR_UPSTREAM, "idp_unavailable", NULL,
				   "the IdP failed: %s", de->msg);
	default:
		*e = *de;
		return de->rc;
	}
}

/* Stored values derived from an IdP result; all new. */
struct sealed_result {
	char *secret;
	char *rat;
	char *meta;
	char expires[24];
	int has_expires;
	int unknown; /* a secret without client_secret_expires_at: stored as NULL */
};

/* The client_secret_expires_at parameter: NULL for "unknown". */
static const char *expires_param(const struct sealed_result *s)
{
	return s->unknown ? NULL : s->expires;
}

static void sealed_clear(struct sealed_result *s)
{
	free(s->secret);
	free(s->rat);
	free(s->meta);
	memset(s, 0, sizeof(*s));
}

static enum clr_rc seal_result(const struct reg_app *app, const char *id,
			       struct drv_reg_result *res, struct sealed_result *s,
			       struct clr_err *e)
{
	memset(s, 0, sizeof(*s));
	if (reg_seal(app, "registrations.client_secret", id, res->client_secret, &s->secret, e) !=
		CLR_OK ||
	    reg_seal(app, "registrations.registration_access_token", id,
		     res->registration_access_token, &s->rat, e) != CLR_OK)
		goto fail;
	if (res->metadata != NULL) {
		/* Drivers strip these already; a second look costs nothing. */
		json_object_del(res->metadata, "client_secret");
		json_object_del(res->metadata, "registration_access_token");
		s->meta = json_dumps(res->metadata, JSON_COMPACT);
		if (s->meta == NULL) {
			clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
			goto fail;
		}
	}
	s->unknown = res->client_secret_expires_at == DRV_EXPIRES_UNKNOWN;
	snprintf(s->expires, sizeof(s->expires), "%lld",
		 s->unknown ? 0LL : res->client_secret_expires_at);
	s->has_expires = !s->unknown && res->client_secret_expires_at != 0;
	return CLR_OK;
fail:
	sealed_clear(s);
	return e->rc;
}

static char *dup_secret(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

/* Deletes a client the IdP just created but we could not keep. */
static enum clr_rc compensate(struct clr_http_client *http, const struct drv_provider *p,
			      const struct drv_reg_result *res)
{
	struct drv_reg_ref ref = {res->client_id, res->registration_client_uri,
				  res->registration_access_token};
	struct clr_err ce = {0};

	if (drv_delete(http, p, &ref, &ce) == CLR_OK) {
		clr_log(NULL, CLR_LOG_WARN,
			"client %s at provider %s deleted again: it could not "
			"be stored",
			res->client_id, p->id);
		return CLR_OK;
	}
	clr_log(NULL, CLR_LOG_ERROR,
		"client %s at provider %s could not be stored nor "
		"deleted at the IdP (%s): remove it there by hand",
		res->client_id, p->id, ce.msg);
	return ce.rc != CLR_OK ? ce.rc : CLR_ERR_UPSTREAM;
}

/*
 * A secret that expires gets a rotate job before it does (where the kind
 * can rotate; the statement checks), replacing any scheduled one; a new
 * secret that does not expire (replace set: after a rotation or update)
 * only cancels the old one.  Runs after the result is committed, in a
 * transaction of its own: a failure here loses no IdP answer, it is
 * logged and shows as a missing job.
 */
static void schedule_rotation(struct clr_db *db, const char *id, const struct sealed_result *s,
			      int replace)
{
	const char *p[2] = {id, s->has_expires ? s->expires : "0"};
	enum clr_rc rc;

	if (!s->has_expires && !replace)
		return;
	if ((rc = clr_db_begin(db)) == CLR_OK &&
	    (rc = clr_db_exec(db, "reg_rg_schedule_rotation", 2, p, NULL)) == CLR_OK)
		rc = clr_db_commit(db);
	clr_db_rollback(db);
	if (rc != CLR_OK)
		clr_log(NULL, CLR_LOG_WARN,
			"registration %s: its client secret expires at %s but no rotation "
			"could be scheduled",
			id, s->expires);
}

/*
 * RFC 7592 needs the registration access token the IdP issued with the
 * client; okta and http_bridge manage clients with the provider's own
 * credential.  Mirrors RG_MANAGEABLE in store.c, which the view shows.
 */
static enum clr_rc check_manageable(const struct reg_provider *pv, const struct reg_row *row,
				    const char *what, struct clr_err *e)
{
	if (pv->p.kind == DRV_IDP_OKTA || pv->p.kind == DRV_IDP_HTTP_BRIDGE ||
	    (row->rat != NULL && row->rat[0] != '\0'))
		return CLR_OK;
	return clr_err_set(e, CLR_ERR_CONFLICT, "not_manageable", NULL,
			   "the IdP answered this registration without a registration access "
			   "token (RFC 7592), so Clearance cannot %s the client there; change it "
			   "at the IdP by hand, or register a new client",
			   what);
}

/* ---- operations ---------------------------------------------------------- */

static json_t *view_of(struct clr_db *db, const char *id)
{
	const char *v[1] = {id};
	PGresult *res = NULL;
	json_t *o = NULL;

	if (clr_db_exec(db, "reg_rg_get", 1, v, &res) == CLR_OK && PQntuples(res) == 1)
		o = reg_row_json(res, 0);
	PQclear(res);
	return o;
}

/* Parks intent id as outcome_unknown with why; *view gets the row (new). */
static enum clr_rc park(struct clr_db *db, const char *id, const char *why, json_t **view,
			struct clr_err *e)
{
	const char *p[2] = {id, why};
	PGresult *pr = NULL;
	enum clr_rc rc;

	rc = clr_db_exec(db, "reg_rg_park", 2, p, &pr);
	if (rc == CLR_OK && PQntuples(pr) == 1 && view != NULL)
		*view = reg_row_json(pr, 0);
	PQclear(pr);
	if (rc != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "the unknown outcome could not be recorded");
	clr_log(NULL, CLR_LOG_WARN, "registration %s: outcome unknown, parked for an admin: %s", id,
		why);
	return CLR_OK;
}

/* Runs one statement of one parameter in a transaction of its own. */
static enum clr_rc exec_tx(struct clr_db *db, const char *stmt, const char *id)
{
	const char *p[1] = {id};
	enum clr_rc rc;

	if ((rc = clr_db_begin(db)) != CLR_OK)
		return rc;
	rc = clr_db_exec(db, stmt, 1, p, NULL);
	if (rc == CLR_OK)
		rc = clr_db_commit(db);
	clr_db_rollback(db);
	return rc;
}

#ifdef REG_TEST_HOOKS
#include <signal.h>
/*
 * Test-only build (make ... CFLAGS=-DREG_TEST_HOOKS): dies like kill -9
 * between the IdP's answer and COMMIT when the client name contains
 * $CLEARANCE_TEST_CRASH_BEFORE_COMMIT.  Not compiled into other builds.
 */
static void test_crash_hook(const char *client_name)
{
	const char *m = getenv("CLEARANCE_TEST_CRASH_BEFORE_COMMIT");

	if (m != NULL && m[0] != '\0' && client_name != NULL && strstr(client_name, m) != NULL)
		raise(SIGKILL);
}
#else
#define test_crash_hook(n) ((void)0)
#endif

enum clr_rc reg_op_register(const struct reg_app *app, struct clr_db *db,
			    struct clr_http_client *http, const char *pending_id,
			    const struct reg_request *req, json_t **view, char **secret,
			    struct clr_err *e)
{
	struct reg_ctype ct = {0};
	struct reg_provider pv = {0};
	struct reg_row row = {0};
	struct drv_reg_result res = {0};
	struct sealed_result s = {0};
	struct drv_reg_input in = {0};
	struct clr_err de = {0};
	json_t *uris = NULL;
	char *uris_s = NULL, *owner_s = NULL, id[37], why[700];
	PGresult *pr = NULL;
	const char *p[13];
	int in_tx = 0, registered = 0, maybe = 0, route = pending_id == NULL;
	enum clr_rc rc;

	*view = NULL;
	*secret = NULL;
	if (req->client_type_id == NULL || !clr_uuid_valid(req->client_type_id))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "client_type_id",
				   "client_type_id must be a client type's id");
	rc = reg_ctype_load(db, req->client_type_id, &ct, e);
	if (rc == CLR_ERR_NOTFOUND)
		rc = clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "client_type_id",
				 "client_type_id names no client type");
	if (rc != CLR_OK)
		goto out;
	if ((rc = reg_request_check(req, &ct, e)) != CLR_OK)
		goto out;
	if ((rc = reg_provider_load(app, db, ct.provider_id, 0, 1, &pv, e)) != CLR_OK)
		goto out;
	uris =
	    req->redirect_uris != NULL ? json_incref((json_t *)req->redirect_uris) : json_array();
	uris_s = uris != NULL ? json_dumps(uris, JSON_COMPACT) : NULL;
	owner_s = req->owner != NULL ? json_dumps(req->owner, JSON_COMPACT) : NULL;
	if (uris_s == NULL || (req->owner != NULL && owner_s == NULL)) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	if ((rc = clr_db_begin(db)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "database unavailable");
		goto out;
	}
	in_tx = 1;
	if (route) {
		/* The route's intent is a pending row of its own, like a job's. */
		if ((rc = clr_uuid_new(id)) != CLR_OK) {
			clr_err_set(e, rc, NULL, NULL, "no randomness for an id");
			goto out;
		}
		p[0] = id;
		p[1] = ct.id;
		p[2] = req->client_name;
		p[3] = uris_s;
		p[4] = req->scope;
		p[5] = owner_s;
		rc = clr_db_exec(db, "reg_rg_pending_insert", 6, p, &pr);
		if (rc == CLR_OK && PQntuples(pr) != 1)
			rc = CLR_ERR_NOTFOUND;
		PQclear(pr);
		pr = NULL;
		if (rc != CLR_OK) {
			clr_err_set(e, rc == CLR_ERR_NOTFOUND ? CLR_ERR_PARAM : rc,
				    "invalid_request", NULL,
				    "the registration could not be recorded");
			rc = e->rc;
			goto out;
		}
	} else {
		snprintf(id, sizeof(id), "%s", pending_id);
		rc = reg_row_load(app, db, id, 1, 0, &row, e);
		if (rc == CLR_ERR_NOTFOUND)
			rc = clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "registration_id",
					 "the pending registration %s does not exist", pending_id);
		if (rc != CLR_OK)
			goto out;
		if (strcmp(row.status, "active") == 0 ||
		    strcmp(row.status, "outcome_unknown") == 0) {
			/* A retried job whose earlier run committed, or parked: done already. */
			*view = view_of(db, pending_id);
			rc = CLR_OK;
			goto out;
		}
		if (strcmp(row.status, "pending") != 0) {
			rc = clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "registration_id",
					 "the registration is %s, not pending", row.status);
			goto out;
		}
		if (row.in_flight) {
			/*
			 * An earlier attempt asked the IdP and never recorded the
			 * answer (the registrar stopped, or the answer was lost).
			 * Asking again could leave a second client.  No driver can
			 * look a client up by our intent yet, so an admin decides.
			 */
			snprintf(
			    why, sizeof(why),
			    "outcome unknown: the attempt started at %s may have created a "
			    "client at the IdP, but its answer was never stored; resolve it "
			    "(POST /v1/registrations/%s/resolve: adopt the client or declare it "
			    "gone)",
			    row.attempt_at != NULL ? row.attempt_at : "?", id);
			if ((rc = park(db, id, why, view, e)) != CLR_OK)
				goto out;
			if ((rc = clr_db_commit(db)) != CLR_OK)
				clr_err_set(e, rc, NULL, NULL, "database error");
			in_tx = 0;
			/* Where the family lists tagged clients, the lost one is looked up. */
			if (rc == CLR_OK && reg_reconcile_lookup_adopt(app, db, http, &pv.p, id)) {
				json_decref(*view);
				*view = view_of(db, id);
			}
			goto out;
		}
	}
	/* The intent, durable before the IdP hears of it. */
	p[0] = id;
	rc = clr_db_exec(db, "reg_rg_attempt_mark", 1, p, &pr);
	if (rc == CLR_OK && PQntuples(pr) != 1)
		rc = CLR_ERR_CONFLICT;
	PQclear(pr);
	pr = NULL;
	if (rc == CLR_OK)
		rc = clr_db_commit(db);
	in_tx = 0;
	if (rc != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "the registration intent could not be recorded");
		goto out;
	}
	reg_row_release(&row);

	in.client_name = req->client_name;
	in.redirect_uris = uris;
	in.scope = req->scope;
	in.tag = id;
	rc = drv_register_outcome(http, &pv.p, &ct.ct, &in, &res, &maybe, &de);
	if (rc != CLR_OK) {
		rc = idp_fail("the initial access token", &de, e);
		if (de.rc != CLR_ERR_DENIED && (rc == CLR_ERR_UPSTREAM || rc == CLR_ERR_TIMEOUT))
			snprintf(e->msg, sizeof(e->msg),
				 "the IdP could not register the client: %.190s", de.msg);
		if (maybe) {
			snprintf(why, sizeof(why),
				 "outcome unknown: the IdP may have created a client but its "
				 "answer was lost (%.300s); resolve it (POST "
				 "/v1/registrations/%s/resolve)",
				 de.msg, id);
			/* Not parked (database away): the mark stays, the next attempt parks. */
			if (clr_db_begin(db) == CLR_OK && park(db, id, why, NULL, &de) == CLR_OK &&
			    clr_db_commit(db) != CLR_OK)
				clr_log(NULL, CLR_LOG_WARN, "registration %s: not parked", id);
			clr_db_rollback(db);
			snprintf(e->error, sizeof(e->error), "outcome_unknown");
			snprintf(e->msg, sizeof(e->msg),
				 "the IdP's answer was lost (%.100s); registration %s is parked "
				 "as outcome_unknown for an admin",
				 de.msg, id);
			if (reg_reconcile_lookup_adopt(app, db, http, &pv.p, id))
				snprintf(e->msg, sizeof(e->msg),
					 "the IdP's answer was lost, but the client it created was "
					 "found by its tag: registration %s adopted it",
					 id);
		} else if (exec_tx(db, route ? "reg_rg_forget" : "reg_rg_attempt_clear", id) !=
			   CLR_OK) {
			clr_log(NULL, CLR_LOG_WARN,
				"registration %s: the IdP refused, but the intent mark stays", id);
		}
		goto out;
	}
	registered = 1;
	if ((rc = seal_result(app, id, &res, &s, e)) != CLR_OK)
		goto out;
	if ((rc = clr_db_begin(db)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "database unavailable");
		goto out;
	}
	in_tx = 1;
	p[0] = id;
	p[1] = pv.p.id;
	p[2] = ct.id;
	p[3] = req->client_name;
	p[4] = uris_s;
	p[5] = req->scope;
	p[6] = owner_s;
	p[7] = res.client_id;
	p[8] = s.secret;
	p[9] = s.rat;
	p[10] = res.registration_client_uri;
	p[11] = expires_param(&s);
	p[12] = s.meta;
	rc = clr_db_exec(db, "reg_rg_activate", 13, p, &pr);
	/* Not pending any more (resolved meanwhile): never leave the client behind. */
	if (rc == CLR_OK && PQntuples(pr) != 1)
		rc = CLR_ERR_INTERNAL;
	if (rc == CLR_OK) {
		test_crash_hook(req->client_name);
		rc = clr_db_commit(db);
		in_tx = 0;
	}
	if (rc != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL,
			    "the client was registered at the IdP but could not be stored");
		goto out;
	}
	*view = reg_row_json(pr, 0);
	*secret = dup_secret(res.client_secret);
	registered = 0;
	if (*view == NULL || (res.client_secret != NULL && *secret == NULL)) {
		/* Stored fine; only the answer is lost.  Say so rather than pretend. */
		json_decref(*view);
		*view = NULL;
		free(*secret);
		*secret = NULL;
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	clr_log(NULL, CLR_LOG_INFO, "registration %s: client %s registered at provider %s", id,
		res.client_id, pv.p.id);
	schedule_rotation(db, id, &s, 0);
out:
	if (in_tx)
		clr_db_rollback(db);
	/*
	 * A unique violation means the IdP handed out a client_id we already
	 * hold: deleting "it" would delete the other registration's client.
	 * Otherwise the client is deleted again; only when that worked may a
	 * retry ask the IdP anew (the intent mark is cleared), else the mark
	 * stays and the next attempt parks the intent for an admin.
	 */
	if (registered && rc != CLR_ERR_CONFLICT) {
		if (compensate(http, &pv.p, &res) == CLR_OK) {
			if (exec_tx(db, route ? "reg_rg_forget" : "reg_rg_attempt_clear", id) !=
			    CLR_OK)
				clr_log(NULL, CLR_LOG_WARN,
					"registration %s: client deleted again, but the intent "
					"mark stays",
					id);
		} else {
			snprintf(why, sizeof(why),
				 "outcome unknown: the IdP created client %.200s but it could not "
				 "be stored nor deleted again; resolve it (POST "
				 "/v1/registrations/%s/resolve)",
				 res.client_id, id);
			if (clr_db_begin(db) == CLR_OK && park(db, id, why, NULL, &de) == CLR_OK &&
			    clr_db_commit(db) != CLR_OK)
				clr_log(NULL, CLR_LOG_WARN, "registration %s: not parked", id);
			clr_db_rollback(db);
		}
	} else if (registered) {
		clr_log(NULL, CLR_LOG_ERROR,
			"provider %s returned client_id %s that is already "
			"registered; not stored and not deleted",
			pv.p.id, res.client_id);
	}
	PQclear(pr);
	sealed_clear(&s);
	drv_reg_result_clear(&res);
	json_decref(uris);
	free(uris_s);
	free(owner_s);
	reg_row_release(&row);
	reg_provider_release(&pv);
	reg_ctype_release(&ct);
	return rc;
}

enum clr_rc reg_op_delete(const struct reg_app *app, struct clr_db *db,
			  struct clr_http_client *http, const char *id, int *orphaned,
			  json_t **view, struct clr_err *e)
{
	struct reg_row row = {0};
	struct reg_provider pv = {0};
	struct clr_err de = {0};
	PGresult *pr = NULL;
	const char *p[2] = {id, NULL};
	char why[sizeof(de.msg) + 40];
	enum clr_rc rc;

	*orphaned = 0;
	if (view != NULL)
		*view = NULL;
	if ((rc = clr_db_begin(db)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "database unavailable");
	if ((rc = reg_row_load(app, db, id, 1, 1, &row, e)) != CLR_OK)
		goto out;
	if (strcmp(row.status, "deleted") == 0) {
		if ((rc = clr_db_commit(db)) != CLR_OK)
			clr_err_set(e, rc, NULL, NULL, "database error");
		goto view;
	}
	if (row.client_id != NULL) {
		if ((rc = reg_provider_load(app, db, row.provider_id, 0, 1, &pv, e)) != CLR_OK)
			goto out;
		rc = drv_delete(http, &pv.p, &row.ref, &de);
	}
	if (rc == CLR_ERR_DENIED ||
	    (rc == CLR_ERR_CONFLICT && strcmp(de.field, "registration_access_token") == 0)) {
		/*
		 * The IdP will not take our word any more, or we hold no
		 * registration access token to ask with: retrying would loop
		 * forever.  An admin retires the row once the client is removed
		 * at the IdP by hand.
		 */
		snprintf(why, sizeof(why), "%s: %s",
			 rc == CLR_ERR_DENIED ? "the IdP refused the deletion"
					      : "cannot delete at the IdP",
			 de.msg);
		p[1] = why;
		rc = clr_db_exec(db, "reg_rg_orphaned", 2, p, &pr);
		*orphaned = 1;
		clr_log(NULL, CLR_LOG_WARN, "registration %s (client %s) orphaned: %s", id,
			row.client_id, de.msg);
	} else if (rc == CLR_OK || rc == CLR_ERR_NOTFOUND) {
		rc = clr_db_exec(db, "reg_rg_deleted", 1, p, &pr);
		clr_log(NULL, CLR_LOG_INFO, "registration %s (client %s) deleted", id,
			row.client_id != NULL ? row.client_id : "none");
	} else {
		rc = idp_fail("the registration access token", &de, e);
		if (rc == CLR_ERR_UPSTREAM || rc == CLR_ERR_TIMEOUT)
			snprintf(e->msg, sizeof(e->msg),
				 "the IdP could not delete the client: %.190s", de.msg);
		goto out;
	}
	if (rc == CLR_OK)
		rc = clr_db_commit(db);
	if (rc != CLR_OK) {
		clr_log(NULL, CLR_LOG_ERROR,
			"registration %s: the IdP call succeeded but the "
			"new state could not be stored",
			id);
		clr_err_set(e, rc, NULL, NULL, "the new state could not be stored");
		goto out;
	}
view:
	if (rc == CLR_OK && view != NULL)
		*view = view_of(db, id);
out:
	clr_db_rollback(db);
	PQclear(pr);
	reg_provider_release(&pv);
	reg_row_release(&row);
	return rc;
}

/*
 * Opens a transaction and locks registration id, unsealed, which must be
 * active (else CLR_ERR_CONFLICT): what every RFC 7592 call starts with.
 * The caller rolls back or commits, and releases *row, on every path.
 */
static enum clr_rc lock_active(const struct reg_app *app, struct clr_db *db, const char *id,
			       struct reg_row *row, struct clr_err *e)
{
	enum clr_rc rc;

	if ((rc = clr_db_begin(db)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "database unavailable");
	if ((rc = reg_row_load(app, db, id, 1, 1, row, e)) != CLR_OK)
		return rc;
	if (strcmp(row->status, "active") != 0)
		return clr_err_set(e, CLR_ERR_CONFLICT, "conflict", NULL,
				   "the registration is %s, not active", row->status);
	return CLR_OK;
}

enum clr_rc reg_op_rotate(const struct reg_app *app, struct clr_db *db,
			  struct clr_http_client *http, const char *id, json_t **view,
			  char **secret, struct clr_err *e)
{
	struct reg_row row = {0};
	struct reg_provider pv = {0};
	struct drv_reg_result res = {0};
	struct sealed_result s = {0};
	struct clr_err de = {0};
	PGresult *pr = NULL;
	const char *p[5];
	enum clr_rc rc;

	*view = NULL;
	*secret = NULL;
	if ((rc = lock_active(app, db, id, &row, e)) != CLR_OK)
		goto out;
	if ((rc = reg_provider_load(app, db, row.provider_id, 0, 1, &pv, e)) != CLR_OK)
		goto out;
	if (!drv_get(pv.p.kind)->can_rotate) {
		rc = clr_err_set(e, CLR_ERR_CONFLICT, "unsupported", NULL,
				 "%s cannot rotate client secrets", drv_idp_kind_name(pv.p.kind));
		goto out;
	}
	if ((rc = check_manageable(&pv, &row, "rotate the secret of", e)) != CLR_OK)
		goto out;
	if ((rc = drv_rotate(http, &pv.p, &row.ref, &res, &de)) != CLR_OK) {
		rc = idp_fail("the registration access token", &de, e);
		goto out;
	}
	if (res.client_secret == NULL) {
		rc = clr_err_set(e, CLR_ERR_UPSTREAM, "idp_error", NULL,
				 "the IdP's rotation answer holds no new client secret");
		goto out;
	}
	if ((rc = seal_result(app, id, &res, &s, e)) != CLR_OK)
		goto out;
	p[0] = id;
	p[1] = s.secret;
	p[2] = expires_param(&s);
	p[3] = s.rat;
	p[4] = s.meta;
	rc = clr_db_exec(db, "reg_rg_rotated", 5, p, &pr);
	if (rc == CLR_OK)
		rc = clr_db_commit(db);
	if (rc != CLR_OK) {
		/* The old secret is already dead at the IdP: the log must say what happened. */
		clr_log(NULL, CLR_LOG_ERROR,
			"registration %s: secret rotated at the IdP but "
			"not stored; rotate again",
			id);
		clr_err_set(e, rc, NULL, NULL,
			    "the secret was rotated at the IdP but could not "
			    "be stored; rotate again");
		goto out;
	}
	*view = reg_row_json(pr, 0);
	*secret = dup_secret(res.client_secret);
	if (*view == NULL || *secret == NULL) {
		json_decref(*view);
		*view = NULL;
		free(*secret);
		*secret = NULL;
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	clr_log(NULL, CLR_LOG_INFO, "registration %s: client secret rotated", id);
	schedule_rotation(db, id, &s, 1);
out:
	clr_db_rollback(db);
	PQclear(pr);
	sealed_clear(&s);
	drv_reg_result_clear(&res);
	reg_provider_release(&pv);
	reg_row_release(&row);
	return rc;
}

void reg_op_note_failure(struct clr_db *db, const char *id, const char *msg, int final)
{
	const char *p[3] = {id, msg, final ? "true" : "false"};

	if (clr_db_exec(db, "reg_rg_note_error", 3, p, NULL) != CLR_OK)
		clr_log(NULL, CLR_LOG_WARN, "registration %s: could not record its last error", id);
}

/* reg_op_update, and *secret (when not NULL) = a secret the IdP issued on the PUT. */
/*
 * The client type an update of row registers under: the one req names (or
 * the row's), which must exist and belong to the row's provider.  *ct
 * may be filled, also on failure: the caller releases it (reg_ctype_release).
 */
static enum clr_rc update_ctype(struct clr_db *db, const struct reg_row *row,
				struct reg_request *req, struct reg_ctype *ct, struct clr_err *e)
{
	enum clr_rc rc;

	if (req->client_type_id == NULL)
		return clr_err_set(
		    e, CLR_ERR_PARAM, "invalid_request", "client_type_id",
		    "the registration's client type was deleted: give client_type_id");
	if (!clr_uuid_valid(req->client_type_id))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "client_type_id",
				   "client_type_id must be a client type's id");
	if ((rc = reg_ctype_load(db, req->client_type_id, ct, e)) != CLR_OK) {
		if (rc == CLR_ERR_NOTFOUND)
			rc = clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "client_type_id",
					 "client_type_id names no client type");
		return rc;
	}
	if (strcmp(ct->provider_id, row->provider_id) != 0)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "client_type_id",
				   "the client type belongs to another provider");
	return CLR_OK;
}

static enum clr_rc update_impl(const struct reg_app *app, struct clr_db *db,
			       struct clr_http_client *http, const char *id,
			       const struct reg_request *given, unsigned keep, json_t **view,
			       char **secret, struct clr_err *e)
{
	struct reg_row row = {0};
	struct reg_ctype ct = {0};
	struct reg_provider pv = {0};
	struct drv_reg_result res = {0};
	struct sealed_result s = {0};
	struct drv_reg_input in = {0};
	struct reg_request req = *given;
	struct clr_err de = {0};
	json_t *uris = NULL;
	char *uris_s = NULL, why[sizeof(de.msg) + 80];
	PGresult *pr = NULL;
	const char *p[10];
	enum clr_rc rc;
	int changed;

	*view = NULL;
	if ((rc = lock_active(app, db, id, &row, e)) != CLR_OK)
		goto out;
	if (req.client_type_id == NULL)
		req.client_type_id = row.client_type_id;
	if (keep & REG_KEEP_NAME)
		req.client_name = row.client_name;
	if (keep & REG_KEEP_SCOPE)
		req.scope = row.scope;
	if ((rc = update_ctype(db, &row, &req, &ct, e)) != CLR_OK)
		goto out;
	uris = req.redirect_uris != NULL ? json_incref((json_t *)req.redirect_uris) : json_array();
	req.redirect_uris = uris;
	if ((rc = reg_request_check(&req, &ct, e)) != CLR_OK ||
	    (rc = reg_provider_load(app, db, row.provider_id, 0, 1, &pv, e)) != CLR_OK)
		goto out;
	if ((rc = check_manageable(&pv, &row, "update", e)) != CLR_OK)
		goto out;
	in.client_name = req.client_name;
	in.redirect_uris = uris;
	in.scope = req.scope;
	if (drv_update(http, &pv.p, &ct.ct, &in, &row.ref, &res, &de) != CLR_OK) {
		if (de.rc == CLR_ERR_DENIED && drv_err_http_status(&de) == 401) {
			/*
			 * RFC 7592 s.2.2: a 401 means the client or its token is gone
			 * at the IdP; like a refused DELETE, the row leaves service
			 * rather than stay active with credentials nobody honours.
			 */
			snprintf(why, sizeof(why), "the IdP refused an update: %s", de.msg);
			p[0] = id;
			p[1] = why;
			rc = clr_db_exec(db, "reg_rg_orphaned", 2, p, NULL);
			if (rc == CLR_OK)
				rc = clr_db_commit(db);
			if (rc != CLR_OK) {
				clr_err_set(e, rc, NULL, NULL,
					    "the IdP refused the registration access token (HTTP "
					    "401); marking the registration orphaned failed");
				goto out;
			}
			clr_log(NULL, CLR_LOG_WARN, "registration %s (client %s) orphaned: %s", id,
				row.client_id, de.msg);
			rc =
			    clr_err_set(e, CLR_ERR_CONFLICT, "registration_orphaned", NULL,
					"the IdP refused the registration access token (HTTP 401): "
					"the client is gone there or no longer ours, so the "
					"registration is now orphaned (out of service): %.100s",
					de.msg);
			goto out;
		}
		rc = idp_fail("the registration access token", &de, e);
		goto out;
	}
	if ((rc = seal_result(app, id, &res, &s, e)) != CLR_OK)
		goto lost;
	uris_s = json_dumps(uris, JSON_COMPACT);
	if (uris_s == NULL) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto lost;
	}
	p[0] = id;
	p[1] = ct.id;
	p[2] = req.client_name;
	p[3] = uris_s;
	p[4] = req.scope;
	p[5] = s.secret;
	p[6] = s.rat;
	p[7] = res.registration_client_uri;
	p[8] = expires_param(&s);
	p[9] = s.meta;
	if ((rc = clr_db_exec(db, "reg_rg_updated", 10, p, &pr)) != CLR_OK ||
	    (rc = clr_db_commit(db)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL,
			    "the IdP accepted the update but it could not be stored");
		goto lost;
	}
	if ((*view = reg_row_json(pr, 0)) == NULL) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	/* Only a changed secret is shown: oidc-provider repeats the old one. */
	changed = res.client_secret != NULL &&
		  (row.secret == NULL || strcmp(row.secret, res.client_secret) != 0);
	if (secret != NULL && changed && (*secret = dup_secret(res.client_secret)) == NULL) {
		json_decref(*view);
		*view = NULL;
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	clr_log(NULL, CLR_LOG_INFO, "registration %s (client %s): metadata updated%s", id,
		row.client_id, changed ? ", new client secret" : "");
	if (res.client_secret != NULL)
		schedule_rotation(db, id, &s, 1);
	goto out;
lost:
	/* The IdP may have rotated the registration access token with that update. */
	clr_log(NULL, CLR_LOG_ERROR,
		"registration %s: updated at the IdP but not stored; "
		"its registration access token may now be stale",
		id);
out:
	clr_db_rollback(db);
	PQclear(pr);
	free(uris_s);
	json_decref(uris);
	sealed_clear(&s);
	drv_reg_result_clear(&res);
	reg_provider_release(&pv);
	reg_ctype_release(&ct);
	reg_row_release(&row);
	return rc;
}

enum clr_rc reg_op_update(const struct reg_app *app, struct clr_db *db,
			  struct clr_http_client *http, const char *id,
			  const struct reg_request *given, unsigned keep, json_t **view,
			  struct clr_err *e)
{
	return update_impl(app, db, http, id, given, keep, view, NULL, e);
}

enum clr_rc reg_op_update_secret(const struct reg_app *app, struct clr_db *db,
				 struct clr_http_client *http, const char *id,
				 const struct reg_request *given, json_t **view, char **secret,
				 struct clr_err *e)
{
	*secret = NULL;
	return update_impl(app, db, http, id, given, 0, view, secret, e);
}

enum clr_rc reg_op_withdraw(const struct reg_app *app, struct clr_db *db, const char *id,
			    const char *why, struct clr_err *e)
{
	const char *p[2] = {id, why};
	enum clr_rc rc;

	(void)app;
	if ((rc = clr_db_begin(db)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "database unavailable");
	rc = clr_db_exec(db, "reg_rg_withdraw", 2, p, NULL);
	if (rc == CLR_OK)
		rc = clr_db_commit(db);
	clr_db_rollback(db);
	if (rc != CLR_OK)
		clr_err_set(e, rc, NULL, NULL,
			    "the registration could not be taken out of service");
	return rc;
}

enum clr_rc reg_op_resolve(const struct reg_app *app, struct clr_db *db, const char *id,
			   const struct reg_resolution *how, json_t **view, struct clr_err *e)
{
	char *rat = NULL, *sec = NULL;
	const char *p[5];
	PGresult *pr = NULL;
	enum clr_rc rc;

	*view = NULL;
	if (how->adopt && (how->client_id == NULL || how->client_id[0] == '\0'))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "client_id",
				   "adopting a client needs its client_id");
	if ((rc = reg_seal(app, "registrations.registration_access_token", id,
			   how->registration_access_token, &rat, e)) != CLR_OK ||
	    (rc = reg_seal(app, "registrations.client_secret", id, how->client_secret, &sec, e)) !=
		CLR_OK)
		goto out;
	if ((rc = clr_db_begin(db)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "database unavailable");
		goto out;
	}
	p[0] = id;
	if (how->adopt) {
		p[1] = how->client_id;
		p[2] = rat;
		p[3] = how->registration_client_uri;
		p[4] = sec;
		rc = clr_db_exec(db, "reg_rg_resolve_adopt", 5, p, &pr);
	} else {
		p[1] = "declared gone by an admin: no client exists at the IdP for this intent";
		rc = clr_db_exec(db, "reg_rg_resolve_gone", 2, p, &pr);
	}
	if (rc == CLR_ERR_PARAM) /* unique violation: another row holds that client */
		rc = CLR_ERR_CONFLICT;
	if (rc != CLR_OK) {
		clr_err_set(e, rc, rc == CLR_ERR_CONFLICT ? "conflict" : NULL, NULL,
			    rc == CLR_ERR_CONFLICT ? "another registration holds that client_id"
						   : "database error");
		goto out;
	}
	if (PQntuples(pr) != 1) {
		PQclear(pr);
		pr = NULL;
		rc = clr_db_exec(db, "reg_rg_get", 1, p, &pr);
		rc = rc == CLR_OK && PQntuples(pr) == 1
			 ? clr_err_set(e, CLR_ERR_CONFLICT, "conflict", NULL,
				       "the registration's outcome is not unknown")
			 : clr_err_set(e, CLR_ERR_NOTFOUND, "not_found", NULL,
				       "no such registration");
		goto out;
	}
	if ((rc = clr_db_commit(db)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "database error");
		goto out;
	}
	*view = reg_row_json(pr, 0);
	if (*view == NULL)
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
	reg_unknown_refresh(app, db);
	clr_log(NULL, CLR_LOG_INFO, "registration %s: unknown outcome resolved (%s)", id,
		how->adopt ? "client adopted" : "declared gone");
out:
	clr_db_rollback(db);
	PQclear(pr);
	free(rat);
	free(sec);
	return rc;
}

long reg_count_unknown(struct clr_db *db)
{
	PGresult *pr = NULL;
	long n = -1;

	if (clr_db_exec(db, "reg_rg_count_unknown", 0, NULL, &pr) == CLR_OK && PQntuples(pr) == 1)
		n = strtol(PQgetvalue(pr, 0, 0), NULL, 10);
	PQclear(pr);
	return n;
}

void reg_unknown_refresh(const struct reg_app *app, struct clr_db *db)
{
	long n = reg_count_unknown(db);

	if (n >= 0 && app->n_unknown != NULL)
		atomic_store(app->n_unknown, n);
}

/* The job kind of a queued IdP call (see enum reg_queue). */
static const char *queue_kind(enum reg_queue how, const char *kind, const char *waited)
{
	return how == REG_QUEUE_WAITED ? waited : kind;
}

enum clr_rc reg_op_register_async(const struct reg_app *app, struct clr_db *db,
				  const struct reg_request *req, enum reg_queue how, json_t **view,
				  char job_id[37], struct clr_err *e)
{
	struct reg_ctype ct = {0};
	struct reg_provider pv = {0};
	json_t *payload = NULL, *uris = NULL;
	char *uris_s = NULL, id[37];
	PGresult *pr = NULL;
	const char *p[6];
	enum clr_rc rc;

	*view = NULL;
	job_id[0] = '\0';
	if (req->client_type_id == NULL || !clr_uuid_valid(req->client_type_id))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "client_type_id",
				   "client_type_id must be a client type's id");
	rc = reg_ctype_load(db, req->client_type_id, &ct, e);
	if (rc == CLR_ERR_NOTFOUND)
		rc = clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "client_type_id",
				 "client_type_id names no client type");
	if (rc != CLR_OK)
		goto out;
	if ((rc = reg_request_check(req, &ct, e)) != CLR_OK ||
	    (rc = reg_provider_load(app, db, ct.provider_id, 0, 0, &pv, e)) != CLR_OK)
		goto out;
	uris =
	    req->redirect_uris != NULL ? json_incref((json_t *)req->redirect_uris) : json_array();
	uris_s = uris != NULL ? json_dumps(uris, JSON_COMPACT) : NULL;
	payload =
	    json_pack("{s:s, s:s, s:s, s:O, s:s?}", "registration_id", "", "client_type_id", ct.id,
		      "client_name", req->client_name, "redirect_uris", uris, "scope", req->scope);
	if (uris_s == NULL || payload == NULL || (rc = clr_uuid_new(id)) != CLR_OK) {
		rc = clr_err_set(e, rc != CLR_OK ? rc : CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	json_object_set_new(payload, "registration_id", json_string(id));
	if (how != REG_QUEUE_RETRY)
		json_object_set_new(payload, "no_retry", json_true());
	if ((rc = clr_db_begin(db)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "database unavailable");
		goto out;
	}
	/* The intent and the job that carries it out commit together. */
	p[0] = id;
	p[1] = ct.id;
	p[2] = req->client_name;
	p[3] = uris_s;
	p[4] = req->scope;
	p[5] = NULL;
	rc = clr_db_exec(db, "reg_rg_pending_insert", 6, p, &pr);
	if (rc == CLR_OK && PQntuples(pr) != 1)
		rc = CLR_ERR_NOTFOUND;
	if (rc == CLR_OK)
		rc = clr_db_exec(db, "reg_rg_pickup_set", 1, p, NULL);
	if (rc == CLR_OK)
		rc = clr_jobs_enqueue(db, queue_kind(how, "register", "register_waited"), payload,
				      job_id);
	/* The row as queued: a worker may finish it before this answer goes out. */
	if (rc == CLR_OK && (*view = view_of(db, id)) == NULL)
		rc = CLR_ERR_DB;
	if (rc == CLR_OK)
		rc = clr_db_commit(db);
	if (rc != CLR_OK) {
		json_decref(*view);
		*view = NULL;
		clr_err_set(e, rc == CLR_ERR_NOTFOUND ? CLR_ERR_PARAM : rc,
			    rc == CLR_ERR_NOTFOUND ? "invalid_request" : NULL, NULL,
			    "the registration could not be queued");
		rc = e->rc;
		goto out;
	}
	clr_log(NULL, CLR_LOG_INFO, "registration %s queued (job %s)", id, job_id);
out:
	clr_db_rollback(db);
	PQclear(pr);
	json_decref(payload);
	json_decref(uris);
	free(uris_s);
	reg_provider_release(&pv);
	reg_ctype_release(&ct);
	return rc;
}

enum clr_rc reg_op_take_secret(const struct reg_app *app, struct clr_db *db, const char *id,
			       json_t **out, struct clr_err *e)
{
	const char *p[1] = {id};
	PGresult *pr = NULL;
	char *pt = NULL;
	size_t len = 0;
	enum clr_rc rc;

	*out = NULL;
	if ((rc = clr_db_begin(db)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "database unavailable");
	if ((rc = clr_db_exec(db, "reg_rg_pickup_take", 1, p, &pr)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "database error");
		goto out;
	}
	if (PQntuples(pr) != 1) {
		rc = clr_err_set(e, CLR_ERR_NOTFOUND, "not_found", NULL,
				 "no client secret waits to be shown for this registration (not "
				 "created with Prefer: respond-async, not active yet, or shown "
				 "already)");
		goto out;
	}
	if (!PQgetisnull(pr, 0, 1) && clr_unseal(app->sealer, "registrations.client_secret", id,
						 PQgetvalue(pr, 0, 1), &pt, &len) != CLR_OK) {
		rc = clr_err_set(e, CLR_ERR_INTERNAL, NULL, NULL, "the secret could not be opened");
		goto out;
	}
	*out = json_pack("{s:s, s:s?}", "client_id", PQgetvalue(pr, 0, 0), "client_secret", pt);
	if (*out == NULL) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	if ((rc = clr_db_commit(db)) != CLR_OK) {
		json_decref(*out);
		*out = NULL;
		clr_err_set(e, rc, NULL, NULL, "database error");
	}
out:
	if (pt != NULL)
		clr_unsealed_free(pt, len);
	clr_db_rollback(db);
	PQclear(pr);
	return rc;
}

enum clr_rc reg_op_rotate_async(const struct reg_app *app, struct clr_db *db, const char *id,
				enum reg_queue how, char job_id[37], struct clr_err *e)
{
	struct reg_row row = {0};
	struct reg_provider pv = {0};
	json_t *payload = NULL;
	enum clr_rc rc;

	job_id[0] = '\0';
	if ((rc = clr_db_begin(db)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "database unavailable");
	if ((rc = reg_row_load(app, db, id, 1, 0, &row, e)) != CLR_OK)
		goto out;
	if (strcmp(row.status, "active") != 0) {
		rc = clr_err_set(e, CLR_ERR_CONFLICT, "conflict", NULL,
				 "the registration is %s, not active", row.status);
		goto out;
	}
	if ((rc = reg_provider_load(app, db, row.provider_id, 0, 0, &pv, e)) != CLR_OK)
		goto out;
	if (!drv_get(pv.p.kind)->can_rotate) {
		rc = clr_err_set(e, CLR_ERR_CONFLICT, "unsupported", NULL,
				 "%s cannot rotate client secrets", drv_idp_kind_name(pv.p.kind));
		goto out;
	}
	payload = json_pack("{s:s, s:b, s:b}", "registration_id", id, "pickup", 1, "no_retry",
			    how != REG_QUEUE_RETRY);
	if (payload == NULL) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	if ((rc = clr_jobs_enqueue(db, queue_kind(how, "rotate", "rotate_waited"), payload,
				   job_id)) != CLR_OK ||
	    (rc = clr_db_commit(db)) != CLR_OK)
		clr_err_set(e, rc, NULL, NULL, "the rotation could not be queued");
out:
	clr_db_rollback(db);
	json_decref(payload);
	reg_provider_release(&pv);
	reg_row_release(&row);
	return rc;
}

enum clr_rc reg_op_delete_async(const struct reg_app *app, struct clr_db *db, const char *id,
				enum reg_queue how, char job_id[37], struct clr_err *e)
{
	struct reg_row row = {0};
	json_t *payload = NULL;
	enum clr_rc rc;

	job_id[0] = '\0';
	if ((rc = clr_db_begin(db)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "database unavailable");
	if ((rc = reg_row_load(app, db, id, 1, 0, &row, e)) != CLR_OK)
		goto out;
	/* Deleted already: nothing to ask the IdP (job_id stays empty). */
	if (strcmp(row.status, "deleted") == 0)
		goto out;
	payload =
	    json_pack("{s:s, s:b}", "registration_id", id, "no_retry", how != REG_QUEUE_RETRY);
	if (payload == NULL) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	if ((rc = clr_jobs_enqueue(db, queue_kind(how, "deregister", "deregister_waited"), payload,
				   job_id)) != CLR_OK ||
	    (rc = clr_db_commit(db)) != CLR_OK) {
		job_id[0] = '\0';
		clr_err_set(e, rc, NULL, NULL, "the deletion could not be queued");
	}
out:
	clr_db_rollback(db);
	json_decref(payload);
	reg_row_release(&row);
	return rc;
}

enum clr_rc reg_op_update_async(const struct reg_app *app, struct clr_db *db, const char *id,
				const struct reg_request *given, enum reg_queue how,
				char job_id[37], struct clr_err *e)
{
	struct reg_row row = {0};
	struct reg_ctype ct = {0};
	struct reg_request req = *given;
	json_t *payload = NULL, *uris = NULL;
	enum clr_rc rc;

	job_id[0] = '\0';
	if ((rc = clr_db_begin(db)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "database unavailable");
	if ((rc = reg_row_load(app, db, id, 1, 0, &row, e)) != CLR_OK)
		goto out;
	if (strcmp(row.status, "active") != 0) {
		rc = clr_err_set(e, CLR_ERR_CONFLICT, "conflict", NULL,
				 "the registration is %s, not active", row.status);
		goto out;
	}
	/* The checks update_impl makes, before anything is queued: bad input changes nothing. */
	if (req.client_type_id == NULL)
		req.client_type_id = row.client_type_id;
	if ((rc = update_ctype(db, &row, &req, &ct, e)) != CLR_OK)
		goto out;
	uris = req.redirect_uris != NULL ? json_incref((json_t *)req.redirect_uris) : json_array();
	req.redirect_uris = uris;
	if ((rc = reg_request_check(&req, &ct, e)) != CLR_OK)
		goto out;
	payload = json_pack("{s:s, s:s, s:s?, s:O, s:s?, s:b, s:b, s:b}", "registration_id", id,
			    "client_type_id", ct.id, "client_name", req.client_name,
			    "redirect_uris", uris, "scope", req.scope, "replace", 1, "pickup", 1,
			    "no_retry", how != REG_QUEUE_RETRY);
	if (payload == NULL) {
		rc = clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	if ((rc = clr_jobs_enqueue(db, queue_kind(how, "client_update", "client_update_waited"),
				   payload, job_id)) != CLR_OK ||
	    (rc = clr_db_commit(db)) != CLR_OK) {
		job_id[0] = '\0';
		clr_err_set(e, rc, NULL, NULL, "the update could not be queued");
	}
out:
	clr_db_rollback(db);
	json_decref(payload);
	json_decref(uris);
	reg_ctype_release(&ct);
	reg_row_release(&row);
	return rc;
}

void reg_op_secret_pickup(struct clr_db *db, const char *id)
{
	if (exec_tx(db, "reg_rg_pickup_set", id) != CLR_OK)
		clr_log(NULL, CLR_LOG_WARN,
			"registration %s: the new secret could not be offered for pickup", id);
}
