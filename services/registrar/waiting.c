/*
 * waiting.c - bounded waiting for the registrar's IdP jobs (waiting.h).
 *
 * Polling a primary-key row every REG_WAIT_POLL_MS costs one indexed read
 * per poll and needs no connection of its own; a LISTEN would tie the
 * request's shared connection to notifications it must drain.  At most
 * max(1, threads / 2) request threads wait at a time, so however slow the
 * IdP, half the pool serves other routes.
 */
#include <ctype.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clearance/util.h"
#include "waiting.h"

static atomic_int busy_slots;

/* Length of the token at s (up to '=', ';', ',' or space). */
static size_t token_len(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0' && s[n] != '=' && s[n] != ';' && s[n] != ',' && s[n] != ' ' &&
	       s[n] != '\t')
		n++;
	return n;
}

long reg_wait_budget(struct clr_req *r, const struct clr_config *cfg, int *asked_async)
{
	return reg_wait_prefer(clr_req_env(r, "HTTP_PREFER"), cfg->reg_wait_ms, asked_async);
}

long reg_wait_prefer(const char *v, long max_ms, int *asked_async)
{
	long budget = max_ms, wait_s = -1;
	int async = 0;

	if (asked_async != NULL)
		*asked_async = 0;
	/* RFC 7240: comma-separated preferences, each token [= value] [; params]. */
	while (v != NULL && *v != '\0') {
		size_t n;

		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		n = token_len(v);
		if (n == 13 && strncasecmp(v, "respond-async", n) == 0) {
			async = 1;
		} else if (n == 4 && strncasecmp(v, "wait", n) == 0) {
			const char *p = v + n;

			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '=') {
				p++;
				while (*p == ' ' || *p == '\t' || *p == '"')
					p++;
				if (isdigit((unsigned char)*p)) {
					wait_s = 0;
					/* Capped well before overflow; the cap is the config
					 * anyway. */
					while (isdigit((unsigned char)*p) && wait_s < 100000)
						wait_s = wait_s * 10 + (*p++ - '0');
				}
			}
		}
		v = strchr(v, ',');
	}
	if (async && wait_s < 0)
		budget = 0;
	else if (wait_s >= 0 && wait_s * 1000 < budget)
		budget = wait_s * 1000;
	if (asked_async != NULL)
		*asked_async = async;
	return budget > 0 ? budget : 0;
}

int reg_slot_enter(const struct clr_config *cfg)
{
	int max = cfg->threads / 2 > 1 ? cfg->threads / 2 : 1;

	if (atomic_fetch_add(&busy_slots, 1) < max)
		return 1;
	atomic_fetch_sub(&busy_slots, 1);
	return 0;
}

void reg_slot_leave(void)
{
	atomic_fetch_sub(&busy_slots, 1);
}

/* Copies column c of row 0 into dst (size n); NULL leaves it empty. */
static void col(PGresult *res, int c, char *dst, size_t n)
{
	snprintf(dst, n, "%s", PQgetisnull(res, 0, c) ? "" : PQgetvalue(res, 0, c));
}

enum reg_wait_end reg_wait_job(struct clr_db *db, const char *job_id, long ms, struct clr_err *e)
{
	long long deadline = clr_now_ms() + ms;
	const char *p[1] = {job_id};

	for (;;) {
		PGresult *res = NULL;
		enum reg_wait_end end = REG_WAIT_PENDING;
		int over;

		if (clr_db_exec(db, "reg_jb_outcome", 1, p, &res) != CLR_OK ||
		    PQntuples(res) != 1) {
			PQclear(res);
			return REG_WAIT_PENDING;
		}
		if (strcmp(PQgetvalue(res, 0, 0), "done") == 0) {
			end = REG_WAIT_DONE;
		} else if (strcmp(PQgetvalue(res, 0, 0), "failed") == 0) {
			char rc[48];

			end = REG_WAIT_FAILED;
			memset(e, 0, sizeof(*e));
			col(res, 1, rc, sizeof(rc));
			e->rc = clr_rc_from_name(rc);
			if (e->rc == CLR_OK)
				e->rc = CLR_ERR_INTERNAL;
			col(res, 2, e->error, sizeof(e->error));
			col(res, 3, e->field, sizeof(e->field));
			col(res, 4, e->msg, sizeof(e->msg));
		}
		PQclear(res);
		if (end != REG_WAIT_PENDING)
			return end;
		over = clr_now_ms() + REG_WAIT_POLL_MS > deadline;
		if (over)
			return REG_WAIT_PENDING;
		poll(NULL, 0, REG_WAIT_POLL_MS);
	}
}
