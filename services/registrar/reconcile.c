/*
 * reconcile.c - the reconcile run, its job, its retry hook and its
 * metrics (see reconcile.h).
 *
 * Order matters: the registrations are read before the IdP is listed, so a
 * client created while the listing runs belongs to a row read as pending
 * (in_flight, left alone) or carries no tag (foreign); and a registration
 * is marked missing only if it was last changed before the run began.
 * One run per provider at a time (a session advisory lock), so a periodic
 * run and an operator's never delete or adopt the same client twice.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clearance/log.h"
#include "clearance/seal.h"
#include "clearance/util.h"
#include "reconcile.h"
#include "registrations.h"
#include "store.h"

int reg_reconcile_policy_valid(const char *s)
{
	return s != NULL &&
	       (strcmp(s, "report") == 0 || strcmp(s, "delete") == 0 || strcmp(s, "adopt") == 0);
}

/* ---- counts ---- */

enum rc_class {
	C_LISTED,
	C_MATCHED,
	C_STRAY,
	C_FOREIGN,
	C_IN_FLIGHT,
	C_MISSING,
	C_UNKNOWN_FOUND,
	C_UNKNOWN_ADOPTED,
	C_UNKNOWN_GONE,
	C_DELETED,
	C_ORPHANED,
	C_FAILED,
	C_RETIRED,
	C__MAX
};
static const char *const class_names[C__MAX] = {
    "listed",	"matched",	  "stray",	     "foreign",	     "in_flight",
    "missing",	"unknown_found",  "unknown_adopted", "unknown_gone", "deleted",
    "orphaned", "failed_actions", "retired",
};

/* Runs finished by this process, by status (ok, unsupported, error). */
static atomic_ulong runs_total[3];

/* ---- the registrations of a provider ---- */

struct row {
	const char *id;
	const char *status; /* may be replaced by a static string as the run acts */
	const char *client_id;
	int old_attempt; /* outcome_unknown older than the grace period */
	int before_run;	 /* last changed before the run began */
	int seen;	 /* its client (or its tag, when parked) was listed */
};

struct rows {
	PGresult *res;
	struct row *r;
	size_t n;
};

static void rows_free(struct rows *rs)
{
	PQclear(rs->res);
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}

static enum clr_rc rows_load(struct clr_db *db, const char *provider_id, const char *t0,
			     struct rows *out, struct clr_err *e)
{
	const char *p[3] = {provider_id, t0, NULL};
	char grace[16];
	enum clr_rc rc;
	int i, n;

	snprintf(grace, sizeof(grace), "%d", REG_RECONCILE_GRACE_S);
	p[2] = grace;
	memset(out, 0, sizeof(*out));
	rc = clr_db_exec_sql(db,
			     "SELECT id::text, status, client_id,"
			     " (status = 'outcome_unknown' AND coalesce(idp_attempt_at, updated_at)"
			     "  < now() - $3::bigint * interval '1 second'),"
			     " updated_at < $2::timestamptz"
			     " FROM registrations WHERE provider_id = $1::uuid",
			     3, p, &out->res);
	if (rc != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "reading the registrations failed");
	n = PQntuples(out->res);
	out->r = calloc(n > 0 ? (size_t)n : 1, sizeof(*out->r));
	if (out->r == NULL) {
		rows_free(out);
		return clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
	}
	for (i = 0; i < n; i++) {
		struct row *r = &out->r[i];
		r->id = PQgetvalue(out->res, i, 0);
		r->status = PQgetvalue(out->res, i, 1);
		r->client_id = PQgetisnull(out->res, i, 2) ? NULL : PQgetvalue(out->res, i, 2);
		r->old_attempt = PQgetvalue(out->res, i, 3)[0] == 't';
		r->before_run = PQgetvalue(out->res, i, 4)[0] == 't';
	}
	out->n = (size_t)n;
	return CLR_OK;
}

/* A row holding client_id (not deleted, not failed), or NULL. */
static struct row *by_client(struct rows *rs, const char *client_id)
{
	for (size_t i = 0; i < rs->n; i++) {
		struct row *r = &rs->r[i];
		if (r->client_id != NULL && strcmp(r->client_id, client_id) == 0 &&
		    (strcmp(r->status, "active") == 0 || strcmp(r->status, "orphaned") == 0))
			return r;
	}
	return NULL;
}

static struct row *by_id(struct rows *rs, const char *id)
{
	for (size_t i = 0; i < rs->n; i++) {
		if (strcasecmp(rs->r[i].id, id) == 0)
			return &rs->r[i];
	}
	return NULL;
}

/* ---- the provider's reconcile settings ---- */

struct settings {
	PGresult *res;
	const char *policy;
	char *cred;
	size_t cred_len;
};

static void settings_free(struct settings *s)
{
	PQclear(s->res);
	if (s->cred != NULL)
		clr_unsealed_free(s->cred, s->cred_len);
	memset(s, 0, sizeof(*s));
}

static enum clr_rc settings_load(const struct reg_app *app, struct clr_db *db, const char *id,
				 struct settings *out, struct clr_err *e)
{
	enum clr_rc rc;

	memset(out, 0, sizeof(*out));
	rc = clr_db_exec_sql(db,
			     "SELECT reconcile_policy, reconcile_credential_sealed FROM providers"
			     " WHERE id = $1::uuid",
			     1, &id, &out->res);
	if (rc != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "reading the provider failed");
	if (PQntuples(out->res) != 1) {
		settings_free(out);
		return clr_err_set(e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such provider");
	}
	out->policy = PQgetvalue(out->res, 0, 0);
	if (!PQgetisnull(out->res, 0, 1) &&
	    clr_unseal(app->sealer, "providers.reconcile_credential", id,
		       PQgetvalue(out->res, 0, 1), &out->cred, &out->cred_len) != CLR_OK) {
		clr_log(NULL, CLR_LOG_ERROR,
			"security: cannot unseal providers.reconcile_credential of row %s", id);
		settings_free(out);
		return clr_err_set(e, CLR_ERR_INTERNAL, "server_error", NULL,
				   "the stored reconcile credential cannot be unsealed with the "
				   "configured keys");
	}
	return CLR_OK;
}

/* ---- storing a run ---- */

static enum clr_rc store_run(struct clr_db *db, const char *provider_id, const char *status,
			     const char *policy, int dry_run, const long counts[C__MAX],
			     const char *err, json_t **report, struct clr_err *e)
{
	json_t *c = json_object();
	char *cs = NULL;
	const char *p[6];
	PGresult *res = NULL;
	enum clr_rc rc;
	int i;

	for (i = 0; c != NULL && i < C__MAX; i++)
		json_object_set_new(c, class_names[i], json_integer(counts[i]));
	cs = c != NULL ? json_dumps(c, JSON_COMPACT) : NULL;
	json_decref(c);
	if (cs == NULL)
		return clr_err_set(e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
	p[0] = provider_id;
	p[1] = status;
	p[2] = policy;
	p[3] = dry_run ? "true" : "false";
	p[4] = cs;
	p[5] = err;
	rc = clr_db_exec_sql(
	    db,
	    "INSERT INTO provider_reconcile AS r (provider_id, ran_at, status, policy, dry_run,"
	    " counts, last_error) VALUES ($1::uuid, now(), $2, $3, $4::boolean, $5::jsonb, $6)"
	    " ON CONFLICT (provider_id) DO UPDATE SET ran_at = now(), status = $2, policy = $3,"
	    " dry_run = $4::boolean, counts = $5::jsonb, last_error = $6"
	    " RETURNING provider_id::text, ran_at, status, policy, dry_run, counts, last_error",
	    6, p, &res);
	free(cs);
	if (rc != CLR_OK) {
		PQclear(res);
		return clr_err_set(e, rc, NULL, NULL, "the reconcile run could not be stored");
	}
	if (report != NULL && PQntuples(res) == 1)
		*report = reg_row_json(res, 0);
	PQclear(res);
	if (strcmp(status, "ok") == 0)
		atomic_fetch_add(&runs_total[0], 1);
	else if (strcmp(status, "unsupported") == 0)
		atomic_fetch_add(&runs_total[1], 1);
	else
		atomic_fetch_add(&runs_total[2], 1);
	return CLR_OK;
}

/* ---- acting ---- */

/*
 * Every change a run makes is in audit_log (the shared append-only log), as
 * the admin routes' changes are, with actor "system"/"reconcile".
 */
static void audit(struct clr_db *db, const char *action, const char *type, const char *target,
		  const char *provider_id, const char *client_id)
{
	static const char sql[] =
	    "INSERT INTO audit_log (actor_role, actor_name, action, target_type, target_id, detail)"
	    " VALUES ('system', 'reconcile', $1, $2, $3,"
	    " jsonb_build_object('provider_id', $4::text, 'client_id', $5::text))";
	const char *p[5] = {action, type, target, provider_id, client_id};

	if (clr_db_exec_sql(db, sql, 5, p, NULL) != CLR_OK)
		clr_log(NULL, CLR_LOG_ERROR, "audit row for %s could not be written", action);
}

static void note(const char *provider_id, const char *what, const struct drv_listed *it,
		 const char *why)
{
	clr_log(NULL, CLR_LOG_WARN, "reconcile %s: %s client %s%s%s", provider_id, what,
		it->client_id, why != NULL ? ": " : "", why != NULL ? why : "");
}

static int resolve_gone(struct clr_db *db, const char *id, const char *why)
{
	const char *p[2] = {id, why};
	PGresult *res = NULL;
	int ok;

	ok = clr_db_exec(db, "reg_rg_resolve_gone", 2, p, &res) == CLR_OK && PQntuples(res) == 1;
	PQclear(res);
	return ok;
}

static int adopt(const struct reg_app *app, struct clr_db *db, const char *provider_id,
		 const char *id, const struct drv_listed *it)
{
	struct reg_resolution how = {0};
	struct clr_err ae = {0};
	json_t *view = NULL;

	how.adopt = 1;
	how.client_id = it->client_id;
	how.client_secret = it->client_secret;
	if (reg_op_resolve(app, db, id, &how, &view, &ae) != CLR_OK) {
		clr_log(NULL, CLR_LOG_WARN, "reconcile: registration %s: client %s not adopted: %s",
			id, it->client_id, ae.msg);
		return 0;
	}
	json_decref(view);
	audit(db, "registration.reconcile_adopt", "registration", id, provider_id, it->client_id);
	clr_log(NULL, CLR_LOG_INFO,
		"reconcile: registration %s adopted client %s, which its lost attempt created", id,
		it->client_id);
	return 1;
}

/* Only a row nobody changed since the run began (t0): its listing is current. */
static int mark_missing(struct clr_db *db, const char *id, const char *t0)
{
	const char *p[3] = {id, "reconcile: the IdP no longer lists this client", t0};
	PGresult *res = NULL;
	int ok;

	ok = clr_db_exec_sql(db,
			     "UPDATE registrations SET status = 'orphaned', last_error = $2,"
			     " revision = revision + 1, updated_at = now()"
			     " WHERE id = $1::uuid AND status = 'active'"
			     " AND updated_at < $3::timestamptz",
			     3, p, &res) == CLR_OK &&
	     strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return ok;
}

/* An orphaned registration whose client reconcile deleted at the IdP. */
static int retire(struct clr_db *db, const char *id)
{
	const char *p[1] = {id};
	PGresult *res = NULL;
	int ok;

	ok = clr_db_exec_sql(
		 db,
		 "UPDATE registrations SET status = 'deleted', client_secret_sealed = NULL,"
		 " registration_access_token_sealed = NULL,"
		 " last_error = 'reconcile deleted its client at the IdP (it was orphaned)',"
		 " deleted_at = now(), revision = revision + 1, updated_at = now()"
		 " WHERE id = $1::uuid AND status = 'orphaned'",
		 1, p, &res) == CLR_OK &&
	     strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return ok;
}

/* ---- one run ---- */

static enum clr_rc lock_provider(struct clr_db *db, const char *id, int take)
{
	PGresult *res = NULL;
	enum clr_rc rc;
	int got;

	rc = clr_db_exec_sql(db,
			     take ? "SELECT pg_try_advisory_lock(hashtext('clearance.reconcile'),"
				    " hashtext($1))"
				  : "SELECT pg_advisory_unlock(hashtext('clearance.reconcile'),"
				    " hashtext($1))",
			     1, &id, &res);
	got = rc == CLR_OK && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (rc != CLR_OK)
		return rc;
	return got || !take ? CLR_OK : CLR_ERR_CONFLICT;
}

enum clr_rc reg_reconcile_provider(const struct reg_app *app, struct clr_db *db,
				   struct clr_http_client *http, const char *provider_id,
				   const char *policy, int dry_run, json_t **report,
				   struct clr_err *e)
{
	struct reg_provider pv = {0};
	struct settings st = {0};
	struct rows rs = {0};
	struct drv_list_page pg = {0};
	struct clr_err le = {0};
	const struct drv_driver *d;
	PGresult *tr = NULL;
	long counts[C__MAX] = {0};
	char t0[64], why[300];
	const char *pol;
	int locked = 0, act;
	size_t i;
	enum clr_rc rc;

	*report = NULL;
	if (policy != NULL && !reg_reconcile_policy_valid(policy))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "policy",
				   "policy must be report, delete or adopt");
	if ((rc = settings_load(app, db, provider_id, &st, e)) != CLR_OK)
		return rc;
	pol = policy != NULL ? policy : st.policy;
	act = !dry_run && strcmp(pol, "report") != 0;
	if ((rc = lock_provider(db, provider_id, 1)) != CLR_OK) {
		if (rc == CLR_ERR_CONFLICT)
			clr_err_set(e, rc, "conflict", NULL,
				    "a reconcile run of this provider is under way");
		else
			clr_err_set(e, rc, NULL, NULL, "database error");
		goto out;
	}
	locked = 1;
	if ((rc = reg_provider_load(app, db, provider_id, 0, 1, &pv, e)) != CLR_OK)
		goto out;
	pv.p.list_credential = st.cred;
	d = drv_get(pv.p.kind);
	if (!drv_can_list(&pv.p)) {
		snprintf(why, sizeof(why),
			 "a %s provider offers no client listing Clearance can use: strays "
			 "cannot be found; parked registrations need an admin",
			 drv_idp_kind_name(pv.p.kind));
		rc =
		    store_run(db, provider_id, "unsupported", pol, dry_run, counts, why, report, e);
		goto out;
	}
	if ((rc = clr_db_exec_sql(db, "SELECT now()::text", 0, NULL, &tr)) != CLR_OK ||
	    PQntuples(tr) != 1) {
		rc = clr_err_set(e, rc != CLR_OK ? rc : CLR_ERR_DB, NULL, NULL, "database error");
		goto out;
	}
	snprintf(t0, sizeof(t0), "%s", PQgetvalue(tr, 0, 0));
	if ((rc = rows_load(db, provider_id, t0, &rs, e)) != CLR_OK)
		goto out;
	if (drv_list(http, &pv.p, &pg, &le) != CLR_OK) {
		clr_log(NULL, CLR_LOG_WARN, "reconcile %s: listing failed: %s", provider_id,
			le.msg);
		rc = store_run(db, provider_id, "error", pol, dry_run, counts, le.msg, report, e);
		goto out;
	}
	counts[C_LISTED] = (long)pg.n;
	for (i = 0; i < pg.n; i++) {
		const struct drv_listed *it = &pg.items[i];
		struct row *r = by_client(&rs, it->client_id);
		struct row *t = it->tag != NULL ? by_id(&rs, it->tag) : NULL;
		struct clr_err de = {0};

		if (r != NULL) {
			r->seen = 1;
			counts[C_MATCHED]++;
			/*
			 * Orphaned: Clearance wanted it gone but could not delete it
			 * (no registration access token, or the IdP refused it).  The
			 * listing API may: then the row is retired.
			 */
			if (!act || strcmp(pol, "delete") != 0 ||
			    strcmp(r->status, "orphaned") != 0)
				continue;
			if (drv_list_delete(http, &pv.p, it, &de) != CLR_OK &&
			    de.rc != CLR_ERR_NOTFOUND) {
				note(provider_id, "could not delete orphaned", it, de.msg);
				counts[C_FAILED]++;
				continue;
			}
			counts[C_DELETED]++;
			note(provider_id, "deleted orphaned", it, NULL);
			if (retire(db, r->id)) {
				counts[C_RETIRED]++;
				r->status = "deleted";
				audit(db, "registration.reconcile_retire", "registration", r->id,
				      provider_id, it->client_id);
			}
			continue;
		}
		if (t == NULL) {
			/* No tag, or one naming nothing here: not ours to touch. */
			counts[C_FOREIGN]++;
			continue;
		}
		if (strcmp(t->status, "pending") == 0) {
			counts[C_IN_FLIGHT]++;
			continue;
		}
		if (strcmp(t->status, "outcome_unknown") == 0) {
			t->seen = 1;
			counts[C_UNKNOWN_FOUND]++;
			if (!act)
				continue;
			if (strcmp(pol, "adopt") == 0) {
				if (adopt(app, db, provider_id, t->id, it)) {
					counts[C_UNKNOWN_ADOPTED]++;
					t->status = "active";
					t->client_id = it->client_id;
				} else {
					counts[C_FAILED]++;
				}
				continue;
			}
			if (drv_list_delete(http, &pv.p, it, &de) != CLR_OK &&
			    de.rc != CLR_ERR_NOTFOUND) {
				note(provider_id, "could not delete", it, de.msg);
				counts[C_FAILED]++;
				continue;
			}
			counts[C_DELETED]++;
			note(provider_id, "deleted the lost attempt's", it, NULL);
			audit(db, "provider.reconcile_delete", "provider", provider_id, provider_id,
			      it->client_id);
			if (resolve_gone(db, t->id,
					 "reconcile: the client the lost attempt created was "
					 "deleted at the IdP (policy delete)")) {
				counts[C_UNKNOWN_GONE]++;
				t->status = "failed";
				audit(db, "registration.reconcile_gone", "registration", t->id,
				      provider_id, it->client_id);
			}
			continue;
		}
		/* Our tag on a client no registration holds: a stray. */
		counts[C_STRAY]++;
		if (!act || strcmp(pol, "delete") != 0)
			continue;
		if (drv_list_delete(http, &pv.p, it, &de) != CLR_OK && de.rc != CLR_ERR_NOTFOUND) {
			note(provider_id, "could not delete stray", it, de.msg);
			counts[C_FAILED]++;
			continue;
		}
		counts[C_DELETED]++;
		note(provider_id, "deleted stray", it, NULL);
		audit(db, "provider.reconcile_delete", "provider", provider_id, provider_id,
		      it->client_id);
	}
	for (i = 0; i < rs.n; i++) {
		struct row *r = &rs.r[i];

		if (strcmp(r->status, "active") == 0 && !r->seen && r->client_id != NULL &&
		    r->before_run) {
			counts[C_MISSING]++;
			if (act && mark_missing(db, r->id, t0)) {
				counts[C_ORPHANED]++;
				audit(db, "registration.reconcile_orphaned", "registration", r->id,
				      provider_id, r->client_id);
				clr_log(NULL, CLR_LOG_WARN,
					"reconcile %s: registration %s orphaned: client %s is not "
					"listed",
					provider_id, r->id, r->client_id);
			}
		} else if (strcmp(r->status, "outcome_unknown") == 0 && !r->seen &&
			   r->old_attempt && d->list_tagged && act) {
			/* A tagging family lists no client of this intent: none was made. */
			if (resolve_gone(db, r->id,
					 "reconcile: no client at the IdP carries this "
					 "registration's tag: the lost attempt created none")) {
				counts[C_UNKNOWN_GONE]++;
				audit(db, "registration.reconcile_gone", "registration", r->id,
				      provider_id, NULL);
				clr_log(NULL, CLR_LOG_INFO,
					"reconcile %s: registration %s resolved as gone (no "
					"tagged client listed)",
					provider_id, r->id);
			}
		}
	}
	rc = store_run(db, provider_id, "ok", pol, dry_run, counts, NULL, report, e);
	clr_log(
	    NULL, CLR_LOG_INFO,
	    "reconcile %s (%s%s): %ld listed, %ld matched, %ld stray, %ld foreign, %ld missing, "
	    "%ld unknown found, %ld deleted",
	    provider_id, pol, dry_run ? ", dry run" : "", counts[C_LISTED], counts[C_MATCHED],
	    counts[C_STRAY], counts[C_FOREIGN], counts[C_MISSING], counts[C_UNKNOWN_FOUND],
	    counts[C_DELETED]);
out:
	if (locked && lock_provider(db, provider_id, 0) != CLR_OK)
		clr_log(NULL, CLR_LOG_WARN, "reconcile %s: advisory lock not released",
			provider_id);
	if (rc == CLR_OK) {
		reg_unknown_refresh(app, db);
		reg_reconcile_metrics_refresh(db);
	}
	PQclear(tr);
	drv_list_page_clear(&pg);
	rows_free(&rs);
	reg_provider_release(&pv);
	settings_free(&st);
	return rc;
}

/* ---- the retry hook ---- */

int reg_reconcile_lookup_adopt(const struct reg_app *app, struct clr_db *db,
			       struct clr_http_client *http, const struct drv_provider *p,
			       const char *id)
{
	const struct drv_driver *d = drv_get(p->kind);
	struct settings st = {0};
	struct drv_provider q = *p;
	struct drv_list_page pg = {0};
	struct clr_err e = {0};
	int done = 0;
	size_t i;

	if (d == NULL || !d->list_tagged || !drv_can_list(p))
		return 0;
	if (settings_load(app, db, p->id, &st, &e) != CLR_OK)
		return 0;
	q.list_credential = st.cred;
	if (drv_list(http, &q, &pg, &e) != CLR_OK) {
		clr_log(NULL, CLR_LOG_INFO, "registration %s: lookup at the IdP failed: %s", id,
			e.msg);
		goto out;
	}
	for (i = 0; i < pg.n && !done; i++) {
		if (pg.items[i].tag != NULL && strcasecmp(pg.items[i].tag, id) == 0)
			done = adopt(app, db, p->id, id, &pg.items[i]);
	}
out:
	drv_list_page_clear(&pg);
	settings_free(&st);
	return done;
}

/* ---- the job ---- */

static void schedule_next(const struct reg_app *app, struct clr_db *db, long delay_s)
{
	char d[24];
	const char *p[1] = {d};
	enum clr_rc rc;

	if (app->cfg->reconcile_interval_s <= 0)
		return;
	snprintf(d, sizeof(d), "%ld", delay_s);
	if (clr_db_begin(db) != CLR_OK)
		goto fail;
	/* Serialises the registrars that schedule at the same time. */
	rc = clr_db_exec_sql(db, "SELECT pg_advisory_xact_lock(hashtext('clearance.reconcile'))", 0,
			     NULL, NULL);
	if (rc == CLR_OK)
		rc = clr_db_exec_sql(
		    db,
		    "INSERT INTO jobs (kind, payload, run_at)"
		    " SELECT 'reconcile', '{\"periodic\":true}'::jsonb,"
		    " now() + $1::bigint * interval '1 second'"
		    " WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE kind = 'reconcile'"
		    " AND state = 'queued' AND payload @> '{\"periodic\":true}'::jsonb)",
		    1, p, NULL);
	if (rc == CLR_OK && clr_db_commit(db) == CLR_OK)
		return;
	clr_db_rollback(db);
fail:
	clr_log(NULL, CLR_LOG_WARN, "the next periodic reconcile could not be queued");
}

void reg_reconcile_schedule(const struct reg_app *app, struct clr_db *db, long delay_s)
{
	schedule_next(app, db, delay_s);
}

enum clr_rc reg_job_reconcile(void *appv, struct clr_db *db, const struct clr_job *job,
			      struct clr_err *e)
{
	const struct reg_app *app = appv;
	struct clr_http_client *http = NULL;
	const char *pid = json_string_value(json_object_get(job->payload, "provider_id"));
	const char *policy = json_string_value(json_object_get(job->payload, "policy"));
	int dry = json_is_true(json_object_get(job->payload, "dry_run"));
	int periodic = json_is_true(json_object_get(job->payload, "periodic"));
	PGresult *res = NULL;
	json_t *rep = NULL;
	enum clr_rc rc = CLR_OK;
	int i, n;

	if ((pid != NULL && !clr_uuid_valid(pid)) ||
	    (policy != NULL && !reg_reconcile_policy_valid(policy)))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
				   "reconcile job: bad provider_id or policy");
	if ((rc = clr_http_client_new(&http)) != CLR_OK)
		return clr_err_set(e, rc, NULL, NULL, "no HTTP client");
	if (pid != NULL) {
		rc = reg_reconcile_provider(app, db, http, pid, policy, dry, &rep, e);
		json_decref(rep);
		if (rc == CLR_ERR_NOTFOUND)
			rc = CLR_ERR_PARAM;
		goto out;
	}
	if ((rc = clr_db_exec_sql(db, "SELECT id::text FROM providers ORDER BY name", 0, NULL,
				  &res)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "reading the providers failed");
		goto out;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		struct clr_err pe = {0};
		rep = NULL;
		/* One provider's trouble is stored with it; the others still run. */
		if (reg_reconcile_provider(app, db, http, PQgetvalue(res, i, 0), policy, dry, &rep,
					   &pe) != CLR_OK)
			clr_log(NULL, CLR_LOG_WARN, "reconcile %s: %s", PQgetvalue(res, i, 0),
				pe.msg);
		json_decref(rep);
	}
out:
	PQclear(res);
	clr_http_client_free(http);
	if (periodic) {
		/* The chain goes on through schedule_next alone, never through a retry. */
		schedule_next(app, db, app->cfg->reconcile_interval_s);
		if (rc != CLR_OK)
			clr_log(NULL, CLR_LOG_WARN, "periodic reconcile: %s", e->msg);
		return CLR_OK;
	}
	/* A run of that provider under way elsewhere: this one is retried after it. */
	return rc;
}

/* ---- metrics ---- */

static pthread_mutex_t metrics_mu = PTHREAD_MUTEX_INITIALIZER;
static char *metrics_text;

void reg_reconcile_metrics_refresh(struct clr_db *db)
{
	PGresult *res = NULL;
	char *s = NULL;
	size_t len = 0;
	FILE *f;
	int i, k, n;

	if (clr_db_exec_sql(db,
			    "SELECT provider_id::text, status, extract(epoch FROM ran_at)::bigint,"
			    " counts::text FROM provider_reconcile ORDER BY provider_id",
			    0, NULL, &res) != CLR_OK) {
		PQclear(res);
		return;
	}
	f = open_memstream(&s, &len);
	if (f == NULL) {
		PQclear(res);
		return;
	}
	n = PQntuples(res);
	fputs("# HELP clearance_reconcile_last_run_timestamp_seconds When each provider was last "
	      "reconciled, by the run's status.\n"
	      "# TYPE clearance_reconcile_last_run_timestamp_seconds gauge\n",
	      f);
	for (i = 0; i < n; i++)
		fprintf(f,
			"clearance_reconcile_last_run_timestamp_seconds{provider=\"%s\",status=\"%"
			"s\"} %s\n",
			PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
	fputs("# HELP clearance_reconcile_clients Clients per class in each provider's last "
	      "reconcile run.\n"
	      "# TYPE clearance_reconcile_clients gauge\n",
	      f);
	for (i = 0; i < n; i++) {
		json_error_t jerr;
		json_t *c = json_loads(PQgetvalue(res, i, 3), 0, &jerr);
		for (k = 0; k < C__MAX; k++)
			fprintf(f,
				"clearance_reconcile_clients{provider=\"%s\",class=\"%s\"} %lld\n",
				PQgetvalue(res, i, 0), class_names[k],
				(long long)json_integer_value(json_object_get(c, class_names[k])));
		json_decref(c);
	}
	if (fclose(f) != 0) {
		free(s);
		s = NULL;
	}
	PQclear(res);
	pthread_mutex_lock(&metrics_mu);
	free(metrics_text);
	metrics_text = s;
	pthread_mutex_unlock(&metrics_mu);
}

char *reg_reconcile_metrics(void)
{
	char *out = NULL;

	pthread_mutex_lock(&metrics_mu);
	if (asprintf(&out,
		     "%s# HELP clearance_reconcile_runs_total Reconcile runs of one provider "
		     "finished by this process, by status.\n"
		     "# TYPE clearance_reconcile_runs_total counter\n"
		     "clearance_reconcile_runs_total{status=\"ok\"} %lu\n"
		     "clearance_reconcile_runs_total{status=\"unsupported\"} %lu\n"
		     "clearance_reconcile_runs_total{status=\"error\"} %lu\n",
		     metrics_text != NULL ? metrics_text : "", atomic_load(&runs_total[0]),
		     atomic_load(&runs_total[1]), atomic_load(&runs_total[2])) < 0)
		out = NULL;
	pthread_mutex_unlock(&metrics_mu);
	return out;
}
