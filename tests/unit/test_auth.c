/*
 * test_auth.c - common/src/auth.c: bearer parsing without a database, and
 * token create/lookup/revoke/expiry against PostgreSQL
 * (CLEARANCE_TEST_DATABASE_URL; skipped when unset).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "clearance/auth.h"
#include "clearance/config.h"
#include "clearance/util.h"
#include "pgtest.h"

static struct clr_db *db;

static void db_setup(void)
{
	ck_assert_int_eq(clr_db_open(pgt_url, NULL, 0, &db), CLR_OK);
}

static void db_teardown(void)
{
	clr_db_close(db);
	db = NULL;
}

/* "Bearer " + token, new (free()). */
static char *hdr(const char *scheme, const char *token)
{
	size_t n = strlen(scheme) + strlen(token) + 1;
	char *h = malloc(n);

	ck_assert_ptr_nonnull(h);
	snprintf(h, n, "%s%s", scheme, token);
	return h;
}

static enum clr_rc bearer(const char *scheme, const char *token, struct clr_principal *p)
{
	char *h = hdr(scheme, token);
	enum clr_rc rc = clr_auth_bearer(db, h, p);

	free(h);
	return rc;
}

/*
 * Malformed headers are refused before any query: db is NULL here, so a
 * lookup would crash.
 */
static const char *const malformed[] = {
    "",
    "Bearer",
    "Bearer ",
    "Bearer  ",
    "Basic dXNlcjpwYXNz",
    "Bearerclr_adm_abc",
    "Bearer\tclr_adm_abc",
    "Bearer clr_adm_abc extra",
    "Bearer clr_adm_abc ",
    "Bearer clr_adm_a+c",
    "Bearer clr_adm_abc=",
    "Bearer clr_adm_ab\xc3\xa9",
    "Token clr_adm_abc",
};

START_TEST(malformed_header_denied)
{
	struct clr_principal p;

	memset(&p, 0x55, sizeof(p));
	ck_assert_int_eq(clr_auth_bearer(NULL, malformed[_i], &p), CLR_ERR_DENIED);
	ck_assert_int_eq(p.role, CLR_ROLE_NONE);
	ck_assert_str_eq(p.token_id, "");
}
END_TEST

START_TEST(missing_or_oversize_denied)
{
	struct clr_principal p;
	char *big = malloc(7 + 513 + 1);

	ck_assert_int_eq(clr_auth_bearer(NULL, NULL, &p), CLR_ERR_DENIED);
	ck_assert_ptr_nonnull(big);
	memcpy(big, "Bearer ", 7);
	memset(big + 7, 'a', 513);
	big[7 + 513] = '\0';
	ck_assert_int_eq(clr_auth_bearer(NULL, big, &p), CLR_ERR_DENIED);
	free(big);
}
END_TEST

START_TEST(role_names)
{
	ck_assert_str_eq(clr_role_name(CLR_ROLE_ADMIN), "admin");
	ck_assert_str_eq(clr_role_name(CLR_ROLE_DEVELOPER), "developer");
	ck_assert_str_eq(clr_role_name(CLR_ROLE_NONE), "none");
	ck_assert_str_eq(clr_role_name(CLR_ROLE__MAX), "none");
}
END_TEST

START_TEST(create_then_lookup)
{
	struct clr_principal p;
	char *tok = NULL, id[37], hash[65];
	const char *alg;

	ck_assert_int_eq(clr_auth_token_create(db, CLR_ROLE_ADMIN, NULL, "ops-1", 0, &tok, id),
			 CLR_OK);
	ck_assert_ptr_nonnull(tok);
	ck_assert(strncmp(tok, "clr_adm_", 8) == 0);
	ck_assert_uint_ge(strlen(tok), 8 + 43);
	ck_assert(clr_uuid_valid(id));
	/* Stored only as its hash (peppered or not, as the environment says). */
	ck_assert_int_ge(clr_token_hash_hex(tok, strlen(tok), hash, &alg), 0);
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM api_tokens WHERE id = $1"
				  " AND token_hash = $2",
				  id, hash),
			 1);
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM api_tokens t WHERE"
				  " strpos(t::text, $1) > 0",
				  tok, NULL),
			 0);

	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_OK);
	ck_assert_int_eq(p.role, CLR_ROLE_ADMIN);
	ck_assert_str_eq(p.token_id, id);
	ck_assert_str_eq(p.subject_id, "");
	ck_assert_str_eq(p.name, "ops-1");
	/* Scheme is case-insensitive; more than one space is tolerated. */
	ck_assert_int_eq(bearer("bearer ", tok, &p), CLR_OK);
	ck_assert_int_eq(bearer("BEARER   ", tok, &p), CLR_OK);
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM api_tokens WHERE id = $1"
				  " AND last_used_at IS NOT NULL",
				  id, NULL),
			 1);
	free(tok);
}
END_TEST

START_TEST(developer_token_with_subject)
{
	struct clr_principal p;
	char *tok = NULL, id[37], subj[37];

	ck_assert_int_eq(clr_uuid_new(subj), CLR_OK);
	ck_assert_int_eq(
	    clr_auth_token_create(db, CLR_ROLE_DEVELOPER, subj, "dev@example.com", 3600, &tok, id),
	    CLR_OK);
	ck_assert(strncmp(tok, "clr_ses_", 8) == 0);
	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_OK);
	ck_assert_int_eq(p.role, CLR_ROLE_DEVELOPER);
	ck_assert_str_eq(p.subject_id, subj);
	ck_assert_str_eq(p.name, "dev@example.com");
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM api_tokens WHERE id = $1"
				  " AND expires_at BETWEEN now() + interval '3590 s'"
				  " AND now() + interval '3610 s'",
				  id, NULL),
			 1);
	free(tok);
}
END_TEST

START_TEST(create_rejects_bad_input)
{
	char *tok = (char *)1, id[37];

	ck_assert_int_eq(clr_auth_token_create(db, CLR_ROLE_NONE, NULL, "x", 0, &tok, id),
			 CLR_ERR_PARAM);
	ck_assert_ptr_null(tok);
	ck_assert_int_eq(clr_auth_token_create(db, CLR_ROLE_ADMIN, NULL, "", 0, &tok, id),
			 CLR_ERR_PARAM);
	ck_assert_int_eq(clr_auth_token_create(db, CLR_ROLE_ADMIN, "not-a-uuid", "x", 0, &tok, id),
			 CLR_ERR_PARAM);
	ck_assert_ptr_null(tok);
}
END_TEST

START_TEST(wrong_token_denied)
{
	struct clr_principal p;
	char *tok = NULL, id[37];

	ck_assert_int_eq(clr_auth_token_create(db, CLR_ROLE_ADMIN, NULL, "ops-2", 0, &tok, id),
			 CLR_OK);
	/* Same shape, one character changed. */
	tok[strlen(tok) - 1] = tok[strlen(tok) - 1] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_ERR_DENIED);
	ck_assert_int_eq(p.role, CLR_ROLE_NONE);
	ck_assert_int_eq(bearer("Bearer ", "clr_adm_unknown", &p), CLR_ERR_DENIED);
	free(tok);
}
END_TEST

START_TEST(revoked_denied)
{
	struct clr_principal p;
	char *tok = NULL, id[37];

	ck_assert_int_eq(clr_auth_token_create(db, CLR_ROLE_ADMIN, NULL, "ops-3", 0, &tok, id),
			 CLR_OK);
	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_OK);
	ck_assert_int_eq(clr_auth_token_revoke(db, id), CLR_OK);
	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_ERR_DENIED);
	ck_assert_str_eq(p.token_id, "");
	/* Revoking twice is fine; unknown and malformed ids are not. */
	ck_assert_int_eq(clr_auth_token_revoke(db, id), CLR_OK);
	ck_assert_int_eq(clr_auth_token_revoke(db, "00000000-0000-4000-8000-000000000000"),
			 CLR_ERR_NOTFOUND);
	ck_assert_int_eq(clr_auth_token_revoke(db, "nope"), CLR_ERR_PARAM);
	free(tok);
}
END_TEST

START_TEST(expired_denied)
{
	struct clr_principal p;
	char *tok = NULL, id[37];

	ck_assert_int_eq(clr_auth_token_create(db, CLR_ROLE_DEVELOPER, NULL, "ses", 60, &tok, id),
			 CLR_OK);
	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_OK);
	ck_assert(pgt_exec("UPDATE api_tokens SET expires_at = now() - interval '1 second'"
			   " WHERE name = 'ses'"));
	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_ERR_DENIED);
	ck_assert_int_eq(p.role, CLR_ROLE_NONE);
	free(tok);
}
END_TEST

/*
 * Regression: the lookup used to stamp last_used_at in the same statement
 * (a data-modifying CTE), so a transaction holding the token's row lock
 * made every request with that token wait for it, and a read-only session
 * failed the request with CLR_ERR_DB.  The stamp is best effort now.  A
 * 1 s lock_timeout turns the old wait into a failure the test can see.
 */
START_TEST(last_used_stamp_never_blocks_or_fails)
{
	struct clr_principal p;
	char *tok = NULL, id[37];
	const char *params[1];
	PGconn *holder;
	PGresult *r;

	ck_assert_int_eq(clr_auth_token_create(db, CLR_ROLE_ADMIN, NULL, "locked", 0, &tok, id),
			 CLR_OK);
	ck_assert_int_eq(clr_db_exec_sql(db, "SET lock_timeout = '1s'", 0, NULL, NULL), CLR_OK);
	holder = PQconnectdb(pgt_url);
	ck_assert_int_eq(PQstatus(holder), CONNECTION_OK);
	r = PQexec(holder, "BEGIN");
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	params[0] = id;
	r = PQexecParams(holder, "SELECT 1 FROM api_tokens WHERE id = $1 FOR UPDATE", 1, NULL,
			 params, NULL, NULL, 0);
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	ck_assert_int_eq(PQntuples(r), 1);
	PQclear(r);

	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_OK);
	ck_assert_int_eq(p.role, CLR_ROLE_ADMIN);
	ck_assert_str_eq(p.token_id, id);
	r = PQexec(holder, "ROLLBACK");
	PQclear(r);
	PQfinish(holder);

	/* Not stamped while locked, so the next request stamps it. */
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM api_tokens WHERE id = $1"
				  " AND last_used_at IS NULL",
				  id, NULL),
			 1);
	ck_assert_int_eq(
	    clr_db_exec_sql(db, "SET default_transaction_read_only = on", 0, NULL, NULL), CLR_OK);
	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_OK);
	ck_assert_str_eq(p.token_id, id);
	ck_assert_int_eq(
	    clr_db_exec_sql(db, "SET default_transaction_read_only = off", 0, NULL, NULL), CLR_OK);
	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_OK);
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM api_tokens WHERE id = $1"
				  " AND last_used_at IS NOT NULL",
				  id, NULL),
			 1);
	free(tok);
}
END_TEST

START_TEST(database_down_is_db_error)
{
	struct clr_db *down = NULL;
	struct clr_principal p;

	ck_assert_int_eq(clr_db_open("host=/nonexistent-clearance-dir dbname=x", NULL, 0, &down),
			 CLR_OK);
	ck_assert_int_eq(clr_auth_bearer(down, "Bearer clr_adm_abc", &p), CLR_ERR_DB);
	clr_db_close(down);
}
END_TEST

/* ---- pepper -------------------------------------------------------------- */

#define PEPPER_A "test-pepper-A-0123456789"
#define PEPPER_B "test-pepper-B-0123456789"

static void pepper_teardown(void)
{
	ck_assert_int_eq(clr_token_pepper_set(NULL, 0), CLR_OK);
	db_teardown();
}

static void hmac_hex(const char *key, const char *msg, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg,
				   strlen(msg), md, &n));
	ck_assert_uint_eq(n, 32);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* A peppered token is stored as HMAC-SHA-256(pepper, token), alg marked. */
START_TEST(peppered_token_stored_as_hmac)
{
	struct clr_principal p;
	char *tok = NULL, id[37], want[65], plain[65];

	ck_assert_int_eq(clr_token_pepper_set(PEPPER_A, strlen(PEPPER_A)), CLR_OK);
	ck_assert_int_eq(clr_token_pepper_state(), 1);
	ck_assert_int_eq(clr_auth_token_create(db, CLR_ROLE_ADMIN, NULL, "pep-1", 0, &tok, id),
			 CLR_OK);
	hmac_hex(PEPPER_A, tok, want);
	clr_sha256_hex(tok, strlen(tok), plain);
	ck_assert_str_ne(want, plain);
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM api_tokens WHERE id = $1::uuid"
				  " AND token_hash = $2 AND hash_alg = 'hmac-sha256'",
				  id, want),
			 1);
	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_OK);
	ck_assert_str_eq(p.token_id, id);
	/* Another pepper (a dump checked with a guessed one) matches nothing. */
	ck_assert_int_eq(clr_token_pepper_set(PEPPER_B, strlen(PEPPER_B)), CLR_OK);
	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_ERR_DENIED);
	/* Nor does the plain SHA-256 of the token. */
	ck_assert_int_eq(clr_token_pepper_set(NULL, 0), CLR_OK);
	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_ERR_DENIED);
	free(tok);
}
END_TEST

/* A row written before the pepper is accepted once and rewritten under it. */
START_TEST(legacy_row_upgraded_on_use)
{
	static const char tok[] = "clr_adm_legacyLegacyLegacyLegacyLegacyLegacy01";
	struct clr_principal p;
	char plain[65], want[65], id[37];
	PGresult *r = NULL;
	const char *params[2];

	clr_sha256_hex(tok, strlen(tok), plain);
	params[0] = plain;
	params[1] = NULL;
	ck_assert_int_eq(clr_db_exec_sql(db,
					 "INSERT INTO api_tokens (token_hash, role, name)"
					 " VALUES ($1, 'admin', 'legacy') RETURNING id::text",
					 1, params, &r),
			 CLR_OK);
	snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	ck_assert_int_eq(clr_token_pepper_set(PEPPER_A, strlen(PEPPER_A)), CLR_OK);
	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_OK);
	ck_assert_str_eq(p.token_id, id);
	hmac_hex(PEPPER_A, tok, want);
	ck_assert_int_eq(pgt_long("SELECT count(*) FROM api_tokens WHERE id = $1::uuid"
				  " AND token_hash = $2 AND hash_alg = 'hmac-sha256'",
				  id, want),
			 1);
	/* Still accepted after the upgrade; the plain hash is gone from the row. */
	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_OK);
	ck_assert_int_eq(
	    pgt_long("SELECT count(*) FROM api_tokens WHERE token_hash = $1", plain, NULL), 0);
}
END_TEST

/* An unusable pepper fails closed, even for legacy rows. */
START_TEST(unusable_pepper_fails_closed)
{
	static const char tok[] = "clr_adm_shortPepperShortPepperShortPepper0001";
	struct clr_principal p;
	char plain[65];
	const char *params[1];
	unsigned char md[32];

	clr_sha256_hex(tok, strlen(tok), plain);
	params[0] = plain;
	ck_assert_int_eq(clr_db_exec_sql(db,
					 "INSERT INTO api_tokens (token_hash, role, name)"
					 " VALUES ($1, 'admin', 'legacy-2')",
					 1, params, NULL),
			 CLR_OK);
	ck_assert_int_eq(clr_token_pepper_set("short", 5), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_token_pepper_state(), -1);
	ck_assert_int_eq(clr_token_digest(tok, strlen(tok), md), -1);
	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_ERR_DENIED);
	/* Without a pepper the legacy row works as before. */
	ck_assert_int_eq(clr_token_pepper_set(NULL, 0), CLR_OK);
	ck_assert_int_eq(bearer("Bearer ", tok, &p), CLR_OK);
}
END_TEST

/*
 * The pepper is the TOKEN_PEPPER setting: from CLEARANCE_TOKEN_PEPPER_FILE
 * with its trailing newline dropped; too short stops startup; none warns.
 */
START_TEST(pepper_from_config)
{
	char path[] = "/tmp/clr-pepper-XXXXXX", a[65], b[65];
	struct clr_config *cfg = NULL;
	const char *alg;
	FILE *f;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(PEPPER_A "\n", f);
	fclose(f);
	unsetenv("CLEARANCE_TOKEN_PEPPER");
	setenv("CLEARANCE_TOKEN_PEPPER_FILE", path, 1);
	ck_assert_int_eq(clr_config_load(0, &cfg), CLR_OK);
	ck_assert_int_eq(clr_token_pepper_startup(cfg), CLR_OK);
	clr_config_free(cfg);
	cfg = NULL;
	ck_assert_int_eq(clr_token_pepper_state(), 1);
	ck_assert_int_eq(clr_token_hash_hex("x", 1, a, &alg), 1);
	ck_assert_str_eq(alg, "hmac-sha256");
	hmac_hex(PEPPER_A, "x", b);
	ck_assert_str_eq(a, b);
	unlink(path);
	unsetenv("CLEARANCE_TOKEN_PEPPER_FILE");

	setenv("CLEARANCE_TOKEN_PEPPER", "too-short", 1);
	ck_assert_int_eq(clr_config_load(0, &cfg), CLR_OK);
	ck_assert_int_eq(clr_token_pepper_startup(cfg), CLR_ERR_PARAM);
	clr_config_free(cfg);
	cfg = NULL;
	ck_assert_int_eq(clr_token_pepper_state(), -1);
	ck_assert_int_eq(clr_token_hash_hex("x", 1, a, &alg), -1);
	ck_assert_str_eq(a, "");
	unsetenv("CLEARANCE_TOKEN_PEPPER");

	ck_assert_int_eq(clr_config_load(0, &cfg), CLR_OK);
	ck_assert_int_eq(clr_token_pepper_startup(cfg), CLR_OK);
	clr_config_free(cfg);
	ck_assert_int_eq(clr_token_pepper_state(), 0);
	ck_assert_int_eq(clr_token_hash_hex("x", 1, a, &alg), 0);
	ck_assert_str_eq(alg, "sha256");
}
END_TEST

static Suite *auth_suite(int have_pg)
{
	Suite *s = suite_create("auth");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, malformed_header_denied, 0,
			    (int)(sizeof(malformed) / sizeof(malformed[0])));
	tcase_add_test(tc, missing_or_oversize_denied);
	tcase_add_test(tc, role_names);
	tcase_add_test(tc, database_down_is_db_error);
	tcase_add_test(tc, pepper_from_config);
	suite_add_tcase(s, tc);
	if (!have_pg)
		return s;
	tc = tcase_create("tokens");
	tcase_add_checked_fixture(tc, db_setup, db_teardown);
	tcase_add_test(tc, create_then_lookup);
	tcase_add_test(tc, developer_token_with_subject);
	tcase_add_test(tc, create_rejects_bad_input);
	tcase_add_test(tc, wrong_token_denied);
	tcase_add_test(tc, revoked_denied);
	tcase_add_test(tc, expired_denied);
	tcase_add_test(tc, last_used_stamp_never_blocks_or_fails);
	suite_add_tcase(s, tc);

	tc = tcase_create("pepper");
	tcase_add_checked_fixture(tc, db_setup, pepper_teardown);
	tcase_add_test(tc, peppered_token_stored_as_hmac);
	tcase_add_test(tc, legacy_row_upgraded_on_use);
	tcase_add_test(tc, unusable_pepper_fails_closed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int have_pg = pgt_setup("auth"), failed;
	SRunner *sr = srunner_create(auth_suite(have_pg));

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	pgt_teardown();
	return failed ? 1 : 0;
}
