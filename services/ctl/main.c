/*
 * clearance-ctl - operator commands: schema migrations and admin tokens.
 *
 * Exit status: 0 success, 1 failure (message on stderr), 2 usage error.
 * Configuration comes from the environment like every Clearance program
 * (CLEARANCE_DATABASE_URL or CLEARANCE_DATABASE_URL_FILE).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "clearance/auth.h"
#include "clearance/config.h"
#include "clearance/db.h"
#include "clearance/log.h"
#include "clearance/mail.h"
#include "clearance/password.h"
#include "clearance/util.h"
#include "apply.h"
#include "migrate.h"
#include "reconcile.h"
#include "reseal.h"

#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fputs("usage: clearance-ctl COMMAND\n"
	      "\n"
	      "  migrate [--dir DIR] [--wait SECONDS]\n"
	      "                             apply pending sql/NNN_*.sql migrations\n"
	      "                             (--wait: retry the connection that long,\n"
	      "                             for init containers started before the\n"
	      "                             database)\n"
	      "  admin-token create NAME    create an admin token (printed once)\n"
	      "  admin-token list           list admin tokens\n"
	      "  admin-token revoke ID      revoke a token\n"
	      "  create-admin --email E [--name N] [--password-file F] [--if-absent]\n"
	      "                             create an admin account that logs in with\n"
	      "                             POST /v1/sessions (password from F, else\n"
	      "                             the first line of stdin; --if-absent: an\n"
	      "                             existing account is success, not an error)\n"
	      "  apply -f FILE [--dry-run] [--prune] [--set-secrets]\n"
	      "                             make providers, client types, plans,\n"
	      "                             products and webhooks what FILE says\n"
	      "                             (through the admin API; see\n"
	      "                             deploy/catalogue.schema.json)\n"
	      "  export [-o FILE]           write the catalogue in apply's format\n"
	      "  reseal [--check]           re-encrypt every sealed secret under the\n"
	      "                             first key of CLEARANCE_SEAL_KEYS (--check:\n"
	      "                             only verify every one opens; change nothing)\n"
	      "  reconcile [--provider ID] [--policy report|delete|adopt] [--dry-run]\n"
	      "            [--wait SECONDS]  compare the IdPs' clients with the stored\n"
	      "                             registrations (the registrar runs it; its\n"
	      "                             counts are printed per provider)\n"
	      "  help                       this text\n"
	      "\n"
	      "Environment: CLEARANCE_DATABASE_URL (or CLEARANCE_DATABASE_URL_FILE),\n"
	      "CLEARANCE_SQL_DIR (default ./sql or <prefix>/share/clearance/sql);\n"
	      "apply and export: CLEARANCE_API_URL (default http://127.0.0.1:8080) and\n"
	      "CLEARANCE_ADMIN_TOKEN (or CLEARANCE_ADMIN_TOKEN_FILE).\n",
	      f);
}

/* Prints s with control characters replaced, so names cannot drive a terminal. */
static void print_clean(const char *s)
{
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static int cmd_migrate(struct clr_db *db, int argc, char **argv)
{
	char buf[4096];
	const char *dir = NULL;
	int napplied;

	if (argc == 2 && strcmp(argv[0], "--dir") == 0) {
		dir = argv[1];
	} else if (argc != 0) {
		usage(stderr);
		return EXIT_USAGE;
	} else {
		dir = ctl_sql_dir(buf, sizeof(buf));
		if (dir == NULL) {
			fputs("clearance-ctl: no migrations directory found; set "
			      "CLEARANCE_SQL_DIR or use --dir\n",
			      stderr);
			return EXIT_FAILURE;
		}
	}
	if (ctl_migrate(db, dir, stdout, &napplied) != CLR_OK) {
		fprintf(stderr,
			"clearance-ctl: migrate failed after %d "
			"migration(s)\n",
			napplied);
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

static int token_create(struct clr_db *db, const char *name)
{
	char *token = NULL, id[37];
	enum clr_rc rc;

	rc = clr_auth_token_create(db, CLR_ROLE_ADMIN, NULL, name, 0, &token, id);
	if (rc != CLR_OK) {
		fprintf(stderr, "clearance-ctl: cannot create token: %s%s\n", clr_rc_name(rc),
			rc == CLR_ERR_PARAM ? " (name must be 1..127 bytes)" : "");
		return EXIT_FAILURE;
	}
	/* The only time the token exists outside the caller's hands. */
	printf("%s\n", token);
	fflush(stdout);
	fprintf(stderr, "created admin token %s; it is shown once, store it now\n", id);
	OPENSSL_cleanse(token, strlen(token));
	free(token);
	return EXIT_SUCCESS;
}

static int token_list(struct clr_db *db)
{
	PGresult *r = NULL;
	int i;

	if (clr_db_exec_sql(db,
			    "SELECT id::text, name,"
			    " to_char(created_at AT TIME ZONE 'UTC',"
			    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
			    " coalesce(to_char(revoked_at AT TIME ZONE 'UTC',"
			    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-')"
			    " FROM api_tokens WHERE role = 'admin'"
			    " ORDER BY created_at, id",
			    0, NULL, &r) != CLR_OK) {
		fputs("clearance-ctl: cannot list tokens\n", stderr);
		return EXIT_FAILURE;
	}
	printf("ID\tNAME\tCREATED\tREVOKED\n");
	for (i = 0; i < PQntuples(r); i++) {
		printf("%s\t", PQgetvalue(r, i, 0));
		print_clean(PQgetvalue(r, i, 1));
		printf("\t%s\t%s\n", PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
	}
	PQclear(r);
	return EXIT_SUCCESS;
}

static int token_revoke(struct clr_db *db, const char *id)
{
	enum clr_rc rc = clr_auth_token_revoke(db, id);

	if (rc == CLR_OK) {
		printf("revoked %s\n", id);
		return EXIT_SUCCESS;
	}
	fprintf(stderr, "clearance-ctl: cannot revoke %s: %s\n",
		clr_uuid_valid(id) ? id : "(not a UUID)",
		rc == CLR_ERR_NOTFOUND ? "no such token" : clr_rc_name(rc));
	return EXIT_FAILURE;
}

static int cmd_token(struct clr_db *db, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[0], "create") == 0)
		return token_create(db, argv[1]);
	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return token_list(db);
	if (argc == 2 && strcmp(argv[0], "revoke") == 0)
		return token_revoke(db, argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}

/* ---- create-admin (access service accounts) ---- */

/* Reads the first line of f (at most CLR_PASSWORD_MAX bytes) into buf. */
static int read_password(FILE *f, char *buf, size_t cap, size_t *len)
{
	size_t n;

	if (fgets(buf, (int)cap, f) == NULL)
		return 0;
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	else if (!feof(f))
		return 0; /* longer than the cap */
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return 1;
}

static int cmd_create_admin(struct clr_db *db, int argc, char **argv)
{
	const char *email = NULL, *name = "", *file = NULL, *p[3];
	char pw[CLR_PASSWORD_MAX + 2], *hash = NULL;
	struct clr_err e = {0};
	PGresult *r = NULL;
	FILE *f = stdin;
	size_t len = 0;
	int i, status = EXIT_FAILURE, if_absent = 0;
	enum clr_rc rc;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--if-absent") == 0)
			if_absent = 1;
		else if (strcmp(argv[i], "--email") == 0 && i + 1 < argc)
			email = argv[++i];
		else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strcmp(argv[i], "--password-file") == 0 && i + 1 < argc)
			file = argv[++i];
	}
	if (!clr_mail_addr_valid(email)) {
		fputs("clearance-ctl: --email must be an e-mail address\n", stderr);
		return EXIT_USAGE;
	}
	if (file != NULL && (f = fopen(file, "r")) == NULL) {
		fputs("clearance-ctl: cannot open the password file\n", stderr);
		return EXIT_FAILURE;
	}
	if (!read_password(f, pw, sizeof(pw), &len)) {
		fputs("clearance-ctl: no password given (or longer than the maximum)\n", stderr);
		goto out;
	}
	if (clr_password_check(pw, len, email, &e) != CLR_OK) {
		fprintf(stderr, "clearance-ctl: %s\n", e.msg);
		goto out;
	}
	if (clr_password_hash(pw, len, &hash) != CLR_OK) {
		fputs("clearance-ctl: hashing the password failed\n", stderr);
		goto out;
	}
	p[0] = email;
	p[1] = name;
	p[2] = hash;
	rc = clr_db_exec_sql(db,
			     "INSERT INTO accounts (role, email, name, password_hash)"
			     " VALUES ('admin', $1, $2, $3) RETURNING id::text",
			     3, p, &r);
	if (rc == CLR_ERR_CONFLICT && if_absent) {
		/* A bootstrap step run on every start (docker compose) finds it made. */
		printf("an account with this e-mail exists; nothing to do\n");
		status = EXIT_SUCCESS;
		goto out;
	}
	if (rc != CLR_OK) {
		fprintf(stderr, "clearance-ctl: cannot create the admin: %s\n",
			rc == CLR_ERR_CONFLICT ? "an account with this e-mail exists"
					       : clr_rc_name(rc));
		goto out;
	}
	printf("created admin %s\n", PQgetvalue(r, 0, 0));
	status = EXIT_SUCCESS;
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	PQclear(r);
	free(hash);
	if (f != stdin)
		fclose(f);
	return status;
}

/* ---- reseal (seal key rotation) ---- */

static int cmd_reseal(const struct clr_config *cfg, struct clr_db *db, int check_only)
{
	struct clr_sealer *s = NULL;
	struct clr_err e = {0};
	char kid[64];
	long unreadable = 0;
	enum clr_rc rc;

	if (cfg->seal_keys == NULL || clr_sealer_new(cfg->seal_keys, &s, &e) != CLR_OK) {
		fprintf(stderr, "clearance-ctl: reseal needs CLEARANCE_SEAL_KEYS%s%s\n",
			e.msg[0] ? ": " : "", e.msg);
		return EXIT_FAILURE;
	}
	rc = ctl_reseal(db, s, check_only, stdout, &unreadable);
	snprintf(kid, sizeof(kid), "%s", clr_sealer_kid(s));
	clr_sealer_free(s);
	if (rc == CLR_ERR_PARAM) {
		fprintf(stderr,
			"clearance-ctl: %ld value(s) open with none of the keys given; keep the "
			"key that sealed them\n",
			unreadable);
		return EXIT_FAILURE;
	}
	if (rc == CLR_ERR_CONFLICT) {
		fputs("clearance-ctl: the schema has sealed columns reseal does not know; nothing "
		      "was changed\n",
		      stderr);
		return EXIT_FAILURE;
	}
	if (rc != CLR_OK) {
		fprintf(stderr, "clearance-ctl: reseal stopped: %s (run it again to resume)\n",
			clr_rc_name(rc));
		return EXIT_FAILURE;
	}
	if (check_only)
		printf("check: every sealed value opens with the keys given\n");
	else
		printf("reseal: every sealed value is under key %s\n", kid);
	return EXIT_SUCCESS;
}

/*
 * Removes "--wait SECONDS" from a migrate command line, so the rest is
 * checked as before.  Returns the new argc, or -1 if SECONDS is not 1..3600.
 */
static int take_wait(int argc, char **argv, long *wait_s)
{
	int i, j;
	char *end;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--wait") != 0)
			continue;
		if (i + 1 >= argc)
			return -1;
		errno = 0;
		*wait_s = strtol(argv[i + 1], &end, 10);
		if (errno != 0 || *end != '\0' || *wait_s < 1 || *wait_s > 3600)
			return -1;
		for (j = i; j + 2 <= argc; j++)
			argv[j] = argv[j + 2];
		return argc - 2;
	}
	return argc;
}

/*
 * Connects, retrying once a second for wait_s seconds: a migration that
 * starts with the database (an init container, a compose service) waits for
 * it instead of failing the rollout on the first refused connection.
 */
static enum clr_rc connect_db(const struct clr_config *cfg, long wait_s, struct clr_db **db)
{
	time_t deadline = time(NULL) + wait_s;

	for (;;) {
		if (clr_db_open(cfg->database_url, NULL, 0, db) == CLR_OK &&
		    clr_db_ping(*db) == CLR_OK)
			return CLR_OK;
		clr_db_close(*db);
		*db = NULL;
		if (time(NULL) >= deadline)
			return CLR_ERR_DB;
		fputs("clearance-ctl: waiting for PostgreSQL\n", stderr);
		sleep(1);
	}
}

/* Shape of the command line, checked before any connection is made. */
static int args_ok(int argc, char **argv)
{
	int i;

	if (strcmp(argv[0], "create-admin") == 0) {
		for (i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--if-absent") == 0)
				continue;
			if ((strcmp(argv[i], "--email") != 0 && strcmp(argv[i], "--name") != 0 &&
			     strcmp(argv[i], "--password-file") != 0) ||
			    i + 1 >= argc)
				return 0;
			i++;
		}
		return 1;
	}
	if (strcmp(argv[0], "migrate") == 0)
		return argc == 1 || (argc == 3 && strcmp(argv[1], "--dir") == 0);
	if (strcmp(argv[0], "reseal") == 0)
		return argc == 1 || (argc == 2 && strcmp(argv[1], "--check") == 0);
	if (strcmp(argv[0], "reconcile") == 0)
		return ctl_reconcile_args_ok(argc - 1, argv + 1);
	if (strcmp(argv[0], "admin-token") != 0 || argc < 2)
		return 0;
	if (strcmp(argv[1], "list") == 0)
		return argc == 2;
	return argc == 3 && (strcmp(argv[1], "create") == 0 || strcmp(argv[1], "revoke") == 0);
}

int main(int argc, char **argv)
{
	struct clr_config *cfg = NULL;
	struct clr_db *db = NULL;
	int status = EXIT_FAILURE;
	long wait_s = 0;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	/* These two speak to the admin API, not to the database. */
	if (strcmp(argv[1], "apply") == 0 || strcmp(argv[1], "export") == 0) {
		clr_log_init("ctl", CLR_LOG_WARN);
		return strcmp(argv[1], "apply") == 0 ? ctl_apply(argc - 2, argv + 2)
						     : ctl_export(argc - 2, argv + 2);
	}
	if (strcmp(argv[1], "migrate") == 0 && (argc = take_wait(argc, argv, &wait_s)) < 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!args_ok(argc - 1, argv + 1)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	clr_log_init("ctl", CLR_LOG_WARN);
	if (clr_config_load(CLR_CFG_NEED_DB, &cfg) != CLR_OK) {
		fputs("clearance-ctl: configuration invalid (see messages above)\n", stderr);
		return EXIT_FAILURE;
	}
	clr_log_init("ctl", cfg->log_level > CLR_LOG_WARN ? cfg->log_level : CLR_LOG_WARN);
	/* Tokens made here must be hashed as the services will check them. */
	if (clr_token_pepper_startup(cfg) != CLR_OK) {
		fputs("clearance-ctl: CLEARANCE_TOKEN_PEPPER is unusable\n", stderr);
		goto out;
	}
	if (connect_db(cfg, wait_s, &db) != CLR_OK) {
		fputs("clearance-ctl: cannot connect to PostgreSQL (see log above)\n", stderr);
		goto out;
	}
	if (strcmp(argv[1], "migrate") == 0)
		status = cmd_migrate(db, argc - 2, argv + 2);
	else if (strcmp(argv[1], "create-admin") == 0)
		status = cmd_create_admin(db, argc - 2, argv + 2);
	else if (strcmp(argv[1], "reseal") == 0)
		status = cmd_reseal(cfg, db, argc == 3);
	else if (strcmp(argv[1], "reconcile") == 0)
		status = ctl_reconcile(db, argc - 2, argv + 2, stdout);
	else
		status = cmd_token(db, argc - 2, argv + 2);
out:
	clr_db_close(db);
	clr_config_free(cfg);
	return status;
}
