/*
 * basic_exchange.c - see basic_exchange.h.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "clearance/log.h"
#include "clearance/util.h"
#include "clearance/form.h"
#include "basic_exchange.h"
#include "seclog.h"

#define BX_LOCKS 32
#define BX_MAX_CRED 1024u

struct bx_entry {
	unsigned char key[32];
	long long until_ms;
	char *token; /* NULL: a cached refusal */
	const char *why;
};

struct ix_basic {
	pthread_mutex_t locks[BX_LOCKS];
	struct bx_entry *slots;
	size_t nslots;
};

enum clr_rc ix_basic_new(size_t nslots, struct ix_basic **out)
{
	struct ix_basic *b;
	size_t n = 256;

	*out = NULL;
	while (n < nslots)
		n *= 2;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return CLR_ERR_NOMEM;
	b->slots = calloc(n, sizeof(*b->slots));
	if (b->slots == NULL) {
		free(b);
		return CLR_ERR_NOMEM;
	}
	b->nslots = n;
	for (int i = 0; i < BX_LOCKS; i++)
		pthread_mutex_init(&b->locks[i], NULL);
	*out = b;
	return CLR_OK;
}

static void wipe_free(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void ix_basic_free(struct ix_basic *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->nslots; i++)
		wipe_free(b->slots[i].token);
	for (int i = 0; i < BX_LOCKS; i++)
		pthread_mutex_destroy(&b->locks[i]);
	free(b->slots);
	free(b);
}

/* 1 and *token set (new) on a cached answer; *token NULL for a cached refusal. */
static int lookup(struct ix_basic *b, const unsigned char key[32], long long now_ms, char **token,
		  const char **why)
{
	size_t i;
	int hit = 0;

	memcpy(&i, key, sizeof(i));
	i &= b->nslots - 1;
	pthread_mutex_lock(&b->locks[i % BX_LOCKS]);
	if (b->slots[i].until_ms > now_ms && CRYPTO_memcmp(b->slots[i].key, key, 32) == 0) {
		hit = 1;
		*why = b->slots[i].why;
		*token = b->slots[i].token ? strdup(b->slots[i].token) : NULL;
		if (b->slots[i].token != NULL && *token == NULL)
			hit = 0;
	}
	pthread_mutex_unlock(&b->locks[i % BX_LOCKS]);
	return hit;
}

static void store(struct ix_basic *b, const unsigned char key[32], long long until_ms,
		  const char *token, const char *why)
{
	size_t i;
	char *copy = token ? strdup(token) : NULL;

	if (token != NULL && copy == NULL)
		return;
	memcpy(&i, key, sizeof(i));
	i &= b->nslots - 1;
	pthread_mutex_lock(&b->locks[i % BX_LOCKS]);
	wipe_free(b->slots[i].token);
	memcpy(b->slots[i].key, key, 32);
	b->slots[i].until_ms = until_ms;
	b->slots[i].token = copy;
	b->slots[i].why = why;
	pthread_mutex_unlock(&b->locks[i % BX_LOCKS]);
}

/* The exchange itself.  *neg says whether a refusal may be cached long. */
static enum clr_rc exchange(struct clr_db *db, struct clr_http_client *http,
			    struct ix_provreg *provs, const char *id, size_t idlen,
			    const char *secret, size_t seclen, char **token, long *expires_in,
			    int *neg, const char **why)
{
	const char *params[1] = {id};
	PGresult *res = NULL;
	struct ix_provs *snap = NULL;
	const struct ix_prov *p;
	char *eid = NULL, *esec = NULL, *escope = NULL, *cred = NULL, *b64 = NULL, *authz = NULL,
	     *body = NULL;
	struct clr_http_header hdr[3];
	struct clr_http_resp resp;
	struct clr_err e;
	json_t *doc = NULL;
	const char *at;
	size_t n, nhdr;
	enum clr_rc rc;

	memset(&resp, 0, sizeof(resp));
	memset(&e, 0, sizeof(e));
	*token = NULL;
	*neg = 0;
	rc = clr_db_exec(db, IX_BASIC_STMT_NAME, 1, params, &res);
	if (rc != CLR_OK) {
		*why = "database unavailable";
		rc = CLR_ERR_DENIED;
		goto out;
	}
	rc = CLR_ERR_DENIED;
	if (PQntuples(res) != 1) {
		*why = "no active registration for the client id";
		*neg = 1;
		goto out;
	}
	snap = ix_provreg_get(provs);
	p = ix_provs_by_id(snap, PQgetvalue(res, 0, 0));
	if (p == NULL || p->token_endpoint == NULL) {
		*why = "the client's provider has no token endpoint";
		*neg = 1;
		goto out;
	}
	rc = CLR_ERR_NOMEM;
	/* Form-encoded for both methods: RFC 6749 s.2.3.1 (Basic) and the body (post). */
	eid = clr_form_escape(id, idlen);
	esec = clr_form_escape(secret, seclen);
	escope = clr_form_escape(PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
	if (eid == NULL || esec == NULL || escope == NULL)
		goto out;
	if (p->token_auth_post) {
		/* client_secret_post: for IdPs that do not form-decode a Basic header */
		n = strlen(escope) + strlen(eid) + strlen(esec) + 80;
		if ((body = malloc(n)) == NULL)
			goto out;
		snprintf(body, n, "grant_type=client_credentials%s%s&client_id=%s&client_secret=%s",
			 escope[0] ? "&scope=" : "", escope, eid, esec);
		nhdr = 0;
	} else {
		n = strlen(eid) + strlen(esec) + 2;
		if ((cred = malloc(n)) == NULL)
			goto out;
		snprintf(cred, n, "%s:%s", eid, esec);
		if (clr_b64_encode(cred, strlen(cred), &b64) != CLR_OK)
			goto out;
		n = strlen(b64) + 7;
		if ((authz = malloc(n)) == NULL)
			goto out;
		snprintf(authz, n, "Basic %s", b64);
		n = strlen(escope) + 48;
		if ((body = malloc(n)) == NULL)
			goto out;
		snprintf(body, n, "grant_type=client_credentials%s%s", escope[0] ? "&scope=" : "",
			 escope);
		hdr[0].name = "Authorization";
		hdr[0].value = authz;
		nhdr = 1;
	}
	hdr[nhdr].name = "Content-Type";
	hdr[nhdr++].value = "application/x-www-form-urlencoded";
	hdr[nhdr].name = "Accept";
	hdr[nhdr++].value = "application/json";
	rc = clr_http_do(http, &p->http, "POST", p->token_endpoint, hdr, nhdr, body, strlen(body),
			 &resp, &e);
	if (rc != CLR_OK) {
		clr_log(NULL, CLR_LOG_WARN, "basic: token endpoint unreachable: %s", e.msg);
		*why = "token endpoint unreachable";
		rc = CLR_ERR_DENIED;
		goto out;
	}
	rc = CLR_ERR_DENIED;
	if (resp.status == 400 || resp.status == 401) {
		*why = "the IdP refused the client credentials";
		*neg = 1;
		goto out;
	}
	if (resp.status != 200 || !clr_http_is_json(&resp)) {
		*why = "the token endpoint answered unexpectedly";
		goto out;
	}
	doc = json_loadb(resp.body, resp.body_len, JSON_REJECT_DUPLICATES, NULL);
	at = json_string_value(json_object_get(doc, "access_token"));
	if (at == NULL || at[0] == '\0') {
		*why = "the token endpoint gave no access token";
		goto out;
	}
	*expires_in = json_is_integer(json_object_get(doc, "expires_in"))
			  ? (long)json_integer_value(json_object_get(doc, "expires_in"))
			  : 60;
	if ((*token = strdup(at)) == NULL) {
		rc = CLR_ERR_NOMEM;
		goto out;
	}
	rc = CLR_OK;
out:
	if (resp.body != NULL)
		OPENSSL_cleanse(resp.body, resp.body_len);
	clr_http_resp_clear(&resp);
	json_decref(doc);
	wipe_free(esec);
	wipe_free(cred);
	wipe_free(b64);
	wipe_free(authz);
	free(eid);
	free(escope);
	wipe_free(body); /* holds the secret with client_secret_post */
	ix_provs_release(snap);
	PQclear(res);
	return rc;
}

enum clr_rc ix_basic_token(struct ix_basic *b, struct clr_db *db, struct clr_http_client *http,
			   struct ix_provreg *provs, const char *b64, size_t len, char **token,
			   const char **why)
{
	unsigned char *raw = NULL, key[32];
	unsigned int klen = 0;
	size_t rawlen = 0;
	char *colon, *tok = NULL;
	long long now_ms = clr_now_ms();
	long expires_in = 0;
	int neg = 0;
	enum clr_rc rc = CLR_ERR_DENIED;

	*token = NULL;
	*why = "malformed basic credentials";
	if (len == 0 || len > BX_MAX_CRED)
		return CLR_ERR_DENIED;
	if (clr_b64_decode(b64, len, &raw, &rawlen) != CLR_OK)
		return CLR_ERR_DENIED;
	colon = memchr(raw, ':', rawlen);
	if (colon == NULL || colon == (char *)raw || memchr(raw, '\0', rawlen) != NULL)
		goto out;
	if (!EVP_Digest(raw, rawlen, key, &klen, EVP_sha256(), NULL)) {
		rc = CLR_ERR_NOMEM;
		goto out;
	}
	if (lookup(b, key, now_ms, &tok, why)) {
		if (tok == NULL)
			goto out;
		*token = tok;
		rc = CLR_OK;
		goto out;
	}
	*colon = '\0';
	rc = exchange(db, http, provs, (char *)raw, (size_t)(colon - (char *)raw), colon + 1,
		      rawlen - (size_t)(colon - (char *)raw) - 1, &tok, &expires_in, &neg, why);
	if (rc == CLR_OK) {
		long keep_s = expires_in > 60 ? expires_in - 30 : expires_in / 2;
		if (keep_s > 0)
			store(b, key, now_ms + keep_s * 1000LL, tok, NULL);
		*token = tok;
	} else if (rc == CLR_ERR_DENIED) {
		store(b, key, now_ms + (neg ? IX_BASIC_NEG_TTL_MS : IX_BASIC_ERR_TTL_MS), NULL,
		      *why);
		ix_seclog(IX_SECLOG_BASIC, NULL, "basic credentials refused: %s", *why);
	}
out:
	if (raw != NULL) {
		OPENSSL_cleanse(raw, rawlen);
		free(raw);
	}
	return rc;
}
