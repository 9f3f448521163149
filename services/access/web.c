/*
 * web.c - the access service's additions for the web portal (web.h).
 *
 * Account tokens (verification, password reset) are 256-bit random
 * strings mailed once; only their SHA-256 is stored.  Taking one is a
 * single UPDATE ... WHERE used_at IS NULL AND expires_at > now(), so a
 * token works once, before it expires, even under concurrent use.
 * Answers about an e-mail address never tell whether it has an account.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "clearance/auth.h"
#include "clearance/log.h"
#include "clearance/mail.h"
#include "clearance/password.h"
#include "clearance/util.h"
#include "clearance/web_session.h"
#include "clearance/fields.h"
#include "util.h"
#include "web.h"

#define VERIFY_TTL_S (48 * 3600L)
#define RESET_TTL_S (3600L)
/* Mails of one kind per account per hour, beyond which requests are silently dropped. */
#define MAILS_PER_HOUR "3"
#define OPENAPI_MAX 262144

/* ---- cookie -------------------------------------------------------------- */

int acc_web_wants_cookie(const struct clr_req *r)
{
	const char *v = clr_req_env(r, "HTTP_X_CLEARANCE_SESSION");

	return v != NULL && strcmp(v, "cookie") == 0;
}

void acc_web_set_cookie(struct clr_req *r, const char *token, long ttl_s)
{
	char buf[700];
	int n = snprintf(buf, sizeof(buf), "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Lax%s",
			 CLR_WEB_COOKIE, token, ttl_s, clr_web_insecure_ok(r) ? "" : "; Secure");

	if (n > 0 && (size_t)n < sizeof(buf))
		clr_resp_header(r, "Set-Cookie", buf);
	OPENSSL_cleanse(buf, sizeof(buf));
}

void acc_web_clear_cookie(struct clr_req *r)
{
	char buf[160];

	snprintf(buf, sizeof(buf), "%s=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax%s",
		 CLR_WEB_COOKIE, clr_web_insecure_ok(r) ? "" : "; Secure");
	clr_resp_header(r, "Set-Cookie", buf);
}

/* ---- account tokens ------------------------------------------------------ */

static void free_token(char *tok)
{
	if (tok != NULL) {
		OPENSSL_cleanse(tok, strlen(tok));
		free(tok);
	}
}

/* Stores a new token for account_id; *tok new (free_token). */
static enum clr_rc token_new(struct clr_db *db, const char *account_id, const char *purpose,
			     long ttl_s, char **tok)
{
	static const char sql[] = "INSERT INTO account_tokens (account_id, purpose, token_hash,"
				  " expires_at, hash_alg) VALUES ($1::uuid, $2, $3,"
				  " now() + $4::bigint * interval '1 second', $5)";
	char hash[65], ttl[24];
	const char *p[5], *alg;
	enum clr_rc rc;

	*tok = NULL;
	if ((rc = clr_random_token(strcmp(purpose, "verify_email") == 0 ? "clr_vfy_" : "clr_rst_",
				   32, tok)) != CLR_OK)
		return rc;
	if (clr_token_hash_hex(*tok, strlen(*tok), hash, &alg) < 0) {
		free_token(*tok);
		*tok = NULL;
		return CLR_ERR_INTERNAL;
	}
	snprintf(ttl, sizeof(ttl), "%ld", ttl_s);
	p[0] = account_id;
	p[1] = purpose;
	p[2] = hash;
	p[3] = ttl;
	p[4] = alg;
	rc = clr_db_exec_sql(db, sql, 5, p, NULL);
	if (rc != CLR_OK) {
		free_token(*tok);
		*tok = NULL;
	}
	return rc;
}

/* 1 when fewer than MAILS_PER_HOUR tokens of purpose were made for the account in the last hour. */
static int under_mail_cap(struct clr_db *db, const char *account_id, const char *purpose)
{
	static const char sql[] = "SELECT count(*) < " MAILS_PER_HOUR " FROM account_tokens"
				  " WHERE account_id = $1::uuid AND purpose = $2"
				  " AND created_at > now() - interval '1 hour'";
	const char *p[2] = {account_id, purpose};
	PGresult *res = NULL;
	int ok = 0;

	if (clr_db_exec_sql(db, sql, 2, p, &res) == CLR_OK && PQntuples(res) == 1)
		ok = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return ok;
}

/*
 * Uses up a token of purpose (inside the caller's tx); account id and
 * e-mail copied out.  Unknown, used or expired: CLR_ERR_PARAM.
 */
static enum clr_rc token_take(struct clr_db *db, const char *tok, const char *purpose, char id[37],
			      char email[256], struct clr_err *e)
{
	static const char sql[] =
	    "UPDATE account_tokens t SET used_at = now() FROM accounts a"
	    " WHERE ((t.token_hash = $1 AND t.hash_alg = $3)"
	    " OR (t.token_hash = $4 AND t.hash_alg = '" CLR_HASH_ALG_LEGACY "'))"
	    " AND t.purpose = $2 AND t.used_at IS NULL"
	    " AND t.expires_at > now() AND a.id = t.account_id"
	    " AND NOT a.blocked RETURNING a.id::text, a.email";
	const char *p[4], *alg;
	char hash[65], legacy[65];
	PGresult *res = NULL;
	enum clr_rc rc;

	/* Mail tokens live an hour or two: a legacy one is used once, not upgraded. */
	if (clr_token_hash_hex(tok, strlen(tok), hash, &alg) < 0)
		return clr_err_set(e, CLR_ERR_INTERNAL, NULL, NULL,
				   "the link could not be checked");
	clr_sha256_hex(tok, strlen(tok), legacy);
	p[0] = hash;
	p[1] = purpose;
	p[2] = alg;
	p[3] = legacy;
	if ((rc = clr_db_exec_sql(db, sql, 4, p, &res)) != CLR_OK) {
		clr_err_set(e, rc, NULL, NULL, "the link could not be checked");
		goto out;
	}
	if (PQntuples(res) != 1) {
		rc = clr_err_set(e, CLR_ERR_PARAM, "invalid_token", "token",
				 "this link is invalid, was already used or has expired");
		goto out;
	}
	snprintf(id, 37, "%s", PQgetvalue(res, 0, 0));
	snprintf(email, 256, "%s", PQgetvalue(res, 0, 1));
out:
	PQclear(res);
	return rc;
}

/* Enqueues mail template tpl to `to` with {{link}} = origin + path + token. */
static enum clr_rc mail_link(struct clr_req *r, const char *to, const char *name, const char *tpl,
			     const char *path, const char *tok)
{
	char origin[512], *link = NULL;
	json_t *vars = NULL;
	enum clr_rc rc = CLR_ERR_NOMEM;
	size_t n;

	if (!clr_web_public_origin(r, origin, sizeof(origin)))
		snprintf(origin, sizeof(origin), "http://localhost");
	n = strlen(origin) + strlen(path) + (tok != NULL ? strlen(tok) : 0) + 1;
	if ((link = malloc(n)) == NULL)
		goto out;
	snprintf(link, n, "%s%s%s", origin, path, tok != NULL ? tok : "");
	vars = json_pack("{s:s, s:s, s:s}", "link", link, "name", name != NULL ? name : "",
			 "portal_url", origin);
	if (vars == NULL)
		goto out;
	rc = acc_mail(r->db, to, tpl, vars);
out:
	json_decref(vars);
	if (link != NULL) {
		OPENSSL_cleanse(link, strlen(link));
		free(link);
	}
	return rc;
}

/* A new token and its mail in one transaction (jobs are enqueued in a tx). */
static enum clr_rc token_mail_tx(struct clr_req *r, const char *account_id, const char *purpose,
				 long ttl_s, const char *to, const char *name, const char *tpl,
				 const char *path)
{
	char *tok = NULL;
	enum clr_rc rc;

	if ((rc = clr_db_begin(r->db)) != CLR_OK)
		return rc;
	if ((rc = token_new(r->db, account_id, purpose, ttl_s, &tok)) != CLR_OK ||
	    (rc = mail_link(r, to, name, tpl, path, tok)) != CLR_OK ||
	    (rc = clr_db_commit(r->db)) != CLR_OK)
		clr_db_rollback(r->db);
	free_token(tok);
	return rc;
}

/* ---- sign-up ------------------------------------------------------------- */

enum clr_rc acc_web_signup_verify(struct clr_req *r, const json_t *account, struct clr_err *e)
{
	const char *id = json_string_value(json_object_get(account, "id"));
	const char *email = json_string_value(json_object_get(account, "email"));
	const char *name = json_string_value(json_object_get(account, "name"));
	char *tok = NULL;
	enum clr_rc rc;

	if (id == NULL || email == NULL)
		return clr_err_set(e, CLR_ERR_INTERNAL, NULL, NULL, "sign-up returned no account");
	if ((rc = token_new(r->db, id, "verify_email", VERIFY_TTL_S, &tok)) != CLR_OK ||
	    (rc = mail_link(r, email, name, "verify_email", "/#/verify/", tok)) != CLR_OK)
		clr_err_set(e, rc, NULL, NULL, "the verification mail could not be queued");
	free_token(tok);
	return rc;
}

void acc_web_signup_existing(struct clr_req *r, const char *email, const char *name)
{
	char id[37], at[48];
	struct timespec ts;
	struct tm tm;

	/* The owner learns someone tried; the caller learns nothing. */
	if (clr_db_begin(r->db) != CLR_OK ||
	    mail_link(r, email, name, "signup_existing", "/#/forgot", NULL) != CLR_OK ||
	    clr_db_commit(r->db) != CLR_OK) {
		clr_db_rollback(r->db);
		clr_log_req(r, CLR_LOG_WARN,
			    "the sign-up notice for an existing account "
			    "could not be queued");
	}
	clr_log_req(r, CLR_LOG_INFO, "sign-up for an existing address: owner notified");
	if (clr_uuid_new(id) != CLR_OK) {
		clr_resp_error(r, 500, "server_error", "internal error");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(at, 24, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(at + strlen(at), sizeof(at) - strlen(at), ".%06ld+00:00", ts.tv_nsec / 1000);
	/* The shape of ACCOUNT_JSON in store.c, field for field. */
	clr_resp_json(r, 201,
		      json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "id", id, "role", "developer",
				"email", email, "name", name != NULL ? name : "", "blocked", 0,
				"created_at", at));
}

/* ---- verification -------------------------------------------------------- */

static int verified(struct clr_req *r, int *out)
{
	static const char sql[] = "SELECT email_verified_at IS NOT NULL FROM accounts"
				  " WHERE id = $1::uuid";
	const char *p[1] = {r->who.subject_id};
	PGresult *res = NULL;
	int ok;

	*out = 1;
	if (r->who.subject_id[0] == '\0')
		return 1;
	ok = clr_db_exec_sql(r->db, sql, 1, p, &res) == CLR_OK;
	if (ok && PQntuples(res) == 1)
		*out = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return ok;
}

int acc_web_require_verified(struct clr_req *r)
{
	int v = 0;

	if (acc_is_admin(r))
		return 1;
	if (!verified(r, &v)) {
		clr_resp_error(r, 503, "temporarily_unavailable", "the database is unavailable");
		return 0;
	}
	if (!v)
		clr_resp_error(r, 403, "email_unverified",
			       "confirm your e-mail address first (see the mail we sent you)");
	return v;
}

static const struct clr_field token_fields[] = {
    {"token", CLR_FT_STR, 1, 0, 1, 200, 0, 0},
};
const struct clr_body acc_body_verify_confirm = CLR_BODY(token_fields, 0, NULL);

void acc_h_verify_confirm(struct clr_req *r)
{
	static const char sql[] = "UPDATE accounts SET email_verified_at ="
				  " coalesce(email_verified_at, now()) WHERE id = $1::uuid";
	struct clr_err e = {0};
	char id[37], email[256];
	const char *p[1] = {id};

	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (token_take(r->db, json_string_value(json_object_get(r->json, "token")), "verify_email",
		       id, email, &e) != CLR_OK)
		goto fail;
	if ((e.rc = clr_db_exec_sql(r->db, sql, 1, p, NULL)) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the address could not be marked verified");
		goto fail;
	}
	clr_log_req(r, CLR_LOG_INFO, "account %s verified its e-mail address", id);
	clr_resp_json(r, 200, json_pack("{s:b}", "email_verified", 1));
	return;
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
}

void acc_h_verify_status(struct clr_req *r)
{
	int v = 0;

	if (!verified(r, &v)) {
		clr_resp_error(r, 503, "temporarily_unavailable", "the database is unavailable");
		return;
	}
	clr_resp_json(r, 200, json_pack("{s:b}", "email_verified", v));
}

void acc_h_verify_resend(struct clr_req *r)
{
	static const char sql[] = "SELECT email, name FROM accounts WHERE id = $1::uuid";
	const char *p[1] = {r->who.subject_id};
	struct clr_err e = {0};
	PGresult *res = NULL;
	int v = 0;

	if (!verified(r, &v)) {
		clr_resp_error(r, 503, "temporarily_unavailable", "the database is unavailable");
		return;
	}
	if (v) {
		clr_resp_error(r, 409, "already_verified",
			       "this e-mail address is already verified");
		return;
	}
	if (!under_mail_cap(r->db, r->who.subject_id, "verify_email")) {
		clr_resp_header(r, "Retry-After", "3600");
		clr_resp_error(r, 429, "too_many_requests",
			       "several mails were sent in the last hour; check your inbox");
		return;
	}
	if ((e.rc = clr_db_exec_sql(r->db, sql, 1, p, &res)) != CLR_OK || PQntuples(res) != 1 ||
	    (e.rc = token_mail_tx(r, r->who.subject_id, "verify_email", VERIFY_TTL_S,
				  PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), "verify_email",
				  "/#/verify/")) != CLR_OK) {
		clr_err_set(&e, e.rc != CLR_OK ? e.rc : CLR_ERR_NOTFOUND, NULL, NULL,
			    "the verification mail could not be queued");
		clr_resp_fail(r, &e);
		goto out;
	}
	clr_resp_json(r, 202, json_pack("{s:s}", "status", "sent"));
out:
	PQclear(res);
}

/* ---- password reset and change --------------------------------------------- */

static const struct clr_field reset_req_fields[] = {
    {"email", CLR_FT_STR, 1, 0, 1, 254, 0, 0},
};
const struct clr_body acc_body_reset_request = CLR_BODY(reset_req_fields, 0, NULL);

void acc_h_reset_request(struct clr_req *r)
{
	static const char sql[] = "SELECT id::text, email, name FROM accounts"
				  " WHERE lower(email) = lower($1) AND NOT blocked";
	struct clr_err e = {0};
	const char *p[1];
	PGresult *res = NULL;

	p[0] = json_string_value(json_object_get(r->json, "email"));
	if ((e.rc = clr_db_exec_sql(r->db, sql, 1, p, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the account could not be read");
		clr_resp_fail(r, &e);
		goto out;
	}
	if (PQntuples(res) == 1 && under_mail_cap(r->db, PQgetvalue(res, 0, 0), "password_reset")) {
		if (token_mail_tx(r, PQgetvalue(res, 0, 0), "password_reset", RESET_TTL_S,
				  PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), "password_reset",
				  "/#/reset/") != CLR_OK)
			clr_log_req(r, CLR_LOG_ERROR, "a password reset mail could not be queued");
		else
			clr_log_req(r, CLR_LOG_INFO, "password reset mailed for account %s",
				    PQgetvalue(res, 0, 0));
	}
	/* The same answer whether or not the address has an account. */
	clr_resp_json(r, 202, json_pack("{s:s}", "status", "sent_if_registered"));
out:
	PQclear(res);
}

/* Checks and hashes a new password for email; *hash new. */
static enum clr_rc new_password(const json_t *body, const char *field, const char *email,
				char **hash, struct clr_err *e)
{
	const json_t *v = json_object_get(body, field);

	*hash = NULL;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", field,
				   "a new password is required");
	if (clr_password_check(json_string_value(v), json_string_length(v), email, e) != CLR_OK) {
		snprintf(e->field, sizeof(e->field), "%s", field);
		return e->rc;
	}
	if ((e->rc = clr_password_hash(json_string_value(v), json_string_length(v), hash)) !=
	    CLR_OK)
		return clr_err_set(e, e->rc, NULL, NULL, "hashing the password failed");
	return CLR_OK;
}

static const struct clr_field reset_fields[] = {
    {"token", CLR_FT_STR, 1, 0, 1, 200, 0, 0},
    {"password", CLR_FT_STR, 1, 0, 0, CLR_PASSWORD_MAX, 0, 0},
};
const struct clr_body acc_body_reset_confirm = CLR_BODY(reset_fields, 0, NULL);

void acc_h_reset_confirm(struct clr_req *r)
{
	/* Proving the mailbox also verifies it; every session of the account ends. */
	static const char upd[] = "UPDATE accounts SET password_hash = $2, updated_at = now(),"
				  " email_verified_at = coalesce(email_verified_at, now())"
				  " WHERE id = $1::uuid";
	static const char others[] = "UPDATE account_tokens SET used_at = now()"
				     " WHERE account_id = $1::uuid AND purpose = 'password_reset'"
				     " AND used_at IS NULL";
	struct clr_err e = {0};
	char id[37], email[256], *hash = NULL;
	const char *p[2] = {id, NULL};

	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (token_take(r->db, json_string_value(json_object_get(r->json, "token")),
		       "password_reset", id, email, &e) != CLR_OK ||
	    new_password(r->json, "password", email, &hash, &e) != CLR_OK)
		goto fail;
	p[1] = hash;
	if ((e.rc = clr_db_exec_sql(r->db, upd, 2, p, NULL)) != CLR_OK ||
	    (e.rc = clr_db_exec_sql(r->db, others, 1, p, NULL)) != CLR_OK ||
	    (e.rc = clr_db_exec(r->db, "acc_tokens_revoke_subject", 1, p, NULL)) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the password could not be changed");
		goto fail;
	}
	clr_log_req(r, CLR_LOG_INFO, "security: password of account %s reset by mail link", id);
	clr_resp_empty(r, 204);
	goto out;
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	free(hash);
}

static const struct clr_field change_fields[] = {
    {"current_password", CLR_FT_STR, 1, 0, 0, CLR_PASSWORD_MAX, 0, 0},
    {"new_password", CLR_FT_STR, 1, 0, 0, CLR_PASSWORD_MAX, 0, 0},
};
const struct clr_body acc_body_password_change = CLR_BODY(change_fields, 0, NULL);

void acc_h_password_change(struct clr_req *r)
{
	static const char sel[] = "SELECT email, password_hash FROM accounts WHERE id = $1::uuid";
	static const char upd[] = "UPDATE accounts SET password_hash = $2, updated_at = now()"
				  " WHERE id = $1::uuid";
	/* Other sessions end; the one that made the change goes on. */
	static const char rev[] = "UPDATE api_tokens SET revoked_at = now()"
				  " WHERE subject_id = $1::uuid AND id <> $2::uuid"
				  " AND revoked_at IS NULL";
	struct clr_err e = {0};
	const char *p[2] = {r->who.subject_id, NULL};
	const json_t *cur;
	PGresult *res = NULL;
	char *hash = NULL;
	int ok = 0;

	if (r->who.subject_id[0] == '\0') {
		clr_resp_error(r, 403, "forbidden", "this token belongs to no account");
		return;
	}
	if ((e.rc = clr_db_exec_sql(r->db, sel, 1, p, &res)) != CLR_OK || PQntuples(res) != 1) {
		clr_err_set(&e, e.rc != CLR_OK ? e.rc : CLR_ERR_NOTFOUND, NULL, NULL,
			    "the account could not be read");
		goto fail;
	}
	cur = json_object_get(r->json, "current_password");
	if (clr_password_verify(json_string_value(cur), json_string_length(cur),
				PQgetvalue(res, 0, 1), &ok) != CLR_OK ||
	    !ok) {
		clr_log_req(r, CLR_LOG_WARN, "security: password change with a wrong password");
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", "current_password",
			    "the current password is wrong");
		goto fail;
	}
	if (new_password(r->json, "new_password", PQgetvalue(res, 0, 0), &hash, &e) != CLR_OK)
		goto fail;
	p[1] = hash;
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK ||
	    (e.rc = clr_db_exec_sql(r->db, upd, 2, p, NULL)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the password could not be changed");
		goto fail;
	}
	p[1] = r->who.token_id;
	if ((e.rc = clr_db_exec_sql(r->db, rev, 2, p, NULL)) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the password could not be changed");
		goto fail;
	}
	clr_log_req(r, CLR_LOG_INFO, "security: account %s changed its password",
		    r->who.subject_id);
	clr_resp_empty(r, 204);
	goto out;
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	free(hash);
	PQclear(res);
}

/* ---- OpenAPI document per product ------------------------------------------ */

void acc_h_openapi_put(struct clr_req *r)
{
	static const char sql[] =
	    "INSERT INTO product_openapi (product_id, document, size_bytes)"
	    " SELECT p.id, $2::jsonb, $3::int FROM products p"
	    " WHERE p.id = $1::uuid AND p.deleted_at IS NULL"
	    " ON CONFLICT (product_id) DO UPDATE SET document = EXCLUDED.document,"
	    " size_bytes = EXCLUDED.size_bytes, updated_at = now()"
	    " RETURNING json_build_object('product_id', product_id, 'size_bytes', "
	    "size_bytes,"
	    " 'updated_at', updated_at)::text";
	const char *id = clr_req_param_id(r, 0, "product");
	const json_t *ver, *paths;
	struct clr_err e = {0};
	const char *p[3];
	char size[24];
	PGresult *res = NULL;

	if (id == NULL)
		return;
	if (r->body.len > OPENAPI_MAX) {
		clr_resp_error(r, 413, "request_too_large", "the OpenAPI document is over 256 KiB");
		return;
	}
	ver = json_object_get(r->json, "openapi");
	paths = json_object_get(r->json, "paths");
	if (!json_is_string(ver) || strncmp(json_string_value(ver), "3.", 2) != 0) {
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", "openapi",
			    "an OpenAPI 3.x document (JSON) with an \"openapi\": \"3.x\" member is "
			    "expected");
		goto fail;
	}
	if (paths != NULL && !json_is_object(paths)) {
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", "paths",
			    "paths must be an object");
		goto fail;
	}
	snprintf(size, sizeof(size), "%zu", r->body.len);
	p[0] = id;
	p[1] = r->body.p;
	p[2] = size;
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK ||
	    (e.rc = clr_db_exec_sql(r->db, sql, 3, p, &res)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the document could not be stored");
		goto fail;
	}
	if (PQntuples(res) != 1) {
		clr_err_set(&e, CLR_ERR_NOTFOUND, "not_found", NULL, "no such product");
		goto fail;
	}
	if ((e.rc = acc_audit(r, "product.openapi", "product", id,
			      json_pack("{s:s}", "size_bytes", size))) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the document could not be stored");
		goto fail;
	}
	clr_resp_json(r, 200, json_loads(PQgetvalue(res, 0, 0), 0, NULL));
	PQclear(res);
	return;
fail:
	clr_db_rollback(r->db);
	PQclear(res);
	clr_resp_fail(r, &e);
}

void acc_h_openapi_get(struct clr_req *r)
{
	static const char sql[] = "SELECT o.document::text FROM product_openapi o"
				  " JOIN products p ON p.id = o.product_id AND p.deleted_at IS NULL"
				  " WHERE o.product_id = $1::uuid";
	const char *id = clr_req_param_id(r, 0, "product");
	PGresult *res = NULL;
	json_t *doc;

	if (id == NULL)
		return;
	if (clr_db_exec_sql(r->db, sql, 1, &id, &res) != CLR_OK) {
		clr_resp_error(r, 503, "temporarily_unavailable", "the database is unavailable");
		goto out;
	}
	if (PQntuples(res) != 1) {
		clr_resp_error(r, 404, "not_found", "this product has no OpenAPI document");
		goto out;
	}
	doc = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	if (doc == NULL) {
		clr_resp_error(r, 500, "server_error", "the stored document could not be read");
		goto out;
	}
	clr_resp_json(r, 200, doc);
out:
	PQclear(res);
}

void acc_h_openapi_delete(struct clr_req *r)
{
	static const char sql[] = "DELETE FROM product_openapi WHERE product_id = $1::uuid";
	const char *id = clr_req_param_id(r, 0, "product");
	PGresult *res = NULL;

	if (id == NULL)
		return;
	if (clr_db_exec_sql(r->db, sql, 1, &id, &res) != CLR_OK) {
		clr_resp_error(r, 503, "temporarily_unavailable", "the database is unavailable");
		goto out;
	}
	if (strcmp(PQcmdTuples(res), "1") != 0) {
		clr_resp_error(r, 404, "not_found", "this product has no OpenAPI document");
		goto out;
	}
	if (acc_audit(r, "product.openapi_delete", "product", id, NULL) != CLR_OK)
		clr_log_req(r, CLR_LOG_WARN, "audit of an OpenAPI removal failed");
	clr_resp_empty(r, 204);
out:
	PQclear(res);
}
