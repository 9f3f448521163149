/*
 * driver.h - one driver per IdP family behind one interface.
 *
 * A driver never does I/O itself: it builds the exact wire request for an
 * operation (struct drv_wire_req) and parses the IdP's response into a
 * struct drv_reg_result.  driver.c runs the exchange with http_out.  That
 * split is what lets the unit tests check each vendor's exact request and
 * its parsing of the vendor's documented responses without a network, and
 * lets the HTTP routes and the job worker share one code path
 * (drv_register & co. below).
 *
 * Families: other (plain RFC 7591/7592), keycloak, okta, gluu, curity,
 * http_bridge (Kong's DCR bridge contract), glewlwyd.
 */
#ifndef CLEARANCE_REGISTRAR_DRIVER_H
#define CLEARANCE_REGISTRAR_DRIVER_H

#include <jansson.h>
#include "clearance/rc.h"
#include "clearance/http_out.h"

enum drv_idp_kind {
	DRV_IDP_OTHER,
	DRV_IDP_KEYCLOAK,
	DRV_IDP_OKTA,
	DRV_IDP_GLUU,
	DRV_IDP_CURITY,
	DRV_IDP_HTTP_BRIDGE,
	DRV_IDP_GLEWLWYD,
	DRV_IDP__MAX
};

/* "other", "keycloak", ...; NULL for an out-of-range kind. */
const char *drv_idp_kind_name(enum drv_idp_kind k);
/* CLR_ERR_PARAM for an unknown name. */
enum clr_rc drv_idp_kind_parse(const char *s, enum drv_idp_kind *out) CLR_MUSTCHECK;

/* A provider as the drivers see it: all strings borrowed, secrets unsealed. */
struct drv_provider {
	const char *id;
	enum drv_idp_kind kind;
	const char *issuer;
	const char *registration_endpoint; /* for http_bridge: the bridge base URL */
	const char *token_endpoint;
	const char *initial_access_token; /* or Okta API token, or bridge X-API-KEY; may be NULL */
	/*
	 * Client credentials for a short-lived initial access token (Curity,
	 * Glewlwyd, any RFC 7591 kind), and the scope to ask for it (NULL: the
	 * kind's default, "dcr" for Curity, none otherwise).
	 */
	const char *initial_client_id;
	const char *initial_client_secret;
	const char *initial_token_scope;
	/*
	 * The credential of the family's client listing API when the provider
	 * has one of its own for it (Glewlwyd: an admin API key); NULL = the
	 * family's default (see drv_list).
	 */
	const char *list_credential;
	struct clr_http_opts http; /* allow_http, tls_skip_verify, ca_pem, timeouts */
};

/* The client type's metadata (borrowed). */
struct drv_client_type {
	const json_t *response_types; /* array of strings, may be empty */
	const json_t *grant_types;    /* array of strings */
	const char *token_endpoint_auth_method;
	const char *okta_application_type; /* "web", "service", "browser", "native" or NULL */
	const char *id;			   /* the client type's uuid, or NULL */
};

/* What a registration asks for (borrowed). */
struct drv_reg_input {
	const char *client_name;
	const json_t *redirect_uris; /* array, may be empty */
	const char *scope;	     /* space separated, may be NULL */
	/*
	 * The registration's uuid, or NULL.  A family that keeps a free-form
	 * field gets DRV_TAG_PREFIX + tag there (Glewlwyd: description), so a
	 * listing can tie a client to its intent (drv_tag_of).
	 */
	const char *tag;
};

/* What Clearance writes into a client it registers, before the uuid. */
#define DRV_TAG_PREFIX "clearance-registration:"

/*
 * One client as a family's listing shows it.  All members new or NULL;
 * drv_list_page_clear frees.  ref is the vendor's own id of the client when it
 * differs from client_id (Okta's app id, Keycloak's internal id); tag the
 * registration uuid of a DRV_TAG_PREFIX tag; client_secret only when the
 * listing shows it (Glewlwyd), wiped on clear.
 */
struct drv_listed {
	char *client_id;
	char *name;
	char *ref;
	char *tag;
	char *client_secret;
};

/* One page of a listing; next is the cursor of the next page or NULL. */
struct drv_list_page {
	struct drv_listed *items;
	size_t n;
	char *next;
};
void drv_list_page_clear(struct drv_list_page *pg);

/* The uuid of a DRV_TAG_PREFIX tag in s (new), or NULL. */
char *drv_tag_of(const char *s);

/* A stored registration, for update / delete / rotate (borrowed, unsealed). */
struct drv_reg_ref {
	const char *client_id;
	const char *registration_client_uri;   /* may be NULL: driver derives it */
	const char *registration_access_token; /* may be NULL */
};

/* One request on the wire.  All members new; drv_wire_req_clear frees. */
struct drv_wire_req {
	const char *method; /* static string */
	char *url;
	char *auth_name;  /* "Authorization" or "X-API-KEY"; NULL = none */
	char *auth_value; /* e.g. "Bearer abc", "SSWS abc" */
	json_t *json;	  /* JSON body or NULL */
	char *form;	  /* application/x-www-form-urlencoded body or NULL */
};
void drv_wire_req_clear(struct drv_wire_req *w);

/*
 * What the IdP returned.  All members new or NULL; drv_reg_result_clear
 * frees them (secrets are wiped).  metadata is the IdP's response with
 * client_secret and registration_access_token removed: what is stored.
 */
struct drv_reg_result {
	char *client_id;
	char *client_secret;
	char *registration_access_token;
	char *registration_client_uri;
	/* 0 = never, DRV_EXPIRES_UNKNOWN = a secret without the field (RFC 7591 s.3.2.1) */
	long long client_secret_expires_at;
	json_t *metadata;
};
void drv_reg_result_clear(struct drv_reg_result *r);
#define DRV_EXPIRES_UNKNOWN (-1LL)

enum drv_op { DRV_OP_REGISTER, DRV_OP_UPDATE, DRV_OP_DELETE, DRV_OP_ROTATE, DRV_OP__MAX };

struct drv_driver {
	enum drv_idp_kind kind;
	int can_rotate; /* 0: rotate is a 409 */
	/*
	 * 1: registration without an initial token (or, with a pre-step, its
	 * client credentials) is refused before any request, as a 409.
	 */
	int needs_initial_token;
	/*
	 * Optional pre-step (Curity): builds the request for the token that is
	 * then used as the initial access token, and parses it into *token (new).
	 */
	enum clr_rc (*build_initial_token)(const struct drv_provider *p, struct drv_wire_req *out,
					   struct clr_err *e);
	enum clr_rc (*parse_initial_token)(const struct clr_http_resp *resp, char **token,
					   struct clr_err *e);
	/*
	 * Builds the request of op.  bearer is the initial access token to use
	 * for DRV_OP_REGISTER (already obtained by the pre-step when there is
	 * one); ref is NULL for REGISTER.  ct and in are NULL for DELETE/ROTATE.
	 */
	enum clr_rc (*build)(enum drv_op op, const struct drv_provider *p,
			     const struct drv_client_type *ct, const struct drv_reg_input *in,
			     const struct drv_reg_ref *ref, const char *bearer,
			     struct drv_wire_req *out, struct clr_err *e);
	/*
	 * Parses the response of op.  For DELETE success returns CLR_OK with
	 * *out empty.  IdP errors become: 400 -> CLR_ERR_PARAM, 401/403 ->
	 * CLR_ERR_DENIED, 404 -> CLR_ERR_NOTFOUND, anything else or non-JSON ->
	 * CLR_ERR_UPSTREAM, with e->msg quoting the IdP's error and
	 * error_description (bounded, never a secret).
	 */
	enum clr_rc (*parse)(enum drv_op op, const struct drv_provider *p,
			     const struct clr_http_resp *resp, struct drv_reg_result *out,
			     struct clr_err *e);
	/*
	 * Optional client listing, for reconciling (NULL: the family cannot
	 * list its clients with what Clearance has).  list_cc: the listing
	 * wants a client credentials token of the provider's initial client
	 * (drv_cc_build_initial_token) as cred; otherwise cred is
	 * p->list_credential, else (unless list_own_credential)
	 * p->initial_access_token.  cursor NULL asks
	 * for the first page.
	 */
	int list_cc;
	/* 1: registrations carry DRV_TAG_PREFIX where the listing shows it. */
	int list_tagged;
	/*
	 * 1: the listing takes only p->list_credential (Glewlwyd's admin API
	 * key), never the initial access token, which is for registering.
	 */
	int list_own_credential;
	enum clr_rc (*build_list)(const struct drv_provider *p, const char *cred,
				  const char *cursor, struct drv_wire_req *out, struct clr_err *e);
	enum clr_rc (*parse_list)(const struct drv_provider *p, const char *cursor,
				  const struct clr_http_resp *resp, struct drv_list_page *out,
				  struct clr_err *e);
	/*
	 * Deletes a listed client through the same API (NULL: drv_delete with
	 * the listed client_id, e.g. Okta's DCR API takes the API token).
	 */
	enum clr_rc (*build_list_delete)(const struct drv_provider *p, const char *cred,
					 const struct drv_listed *it, struct drv_wire_req *out,
					 struct clr_err *e);
};

/* The driver of kind k; never NULL for a valid kind. */
const struct drv_driver *drv_get(enum drv_idp_kind k);

/*
 * The whole exchanges, used by the HTTP routes and the job worker alike:
 * pre-step if any, build, send with http_out, parse.  *out filled on CLR_OK
 * and empty otherwise.  Requests carry "Accept: application/json" and, with
 * a body, "Content-Type: application/json" (compact JSON) or the form type.
 *
 * Errors: those of build/parse above, CLR_ERR_CONFLICT when the provider or
 * the stored registration lacks what the operation needs (no initial token
 * for okta/http_bridge/curity, no registration access token for an RFC 7592
 * update/delete, rotate on a driver with can_rotate 0, update on
 * http_bridge), and http_out's CLR_ERR_TIMEOUT / CLR_ERR_UPSTREAM.  The
 * provider's and registration's secrets are redacted from e->msg.
 *
 * Register: a token from the client credentials pre-step is cached
 * (token_cache.h); a 401/403 to a registration with a cached token drops it
 * and the registration is sent once more with a fresh one.  Register and
 * update answers whose registration_client_uri fails drv_check_client_uri
 * are CLR_ERR_UPSTREAM (for register with *maybe_created 1: the client
 * exists).
 *
 * Update: an IdP may return a new registration access token (Keycloak,
 * oidc-provider and Curity always do, and the old one stops working):
 * when out->registration_access_token is set, persist it; when NULL, keep
 * the stored one.  out->client_secret is set only if the IdP sent one.
 * Okta: every operation uses the provider's API token (SSWS); Okta issues
 * no registration access token.  Delete: a 404 is CLR_ERR_NOTFOUND, which
 * the caller may treat as already gone.
 */
enum clr_rc drv_register(struct clr_http_client *c, const struct drv_provider *p,
			 const struct drv_client_type *ct, const struct drv_reg_input *in,
			 struct drv_reg_result *out, struct clr_err *e) CLR_MUSTCHECK;
/*
 * drv_register that also tells, on failure, whether the IdP may have
 * created the client anyway (*maybe_created 1: timeout, broken or
 * unreadable answer, 502/504) or certainly did not (0: refused before
 * sending, no connection, or a readable error answer).
 */
enum clr_rc drv_register_outcome(struct clr_http_client *c, const struct drv_provider *p,
				 const struct drv_client_type *ct, const struct drv_reg_input *in,
				 struct drv_reg_result *out, int *maybe_created,
				 struct clr_err *e) CLR_MUSTCHECK;
enum clr_rc drv_update(struct clr_http_client *c, const struct drv_provider *p,
		       const struct drv_client_type *ct, const struct drv_reg_input *in,
		       const struct drv_reg_ref *ref, struct drv_reg_result *out,
		       struct clr_err *e) CLR_MUSTCHECK;
enum clr_rc drv_delete(struct clr_http_client *c, const struct drv_provider *p,
		       const struct drv_reg_ref *ref, struct clr_err *e) CLR_MUSTCHECK;
enum clr_rc drv_rotate(struct clr_http_client *c, const struct drv_provider *p,
		       const struct drv_reg_ref *ref, struct drv_reg_result *out,
		       struct clr_err *e) CLR_MUSTCHECK;

/* 1 when p's family can list its clients (drv_list). */
int drv_can_list(const struct drv_provider *p);

/*
 * Lists every client the IdP shows with the listing credential, page by
 * page (at most DRV_LIST_MAX_PAGES pages): *out a page holding all of them
 * (new; clear with drv_list_page_clear).  CLR_ERR_CONFLICT when the family
 * cannot list or the credential is missing; build/parse/http_out errors
 * otherwise (CLR_ERR_UPSTREAM when the listing has more pages than the
 * bound: an incomplete listing is never taken for the whole).
 */
#define DRV_LIST_MAX_PAGES 100
enum clr_rc drv_list(struct clr_http_client *c, const struct drv_provider *p,
		     struct drv_list_page *out, struct clr_err *e) CLR_MUSTCHECK;

/* Deletes a listed client (see build_list_delete).  404 is CLR_ERR_NOTFOUND. */
enum clr_rc drv_list_delete(struct clr_http_client *c, const struct drv_provider *p,
			    const struct drv_listed *it, struct clr_err *e) CLR_MUSTCHECK;

/*
 * Appends a copy of it (members stolen, it zeroed) to pg.  CLR_ERR_NOMEM.
 * For the parse_list implementations.
 */
enum clr_rc drv_list_push(struct drv_list_page *pg, struct drv_listed *it) CLR_MUSTCHECK;

/*
 * ---- Shared by the drivers (drv_*.c) and their unit tests. ----
 * Not for the routes or the worker: they use drv_register & co.
 */

/*
 * For parse_list: a 200 answer holding a JSON array (*arr new), else
 * drv_parse_error (non-2xx) or CLR_ERR_UPSTREAM.
 */
enum clr_rc drv_list_array(const struct clr_http_resp *resp, json_t **arr,
			   struct clr_err *e) CLR_MUSTCHECK;

/*
 * Offset paging: the offset in cursor (NULL = 0; CLR_ERR_PARAM unless
 * decimal digits), and the next page's cursor (new) when a page came back
 * full (n == page_size), else NULL.
 */
enum clr_rc drv_offset_cursor(const char *cursor, long *offset, struct clr_err *e) CLR_MUSTCHECK;
enum clr_rc drv_offset_next(long offset, size_t n, size_t page_size, char **next,
			    struct clr_err *e) CLR_MUSTCHECK;

/*
 * For build_list with offset paging: *out (cleared first) is the GET of
 * base (borrowed) + "?<off_name>=<offset from cursor>&<lim_name>=<limit>",
 * authenticated with "Authorization: <scheme> <cred>".
 */
enum clr_rc drv_offset_list_req(struct drv_wire_req *out, const char *base, const char *cursor,
				const char *off_name, const char *lim_name, int limit,
				const char *scheme, const char *cred,
				struct clr_err *e) CLR_MUSTCHECK;

/*
 * Adds one listed client to pg from JSON strings (any may be NULL but
 * client_id: a NULL or empty client_id is skipped, CLR_OK); the tag is read
 * from tag_src (drv_tag_of).
 */
enum clr_rc drv_list_add(struct drv_list_page *pg, const char *client_id, const char *name,
			 const char *ref, const char *tag_src, const char *secret,
			 struct clr_err *e) CLR_MUSTCHECK;

/*
 * The RFC 7591 metadata object for ct + in: client_name, redirect_uris
 * (only when non-empty), response_types (always, explicitly [] for a
 * client-credentials-only type, or the IdP defaults it to "code"),
 * grant_types, token_endpoint_auth_method, scope (space separated, when
 * set).  client_id is added when not NULL (RFC 7592 PUT).  *out new.
 * CLR_ERR_PARAM for a malformed client type or input.
 */
enum clr_rc drv_rfc7591_body(const struct drv_client_type *ct, const struct drv_reg_input *in,
			     const char *client_id, json_t **out, struct clr_err *e) CLR_MUSTCHECK;

/*
 * Parses an RFC 7591/7592 client information response (2xx).  client_id is
 * required; client_secret, registration_access_token,
 * registration_client_uri and client_secret_expires_at are optional (a
 * secret without an integer client_secret_expires_at gets
 * DRV_EXPIRES_UNKNOWN).  A non-2xx status goes through drv_parse_error.
 * On error *out is left empty.
 */
enum clr_rc drv_parse_rfc7591(const struct clr_http_resp *resp, struct drv_reg_result *out,
			      struct clr_err *e) CLR_MUSTCHECK;

/*
 * Turns an IdP error response into *e and returns its rc (never CLR_OK):
 * 400 -> PARAM, 401/403 -> DENIED, 404 -> NOTFOUND, anything else ->
 * UPSTREAM.  Reads {"error","error_description"} and Okta's
 * {"errorCode","errorSummary","errorCauses"}; the IdP's words are bounded
 * and reduced to printable ASCII; a non-JSON body is never quoted.
 */
enum clr_rc drv_parse_error(const struct clr_http_resp *resp, struct clr_err *e);
/* The HTTP status an error of drv_parse_error quotes, or 0 for any other error. */
long drv_err_http_status(const struct clr_err *e);

/* DELETE: 200/204 -> CLR_OK, else drv_parse_error. */
enum clr_rc drv_parse_no_content(const struct clr_http_resp *resp, struct clr_err *e) CLR_MUSTCHECK;

/*
 * Sets w->auth_name = name and w->auth_value = "<scheme> <token>" (or just
 * token when scheme is NULL).  CLR_ERR_PARAM when the token holds control
 * characters (header injection) or is empty.
 */
enum clr_rc drv_set_auth(struct drv_wire_req *w, const char *name, const char *scheme,
			 const char *token, struct clr_err *e) CLR_MUSTCHECK;

/*
 * *out = base + "/" + percent-encoded seg + suffix (suffix may be NULL);
 * one trailing '/' of base is dropped first.  *out new.
 */
enum clr_rc drv_url_seg(const char *base, const char *seg, const char *suffix, char **out,
			struct clr_err *e) CLR_MUSTCHECK;

/*
 * The URL that manages ref's client: ref->registration_client_uri when
 * stored, else registration_endpoint + "/" + client_id (the layout of
 * oidc-provider, Keycloak and Curity).  *out new.
 */
enum clr_rc drv_client_uri(const struct drv_provider *p, const struct drv_reg_ref *ref, char **out,
			   struct clr_err *e) CLR_MUSTCHECK;

/*
 * The plain RFC 7591/7592 request of op, which most drivers wrap:
 * REGISTER = POST reg_url with "Authorization: Bearer <bearer>" when bearer
 * is set; UPDATE = PUT client_uri with the full metadata plus client_id;
 * DELETE = DELETE client_uri; both with "Bearer <registration access
 * token>" (CLR_ERR_CONFLICT when none is stored).  ROTATE is
 * CLR_ERR_CONFLICT: RFC 7592 has no secret rotation.  client_uri may be NULL
 * for REGISTER.
 */
enum clr_rc drv_build_rfc7592(enum drv_op op, const struct drv_provider *p,
			      const struct drv_client_type *ct, const struct drv_reg_input *in,
			      const struct drv_reg_ref *ref, const char *bearer,
			      const char *reg_url, const char *client_uri, struct drv_wire_req *out,
			      struct clr_err *e) CLR_MUSTCHECK;
/* Its parse: client information for REGISTER/UPDATE, 204 for DELETE. */
enum clr_rc drv_parse_rfc7592(enum drv_op op, const struct drv_provider *p,
			      const struct clr_http_resp *resp, struct drv_reg_result *out,
			      struct clr_err *e) CLR_MUSTCHECK;

/*
 * RFC 7591 s.3.2 / RFC 7592: a registration_client_uri is used as given, but
 * only when it is https (or http on a provider with allow_http) on the
 * registration endpoint's origin (scheme, host, port; the issuer's when
 * the endpoint is derived): the registration access token goes there on
 * PUT and DELETE.  NULL passes.  CLR_ERR_UPSTREAM otherwise; drv_client_uri
 * checks a stored URI before any request is built with it.
 */
enum clr_rc drv_check_client_uri(const struct drv_provider *p, const char *uri,
				 struct clr_err *e) CLR_MUSTCHECK;

/*
 * Removes secret from e->msg, also where a bounded copy cut it short (a
 * run of 8+ characters that begins like it).  Secrets under 4 bytes are
 * left alone.  Every error text that quoted an IdP answer to a request
 * carrying secret goes through this before anyone sees it.
 */
void drv_redact(struct clr_err *e, const char *secret);

/*
 * The client credentials pre-step every RFC 7591 kind may use (drv_curity.c):
 * POST token_endpoint, grant_type=client_credentials and the scope of
 * p->initial_token_scope (Curity's default "dcr"), HTTP Basic with the
 * form-encoded initial_client_id / initial_client_secret (RFC 6749 2.3.1).
 * The parse takes access_token from a 200 answer (*token new) and prefixes
 * an error with "getting the initial access token: ".
 */
enum clr_rc drv_cc_build_initial_token(const struct drv_provider *p, struct drv_wire_req *out,
				       struct clr_err *e) CLR_MUSTCHECK;
enum clr_rc drv_cc_parse_initial_token(const struct clr_http_resp *resp, char **token,
				       struct clr_err *e) CLR_MUSTCHECK;

/*
 * What Glewlwyd (and the placeholder option) sends as redirect_uris for a
 * client without redirects: an https URI under the reserved .invalid
 * domain (RFC 6761), which can never be reached.
 */
#define DRV_PLACEHOLDER_REDIRECT_URI "https://clearance.invalid/no-redirect"

/* The driver tables, one per drv_*.c. */
extern const struct drv_driver drv_other;
extern const struct drv_driver drv_keycloak;
extern const struct drv_driver drv_okta;
extern const struct drv_driver drv_gluu;
extern const struct drv_driver drv_curity;
extern const struct drv_driver drv_http_bridge;
extern const struct drv_driver drv_glewlwyd;

#endif
