/*
 * reconcile.c - `clearance-ctl reconcile` (see reconcile.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "clearance/jobs.h"
#include "clearance/util.h"
#include "reconcile.h"

struct opts {
	const char *provider;
	const char *policy;
	int dry_run;
	long wait_s;
};

static int parse(int argc, char **argv, struct opts *o)
{
	char *end;
	int i;

	memset(o, 0, sizeof(*o));
	o->wait_s = 120;
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0) {
			o->dry_run = 1;
		} else if (i + 1 < argc && strcmp(argv[i], "--provider") == 0) {
			o->provider = argv[++i];
			if (!clr_uuid_valid(o->provider))
				return 0;
		} else if (i + 1 < argc && strcmp(argv[i], "--policy") == 0) {
			o->policy = argv[++i];
			if (strcmp(o->policy, "report") != 0 && strcmp(o->policy, "delete") != 0 &&
			    strcmp(o->policy, "adopt") != 0)
				return 0;
		} else if (i + 1 < argc && strcmp(argv[i], "--wait") == 0) {
			o->wait_s = strtol(argv[++i], &end, 10);
			if (*end != '\0' || o->wait_s < 1 || o->wait_s > 3600)
				return 0;
		} else {
			return 0;
		}
	}
	return 1;
}

int ctl_reconcile_args_ok(int argc, char **argv)
{
	struct opts o;

	return parse(argc, argv, &o);
}

/* Prints s with control characters replaced. */
static void put_clean(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

static const char *const shown[] = {"listed",	    "matched", "stray",		"foreign",
				    "in_flight",    "missing", "unknown_found", "unknown_adopted",
				    "unknown_gone", "deleted", "orphaned",	"failed_actions",
				    "retired"};

int ctl_reconcile(struct clr_db *db, int argc, char **argv, FILE *out)
{
	struct opts o;
	PGresult *res = NULL;
	json_t *payload = NULL;
	char t0[64], (*jobs)[37] = NULL;
	const char *p[2];
	int i, n = 0, status = 1, pending;
	time_t deadline;

	if (!parse(argc, argv, &o)) {
		fputs(
		    "usage: clearance-ctl reconcile [--provider ID] [--policy report|delete|adopt]"
		    " [--dry-run] [--wait SECONDS]\n",
		    stderr);
		return 2;
	}
	if (clr_db_exec_sql(db, "SELECT now()::text", 0, NULL, &res) != CLR_OK ||
	    PQntuples(res) != 1)
		goto dberr;
	snprintf(t0, sizeof(t0), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	res = NULL;
	p[0] = o.provider;
	if (clr_db_exec_sql(db,
			    o.provider != NULL
				? "SELECT id::text FROM providers WHERE id = $1::uuid"
				: "SELECT id::text FROM providers ORDER BY name",
			    o.provider != NULL ? 1 : 0, p, &res) != CLR_OK)
		goto dberr;
	n = PQntuples(res);
	if (n == 0) {
		fputs(o.provider != NULL ? "clearance-ctl: no such provider\n"
					 : "clearance-ctl: no providers\n",
		      stderr);
		status = o.provider != NULL ? 1 : 0;
		goto out;
	}
	jobs = calloc((size_t)n, sizeof(*jobs));
	if (jobs == NULL || clr_db_begin(db) != CLR_OK)
		goto dberr;
	for (i = 0; i < n; i++) {
		json_decref(payload);
		payload = json_pack("{s:s, s:b}", "provider_id", PQgetvalue(res, i, 0), "dry_run",
				    o.dry_run);
		if (payload == NULL ||
		    (o.policy != NULL &&
		     json_object_set_new(payload, "policy", json_string(o.policy)) != 0) ||
		    clr_jobs_enqueue(db, "reconcile", payload, jobs[i]) != CLR_OK) {
			clr_db_rollback(db);
			goto dberr;
		}
	}
	if (clr_db_commit(db) != CLR_OK)
		goto dberr;
	PQclear(res);
	res = NULL;
	deadline = time(NULL) + o.wait_s;
	for (;;) {
		pending = 0;
		for (i = 0; i < n; i++) {
			p[0] = jobs[i];
			if (clr_db_exec_sql(db, "SELECT state FROM jobs WHERE id = $1::uuid", 1, p,
					    &res) != CLR_OK)
				goto dberr;
			if (PQntuples(res) == 1 && (strcmp(PQgetvalue(res, 0, 0), "queued") == 0 ||
						    strcmp(PQgetvalue(res, 0, 0), "running") == 0))
				pending++;
			PQclear(res);
			res = NULL;
		}
		if (pending == 0 || time(NULL) >= deadline)
			break;
		usleep(250 * 1000);
	}
	p[0] = o.provider;
	p[1] = t0;
	if (clr_db_exec_sql(
		db,
		"SELECT p.name, p.kind, p.id::text, r.status, r.policy, r.dry_run, r.counts::text,"
		" r.last_error, r.ran_at >= $2::timestamptz"
		" FROM providers p LEFT JOIN provider_reconcile r ON r.provider_id = p.id"
		" WHERE $1::uuid IS NULL OR p.id = $1::uuid ORDER BY p.name",
		2, p, &res) != CLR_OK)
		goto dberr;
	status = pending > 0 ? 1 : 0;
	for (i = 0; i < PQntuples(res); i++) {
		json_error_t jerr;
		json_t *c;
		int fresh = !PQgetisnull(res, i, 8) && PQgetvalue(res, i, 8)[0] == 't';

		put_clean(out, PQgetvalue(res, i, 0));
		fprintf(out, " (%s, %s): ", PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
		if (!fresh) {
			fputs("no run finished (is the registrar's job worker running?)\n", out);
			status = 1;
			continue;
		}
		fprintf(out, "%s, policy %s%s", PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
			PQgetvalue(res, i, 5)[0] == 't' ? ", dry run" : "");
		c = json_loads(PQgetvalue(res, i, 6), 0, &jerr);
		if (strcmp(PQgetvalue(res, i, 3), "ok") == 0)
			for (size_t k = 0; k < sizeof(shown) / sizeof(shown[0]); k++)
				fprintf(
				    out, "%s%s %lld", k == 0 ? ": " : ", ", shown[k],
				    (long long)json_integer_value(json_object_get(c, shown[k])));
		json_decref(c);
		if (!PQgetisnull(res, i, 7)) {
			fputs(" (", out);
			put_clean(out, PQgetvalue(res, i, 7));
			fputc(')', out);
		}
		fputc('\n', out);
		if (strcmp(PQgetvalue(res, i, 3), "error") == 0)
			status = 1;
	}
	goto out;
dberr:
	fputs("clearance-ctl: database error\n", stderr);
	status = 1;
out:
	PQclear(res);
	json_decref(payload);
	free(jobs);
	return status;
}
