/*
 * h_jobs.c - the admin's read-only view of the job queue (GET /v1/jobs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "h_jobs.h"
#include "routes.h"
#include "store.h"

void reg_h_jobs_list(struct clr_req *r)
{
	static const char *const states[] = {"queued", "running", "done", "failed"};
	char *state = NULL, *kind = NULL;
	char lim[16], off[16];
	const char *p[4];
	PGresult *res = NULL;
	struct clr_err e = {0};

	if (clr_req_query_enum(r, "state", states, 4, &state, &e) != CLR_OK)
		goto fail;
	if (clr_req_query(r, "kind", &kind) != CLR_OK) {
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", "kind", "malformed query string");
		goto fail;
	}
	if (kind != NULL && strlen(kind) > 64) {
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", "kind", "kind is too long");
		goto fail;
	}
	if (clr_req_paging(r, lim, off, &e) != CLR_OK)
		goto fail;
	p[0] = state;
	p[1] = kind;
	p[2] = lim;
	p[3] = off;
	if ((e.rc = clr_db_exec(r->db, "reg_jb_list", 4, p, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "listing jobs failed");
		goto fail;
	}
	clr_resp_json(r, 200, json_pack("{s:o}", "jobs", reg_rows_json(res)));
	goto out;
fail:
	clr_resp_fail(r, &e);
out:
	PQclear(res);
	free(state);
	free(kind);
}

void reg_h_jobs_get(struct clr_req *r)
{
	reg_get_one(r, "job", "reg_jb_get");
}
