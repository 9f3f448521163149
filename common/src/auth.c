/*
 * auth.c - bearer tokens stored as peppered HMAC-SHA-256 hashes in api_tokens
 * (legacy plain SHA-256 rows accepted and upgraded on use; see auth.h).
 *
 * Queries go through clr_db_exec_sql (PQexecParams) rather than prepared
 * statements: authentication runs on every service's connection, and no
 * service should have to carry our statements in its table.
 *
 * The token itself is never logged; a rejected token is identified in the
 * log by its row id only when the row exists (revoked or expired).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "clearance/auth.h"
#include "clearance/config.h"
#include "clearance/log.h"
#include "clearance/util.h"

#define TOKEN_MAX 512
#define PEPPER_MIN 16
#define PEPPER_MAX 4096

/* ---- pepper ----------------------------------------------------------- */

/* Set once at startup (or by tests) before threads hash; read-only after. */
static unsigned char pepper[PEPPER_MAX];
static size_t pepper_len;
static int pepper_st; /* as clr_token_pepper_state */

int clr_token_pepper_state(void)
{
	return pepper_st;
}

enum clr_rc clr_token_pepper_set(const void *p, size_t len)
{
	OPENSSL_cleanse(pepper, sizeof(pepper));
	pepper_len = 0;
	if (p == NULL) {
		pepper_st = 0;
		return CLR_OK;
	}
	if (len < PEPPER_MIN || len > PEPPER_MAX) {
		pepper_st = -1;
		return CLR_ERR_PARAM;
	}
	memcpy(pepper, p, len);
	pepper_len = len;
	pepper_st = 1;
	return CLR_OK;
}

enum clr_rc clr_token_pepper_startup(const struct clr_config *cfg)
{
	const char *v = cfg != NULL ? cfg->token_pepper : NULL;

	if (v == NULL) {
		OPENSSL_cleanse(pepper, sizeof(pepper));
		pepper_len = 0;
		pepper_st = 0;
		clr_log(NULL, CLR_LOG_WARN,
			"CLEARANCE_TOKEN_PEPPER is not set: tokens are stored as plain SHA-256, "
			"which a database dump can check guesses against");
		return CLR_OK;
	}
	if (clr_token_pepper_set(v, strlen(v)) != CLR_OK) {
		clr_log(NULL, CLR_LOG_ERROR,
			"config: CLEARANCE_TOKEN_PEPPER: needs %d to %d bytes; every token check "
			"would fail",
			PEPPER_MIN, PEPPER_MAX);
		return CLR_ERR_PARAM;
	}
	return CLR_OK;
}

int clr_token_digest(const void *tok, size_t len, unsigned char out[32])
{
	unsigned int n = 0;
	int st = clr_token_pepper_state();

	if (st == 0) {
		if (EVP_Digest(tok, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32)
			return 0;
	} else if (st == 1) {
		if (HMAC(EVP_sha256(), pepper, (int)pepper_len, tok, len, out, &n) != NULL &&
		    n == 32)
			return 1;
	}
	memset(out, 0, 32);
	return -1;
}

int clr_token_hash_hex(const void *tok, size_t len, char out[65], const char **alg)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	int st = clr_token_digest(tok, len, md), i;

	*alg = st == 1 ? CLR_HASH_ALG_PEPPERED : CLR_HASH_ALG_LEGACY;
	if (st < 0) {
		/* Empty: no stored hash (CHECK: 64 hex digits) can match. */
		out[0] = '\0';
		return -1;
	}
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0F];
	}
	out[64] = '\0';
	OPENSSL_cleanse(md, sizeof(md));
	return st;
}

static const char *const role_names[CLR_ROLE__MAX] = {
    [CLR_ROLE_NONE] = "none",
    [CLR_ROLE_DEVELOPER] = "developer",
    [CLR_ROLE_ADMIN] = "admin",
};

const char *clr_role_name(enum clr_role r)
{
	if ((int)r < 0 || r >= CLR_ROLE__MAX)
		return "none";
	return role_names[r];
}

static enum clr_role role_parse(const char *s)
{
	int i;

	for (i = CLR_ROLE_NONE + 1; i < CLR_ROLE__MAX; i++)
		if (strcmp(role_names[i], s) == 0)
			return (enum clr_role)i;
	return CLR_ROLE_NONE;
}

static int token_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/*
 * Finds the token in "Bearer <token>".  On success *tok points into hdr
 * (borrowed) and *len is its length.
 */
static int parse_bearer(const char *hdr, const char **tok, size_t *len)
{
	const char *p;
	size_t n = 0;

	if (hdr == NULL || strncasecmp(hdr, "Bearer", 6) != 0 || hdr[6] != ' ')
		return 0;
	p = hdr + 6;
	while (*p == ' ')
		p++;
	while (n <= TOKEN_MAX && token_char((unsigned char)p[n]))
		n++;
	if (n == 0 || n > TOKEN_MAX || p[n] != '\0')
		return 0;
	*tok = p;
	*len = n;
	return 1;
}

static void copy_field(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/*
 * Best effort: SKIP LOCKED never waits for a transaction that holds the
 * row (a revoke in progress, a concurrent stamp), and a failure is only
 * logged, so the stamp can never delay or fail the request it belongs to.
 */
static void touch_last_used(struct clr_db *db, const char *id)
{
	static const char sql[] = "UPDATE api_tokens SET last_used_at = now() WHERE id = ("
				  "SELECT id FROM api_tokens WHERE id = $1::uuid"
				  " FOR UPDATE SKIP LOCKED)";
	const char *params[1] = {id};
	PGconn *c = clr_db_conn(db);

	/* A failed stamp inside the caller's transaction would abort it. */
	if (c == NULL || PQtransactionStatus(c) != PQTRANS_IDLE)
		return;
	if (clr_db_exec_sql(db, sql, 1, params, NULL) != CLR_OK)
		clr_log(NULL, CLR_LOG_WARN, "auth: last_used_at of token %s not updated", id);
}

/*
 * A legacy (plain SHA-256) row found by a peppered server is rewritten
 * under the pepper, best effort and only outside a transaction like the
 * stamp above; the alg test makes a concurrent upgrade harmless.
 */
static void upgrade_hash(struct clr_db *db, const char *id, const char *hash)
{
	static const char sql[] = "UPDATE api_tokens SET token_hash = $2,"
				  " hash_alg = '" CLR_HASH_ALG_PEPPERED "'"
				  " WHERE id = $1::uuid AND hash_alg = '" CLR_HASH_ALG_LEGACY "'";
	const char *params[2] = {id, hash};
	PGconn *c = clr_db_conn(db);

	if (c == NULL || PQtransactionStatus(c) != PQTRANS_IDLE)
		return;
	if (clr_db_exec_sql(db, sql, 2, params, NULL) != CLR_OK)
		clr_log(NULL, CLR_LOG_WARN, "auth: hash of token %s not upgraded", id);
	else
		clr_log(NULL, CLR_LOG_INFO, "auth: token %s now stored under the pepper", id);
}

enum clr_rc clr_auth_bearer(struct clr_db *db, const char *authorization, struct clr_principal *out)
{
	/*
	 * The lookup only reads, so nothing about last_used_at can fail or
	 * block it: a data-modifying CTE here made every request wait on any
	 * transaction holding the token's row lock and fail outright on a
	 * read-only session.  `stale` asks for the stamp at most once a minute.
	 */
	static const char sql[] = "SELECT id::text, role, coalesce(subject_id::text, ''), name,"
				  " revoked_at IS NOT NULL,"
				  " (expires_at IS NOT NULL AND expires_at <= now()),"
				  " (last_used_at IS NULL"
				  " OR last_used_at < now() - interval '60 seconds'), hash_alg"
				  " FROM api_tokens WHERE (token_hash = $1 AND hash_alg = $2)"
				  " OR (token_hash = $3 AND hash_alg = '" CLR_HASH_ALG_LEGACY "')";
	const char *tok, *params[3], *alg;
	char hash[65], legacy[65];
	int peppered;
	PGresult *r = NULL;
	enum clr_rc rc;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (!parse_bearer(authorization, &tok, &len)) {
		clr_log(NULL, CLR_LOG_INFO,
			"security: bearer rejected: header missing or malformed");
		return CLR_ERR_DENIED;
	}
	peppered = clr_token_hash_hex(tok, len, hash, &alg);
	if (peppered < 0) {
		/* A broken pepper must not leave the legacy hashes as the way in. */
		clr_log(NULL, CLR_LOG_ERROR, "security: bearer rejected: token pepper unusable");
		return CLR_ERR_DENIED;
	}
	clr_sha256_hex(tok, len, legacy);
	params[0] = hash;
	params[1] = alg;
	params[2] = legacy;
	rc = clr_db_exec_sql(db, sql, 3, params, &r);
	if (rc != CLR_OK) {
		/* A hash can never be bad input: any failure is the database's. */
		rc = CLR_ERR_DB;
		goto out;
	}
	rc = CLR_ERR_DENIED;
	if (PQntuples(r) != 1) {
		clr_log(NULL, CLR_LOG_INFO, "security: bearer rejected: unknown token");
		goto out;
	}
	if (strcmp(PQgetvalue(r, 0, 4), "t") == 0 || strcmp(PQgetvalue(r, 0, 5), "t") == 0) {
		clr_log(NULL, CLR_LOG_INFO, "security: bearer rejected: token %s is %s",
			PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 4)[0] == 't' ? "revoked" : "expired");
		goto out;
	}
	out->role = role_parse(PQgetvalue(r, 0, 1));
	if (out->role == CLR_ROLE_NONE) {
		clr_log(NULL, CLR_LOG_ERROR, "security: bearer rejected: token %s has unknown role",
			PQgetvalue(r, 0, 0));
		goto out;
	}
	if (strcmp(PQgetvalue(r, 0, 6), "t") == 0)
		touch_last_used(db, PQgetvalue(r, 0, 0));
	if (peppered == 1 && strcmp(PQgetvalue(r, 0, 7), CLR_HASH_ALG_LEGACY) == 0)
		upgrade_hash(db, PQgetvalue(r, 0, 0), hash);
	copy_field(out->token_id, sizeof(out->token_id), PQgetvalue(r, 0, 0));
	copy_field(out->subject_id, sizeof(out->subject_id), PQgetvalue(r, 0, 2));
	copy_field(out->name, sizeof(out->name), PQgetvalue(r, 0, 3));
	rc = CLR_OK;
out:
	if (rc != CLR_OK)
		memset(out, 0, sizeof(*out));
	OPENSSL_cleanse(hash, sizeof(hash));
	PQclear(r);
	return rc;
}

enum clr_rc clr_auth_token_create(struct clr_db *db, enum clr_role role, const char *subject_id,
				  const char *name, long ttl_s, char **token, char token_id[37])
{
	static const char sql[] = "INSERT INTO api_tokens (id, token_hash, role, subject_id, name,"
				  " expires_at, hash_alg) VALUES ($1, $2, $3, $4, $5,"
				  " CASE WHEN $6::bigint > 0"
				  " THEN now() + $6::bigint * interval '1 second' END, $7)";
	char id[37], hash[65], ttl[24];
	const char *params[7], *alg;
	char *tok = NULL;
	enum clr_rc rc;

	*token = NULL;
	if (role != CLR_ROLE_ADMIN && role != CLR_ROLE_DEVELOPER)
		return CLR_ERR_PARAM;
	if (name == NULL || name[0] == '\0' || strlen(name) > 127)
		return CLR_ERR_PARAM;
	if (subject_id != NULL && !clr_uuid_valid(subject_id))
		return CLR_ERR_PARAM;
	rc = clr_uuid_new(id);
	if (rc != CLR_OK)
		goto out;
	rc = clr_random_token(role == CLR_ROLE_ADMIN ? "clr_adm_" : "clr_ses_", 32, &tok);
	if (rc != CLR_OK)
		goto out;
	if (clr_token_hash_hex(tok, strlen(tok), hash, &alg) < 0) {
		rc = CLR_ERR_INTERNAL;
		goto out;
	}
	snprintf(ttl, sizeof(ttl), "%ld", ttl_s > 0 ? ttl_s : 0L);
	params[0] = id;
	params[1] = hash;
	params[2] = clr_role_name(role);
	params[3] = subject_id;
	params[4] = name;
	params[5] = ttl;
	params[6] = alg;
	rc = clr_db_exec_sql(db, sql, 7, params, NULL);
	if (rc != CLR_OK)
		goto out;
	memcpy(token_id, id, sizeof(id));
	*token = tok;
	tok = NULL;
out:
	if (tok != NULL) {
		OPENSSL_cleanse(tok, strlen(tok));
		free(tok);
	}
	return rc;
}

enum clr_rc clr_auth_token_revoke(struct clr_db *db, const char *token_id)
{
	/* Idempotent: revoking twice keeps the first revocation time. */
	static const char sql[] = "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())"
				  " WHERE id = $1";
	const char *params[1];
	PGresult *r = NULL;
	enum clr_rc rc;

	if (token_id == NULL || !clr_uuid_valid(token_id))
		return CLR_ERR_PARAM;
	params[0] = token_id;
	rc = clr_db_exec_sql(db, sql, 1, params, &r);
	if (rc == CLR_OK && strcmp(PQcmdTuples(r), "1") != 0)
		rc = CLR_ERR_NOTFOUND;
	PQclear(r);
	return rc;
}
