/*
 * h_jwks.c - the admin view of a provider's JWKS cache and a forced
 * refresh.  nginx routes /v1/providers/{id}/jwks* to this service (the
 * rest of /v1/providers belongs to the registrar).
 */
#include <string.h>
#include <jansson.h>

#include "clearance/util.h"
#include "handlers.h"
#include "introspect.h"

static const struct ix_prov *find(struct clr_req *r, struct ix_provs *snap)
{
	const struct ix_prov *p = NULL;

	if (r->nparams >= 1 && clr_uuid_valid(r->params[0]))
		p = ix_provs_by_id(snap, r->params[0]);
	if (p == NULL)
		clr_resp_error(r, 404, "not_found", "no such provider");
	return p;
}

static void send_info(struct clr_req *r, const struct ix_prov *p, int status)
{
	json_t *o = ix_jwks_cache_info(p->jwks, clr_now_ms());

	if (o == NULL) {
		clr_resp_error(r, 500, "server_error", "out of memory");
		return;
	}
	json_object_set_new(o, "provider_id", json_string(p->id));
	json_object_set_new(o, "issuer", json_string(p->issuer));
	clr_resp_json(r, status, o);
}

void ix_h_jwks_get(struct clr_req *r)
{
	struct ix_app *app = r->app;
	struct ix_provs *snap = ix_provreg_get(app->provs);
	const struct ix_prov *p = find(r, snap);

	if (p != NULL)
		send_info(r, p, 200);
	ix_provs_release(snap);
}

void ix_h_jwks_refresh(struct clr_req *r)
{
	struct ix_app *app = r->app;
	struct ix_provs *snap = ix_provreg_get(app->provs);
	const struct ix_prov *p = find(r, snap);
	struct clr_err e;

	memset(&e, 0, sizeof(e));
	if (p != NULL) {
		if (ix_jwks_cache_refresh(p->jwks, r->http, clr_now_ms(), &e) == CLR_OK)
			send_info(r, p, 200);
		else
			clr_resp_error(r, 502, "upstream_error",
				       e.msg[0] ? e.msg : "JWKS fetch failed");
	}
	ix_provs_release(snap);
}
