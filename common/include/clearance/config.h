/*
 * config.h - the settings of every Clearance program, from one const table.
 *
 * Each setting is read from CLEARANCE_<NAME>, or from the file named by
 * CLEARANCE_<NAME>_FILE (trailing newline stripped; setting both is an
 * error).  Every value is validated, every error is reported (one log line
 * each), and only then does loading fail, so an operator fixes all mistakes
 * in one go.  After loading the config is immutable and shared read-only by
 * all threads.
 */
#ifndef CLEARANCE_CONFIG_H
#define CLEARANCE_CONFIG_H

#include "clearance/rc.h"
#include "clearance/log.h"

struct clr_config {
	char *listen;	    /* LISTEN: "unix:/path", "host:port" or NULL = fd 0 */
	int threads;	    /* THREADS: worker threads, 1..256, default 8 */
	char *database_url; /* DATABASE_URL: libpq conninfo, required */
	char *seal_keys;    /* SEAL_KEYS: "kid:base64(32 bytes)[,kid:...]"; first encrypts */
	char *token_pepper; /* TOKEN_PEPPER: HMAC key of stored token hashes (auth.h) */
	enum clr_log_level log_level; /* LOG_LEVEL, default info */
	long max_body;		      /* MAX_BODY bytes, default 65536 */
	long http_connect_timeout_ms; /* HTTP_CONNECT_TIMEOUT_MS, default 3000 */
	long http_timeout_ms;	      /* HTTP_TIMEOUT_MS, default 10000 */
	long http_max_response;	      /* HTTP_MAX_RESPONSE bytes, default 1048576 */
	int worker;		      /* WORKER: run the job worker thread (registrar), default 1 */
	int job_max_attempts;	      /* JOB_MAX_ATTEMPTS, default 5 */
	int webhook_max_attempts;     /* WEBHOOK_MAX_ATTEMPTS: webhook deliveries' own limit */
	long job_backoff_ms;	      /* JOB_BACKOFF_MS: first retry delay, doubles, default 2000 */
	long job_poll_ms;	      /* JOB_POLL_MS: poll interval besides NOTIFY, default 5000 */
	char *smtp_url;		      /* SMTP_URL, optional */
	char *mail_from;	      /* MAIL_FROM, optional */
	char *mail_templates;	      /* MAIL_TEMPLATES directory, optional */
	char *public_origins;	      /* PUBLIC_ORIGINS (web_session.h), optional */
	long jwks_min_ttl_s;	      /* JWKS_MIN_TTL, default 60 */
	long jwks_max_ttl_s;	      /* JWKS_MAX_TTL, default 86400 */
	long jwks_cooldown_s;	      /* JWKS_COOLDOWN, default 30 */
	long jwks_stale_s;	      /* JWKS_STALE_LIMIT, default 86400 */
	long leeway_s;		      /* LEEWAY, default 30 */
	long revocation_refresh_s;    /* REVOCATION_REFRESH, default 60 */
	int gateway_require_registered; /* GATEWAY_REQUIRE_REGISTERED: only clients with an active
					    registration pass the gateway, default 1 */
	long gateway_token_cache;	/* GATEWAY_TOKEN_CACHE: slots of the verified-token cache,
					   default 65536; 0 verifies every token every time */
	char *redirect_allow_private;	/* REDIRECT_ALLOW_PRIVATE: non-public redirect hosts the
					   operator allows (oauth.h clr_redirect_allow_set) */
	long reconcile_interval_s;	/* RECONCILE_INTERVAL: seconds between the registrar's
					   reconcile runs, default 3600; 0 = off */
	char *http_proxy;		/* HTTP_PROXY: proxy for outgoing calls, optional; the
					   http_proxy/https_proxy environment is ignored */
	long reg_wait_ms;		/* REG_WAIT_MS: how long a registrar route waits for the
					   job that calls the IdP before it answers 202, default
					   5000, 0..60000 */
};

/*
 * Loads the configuration from the environment.  `required` is a bitmask of
 * CLR_CFG_NEED_* saying which optional-by-default settings this program
 * needs.  On success *out is new (free with clr_config_free).  On failure
 * every problem has been logged and CLR_ERR_PARAM is returned.
 */
#define CLR_CFG_NEED_DB 0x1
#define CLR_CFG_NEED_SEAL 0x2
enum clr_rc clr_config_load(unsigned required, struct clr_config **out) CLR_MUSTCHECK;
void clr_config_free(struct clr_config *c);

#endif
