/*
 * config.c - every setting of every program, from one const table.
 *
 * Loading never stops at the first problem: each bad value is logged (naming
 * the variable and the reason, never a secret's value) and loading fails
 * only after all of them were seen, so an operator fixes everything at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "clearance/config.h"
#include "clearance/log.h"
#include "clearance/oauth.h"
#include "clearance/seal.h"

#define CFG_FILE_MAX (64 * 1024)
#define CFG_ENV_PREFIX "CLEARANCE_"

enum cfg_type { CFG_STR, CFG_INT, CFG_LONG, CFG_BOOL, CFG_LOGLEVEL, CFG_TYPE__MAX };

struct cfg_entry {
	const char *name; /* after CLEARANCE_ */
	enum cfg_type type;
	size_t offset;	  /* into struct clr_config */
	const char *dflt; /* NULL: unset by default */
	long min, max;	  /* for CFG_INT and CFG_LONG */
	int secret;	  /* never log the value; wipe on free */
};

#define OFF(f) offsetof(struct clr_config, f)
#define DAY_S 86400L
#define HOUR_MS 3600000L

static const struct cfg_entry cfg_table[] = {
    {"LISTEN", CFG_STR, OFF(listen), NULL, 0, 0, 0},
    {"THREADS", CFG_INT, OFF(threads), "8", 1, 256, 0},
    {"DATABASE_URL", CFG_STR, OFF(database_url), NULL, 0, 0, 1},
    {"SEAL_KEYS", CFG_STR, OFF(seal_keys), NULL, 0, 0, 1},
    {"TOKEN_PEPPER", CFG_STR, OFF(token_pepper), NULL, 0, 0, 1},
    {"LOG_LEVEL", CFG_LOGLEVEL, OFF(log_level), "info", 0, 0, 0},
    {"MAX_BODY", CFG_LONG, OFF(max_body), "65536", 1024, 64L * 1024 * 1024, 0},
    {"HTTP_CONNECT_TIMEOUT_MS", CFG_LONG, OFF(http_connect_timeout_ms), "3000", 1, 600000, 0},
    {"HTTP_TIMEOUT_MS", CFG_LONG, OFF(http_timeout_ms), "10000", 1, 600000, 0},
    {"HTTP_MAX_RESPONSE", CFG_LONG, OFF(http_max_response), "1048576", 1024, 256L * 1024 * 1024, 0},
    {"WORKER", CFG_BOOL, OFF(worker), "1", 0, 1, 0},
    {"JOB_MAX_ATTEMPTS", CFG_INT, OFF(job_max_attempts), "5", 1, 1000, 0},
    {"JOB_BACKOFF_MS", CFG_LONG, OFF(job_backoff_ms), "2000", 1, 24 * HOUR_MS, 0},
    /* 17 attempts at the default backoff (2 s doubling) span about 36 hours. */
    {"WEBHOOK_MAX_ATTEMPTS", CFG_INT, OFF(webhook_max_attempts), "17", 1, 1000, 0},
    {"JOB_POLL_MS", CFG_LONG, OFF(job_poll_ms), "5000", 10, HOUR_MS, 0},
    {"SMTP_URL", CFG_STR, OFF(smtp_url), NULL, 0, 0, 1},
    {"MAIL_FROM", CFG_STR, OFF(mail_from), NULL, 0, 0, 0},
    {"MAIL_TEMPLATES", CFG_STR, OFF(mail_templates), NULL, 0, 0, 0},
    {"PUBLIC_ORIGINS", CFG_STR, OFF(public_origins), NULL, 0, 0, 0},
    {"JWKS_MIN_TTL", CFG_LONG, OFF(jwks_min_ttl_s), "60", 0, 30 * DAY_S, 0},
    {"JWKS_MAX_TTL", CFG_LONG, OFF(jwks_max_ttl_s), "86400", 1, 30 * DAY_S, 0},
    {"JWKS_COOLDOWN", CFG_LONG, OFF(jwks_cooldown_s), "30", 0, DAY_S, 0},
    {"JWKS_STALE_LIMIT", CFG_LONG, OFF(jwks_stale_s), "86400", 0, 30 * DAY_S, 0},
    {"LEEWAY", CFG_LONG, OFF(leeway_s), "30", 0, 3600, 0},
    {"REVOCATION_REFRESH", CFG_LONG, OFF(revocation_refresh_s), "60", 1, DAY_S, 0},
    {"GATEWAY_REQUIRE_REGISTERED", CFG_BOOL, OFF(gateway_require_registered), "1", 0, 1, 0},
    /* The registrar's periodic reconcile of IdP clients (issue 13); 0 = off. */
    {"RECONCILE_INTERVAL", CFG_LONG, OFF(reconcile_interval_s), "3600", 0, 30 * DAY_S, 0},
    {"GATEWAY_TOKEN_CACHE", CFG_LONG, OFF(gateway_token_cache), "65536", 0, 1L << 22, 0},
    {"REDIRECT_ALLOW_PRIVATE", CFG_STR, OFF(redirect_allow_private), NULL, 0, 0, 0},
    /* May carry proxy credentials: treated as a secret. */
    {"HTTP_PROXY", CFG_STR, OFF(http_proxy), NULL, 0, 0, 1},
    /* How long a registrar route waits for its IdP job before it answers 202. */
    {"REG_WAIT_MS", CFG_LONG, OFF(reg_wait_ms), "5000", 0, 60000, 0},
};

#define CFG_N (sizeof(cfg_table) / sizeof(cfg_table[0]))

static void cfg_error(const struct cfg_entry *ent, const char *why)
{
	clr_log(NULL, CLR_LOG_ERROR, "config: " CFG_ENV_PREFIX "%s: %s", ent->name, why);
}

/* Logs "<reason> (got "<value>")" for non-secrets, only the reason for secrets. */
static void cfg_error_value(const struct cfg_entry *ent, const char *why, const char *value)
{
	if (ent->secret)
		cfg_error(ent, why);
	else
		clr_log(NULL, CLR_LOG_ERROR, "config: " CFG_ENV_PREFIX "%s: %s (got \"%.64s\")",
			ent->name, why, value);
}

/*
 * Reads the whole file at path into a new NUL-terminated string, dropping one
 * trailing "\n" or "\r\n".  The reason for a failure goes to *why.
 */
static enum clr_rc read_value_file(const char *path, char **out, const char **why)
{
	char *buf;
	size_t used = 0;
	ssize_t n;
	int fd;
	enum clr_rc rc = CLR_ERR_PARAM;

	*out = NULL;
	buf = malloc(CFG_FILE_MAX + 2);
	if (buf == NULL) {
		*why = "out of memory";
		return CLR_ERR_NOMEM;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*why = "the _FILE cannot be opened";
		goto out;
	}
	/* Read one byte past the cap so an oversized file is noticed. */
	while (used <= CFG_FILE_MAX) {
		n = read(fd, buf + used, CFG_FILE_MAX + 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*why = "the _FILE cannot be read";
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (used > CFG_FILE_MAX) {
		*why = "the _FILE is larger than 64 KiB";
		goto out;
	}
	if (used > 0 && buf[used - 1] == '\n')
		used--;
	if (used > 0 && buf[used - 1] == '\r')
		used--;
	if (memchr(buf, '\0', used) != NULL) {
		*why = "the _FILE contains a NUL byte";
		goto out;
	}
	buf[used] = '\0';
	*out = buf;
	buf = NULL;
	rc = CLR_OK;
out:
	if (fd >= 0)
		close(fd);
	if (buf != NULL) {
		OPENSSL_cleanse(buf, CFG_FILE_MAX + 2);
		free(buf);
	}
	return rc;
}

static void free_secret_str(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/*
 * Fetches the raw text of one setting into *out (new, or NULL when unset).
 * Returns CLR_ERR_PARAM after logging if the source itself is wrong.
 */
static enum clr_rc fetch_raw(const struct cfg_entry *ent, char **out)
{
	char var[96], fvar[104];
	const char *v, *fv, *why = NULL;
	enum clr_rc rc;

	*out = NULL;
	snprintf(var, sizeof(var), CFG_ENV_PREFIX "%s", ent->name);
	snprintf(fvar, sizeof(fvar), CFG_ENV_PREFIX "%s_FILE", ent->name);
	v = getenv(var);
	fv = getenv(fvar);
	if (v != NULL && fv != NULL) {
		cfg_error(ent, "both it and its _FILE variant are set; set only one");
		return CLR_ERR_PARAM;
	}
	if (fv != NULL) {
		if (*fv == '\0') {
			cfg_error(ent, "the _FILE variant is set but empty");
			return CLR_ERR_PARAM;
		}
		rc = read_value_file(fv, out, &why);
		if (rc != CLR_OK) {
			/* The path is not a secret and tells the operator what to fix. */
			clr_log(NULL, CLR_LOG_ERROR, "config: " CFG_ENV_PREFIX "%s: %s (%.200s)",
				ent->name, why, fv);
			return CLR_ERR_PARAM;
		}
		return CLR_OK;
	}
	if (v != NULL) {
		*out = strdup(v);
		if (*out == NULL) {
			cfg_error(ent, "out of memory");
			return CLR_ERR_PARAM;
		}
	}
	return CLR_OK;
}

static int parse_long_strict(const char *s, long *out)
{
	char *end;
	long v;

	/* strtol alone would accept " 12", "+12" and "12abc". */
	if ((*s < '0' || *s > '9') && *s != '-')
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return 0;
	*out = v;
	return 1;
}

static int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 1;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 1;
		}
	}
	return 0;
}

/* Stores the text value (or the default when raw is NULL). */
static enum clr_rc apply(const struct cfg_entry *ent, char *raw, struct clr_config *c)
{
	char *field = (char *)c + ent->offset;
	const char *s = raw != NULL ? raw : ent->dflt;
	char why[96];
	long l;
	int b;
	enum clr_log_level lv;

	switch (ent->type) {
	case CFG_STR:
		/* An empty string means unset, as docker-compose often passes "". */
		if (raw != NULL && *raw != '\0') {
			*(char **)(void *)field = raw;
			return CLR_OK;
		}
		if (raw != NULL)
			free(raw);
		return CLR_OK;
	case CFG_INT:
	case CFG_LONG:
		if (s == NULL || !parse_long_strict(s, &l)) {
			cfg_error_value(ent, "not a decimal integer", s != NULL ? s : "");
			break;
		}
		if (l < ent->min || l > ent->max) {
			snprintf(why, sizeof(why), "must be between %ld and %ld", ent->min,
				 ent->max);
			cfg_error_value(ent, why, s);
			break;
		}
		if (ent->type == CFG_INT)
			*(int *)(void *)field = (int)l;
		else
			*(long *)(void *)field = l;
		free(raw);
		return CLR_OK;
	case CFG_BOOL:
		if (s == NULL || !parse_bool(s, &b)) {
			cfg_error_value(ent, "must be one of 1/0/true/false/yes/no/on/off",
					s != NULL ? s : "");
			break;
		}
		*(int *)(void *)field = b;
		free(raw);
		return CLR_OK;
	case CFG_LOGLEVEL:
		if (s == NULL || clr_log_level_parse(s, &lv) != CLR_OK) {
			cfg_error_value(ent, "must be debug, info, warn or error",
					s != NULL ? s : "");
			break;
		}
		*(enum clr_log_level *)(void *)field = lv;
		free(raw);
		return CLR_OK;
	default:
		cfg_error(ent, "internal: unknown setting type");
		break;
	}
	if (raw != NULL && ent->secret)
		free_secret_str(raw);
	else
		free(raw);
	return CLR_ERR_PARAM;
}

static int port_valid(const char *p)
{
	long port;

	return *p != '\0' && strspn(p, "0123456789") == strlen(p) && strlen(p) <= 5 &&
	       parse_long_strict(p, &port) && port >= 1 && port <= 65535;
}

/* NULL if listen is well formed, else the reason. */
static const char *listen_problem(const char *l)
{
	const struct sockaddr_un *sun = NULL;
	const char *colon, *host_end;

	if (strncmp(l, "unix:", 5) == 0) {
		if (l[5] != '/' || l[6] == '\0')
			return "unix: must be followed by an absolute path";
		if (strlen(l + 5) >= sizeof(sun->sun_path))
			return "unix socket path is too long";
		return NULL;
	}
	if (l[0] == '[') {
		host_end = strchr(l, ']');
		if (host_end == NULL || host_end == l + 1)
			return "must be \"unix:/path\" or \"host:port\" ([v6addr]:port)";
		if (host_end[1] != ':' ||
		    strspn(l + 1, "0123456789abcdefABCDEF:.") != (size_t)(host_end - l - 1))
			return "must be \"unix:/path\" or \"host:port\" ([v6addr]:port)";
		colon = host_end + 1;
	} else {
		colon = strrchr(l, ':');
		if (colon == NULL || colon == l)
			return "must be \"unix:/path\" or \"host:port\"";
		if (memchr(l, ':', (size_t)(colon - l)) != NULL)
			return "an IPv6 host must be in brackets: \"[::1]:port\"";
	}
	if (!port_valid(colon + 1))
		return "port must be a number from 1 to 65535";
	return NULL;
}

static size_t cfg_index(const char *name)
{
	size_t i;

	for (i = 0; i < CFG_N; i++) {
		if (strcmp(cfg_table[i].name, name) == 0)
			return i;
	}
	abort(); /* a name missing from the table is a bug in this file */
}

/*
 * Checks that need more than one field or another module; logs each problem.
 * A setting already reported in failed[] is not reported again as missing.
 */
static int validate(const struct clr_config *c, unsigned required, const unsigned char *failed)
{
	struct clr_sealer *s = NULL;
	struct clr_err e;
	const char *why;
	int errors = 0;

	if (c->listen != NULL && (why = listen_problem(c->listen)) != NULL) {
		clr_log(NULL, CLR_LOG_ERROR,
			"config: " CFG_ENV_PREFIX "LISTEN: %s (got \"%.200s\")", why, c->listen);
		errors++;
	}
	if ((required & CLR_CFG_NEED_DB) && c->database_url == NULL &&
	    !failed[cfg_index("DATABASE_URL")]) {
		clr_log(NULL, CLR_LOG_ERROR,
			"config: " CFG_ENV_PREFIX "DATABASE_URL: required but not set");
		errors++;
	}
	if (c->seal_keys != NULL) {
		memset(&e, 0, sizeof(e));
		if (clr_sealer_new(c->seal_keys, &s, &e) != CLR_OK) {
			/* seal.c words its messages without key material. */
			clr_log(NULL, CLR_LOG_ERROR, "config: " CFG_ENV_PREFIX "SEAL_KEYS: %s",
				e.msg);
			errors++;
		}
		clr_sealer_free(s);
	} else if ((required & CLR_CFG_NEED_SEAL) && !failed[cfg_index("SEAL_KEYS")]) {
		clr_log(NULL, CLR_LOG_ERROR,
			"config: " CFG_ENV_PREFIX "SEAL_KEYS: required but not set");
		errors++;
	}
	/* Parsed and applied here, before any thread starts; a bad list stops the program. */
	memset(&e, 0, sizeof(e));
	if (clr_redirect_allow_set(c->redirect_allow_private, &e) != CLR_OK) {
		clr_log(NULL, CLR_LOG_ERROR, "config: " CFG_ENV_PREFIX "REDIRECT_ALLOW_PRIVATE: %s",
			e.msg);
		errors++;
	}
	if (c->jwks_min_ttl_s > c->jwks_max_ttl_s) {
		clr_log(NULL, CLR_LOG_ERROR,
			"config: " CFG_ENV_PREFIX
			"JWKS_MIN_TTL (%ld) is greater than " CFG_ENV_PREFIX "JWKS_MAX_TTL (%ld)",
			c->jwks_min_ttl_s, c->jwks_max_ttl_s);
		errors++;
	}
	return errors;
}

/* A misspelt variable would otherwise be ignored in silence. */
static void warn_unknown(void)
{
	extern char **environ;
	const size_t plen = strlen(CFG_ENV_PREFIX);
	const char *name, *eq;
	size_t i, j, nlen;
	int known;

	for (i = 0; environ != NULL && environ[i] != NULL; i++) {
		name = environ[i];
		if (strncmp(name, CFG_ENV_PREFIX, plen) != 0)
			continue;
		name += plen;
		eq = strchr(name, '=');
		nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
		if (nlen > 5 && memcmp(name + nlen - 5, "_FILE", 5) == 0)
			nlen -= 5;
		known = 0;
		for (j = 0; j < CFG_N && !known; j++)
			known = strlen(cfg_table[j].name) == nlen &&
				memcmp(cfg_table[j].name, name, nlen) == 0;
		if (!known)
			clr_log(NULL, CLR_LOG_WARN,
				"config: " CFG_ENV_PREFIX "%.*s is not a known setting; ignored",
				(int)(nlen > 64 ? 64 : nlen), name);
	}
}

enum clr_rc clr_config_load(unsigned required, struct clr_config **out)
{
	struct clr_config *c;
	unsigned char failed[CFG_N];
	char *raw;
	size_t i;
	int errors = 0;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		clr_log(NULL, CLR_LOG_ERROR, "config: out of memory");
		return CLR_ERR_NOMEM;
	}
	/*
	 * Defaults first, so a bad value elsewhere cannot make a cross-field
	 * check below report a second, misleading error.
	 */
	for (i = 0; i < CFG_N; i++)
		(void)apply(&cfg_table[i], NULL, c);
	warn_unknown();
	for (i = 0; i < CFG_N; i++) {
		failed[i] = fetch_raw(&cfg_table[i], &raw) != CLR_OK ||
			    apply(&cfg_table[i], raw, c) != CLR_OK;
		errors += failed[i];
	}
	errors += validate(c, required, failed);
	if (errors > 0) {
		clr_log(NULL, CLR_LOG_ERROR, "config: %d error%s, not starting", errors,
			errors == 1 ? "" : "s");
		clr_config_free(c);
		return CLR_ERR_PARAM;
	}
	clr_log_set_level(c->log_level);
	*out = c;
	return CLR_OK;
}

void clr_config_free(struct clr_config *c)
{
	size_t i;
	char **p;

	if (c == NULL)
		return;
	for (i = 0; i < CFG_N; i++) {
		if (cfg_table[i].type != CFG_STR)
			continue;
		p = (char **)(void *)((char *)c + cfg_table[i].offset);
		if (cfg_table[i].secret)
			free_secret_str(*p);
		else
			free(*p);
	}
	free(c);
}
