/*
 * reseal.c - re-encrypt sealed values under the current key (reseal.h).
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "clearance/log.h"
#include "reseal.h"

#define BATCH "200"

/*
 * Every sealed column.  The AAD name is what the services seal with
 * ("<table>.<column without _sealed>"); the statements are spelled out
 * because identifiers cannot be parameters.  $1 is the current kid, $2 the
 * last id seen (keyset paging: resumable, and rows added meanwhile are
 * simply found or already current).
 */
static const struct sealed_col {
	const char *aad;
	const char *column; /* table.column as information_schema names it */
	const char *select_sql;
	const char *count_current_sql;
	const char *update_sql;
} cols[] = {
    {"providers.initial_access_token", "providers.initial_access_token_sealed",
     "SELECT id::text, initial_access_token_sealed, "
     "split_part(initial_access_token_sealed, '.', 2) = $1 FROM providers "
     "WHERE initial_access_token_sealed IS NOT NULL AND id::text > $2 ORDER BY id::text "
     "LIMIT " BATCH,
     "SELECT count(*) FROM providers WHERE split_part(initial_access_token_sealed, '.', 2) = $1",
     "UPDATE providers SET initial_access_token_sealed = $1 "
     "WHERE id = $2::uuid AND initial_access_token_sealed = $3"},
    {"providers.initial_client_secret", "providers.initial_client_secret_sealed",
     "SELECT id::text, initial_client_secret_sealed, "
     "split_part(initial_client_secret_sealed, '.', 2) = $1 FROM providers "
     "WHERE initial_client_secret_sealed IS NOT NULL AND id::text > $2 ORDER BY id::text "
     "LIMIT " BATCH,
     "SELECT count(*) FROM providers WHERE split_part(initial_client_secret_sealed, '.', 2) = $1",
     "UPDATE providers SET initial_client_secret_sealed = $1 "
     "WHERE id = $2::uuid AND initial_client_secret_sealed = $3"},
    {"providers.reconcile_credential", "providers.reconcile_credential_sealed",
     "SELECT id::text, reconcile_credential_sealed, "
     "split_part(reconcile_credential_sealed, '.', 2) = $1 FROM providers "
     "WHERE reconcile_credential_sealed IS NOT NULL AND id::text > $2 ORDER BY id::text "
     "LIMIT " BATCH,
     "SELECT count(*) FROM providers WHERE split_part(reconcile_credential_sealed, '.', 2) = $1",
     "UPDATE providers SET reconcile_credential_sealed = $1 "
     "WHERE id = $2::uuid AND reconcile_credential_sealed = $3"},
    {"registrations.client_secret", "registrations.client_secret_sealed",
     "SELECT id::text, client_secret_sealed, split_part(client_secret_sealed, '.', 2) = $1 "
     "FROM registrations WHERE client_secret_sealed IS NOT NULL AND id::text > $2 "
     "ORDER BY id::text LIMIT " BATCH,
     "SELECT count(*) FROM registrations WHERE split_part(client_secret_sealed, '.', 2) = $1",
     "UPDATE registrations SET client_secret_sealed = $1 "
     "WHERE id = $2::uuid AND client_secret_sealed = $3"},
    {"registrations.registration_access_token", "registrations.registration_access_token_sealed",
     "SELECT id::text, registration_access_token_sealed, "
     "split_part(registration_access_token_sealed, '.', 2) = $1 FROM registrations "
     "WHERE registration_access_token_sealed IS NOT NULL AND id::text > $2 ORDER BY id::text "
     "LIMIT " BATCH,
     "SELECT count(*) FROM registrations "
     "WHERE split_part(registration_access_token_sealed, '.', 2) = $1",
     "UPDATE registrations SET registration_access_token_sealed = $1 "
     "WHERE id = $2::uuid AND registration_access_token_sealed = $3"},
    {"webhooks.secret", "webhooks.secret_sealed",
     "SELECT id::text, secret_sealed, split_part(secret_sealed, '.', 2) = $1 FROM webhooks "
     "WHERE secret_sealed IS NOT NULL AND id::text > $2 ORDER BY id::text LIMIT " BATCH,
     "SELECT count(*) FROM webhooks WHERE split_part(secret_sealed, '.', 2) = $1",
     "UPDATE webhooks SET secret_sealed = $1 WHERE id = $2::uuid AND secret_sealed = $3"},
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))

struct tally {
	long resealed, current, changed, unreadable;
};

/*
 * A sealed column this file does not list would be skipped silently, and
 * the operator would then drop the key that still opens it: refuse to run.
 */
static enum clr_rc check_known(struct clr_db *db, FILE *out)
{
	PGresult *r = NULL;
	enum clr_rc rc;
	int i, unknown = 0;
	size_t k;

	rc = clr_db_exec_sql(
	    db,
	    "SELECT table_name || '.' || column_name FROM information_schema.columns "
	    "WHERE table_schema = current_schema() AND column_name LIKE '%\\_sealed' "
	    "ORDER BY 1",
	    0, NULL, &r);
	if (rc != CLR_OK)
		return rc;
	for (i = 0; i < PQntuples(r); i++) {
		const char *c = PQgetvalue(r, i, 0);
		for (k = 0; k < NCOLS && strcmp(cols[k].column, c) != 0; k++)
			;
		if (k == NCOLS) {
			if (out != NULL)
				fprintf(out, "reseal: %s is sealed but unknown to this command\n",
					c);
			unknown++;
		}
	}
	PQclear(r);
	return unknown > 0 ? CLR_ERR_CONFLICT : CLR_OK;
}

/* One value: unseal, seal under the current key, compare-and-set. */
static enum clr_rc reseal_one(struct clr_db *db, const struct clr_sealer *s,
			      const struct sealed_col *c, const char *id, const char *old,
			      int check_only, struct tally *t)
{
	char *pt = NULL, *fresh = NULL;
	size_t ptlen = 0;
	const char *p[3];
	PGresult *r = NULL;
	enum clr_rc rc;

	if (clr_unseal(s, c->aad, id, old, &pt, &ptlen) != CLR_OK) {
		/* Never the value: only where it is. */
		clr_log(NULL, CLR_LOG_ERROR, "reseal: %s of row %s cannot be unsealed", c->aad, id);
		t->unreadable++;
		return CLR_OK;
	}
	if (check_only) {
		clr_unsealed_free(pt, ptlen);
		t->resealed++;
		return CLR_OK;
	}
	rc = clr_seal(s, c->aad, id, pt, ptlen, &fresh);
	clr_unsealed_free(pt, ptlen);
	if (rc != CLR_OK)
		return rc;
	p[0] = fresh;
	p[1] = id;
	p[2] = old;
	rc = clr_db_exec_sql(db, c->update_sql, 3, p, &r);
	if (rc == CLR_OK) {
		if (strcmp(PQcmdTuples(r), "1") == 0)
			t->resealed++;
		else
			t->changed++; /* rewritten by a service meanwhile: under the new key */
	}
	PQclear(r);
	free(fresh);
	return rc;
}

static enum clr_rc reseal_col(struct clr_db *db, const struct clr_sealer *s,
			      const struct sealed_col *c, int check_only, struct tally *t)
{
	char last[64] = "";
	const char *p[2] = {clr_sealer_kid(s), last};
	PGresult *r = NULL;
	enum clr_rc rc;
	int i, n;

	for (;;) {
		if ((rc = clr_db_exec_sql(db, c->select_sql, 2, p, &r)) != CLR_OK)
			return rc;
		n = PQntuples(r);
		for (i = 0; i < n && rc == CLR_OK; i++) {
			if (strcmp(PQgetvalue(r, i, 2), "t") == 0)
				continue; /* counted below, once */
			rc = reseal_one(db, s, c, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
					check_only, t);
		}
		if (n > 0)
			snprintf(last, sizeof(last), "%s", PQgetvalue(r, n - 1, 0));
		PQclear(r);
		r = NULL;
		if (rc != CLR_OK || n < atoi(BATCH))
			break;
	}
	if (rc != CLR_OK)
		return rc;
	if ((rc = clr_db_exec_sql(db, c->count_current_sql, 1, p, &r)) != CLR_OK)
		return rc;
	/* Values resealed by this run are under the current key too. */
	t->current = strtol(PQgetvalue(r, 0, 0), NULL, 10) - (check_only ? 0 : t->resealed);
	if (t->current < 0)
		t->current = 0;
	PQclear(r);
	return CLR_OK;
}

enum clr_rc ctl_reseal(struct clr_db *db, const struct clr_sealer *s, int check_only, FILE *out,
		       long *unreadable)
{
	enum clr_rc rc;
	size_t k;

	*unreadable = 0;
	if ((rc = check_known(db, out)) != CLR_OK)
		return rc;
	for (k = 0; k < NCOLS; k++) {
		struct tally t = {0};
		if ((rc = reseal_col(db, s, &cols[k], check_only, &t)) != CLR_OK)
			return rc;
		if (out != NULL)
			fprintf(out,
				"%s: %ld %s, %ld already current, %ld changed meanwhile, "
				"%ld unreadable\n",
				cols[k].aad, t.resealed, check_only ? "to reseal" : "resealed",
				t.current, t.changed, t.unreadable);
		*unreadable += t.unreadable;
	}
	return *unreadable > 0 ? CLR_ERR_PARAM : CLR_OK;
}
