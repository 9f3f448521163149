/*
 * apply.c - the catalogue as code (apply.h): a declarative file compared
 * with what the admin API reports, and the difference applied through it.
 *
 * Everything is checked before the first write: the file's shape, every
 * secret reference, every name a product refers to and every provider kind
 * change.  A file that fails any check changes nothing.  After that, writes
 * go in dependency order (providers, client types, plans, products,
 * webhooks, then --prune deletions in reverse), and the first refused write
 * stops the run with the API's own error, so a re-run after fixing the file
 * continues where it stopped (apply is idempotent).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "clearance/http_out.h"
#include "apply.h"

#define EXIT_USAGE 2
#define API_TIMEOUT_MS 30000
#define MAX_DOC (4L * 1024 * 1024)
#define MAX_SECRET 8192

struct api {
	struct clr_http_client *c;
	struct clr_http_opts o;
	char base[1024];
	char auth[4200];
};

/* What one run counts, printed as its last line. */
struct tally {
	int created, updated, deleted, unchanged;
	int dry;
};

/* ------------------------------------------------------------ the API */

static void api_close(struct api *a)
{
	clr_http_client_free(a->c);
	OPENSSL_cleanse(a->auth, sizeof(a->auth));
}

/* Reads the admin token from the environment or its file; 0 on failure. */
static int read_token(char *out, size_t cap)
{
	const char *t = getenv("CLEARANCE_ADMIN_TOKEN"), *path;
	FILE *f;
	size_t n;

	if (t != NULL && t[0] != '\0') {
		if (strlen(t) >= cap)
			return 0;
		memcpy(out, t, strlen(t) + 1);
		return 1;
	}
	path = getenv("CLEARANCE_ADMIN_TOKEN_FILE");
	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(out, 1, cap - 1, f);
	fclose(f);
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
		out[--n] = '\0';
	return n > 0;
}

static int api_open(struct api *a)
{
	const char *base = getenv("CLEARANCE_API_URL");
	char tok[4096];
	size_t n;

	memset(a, 0, sizeof(*a));
	if (base == NULL || base[0] == '\0')
		base = "http://127.0.0.1:8080";
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(a->base)) {
		fputs("clearance-ctl: CLEARANCE_API_URL is not a usable URL\n", stderr);
		return 0;
	}
	memcpy(a->base, base, n);
	a->base[n] = '\0';
	if (!read_token(tok, sizeof(tok))) {
		fputs("clearance-ctl: set CLEARANCE_ADMIN_TOKEN or CLEARANCE_ADMIN_TOKEN_FILE "
		      "(an admin token from `clearance-ctl admin-token create`)\n",
		      stderr);
		return 0;
	}
	snprintf(a->auth, sizeof(a->auth), "Bearer %s", tok);
	OPENSSL_cleanse(tok, sizeof(tok));
	/* The operator chose the URL; plain http is theirs to choose (loopback). */
	a->o.allow_http = strncmp(a->base, "http://", 7) == 0;
	a->o.timeout_ms = API_TIMEOUT_MS;
	a->o.max_response = MAX_DOC;
	if (clr_http_client_new(&a->c) != CLR_OK) {
		fputs("clearance-ctl: cannot create an HTTP client\n", stderr);
		return 0;
	}
	return 1;
}

/*
 * One call.  Returns the HTTP status, or -1 when nothing usable came back
 * (message printed).  *out (new, may be NULL) is the JSON body.
 */
static long api_call(struct api *a, const char *method, const char *path, json_t *body,
		     json_t **out)
{
	struct clr_http_header h[2] = {{"Authorization", a->auth},
				       {"Content-Type", "application/json"}};
	struct clr_http_resp resp = {0};
	struct clr_err e = {0};
	char url[2048], *txt = NULL;
	json_error_t je;
	long status = -1;

	*out = NULL;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", a->base, path) >= sizeof(url)) {
		fprintf(stderr, "clearance-ctl: URL too long: %s\n", path);
		return -1;
	}
	if (body != NULL && (txt = json_dumps(body, JSON_COMPACT)) == NULL) {
		fputs("clearance-ctl: out of memory\n", stderr);
		return -1;
	}
	if (clr_http_do(a->c, &a->o, method, url, h, body != NULL ? 2 : 1, txt,
			txt != NULL ? strlen(txt) : 0, &resp, &e) != CLR_OK) {
		fprintf(stderr, "clearance-ctl: %s %s: %s\n", method, url, e.msg);
		goto out;
	}
	status = resp.status;
	if (resp.body_len > 0 &&
	    (*out = json_loadb(resp.body, resp.body_len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		fprintf(stderr, "clearance-ctl: %s %s: answer %ld is not JSON\n", method, path,
			status);
		status = -1;
	}
out:
	if (txt != NULL) {
		/* A body may carry a resolved secret. */
		OPENSSL_cleanse(txt, strlen(txt));
		free(txt);
	}
	clr_http_resp_clear(&resp);
	return status;
}

/* Prints the API's error for a refused call. */
static void api_refused(const char *what, long status, const json_t *body)
{
	const char *err = json_string_value(json_object_get(body, "error"));
	const char *desc = json_string_value(json_object_get(body, "error_description"));
	const char *field = json_string_value(json_object_get(body, "field"));

	if (status < 0)
		return; /* already said */
	fprintf(stderr, "clearance-ctl: %s: HTTP %ld %s%s%s", what, status, err != NULL ? err : "",
		desc != NULL ? ": " : "", desc != NULL ? desc : "");
	if (field != NULL)
		fprintf(stderr, " (field %s)", field);
	fputc('\n', stderr);
}

/* GET path and return (new) its member `key`, an array; NULL on failure. */
static json_t *api_list(struct api *a, const char *path, const char *key)
{
	json_t *body = NULL, *arr;
	long st = api_call(a, "GET", path, NULL, &body);

	if (st != 200 || !json_is_array(arr = json_object_get(body, key))) {
		api_refused(path, st, body);
		json_decref(body);
		return NULL;
	}
	json_incref(arr);
	json_decref(body);
	return arr;
}

/* ------------------------------------------------------------ the file */

static const char *const provider_keys[] = {"name",
					    "kind",
					    "well_known_url",
					    "audience",
					    "tls_skip_verify",
					    "allow_insecure_http",
					    "ca_bundle_pem",
					    "initial_client_id",
					    "token_endpoint_auth_method",
					    NULL};
static const char *const provider_secrets[] = {"initial_access_token", "initial_client_secret",
					       NULL};
static const char *const ctype_keys[] = {"display_name",
					 "description",
					 "response_types",
					 "grant_types",
					 "token_endpoint_auth_method",
					 "okta_application_type",
					 NULL};
static const char *const plan_keys[] = {
    "name",	     "description", "scopes", "rate_limit_requests", "rate_limit_window_seconds",
    "monthly_quota", NULL};
static const char *const product_keys[] = {
    "name", "description", "path_prefixes", "dcr_enabled", "scopes", "auto_approve", NULL};
static const char *const product_refs[] = {"plans", "client_types", NULL};
static const char *const webhook_keys[] = {"url", "events", NULL};

static int in_list(const char *const *l, const char *k)
{
	for (; *l != NULL; l++)
		if (strcmp(*l, k) == 0)
			return 1;
	return 0;
}

/* Every member of o must be one of the lists (or `extra`). */
static int check_keys(const json_t *o, const char *where, const char *const *a,
		      const char *const *b, const char *extra)
{
	const char *k;
	json_t *v;
	int ok = 1;

	json_object_foreach((json_t *)o, k, v)
	{
		(void)v;
		if (in_list(a, k) || (b != NULL && in_list(b, k)) ||
		    (extra != NULL && strcmp(extra, k) == 0))
			continue;
		fprintf(stderr, "clearance-ctl: %s: unknown field \"%s\"\n", where, k);
		ok = 0;
	}
	return ok;
}

/* A secret reference: env:NAME or file:PATH.  Literals are refused. */
static int secret_ref_ok(const char *s)
{
	size_t i;

	if (strncmp(s, "file:", 5) == 0)
		return s[5] != '\0';
	if (strncmp(s, "env:", 4) != 0 || s[4] == '\0')
		return 0;
	for (i = 4; s[i] != '\0'; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* Resolves a reference into a new string (the caller wipes it); NULL on failure. */
static char *secret_resolve(const char *ref, const char *where)
{
	char *buf;
	size_t n = 0;
	FILE *f;

	if (strncmp(ref, "env:", 4) == 0) {
		const char *v = getenv(ref + 4);
		if (v == NULL || v[0] == '\0') {
			fprintf(stderr, "clearance-ctl: %s: environment variable %s is not set\n",
				where, ref + 4);
			return NULL;
		}
		if (strlen(v) >= MAX_SECRET) {
			fprintf(stderr, "clearance-ctl: %s: %s is too long\n", where, ref + 4);
			return NULL;
		}
		return strdup(v);
	}
	if ((f = fopen(ref + 5, "r")) == NULL) {
		fprintf(stderr, "clearance-ctl: %s: cannot read %s: %s\n", where, ref + 5,
			strerror(errno));
		return NULL;
	}
	if ((buf = malloc(MAX_SECRET)) != NULL)
		n = fread(buf, 1, MAX_SECRET - 1, f);
	if (buf != NULL && !feof(f)) {
		fprintf(stderr, "clearance-ctl: %s: %s is too long\n", where, ref + 5);
		OPENSSL_cleanse(buf, MAX_SECRET);
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf == NULL)
		return NULL;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n == 0) {
		fprintf(stderr, "clearance-ctl: %s: %s is empty\n", where, ref + 5);
		free(buf);
		return NULL;
	}
	return buf;
}

/* The array doc[key], or an empty one; NULL (message printed) if not an array of objects. */
static json_t *section(const json_t *doc, const char *key)
{
	json_t *a = json_object_get(doc, key), *v;
	size_t i;

	if (a == NULL)
		return json_array();
	if (!json_is_array(a)) {
		fprintf(stderr, "clearance-ctl: \"%s\" must be an array\n", key);
		return NULL;
	}
	json_array_foreach(a, i, v) if (!json_is_object(v))
	{
		fprintf(stderr, "clearance-ctl: %s[%zu] must be an object\n", key, i);
		return NULL;
	}
	return json_incref(a);
}

/* Member `key` of o as a non-empty string, or NULL with a message. */
static const char *need_str(const json_t *o, const char *key, const char *where)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL || s[0] == '\0')
		fprintf(stderr, "clearance-ctl: %s: \"%s\" is required (a non-empty string)\n",
			where, key);
	return s != NULL && s[0] != '\0' ? s : NULL;
}

/* The element of array `arr` whose `key` equals name (borrowed), or NULL. */
static json_t *find_by(const json_t *arr, const char *key, const char *name)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
	{
		const char *s = json_string_value(json_object_get(v, key));
		if (s != NULL && strcmp(s, name) == 0)
			return v;
	}
	return NULL;
}

/* 1 if providers (file or server) hold the client type {provider, client_type}. */
static int ctype_known(const json_t *provs, const json_t *ref)
{
	const json_t *p =
	    find_by(provs, "name", json_string_value(json_object_get(ref, "provider")));

	return find_by(json_object_get(p, "client_types"), "display_name",
		       json_string_value(json_object_get(ref, "client_type"))) != NULL;
}

/*
 * Checks the whole document before anything is written: shapes, unknown
 * fields, duplicate names, secret references, and that every plan and
 * client type a product names exists in the file or on the server.
 */
static int doc_check(const json_t *doc, json_t *provs, json_t *plans, json_t *prods, json_t *hooks,
		     const json_t *cur_plans, const json_t *cur_provs)
{
	static const char *const top[] = {"$schema",  "version",  "providers", "plans",
					  "products", "webhooks", NULL};
	char where[256];
	json_t *p, *c, *v, *ref;
	size_t i, j, k;
	int ok = check_keys(doc, "file", top, NULL, NULL);

	if (json_object_get(doc, "version") != NULL &&
	    json_integer_value(json_object_get(doc, "version")) != 1) {
		fputs("clearance-ctl: file: \"version\" must be 1\n", stderr);
		ok = 0;
	}
	json_array_foreach(provs, i, p)
	{
		const char *name = json_string_value(json_object_get(p, "name"));
		json_t *cts = json_object_get(p, "client_types");
		snprintf(where, sizeof(where), "providers[%zu] (%s)", i, name ? name : "?");
		ok &= check_keys(p, where, provider_keys, provider_secrets, "client_types");
		if (need_str(p, "name", where) == NULL || need_str(p, "kind", where) == NULL ||
		    need_str(p, "well_known_url", where) == NULL)
			ok = 0;
		else if (find_by(provs, "name", name) != p) {
			fprintf(stderr, "clearance-ctl: %s: a second provider named \"%s\"\n",
				where, name);
			ok = 0;
		}
		for (k = 0; provider_secrets[k] != NULL; k++) {
			v = json_object_get(p, provider_secrets[k]);
			if (v != NULL &&
			    (!json_is_string(v) || !secret_ref_ok(json_string_value(v)))) {
				fprintf(stderr,
					"clearance-ctl: %s: %s must be a reference (env:NAME or "
					"file:PATH), never the secret itself\n",
					where, provider_secrets[k]);
				ok = 0;
			}
		}
		if (cts != NULL && !json_is_array(cts)) {
			fprintf(stderr, "clearance-ctl: %s: client_types must be an array\n",
				where);
			ok = 0;
			continue;
		}
		json_array_foreach(cts, j, c)
		{
			char w2[320];
			snprintf(w2, sizeof(w2), "%s client_types[%zu]", where, j);
			if (!json_is_object(c)) {
				fprintf(stderr, "clearance-ctl: %s must be an object\n", w2);
				ok = 0;
				continue;
			}
			ok &= check_keys(c, w2, ctype_keys, NULL, NULL);
			if (need_str(c, "display_name", w2) == NULL)
				ok = 0;
			else if (find_by(cts, "display_name",
					 json_string_value(json_object_get(c, "display_name"))) !=
				 c) {
				fprintf(stderr,
					"clearance-ctl: %s: a second client type of that name\n",
					w2);
				ok = 0;
			}
		}
	}
	json_array_foreach(plans, i, p)
	{
		snprintf(where, sizeof(where), "plans[%zu]", i);
		ok &= check_keys(p, where, plan_keys, NULL, NULL);
		if (need_str(p, "name", where) == NULL)
			ok = 0;
		else if (find_by(plans, "name", json_string_value(json_object_get(p, "name"))) !=
			 p) {
			fprintf(stderr, "clearance-ctl: %s: a second plan of that name\n", where);
			ok = 0;
		}
	}
	json_array_foreach(prods, i, p)
	{
		json_t *pl = json_object_get(p, "plans"), *ct = json_object_get(p, "client_types");
		snprintf(where, sizeof(where), "products[%zu]", i);
		ok &= check_keys(p, where, product_keys, product_refs, NULL);
		if (need_str(p, "name", where) == NULL)
			ok = 0;
		else if (find_by(prods, "name", json_string_value(json_object_get(p, "name"))) !=
			 p) {
			fprintf(stderr, "clearance-ctl: %s: a second product of that name\n",
				where);
			ok = 0;
		}
		if (pl != NULL && !json_is_array(pl)) {
			fprintf(stderr, "clearance-ctl: %s: plans must be an array of names\n",
				where);
			ok = 0;
		}
		json_array_foreach(pl, j, ref)
		{
			const char *n = json_string_value(ref);
			if (n == NULL || (find_by(plans, "name", n) == NULL &&
					  find_by(cur_plans, "name", n) == NULL)) {
				fprintf(stderr,
					"clearance-ctl: %s: plan %s is not in the file or the "
					"catalogue\n",
					where, n != NULL ? n : "(not a string)");
				ok = 0;
			}
		}
		if (ct != NULL && !json_is_array(ct)) {
			fprintf(stderr, "clearance-ctl: %s: client_types must be an array\n",
				where);
			ok = 0;
		}
		json_array_foreach(ct, j, ref)
		{
			if (!json_is_object(ref) ||
			    json_string_value(json_object_get(ref, "provider")) == NULL ||
			    json_string_value(json_object_get(ref, "client_type")) == NULL ||
			    json_object_size(ref) != 2) {
				fprintf(stderr,
					"clearance-ctl: %s: client_types[%zu] must be "
					"{\"provider\": NAME, \"client_type\": DISPLAY_NAME}\n",
					where, j);
				ok = 0;
				continue;
			}
			if (!ctype_known(provs, ref) && !ctype_known(cur_provs, ref)) {
				fprintf(
				    stderr,
				    "clearance-ctl: %s: client type %s/%s is not in the file or "
				    "the catalogue\n",
				    where, json_string_value(json_object_get(ref, "provider")),
				    json_string_value(json_object_get(ref, "client_type")));
				ok = 0;
			}
		}
	}
	json_array_foreach(hooks, i, p)
	{
		snprintf(where, sizeof(where), "webhooks[%zu]", i);
		ok &= check_keys(p, where, webhook_keys, NULL, NULL);
		if (need_str(p, "url", where) == NULL)
			ok = 0;
		else if (find_by(hooks, "url", json_string_value(json_object_get(p, "url"))) != p) {
			fprintf(stderr, "clearance-ctl: %s: a second webhook with that URL\n",
				where);
			ok = 0;
		}
		if (!json_is_array(json_object_get(p, "events"))) {
			fprintf(stderr, "clearance-ctl: %s: events must be an array\n", where);
			ok = 0;
		}
	}
	return ok;
}

/* ------------------------------------------------------------ differences */

/* Short printable form of a value for a diff line (new string). */
static char *show(const json_t *v)
{
	char *s = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("(none)");

	if (s != NULL && strlen(s) > 200)
		memcpy(s + 188, "...(long)", sizeof("...(long)")); /* s holds > 200 bytes */
	return s;
}

/* Values are equal when both are null or absent, or json_equal. */
static int same(const json_t *want, const json_t *have)
{
	if ((want == NULL || json_is_null(want)) && (have == NULL || json_is_null(have)))
		return 1;
	return want != NULL && have != NULL && json_equal((json_t *)want, (json_t *)have);
}

/*
 * Adds to *patch every field of `keys` that want sets and have differs in,
 * printing one line per field.  Returns how many fields differ.
 */
static int diff_fields(const char *kind, const char *name, const json_t *want, const json_t *have,
		       const char *const *keys, json_t *patch)
{
	int n = 0;

	for (; *keys != NULL; keys++) {
		json_t *w = json_object_get(want, *keys), *h = json_object_get(have, *keys);
		char *a, *b;
		if (w == NULL || same(w, h))
			continue;
		a = show(h);
		b = show(w);
		printf("~ %s %s: %s: %s -> %s\n", kind, name, *keys, a ? a : "?", b ? b : "?");
		free(a);
		free(b);
		json_object_set(patch, *keys, w);
		n++;
	}
	return n;
}

/* Sorted copy (new) of an array of strings, for set comparison. */
static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static json_t *sorted_strings(const json_t *a)
{
	size_t n = json_array_size(a), i;
	const char **v = calloc(n + 1, sizeof(*v));
	json_t *out = json_array();

	if (v == NULL || out == NULL) {
		free(v);
		json_decref(out);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		v[i] = json_string_value(json_array_get(a, i));
		if (v[i] == NULL)
			v[i] = "";
	}
	qsort(v, n, sizeof(*v), cmp_str);
	for (i = 0; i < n; i++)
		json_array_append_new(out, json_string(v[i]));
	free(v);
	return out;
}

/* Writes one object: POST/PATCH/DELETE unless dry; returns 0 on refusal. */
static int write_obj(struct api *a, const struct tally *t, const char *method, const char *path,
		     json_t *body, const char *what, json_t **created)
{
	json_t *resp = NULL;
	long st;

	if (created != NULL)
		*created = NULL;
	if (t->dry)
		return 1;
	st = api_call(a, method, path, body, &resp);
	if (st < 200 || st > 299) {
		api_refused(what, st, resp);
		json_decref(resp);
		return 0;
	}
	if (created != NULL)
		*created = resp;
	else
		json_decref(resp);
	return 1;
}

/* ------------------------------------------------------------ apply */

struct state {
	json_t *provs; /* current providers, each with "client_types" added */
	json_t *plans; /* current plans */
	json_t *prods; /* current products */
	json_t *hooks; /* current webhooks */
};

static void state_free(struct state *s)
{
	json_decref(s->provs);
	json_decref(s->plans);
	json_decref(s->prods);
	json_decref(s->hooks);
}

static int state_load(struct api *a, struct state *s)
{
	json_t *p;
	size_t i;
	char path[256];

	memset(s, 0, sizeof(*s));
	if ((s->provs = api_list(a, "/v1/providers", "providers")) == NULL ||
	    (s->plans = api_list(a, "/v1/plans", "plans")) == NULL ||
	    (s->prods = api_list(a, "/v1/products", "products")) == NULL ||
	    (s->hooks = api_list(a, "/v1/webhooks", "webhooks")) == NULL)
		return 0;
	json_array_foreach(s->provs, i, p)
	{
		json_t *cts;
		snprintf(path, sizeof(path), "/v1/providers/%s/client-types",
			 json_string_value(json_object_get(p, "id")));
		if ((cts = api_list(a, path, "client_types")) == NULL)
			return 0;
		json_object_set_new(p, "client_types", cts);
	}
	return 1;
}

/* Sets want's resolved secrets into body (only those the server lacks unless force). */
static int add_secrets(const json_t *want, const json_t *have, int force, json_t *body,
		       const char *name, int *changed)
{
	size_t k;

	for (k = 0; provider_secrets[k] != NULL; k++) {
		const char *ref = json_string_value(json_object_get(want, provider_secrets[k]));
		char setkey[64], *val;
		if (ref == NULL)
			continue;
		snprintf(setkey, sizeof(setkey), "%s_set", provider_secrets[k]);
		if (have != NULL && !force && json_is_true(json_object_get(have, setkey)))
			continue;
		if ((val = secret_resolve(ref, name)) == NULL)
			return 0;
		json_object_set_new(body, provider_secrets[k], json_string(val));
		OPENSSL_cleanse(val, strlen(val));
		free(val);
		if (have != NULL)
			printf("~ provider %s: %s: (set from %s)\n", name, provider_secrets[k],
			       ref);
		(*changed)++;
	}
	return 1;
}

static int apply_providers(struct api *a, struct state *s, const json_t *want, int force,
			   struct tally *t)
{
	json_t *w;
	size_t i;

	json_array_foreach(want, i, w)
	{
		const char *name = json_string_value(json_object_get(w, "name"));
		json_t *have = find_by(s->provs, "name", name), *body = json_object(), *made;
		char path[256];
		int n = 0, ok = 1;

		if (have == NULL) {
			size_t k;
			for (k = 0; provider_keys[k] != NULL; k++)
				if (json_object_get(w, provider_keys[k]) != NULL)
					json_object_set(body, provider_keys[k],
							json_object_get(w, provider_keys[k]));
			ok = add_secrets(w, NULL, 1, body, name, &n);
			printf("+ provider %s\n", name);
			if (ok &&
			    (ok = write_obj(a, t, "POST", "/v1/providers", body, name, &made)) &&
			    made != NULL) {
				json_object_set_new(made, "client_types", json_array());
				json_array_append_new(s->provs, made);
			}
			t->created += ok;
			json_decref(body);
			if (!ok)
				return 0;
			continue;
		}
		if (!same(json_object_get(w, "kind"), json_object_get(have, "kind"))) {
			fprintf(stderr,
				"clearance-ctl: provider %s is of kind %s; a kind cannot change "
				"(delete the provider or give the new one another name)\n",
				name, json_string_value(json_object_get(have, "kind")));
			json_decref(body);
			return 0;
		}
		n = diff_fields("provider", name, w, have,
				provider_keys + 2 /* name matched, kind is fixed */, body);
		ok = add_secrets(w, have, force, body, name, &n);
		snprintf(path, sizeof(path), "/v1/providers/%s",
			 json_string_value(json_object_get(have, "id")));
		if (ok && n > 0)
			ok = write_obj(a, t, "PATCH", path, body, name, NULL);
		json_decref(body);
		if (!ok)
			return 0;
		if (n > 0)
			t->updated++;
		else
			t->unchanged++;
	}
	return 1;
}

static int apply_ctypes(struct api *a, struct state *s, const json_t *want, struct tally *t)
{
	json_t *w, *c;
	size_t i, j;

	json_array_foreach(want, i, w)
	{
		const char *pname = json_string_value(json_object_get(w, "name"));
		json_t *prov = find_by(s->provs, "name", pname);
		json_t *have_cts = json_object_get(prov, "client_types");
		const char *pid = json_string_value(json_object_get(prov, "id"));

		json_array_foreach(json_object_get(w, "client_types"), j, c)
		{
			const char *cname = json_string_value(json_object_get(c, "display_name"));
			json_t *have = find_by(have_cts, "display_name", cname),
			       *body = json_object();
			json_t *made = NULL;
			char path[256], label[512];
			int n, ok = 1;

			snprintf(label, sizeof(label), "%s/%s", pname, cname);
			if (have == NULL) {
				json_object_update(body, c);
				printf("+ client_type %s\n", label);
				if (pid != NULL) {
					snprintf(path, sizeof(path),
						 "/v1/providers/%s/client-types", pid);
					ok = write_obj(a, t, "POST", path, body, label, &made);
				}
				if (made != NULL)
					json_array_append_new(have_cts, made);
				t->created += ok;
			} else {
				n = diff_fields("client_type", label, c, have, ctype_keys + 1,
						body);
				snprintf(path, sizeof(path), "/v1/client-types/%s",
					 json_string_value(json_object_get(have, "id")));
				if (n > 0)
					ok = write_obj(a, t, "PATCH", path, body, label, NULL);
				if (n > 0)
					t->updated += ok;
				else
					t->unchanged++;
			}
			json_decref(body);
			if (!ok)
				return 0;
		}
	}
	return 1;
}

static int apply_plans(struct api *a, struct state *s, const json_t *want, struct tally *t)
{
	json_t *w;
	size_t i;

	json_array_foreach(want, i, w)
	{
		const char *name = json_string_value(json_object_get(w, "name"));
		json_t *have = find_by(s->plans, "name", name), *body = json_object(), *made = NULL;
		char path[256];
		int n, ok = 1;

		if (have == NULL) {
			json_object_update(body, w);
			printf("+ plan %s\n", name);
			ok = write_obj(a, t, "POST", "/v1/plans", body, name, &made);
			if (made != NULL)
				json_array_append_new(s->plans, made);
			t->created += ok;
		} else {
			n = diff_fields("plan", name, w, have, plan_keys + 1, body);
			snprintf(path, sizeof(path), "/v1/plans/%s",
				 json_string_value(json_object_get(have, "id")));
			if (n > 0) {
				ok = write_obj(a, t, "PATCH", path, body, name, NULL);
				t->updated += ok;
			} else {
				t->unchanged++;
			}
		}
		json_decref(body);
		if (!ok)
			return 0;
	}
	return 1;
}

/* The id of a plan or client type by name; "(new NAME)" when only this dry run makes it. */
static json_t *ref_id(const struct state *s, const json_t *ref)
{
	if (json_is_string(ref)) {
		const json_t *p = find_by(s->plans, "name", json_string_value(ref));
		const char *id = json_string_value(json_object_get(p, "id"));
		return id != NULL ? json_string(id)
				  : json_sprintf("(new plan %s)", json_string_value(ref));
	} else {
		const char *pn = json_string_value(json_object_get(ref, "provider"));
		const char *cn = json_string_value(json_object_get(ref, "client_type"));
		const json_t *prov = find_by(s->provs, "name", pn);
		const json_t *ct =
		    find_by(json_object_get(prov, "client_types"), "display_name", cn);
		const char *id = json_string_value(json_object_get(ct, "id"));
		return id != NULL ? json_string(id)
				  : json_sprintf("(new client type %s/%s)", pn, cn);
	}
}

/* Maps a product's references to the id arrays the API takes (doc_check vetted them). */
static int product_body(const struct state *s, const json_t *w, json_t *body)
{
	static const char *const refs[2][2] = {{"plans", "plan_ids"},
					       {"client_types", "client_type_ids"}};
	size_t i, k;
	json_t *r;

	json_object_update(body, (json_t *)w);
	for (k = 0; k < 2; k++) {
		json_t *ids, *arr = json_object_get(w, refs[k][0]);
		json_object_del(body, refs[k][0]);
		if (arr == NULL)
			continue;
		ids = json_array();
		json_array_foreach(arr, i, r)
		{
			json_array_append_new(ids, ref_id(s, r));
		}
		json_object_set_new(body, refs[k][1], ids);
	}
	return 1;
}

/* Human names (new array, sorted) of a product's plan or client type ids, for diff lines. */
static json_t *ref_names(const struct state *s, int ctypes, const json_t *ids)
{
	json_t *out = json_array(), *id, *prov, *sorted;
	size_t i, k;

	json_array_foreach(ids, i, id)
	{
		const char *v = json_string_value(id), *n = NULL;
		char buf[512];
		if (!ctypes) {
			n = json_string_value(json_object_get(find_by(s->plans, "id", v), "name"));
		} else {
			json_array_foreach(s->provs, k, prov)
			{
				const char *c = json_string_value(json_object_get(
				    find_by(json_object_get(prov, "client_types"), "id", v),
				    "display_name"));
				if (c != NULL) {
					snprintf(buf, sizeof(buf), "%s/%s",
						 json_string_value(json_object_get(prov, "name")),
						 c);
					n = buf;
				}
			}
		}
		json_array_append_new(out, json_string(n != NULL ? n : v != NULL ? v : "?"));
	}
	sorted = sorted_strings(out);
	json_decref(out);
	return sorted;
}

static int apply_products(struct api *a, struct state *s, const json_t *want, struct tally *t)
{
	static const char *const idkeys[] = {"plan_ids", "client_type_ids", NULL};
	static const char *const shown[] = {"plans", "client_types", NULL};
	json_t *w;
	size_t i, k;

	json_array_foreach(want, i, w)
	{
		const char *name = json_string_value(json_object_get(w, "name"));
		json_t *have = find_by(s->prods, "name", name), *full = json_object();
		json_t *body = json_object(), *made = NULL;
		char path[256];
		int n, ok = product_body(s, w, full);

		if (ok && have == NULL) {
			printf("+ product %s\n", name);
			ok = write_obj(a, t, "POST", "/v1/products", full, name, &made);
			if (made != NULL)
				json_array_append_new(s->prods, made);
			t->created += ok;
		} else if (ok) {
			n = diff_fields("product", name, full, have, product_keys + 1, body);
			for (k = 0; idkeys[k] != NULL; k++) {
				json_t *wv = json_object_get(full, idkeys[k]), *ws, *hs, *hn, *wn;
				char *x, *y;
				if (wv == NULL)
					continue;
				ws = sorted_strings(wv);
				hs = sorted_strings(json_object_get(have, idkeys[k]));
				if (ws != NULL && hs != NULL && !json_equal(ws, hs)) {
					hn = ref_names(s, k == 1, json_object_get(have, idkeys[k]));
					wn = ref_names(s, k == 1, wv);
					x = show(hn);
					y = show(wn);
					printf("~ product %s: %s: %s -> %s\n", name, shown[k],
					       x ? x : "?", y ? y : "?");
					free(x);
					free(y);
					json_decref(hn);
					json_decref(wn);
					json_object_set(body, idkeys[k], wv);
					n++;
				}
				json_decref(ws);
				json_decref(hs);
			}
			snprintf(path, sizeof(path), "/v1/products/%s",
				 json_string_value(json_object_get(have, "id")));
			if (n > 0) {
				ok = write_obj(a, t, "PATCH", path, body, name, NULL);
				t->updated += ok;
			} else {
				t->unchanged++;
			}
		}
		json_decref(full);
		json_decref(body);
		if (!ok)
			return 0;
	}
	return 1;
}

static int apply_webhooks(struct api *a, struct state *s, const json_t *want, struct tally *t)
{
	json_t *w;
	size_t i;

	json_array_foreach(want, i, w)
	{
		const char *url = json_string_value(json_object_get(w, "url"));
		json_t *have = find_by(s->hooks, "url", url), *made = NULL, *ws, *hs;
		char path[256];
		int ok = 1, differ;

		if (have != NULL) {
			ws = sorted_strings(json_object_get(w, "events"));
			hs = sorted_strings(json_object_get(have, "events"));
			differ = ws == NULL || hs == NULL || !json_equal(ws, hs);
			json_decref(ws);
			json_decref(hs);
			if (!differ) {
				t->unchanged++;
				continue;
			}
			/* Webhooks have no update: replace it (a new signing secret). */
			printf(
			    "~ webhook %s: events changed: replaced, with a new signing secret\n",
			    url);
			snprintf(path, sizeof(path), "/v1/webhooks/%s",
				 json_string_value(json_object_get(have, "id")));
			if (!write_obj(a, t, "DELETE", path, NULL, url, NULL))
				return 0;
			t->updated++;
		} else {
			printf("+ webhook %s\n", url);
			t->created++;
		}
		ok = write_obj(a, t, "POST", "/v1/webhooks", w, url, &made);
		if (made != NULL && json_string_value(json_object_get(made, "secret")) != NULL)
			printf("  signing secret of %s (shown once): %s\n", url,
			       json_string_value(json_object_get(made, "secret")));
		json_decref(made);
		if (!ok)
			return 0;
	}
	return 1;
}

/* --prune: deletes what the file does not name, dependants first. */
static int prune(struct api *a, struct state *s, const json_t *provs, const json_t *plans,
		 const json_t *prods, const json_t *hooks, struct tally *t)
{
	struct {
		const char *kind, *coll, *key;
		json_t *have;
		const json_t *want;
	} sets[] = {
	    {"product", "products", "name", s->prods, prods},
	    {"plan", "plans", "name", s->plans, plans},
	    {"webhook", "webhooks", "url", s->hooks, hooks},
	};
	json_t *h, *w;
	size_t i, j, k;
	char path[256];

	for (k = 0; k < sizeof(sets) / sizeof(sets[0]); k++)
		json_array_foreach(sets[k].have, i, h)
		{
			const char *n = json_string_value(json_object_get(h, sets[k].key));
			if (n == NULL || find_by(sets[k].want, sets[k].key, n) != NULL)
				continue;
			printf("- %s %s\n", sets[k].kind, n);
			snprintf(path, sizeof(path), "/v1/%s/%s", sets[k].coll,
				 json_string_value(json_object_get(h, "id")));
			if (!write_obj(a, t, "DELETE", path, NULL, n, NULL))
				return 0;
			t->deleted++;
		}
	json_array_foreach(s->provs, i, h)
	{
		const char *pn = json_string_value(json_object_get(h, "name"));
		json_t *wp = find_by(provs, "name", pn);
		if (wp == NULL)
			continue;
		json_array_foreach(json_object_get(h, "client_types"), j, w)
		{
			const char *cn = json_string_value(json_object_get(w, "display_name"));
			if (cn == NULL || find_by(json_object_get(wp, "client_types"),
						  "display_name", cn) != NULL)
				continue;
			printf("- client_type %s/%s\n", pn, cn);
			snprintf(path, sizeof(path), "/v1/client-types/%s",
				 json_string_value(json_object_get(w, "id")));
			if (!write_obj(a, t, "DELETE", path, NULL, cn, NULL))
				return 0;
			t->deleted++;
		}
	}
	json_array_foreach(s->provs, i, h)
	{
		const char *pn = json_string_value(json_object_get(h, "name"));
		if (pn == NULL || find_by(provs, "name", pn) != NULL)
			continue;
		printf("- provider %s\n", pn);
		snprintf(path, sizeof(path), "/v1/providers/%s",
			 json_string_value(json_object_get(h, "id")));
		if (!write_obj(a, t, "DELETE", path, NULL, pn, NULL))
			return 0;
		t->deleted++;
	}
	return 1;
}

int ctl_apply(int argc, char **argv)
{
	const char *file = NULL;
	int prune_too = 0, force = 0, i, rc = EXIT_FAILURE;
	struct tally t = {0};
	struct state s = {0};
	struct api a = {0};
	json_t *doc = NULL, *provs = NULL, *plans = NULL, *prods = NULL, *hooks = NULL;
	json_error_t je;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (strcmp(argv[i], "--dry-run") == 0)
			t.dry = 1;
		else if (strcmp(argv[i], "--prune") == 0)
			prune_too = 1;
		else if (strcmp(argv[i], "--set-secrets") == 0)
			force = 1;
		else
			file = NULL, i = argc + 1;
	}
	if (file == NULL || i > argc) {
		fputs("usage: clearance-ctl apply -f FILE [--dry-run] [--prune] [--set-secrets]\n",
		      stderr);
		return EXIT_USAGE;
	}
	doc = strcmp(file, "-") == 0 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &je)
				     : json_load_file(file, JSON_REJECT_DUPLICATES, &je);
	if (doc == NULL || !json_is_object(doc)) {
		fprintf(stderr, "clearance-ctl: %s:%d: %s\n", file, je.line,
			doc == NULL ? je.text : "the document must be a JSON object");
		goto out;
	}
	if ((provs = section(doc, "providers")) == NULL ||
	    (plans = section(doc, "plans")) == NULL || (prods = section(doc, "products")) == NULL ||
	    (hooks = section(doc, "webhooks")) == NULL)
		goto out;
	if (!api_open(&a) || !state_load(&a, &s))
		goto out;
	if (!doc_check(doc, provs, plans, prods, hooks, s.plans, s.provs)) {
		fputs("clearance-ctl: nothing was changed\n", stderr);
		goto out;
	}
	if (!apply_providers(&a, &s, provs, force, &t) || !apply_ctypes(&a, &s, provs, &t) ||
	    !apply_plans(&a, &s, plans, &t) || !apply_products(&a, &s, prods, &t) ||
	    !apply_webhooks(&a, &s, hooks, &t) ||
	    (prune_too && !prune(&a, &s, provs, plans, prods, hooks, &t)))
		goto report;
	rc = EXIT_SUCCESS;
report:
	printf("%s%d created, %d updated, %d deleted, %d unchanged%s\n",
	       t.dry ? "dry run: would have " : "apply: ", t.created, t.updated, t.deleted,
	       t.unchanged, rc == EXIT_SUCCESS ? "" : " (stopped at the first refusal)");
out:
	state_free(&s);
	if (a.c != NULL)
		api_close(&a);
	json_decref(doc);
	json_decref(provs);
	json_decref(plans);
	json_decref(prods);
	json_decref(hooks);
	return rc;
}

/* ------------------------------------------------------------ export */

/* A copy (new) of o holding only `keys` that are set and not null. */
static json_t *pick(const json_t *o, const char *const *keys)
{
	json_t *out = json_object();

	for (; *keys != NULL; keys++) {
		json_t *v = json_object_get(o, *keys);
		if (v != NULL && !json_is_null(v))
			json_object_set(out, *keys, v);
	}
	return out;
}

static int by_name(const void *x, const void *y)
{
	const json_t *a = *(const json_t *const *)x, *b = *(const json_t *const *)y;
	const char *k = json_object_get(a, "name") != NULL	     ? "name"
			: json_object_get(a, "display_name") != NULL ? "display_name"
								     : "url";
	const char *s = json_string_value(json_object_get(a, k));
	const char *t = json_string_value(json_object_get(b, k));
	return strcmp(s != NULL ? s : "", t != NULL ? t : "");
}

/* Sorts an array of objects by name in place (stable output for git diffs). */
static json_t *sort_objs(json_t *arr)
{
	size_t n = json_array_size(arr), i;
	json_t **v = calloc(n + 1, sizeof(*v)), *out = json_array();

	if (v == NULL || out == NULL) {
		free(v);
		json_decref(out);
		return arr;
	}
	for (i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, n, sizeof(*v), by_name);
	for (i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	json_decref(arr);
	return out;
}

/* The name of the object in arr whose id is id, or NULL. */
static const char *name_of(const json_t *arr, const char *id, const char *key)
{
	return json_string_value(json_object_get(find_by(arr, "id", id), key));
}

int ctl_export(int argc, char **argv)
{
	struct api a = {0};
	struct state s = {0};
	json_t *doc = NULL, *provs = json_array(), *plans = json_array(), *prods = json_array();
	json_t *hooks = json_array(), *v, *r;
	const char *outpath = NULL;
	size_t i, j;
	int rc = EXIT_FAILURE;

	if (argc == 2 && strcmp(argv[0], "-o") == 0) {
		outpath = argv[1];
	} else if (argc != 0) {
		fputs("usage: clearance-ctl export [-o FILE]\n", stderr);
		rc = EXIT_USAGE;
		goto out;
	}
	if (!api_open(&a) || !state_load(&a, &s))
		goto out;
	json_array_foreach(s.provs, i, v)
	{
		json_t *p = pick(v, provider_keys), *cts = json_array();
		json_array_foreach(json_object_get(v, "client_types"), j, r)
		    json_array_append_new(cts, pick(r, ctype_keys));
		json_object_set_new(p, "client_types", sort_objs(cts));
		json_array_append_new(provs, p);
	}
	json_array_foreach(s.plans, i, v) json_array_append_new(plans, pick(v, plan_keys));
	json_array_foreach(s.prods, i, v)
	{
		json_t *p = pick(v, product_keys), *pl = json_array(), *ct = json_array();
		json_array_foreach(json_object_get(v, "plan_ids"), j, r)
		{
			const char *n = name_of(s.plans, json_string_value(r), "name");
			if (n != NULL)
				json_array_append_new(pl, json_string(n));
		}
		json_array_foreach(json_object_get(v, "client_type_ids"), j, r)
		{
			size_t k;
			json_t *prov;
			json_array_foreach(s.provs, k, prov)
			{
				const char *cn = name_of(json_object_get(prov, "client_types"),
							 json_string_value(r), "display_name");
				if (cn != NULL)
					json_array_append_new(
					    ct, json_pack("{s:s, s:s}", "provider",
							  json_string_value(
							      json_object_get(prov, "name")),
							  "client_type", cn));
			}
		}
		json_object_set_new(p, "plans", sorted_strings(pl));
		json_object_set_new(p, "client_types", ct);
		json_decref(pl);
		json_array_append_new(prods, p);
	}
	json_array_foreach(s.hooks, i, v) json_array_append_new(hooks, pick(v, webhook_keys));
	doc = json_pack("{s:i, s:o, s:o, s:o, s:o}", "version", 1, "providers", sort_objs(provs),
			"plans", sort_objs(plans), "products", sort_objs(prods), "webhooks",
			sort_objs(hooks));
	provs = plans = prods = hooks = NULL;
	if (doc == NULL)
		goto out;
	if (outpath == NULL) {
		if (json_dumpf(doc, stdout, JSON_INDENT(2)) == 0 && fputc('\n', stdout) != EOF)
			rc = EXIT_SUCCESS;
	} else if (json_dump_file(doc, outpath, JSON_INDENT(2)) == 0) {
		rc = EXIT_SUCCESS;
	} else {
		fprintf(stderr, "clearance-ctl: cannot write %s\n", outpath);
	}
out:
	state_free(&s);
	if (a.c != NULL)
		api_close(&a);
	json_decref(doc);
	json_decref(provs);
	json_decref(plans);
	json_decref(prods);
	json_decref(hooks);
	return rc;
}
