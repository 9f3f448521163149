/*
 * h_accounts.c - sign-up, login (developers and admins alike), logout,
 * /v1/me, and the admin's view of developers (list, block, unblock).
 *
 * Login attempts are counted per (e-mail, client address) whether or not
 * the account exists, before the password is checked; a success clears
 * the count.  The 6th attempt within the window locks the pair for a
 * while (429), so guessing is slow for one address
 * from one place without letting anyone lock a victim out everywhere.
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
#include "h_accounts.h"
#include "util.h"
#include "web.h"

#define DEV_SESSION_TTL_S (12 * 3600L)
#define ADMIN_SESSION_TTL_S (8 * 3600L)

static const struct clr_field signup_fields[] = {
    {"email", CLR_FT_STR, 1, 0, 3, 254, 0, 0},
    {"password", CLR_FT_STR, 1, 0, 0, CLR_PASSWORD_MAX, 0, 0},
    {"name", CLR_FT_STR, 1, 0, 1, 200, 0, 0},
};

static const struct clr_field login_fields[] = {
    {"email", CLR_FT_STR, 1, 0, 1, 254, 0, 0},
    {"password", CLR_FT_STR, 1, 0, 0, CLR_PASSWORD_MAX, 0, 0},
};

static const struct clr_field dev_patch_fields[] = {
    {"blocked", CLR_FT_BOOL, 0, 0, 0, 0, 0, 0},
};

const struct clr_body acc_body_signup = CLR_BODY(signup_fields, 0, NULL);
const struct clr_body acc_body_login = CLR_BODY(login_fields, 0, NULL);
const struct clr_body acc_body_dev_patch = CLR_BODY(dev_patch_fields, 1, NULL);

/* Password checks run before the generic field check mentions its value type. */
static enum clr_rc password_of(const json_t *body, const char **pw, size_t *len, struct clr_err *e)
{
	const json_t *v = json_object_get(body, "password");

	if (v == NULL || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "password",
				   "a password is required");
	if (!json_is_string(v))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", "password",
				   "password must be a string");
	*pw = json_string_value(v);
	*len = json_string_length(v);
	return CLR_OK;
}

void acc_h_signup(struct clr_req *r)
{
	struct clr_err e = {0};
	const char *pw = NULL, *email, *p[4];
	char *hash = NULL;
	json_t *out = NULL;
	size_t pwlen = 0;

	if (password_of(r->json, &pw, &pwlen, &e) != CLR_OK)
		goto fail;
	email = json_string_value(json_object_get(r->json, "email"));
	if (!clr_mail_addr_valid(email)) {
		clr_err_set(&e, CLR_ERR_PARAM, "invalid_request", "email",
			    "email must be an e-mail address");
		goto fail;
	}
	if (clr_password_check(pw, pwlen, email, &e) != CLR_OK)
		goto fail;
	if ((e.rc = clr_password_hash(pw, pwlen, &hash)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "hashing the password failed");
		goto fail;
	}
	p[0] = "developer";
	p[1] = email;
	p[2] = json_string_value(json_object_get(r->json, "name"));
	p[3] = hash;
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (acc_db_json(r->db, "acc_account_insert", 4, p, &out, &e) != CLR_OK) {
		clr_db_rollback(r->db);
		/* web.c: the same answer as for a new address; the owner gets a mail. */
		if (e.rc == CLR_ERR_CONFLICT) {
			acc_web_signup_existing(r, email, p[2]);
			goto out;
		}
		goto fail;
	}
	if (acc_web_signup_verify(r, out, &e) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_db_rollback(r->db);
		json_decref(out);
		goto fail;
	}
	clr_log_req(r, CLR_LOG_INFO, "developer %s signed up",
		    json_string_value(json_object_get(out, "id")));
	clr_resp_json(r, 201, out);
	goto out;
fail:
	clr_resp_fail(r, &e);
out:
	free(hash);
}

static void iso_in(long ttl_s, char out[32])
{
	time_t t = time(NULL) + ttl_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void acc_h_login(struct clr_req *r)
{
	struct clr_err e = {0};
	const char *pw = NULL, *email, *ip, *p[2];
	const char *hash = NULL, *role = NULL, *id = NULL;
	char *token = NULL, token_id[37], exp[32];
	PGresult *acc = NULL, *thr = NULL, *lk = NULL;
	size_t pwlen = 0;
	int ok = 0, blocked = 0;
	long ttl;
	enum clr_role rl;

	if (password_of(r->json, &pw, &pwlen, &e) != CLR_OK)
		goto fail;
	email = json_string_value(json_object_get(r->json, "email"));
	ip = clr_req_env(r, "REMOTE_ADDR");
	p[0] = email;
	p[1] = ip != NULL ? ip : "unknown";
	/* Counted before the check, so parallel guesses cannot outrun the count. */
	if ((e.rc = clr_db_exec(r->db, "acc_throttle_take", 2, p, &thr)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the login throttle could not be updated");
		goto fail;
	}
	if (PQntuples(thr) == 1 && strcmp(PQgetvalue(thr, 0, 0), "t") == 0) {
		clr_log_req(r, CLR_LOG_WARN, "security: login throttled for a locked address");
		clr_resp_header(r, "Retry-After", "900");
		clr_resp_error(r, 429, "too_many_requests",
			       "too many failed logins; try again later");
		goto out;
	}
	if ((e.rc = clr_db_exec(r->db, "acc_account_by_email", 1, p, &acc)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the account could not be read");
		goto fail;
	}
	if (PQntuples(acc) == 1) {
		id = PQgetvalue(acc, 0, 0);
		role = PQgetvalue(acc, 0, 1);
		hash = PQgetvalue(acc, 0, 2);
		blocked = strcmp(PQgetvalue(acc, 0, 3), "t") == 0;
	}
	/* hash NULL still costs a full scrypt run: unknown accounts are not faster. */
	if (clr_password_verify(pw, pwlen, hash, &ok) != CLR_OK)
		ok = 0;
	if (!ok) {
		clr_log_req(r, CLR_LOG_WARN, "security: failed login%s",
			    id != NULL ? " for an existing account" : "");
		/* Best effort: an unwritable audit row must not change the answer. */
		(void)acc_audit_as(r, "none", NULL, email, "login.failed", "account", id,
				   json_pack("{s:s}", "ip", p[1]));
		clr_resp_error(r, 401, "invalid_grant", "wrong e-mail address or password");
		goto out;
	}
	if (clr_db_exec(r->db, "acc_throttle_clear", 2, p, NULL) != CLR_OK)
		clr_log_req(r, CLR_LOG_WARN, "the login throttle could not be cleared");
	/*
	 * `blocked` above was read before the password check, which takes
	 * tens of milliseconds: a block committed during it revoked the
	 * sessions that existed then, and the one made here would have
	 * survived it.  So look again under a lock, in the session's tx.
	 */
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK ||
	    (e.rc = clr_db_exec(r->db, "acc_account_lock_login", 1, &id, &lk)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the account could not be read");
		goto fail;
	}
	if (blocked || PQntuples(lk) != 1 || strcmp(PQgetvalue(lk, 0, 0), "f") != 0) {
		clr_db_rollback(r->db);
		clr_log_req(r, CLR_LOG_WARN, "security: blocked account %s tried to log in", id);
		(void)acc_audit_as(r, role, id, email, "login.blocked", "account", id,
				   json_pack("{s:s}", "ip", p[1]));
		clr_resp_error(r, 403, "account_blocked", "this account is blocked");
		goto out;
	}
	rl = strcmp(role, "admin") == 0 ? CLR_ROLE_ADMIN : CLR_ROLE_DEVELOPER;
	ttl = rl == CLR_ROLE_ADMIN ? ADMIN_SESSION_TTL_S : DEV_SESSION_TTL_S;
	if ((e.rc = clr_auth_token_create(r->db, rl, id, email, ttl, &token, token_id)) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the session could not be created");
		goto fail;
	}
	iso_in(ttl, exp);
	clr_log_req(r, CLR_LOG_INFO, "%s %s logged in (session %s)", role, id, token_id);
	(void)acc_audit_as(r, role, id, email, "login", "session", token_id,
			   json_pack("{s:s}", "ip", p[1]));
	clr_resp_header(r, "Cache-Control", "no-store");
	/* web.c: a browser gets the token only as an HttpOnly cookie, never in the body. */
	if (acc_web_wants_cookie(r)) {
		acc_web_set_cookie(r, token, ttl);
		clr_resp_json(r, 201,
			      json_pack("{s:s, s:s, s:s, s:s}", "token_type", "cookie",
					"expires_at", exp, "role", role, "account_id", id));
		goto out;
	}
	clr_resp_json(r, 201,
		      json_pack("{s:s, s:s, s:s, s:s, s:s}", "token", token, "token_type", "Bearer",
				"expires_at", exp, "role", role, "account_id", id));
	goto out;
fail:
	clr_db_rollback(r->db);
	clr_resp_fail(r, &e);
out:
	if (token != NULL) {
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
	PQclear(thr);
	PQclear(acc);
	PQclear(lk);
}

void acc_h_logout(struct clr_req *r)
{
	struct clr_err e = {0};

	if ((e.rc = clr_auth_token_revoke(r->db, r->who.token_id)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the session could not be ended");
		clr_resp_fail(r, &e);
		return;
	}
	acc_web_clear_cookie(r);
	clr_resp_empty(r, 204);
}

void acc_h_me(struct clr_req *r)
{
	struct clr_err e = {0};
	const char *p[1] = {r->who.subject_id};
	json_t *out = NULL;

	if (r->who.subject_id[0] == '\0') {
		/* A token made with clearance-ctl belongs to no account. */
		clr_resp_json(r, 200,
			      json_pack("{s:s, s:s, s:n}", "role", clr_role_name(r->who.role),
					"name", r->who.name, "id"));
		return;
	}
	if (acc_db_json(r->db, "acc_account_get", 1, p, &out, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	clr_resp_json(r, 200, out);
}

void acc_h_devs_list(struct clr_req *r)
{
	struct clr_err e = {0};
	char lim[16], off[16];
	const char *p[2] = {lim, off};
	json_t *out = NULL;

	if (clr_req_paging(r, lim, off, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	if (acc_db_json_list(r->db, "acc_devs_list", 2, p, &out, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	clr_resp_json(r, 200, json_pack("{s:o}", "developers", out));
}

void acc_h_devs_get(struct clr_req *r)
{
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, "developer");
	json_t *out = NULL;

	if (id == NULL)
		return;
	if (acc_db_json(r->db, "acc_dev_get", 1, &id, &out, &e) != CLR_OK) {
		clr_resp_fail(r, &e);
		return;
	}
	clr_resp_json(r, 200, out);
}

void acc_h_devs_patch(struct clr_req *r)
{
	struct clr_err e = {0};
	const char *id = clr_req_param_id(r, 0, "developer");
	const char *p[2];
	json_t *out = NULL;
	int blocked;

	if (id == NULL)
		return;
	blocked = json_is_true(json_object_get(r->json, "blocked"));
	p[0] = id;
	p[1] = blocked ? "true" : "false";
	if ((e.rc = clr_db_begin(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "database unavailable");
		goto fail;
	}
	if (acc_db_json(r->db, "acc_dev_set_blocked", 2, p, &out, &e) != CLR_OK)
		goto fail;
	/* A blocked developer's open sessions end now, not when they expire. */
	if (blocked && acc_db_do(r->db, "acc_tokens_revoke_subject", 1, p, NULL,
				 "ending the sessions", &e) != CLR_OK)
		goto fail;
	if ((e.rc = acc_audit(r, blocked ? "developer.block" : "developer.unblock", "developer", id,
			      NULL)) != CLR_OK ||
	    (e.rc = clr_db_commit(r->db)) != CLR_OK) {
		clr_err_set(&e, e.rc, NULL, NULL, "the change could not be stored");
		goto fail;
	}
	clr_resp_json(r, 200, out);
	return;
fail:
	clr_db_rollback(r->db);
	json_decref(out);
	clr_resp_fail(r, &e);
}
