/*
 * h_usage.c - GET /v1/usage (admin): this month's quota use per client and
 * plan, from the shared counters every gateway copy leases from
 * (limits.h).  ?client_id= narrows it to one client; ?month=YYYY-MM picks
 * another calendar month (UTC).  "used" counts the units leased out, which
 * is at least what was admitted and at most copies x block more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "clearance/log.h"
#include "handlers.h"
#include "limits.h"

/* "YYYY-MM" -> YYYYMM, or -1. */
static long long month_param(const char *s)
{
	int y, m;
	char tail;

	if (s == NULL || strlen(s) != 7 || sscanf(s, "%4d-%2d%c", &y, &m, &tail) != 2 || y < 2000 ||
	    y > 9999 || m < 1 || m > 12)
		return -1;
	return (long long)y * 100 + m;
}

static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_t *row_json(PGresult *res, int i)
{
	long long period = strtoll(PQgetvalue(res, i, 4), NULL, 10);
	char month[48];

	snprintf(month, sizeof(month), "%04lld-%02lld", period / 100, period % 100);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "issuer", PQgetvalue(res, i, 0),
			 "client_id", PQgetvalue(res, i, 1), "plan_id", PQgetvalue(res, i, 2),
			 "plan", PQgetvalue(res, i, 3), "month", month, "used",
			 (json_int_t)strtoll(PQgetvalue(res, i, 5), NULL, 10), "monthly_quota",
			 (json_int_t)strtoll(PQgetvalue(res, i, 6), NULL, 10));
}

void ix_h_usage(struct clr_req *r)
{
	char *client = NULL, *month = NULL, period[32];
	const char *v[2];
	PGresult *res = NULL;
	json_t *arr = NULL, *row;
	long long p;
	long reset_s;
	enum clr_rc rc;

	if (clr_req_query(r, "client_id", &client) != CLR_OK ||
	    clr_req_query(r, "month", &month) != CLR_OK) {
		clr_resp_error(r, 400, "invalid_request", "badly encoded query");
		goto out;
	}
	p = month != NULL ? month_param(month)
			  : ix_limit_period(IX_LIMIT_MONTH, 0, wall_ms(), &reset_s);
	if (p < 0) {
		clr_resp_error(r, 400, "invalid_request", "month must be YYYY-MM");
		goto out;
	}
	if (client != NULL && (client[0] == '\0' || strlen(client) > 1000)) {
		clr_resp_error(r, 400, "invalid_request", "client_id must be 1 to 1000 characters");
		goto out;
	}
	snprintf(period, sizeof(period), "%lld", p);
	v[0] = period;
	v[1] = client;
	rc = clr_db_exec(r->db, "ix_usage_list", 2, v, &res);
	if (rc != CLR_OK) {
		struct clr_err e;
		memset(&e, 0, sizeof(e));
		e.rc = CLR_ERR_DB;
		clr_resp_err(r, &e);
		goto out;
	}
	arr = json_array();
	for (int i = 0; arr != NULL && i < PQntuples(res); i++) {
		row = row_json(res, i);
		if (row == NULL || json_array_append_new(arr, row) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	if (arr == NULL) {
		clr_resp_error(r, 500, "server_error", "out of memory");
		goto out;
	}
	clr_resp_json(r, 200, json_pack("{s:o}", "usage", arr));
out:
	PQclear(res);
	free(client);
	free(month);
}
