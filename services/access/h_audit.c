/*
 * h_audit.c - the audit log (admins only).
 *
 * audit_log is the shared append-only log (sql/005, 057): access and the
 * registrar insert their rows, this lists them newest first with filters,
 * the total of matching rows and a link to the next page.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clearance/form.h"
#include "h_audit.h"
#include "util.h"

#define AUDIT_FILTER_MAX 256

static int digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int acc_rfc3339_valid(const char *s)
{
	struct tm tm = {0}, back;
	const char *p;
	time_t t;
	int mday;

	if (s == NULL || strlen(s) < 20 || strlen(s) > 32)
		return 0;
	if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
	    (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) || s[13] != ':' ||
	    !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
		return 0;
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	mday = tm.tm_mday = atoi(s + 8);
	tm.tm_hour = atoi(s + 11);
	tm.tm_min = atoi(s + 14);
	tm.tm_sec = atoi(s + 17);
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || mday < 1 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 59)
		return 0;
	/* A day past the month's end rolls over: 2026-02-30 is not a date. */
	t = timegm(&tm);
	if (gmtime_r(&t, &back) == NULL || back.tm_mday != mday)
		return 0;
	p = s + 19;
	if (*p == '.') {
		int n = 0;

		while (isdigit((unsigned char)p[1 + n]))
			n++;
		if (n < 1 || n > 6)
			return 0;
		p += 1 + n;
	}
	if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0')
		return 1;
	return (p[0] == '+' || p[0] == '-') && digits(p + 1, 2) && p[3] == ':' &&
	       digits(p + 4, 2) && p[6] == '\0' && atoi(p + 1) <= 23 && atoi(p + 4) <= 59;
}

static const char *const filter_names[] = {"action", "target_id", "target_type",
					   "actor",  "since",	  "until"};
#define NFILTERS (sizeof(filter_names) / sizeof(filter_names[0]))

/* "/v1/audit?<filters>&limit=L&offset=O" (new), NULL when out of memory. */
static char *next_link(char *const *f, const char *lim, long off)
{
	size_t cap = 64, used;
	char *out, *esc[NFILTERS] = {0};

	for (size_t i = 0; i < NFILTERS; i++) {
		if (f[i] == NULL)
			continue;
		esc[i] = clr_form_escape(f[i], strlen(f[i]));
		if (esc[i] == NULL)
			goto oom;
		cap += strlen(filter_names[i]) + strlen(esc[i]) + 2;
	}
	out = malloc(cap);
	if (out == NULL)
		goto oom;
	used = (size_t)snprintf(out, cap, "/v1/audit?");
	for (size_t i = 0; i < NFILTERS; i++)
		if (esc[i] != NULL)
			used += (size_t)snprintf(out + used, cap - used, "%s=%s&", filter_names[i],
						 esc[i]);
	snprintf(out + used, cap - used, "limit=%s&offset=%ld", lim, off);
	for (size_t i = 0; i < NFILTERS; i++)
		free(esc[i]);
	return out;
oom:
	for (size_t i = 0; i < NFILTERS; i++)
		free(esc[i]);
	return NULL;
}

void acc_h_audit_list(struct clr_req *r)
{
	struct clr_err e = {0};
	char lim[16], off[16], *f[NFILTERS] = {0}, *next = NULL;
	const char *p[NFILTERS + 2];
	json_t *out = NULL, *list;
	json_int_t total;
	long o;

	if (clr_req_paging(r, lim, off, &e) != CLR_OK)
		goto fail;
	for (size_t i = 0; i < NFILTERS; i++) {
		if (clr_req_query(r, filter_names[i], &f[i]) != CLR_OK) {
			clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", filter_names[i],
				    "malformed query string");
			goto fail;
		}
		if (f[i] != NULL && (f[i][0] == '\0' || strlen(f[i]) > AUDIT_FILTER_MAX)) {
			clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", filter_names[i],
				    "%s must be 1 to %d characters", filter_names[i],
				    AUDIT_FILTER_MAX);
			goto fail;
		}
		if (i >= 4 && f[i] != NULL && !acc_rfc3339_valid(f[i])) {
			clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", filter_names[i],
				    "%s must be an RFC 3339 date-time such as "
				    "2026-01-31T12:00:00Z",
				    filter_names[i]);
			goto fail;
		}
		p[i] = f[i];
	}
	p[NFILTERS] = lim;
	p[NFILTERS + 1] = off;
	if (acc_db_json(r->db, "acc_audit_list", NFILTERS + 2, p, &out, &e) != CLR_OK)
		goto fail;
	list = json_object_get(out, "audit");
	total = json_integer_value(json_object_get(out, "total"));
	o = atol(off) + (long)json_array_size(list);
	if (json_array_size(list) > 0 && o < (long)total) {
		next = next_link(f, lim, o);
		if (next == NULL) {
			clr_err_set(&e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
			goto fail;
		}
	}
	if (json_object_set_new(out, "next", next != NULL ? json_string(next) : json_null()) != 0) {
		clr_err_set(&e, CLR_ERR_NOMEM, NULL, NULL, "out of memory");
		goto fail;
	}
	clr_resp_json(r, 200, out);
	out = NULL;
	goto done;
fail:
	clr_resp_fail(r, &e);
done:
	json_decref(out);
	free(next);
	for (size_t i = 0; i < NFILTERS; i++)
		free(f[i]);
}
