/*
 * apply.h - the catalogue as code: `clearance-ctl apply` and `export`.
 *
 * Both talk to the running services through their admin HTTP API (never to
 * the database), so every change goes through the same validation, audit
 * and notifications as a change made in the console, and each service stays
 * the only writer of its tables.  The file format is JSON, described by
 * deploy/catalogue.schema.json:
 *
 *   { "version": 1,
 *     "providers": [ { name, kind, well_known_url, ..., "client_types": [..] } ],
 *     "plans":     [ { name, scopes, rate_limit_requests, ... } ],
 *     "products":  [ { name, ..., "plans": [plan name], "client_types":
 *                      [ { "provider": name, "client_type": display name } ] } ],
 *     "webhooks":  [ { url, events } ] }
 *
 * Objects are matched by name (client types by provider and display name,
 * webhooks by URL).  Secrets (initial_access_token, initial_client_secret)
 * are references, "env:NAME" or "file:PATH", never literal values.
 *
 * Environment: CLEARANCE_API_URL (default http://127.0.0.1:8080),
 * CLEARANCE_ADMIN_TOKEN or CLEARANCE_ADMIN_TOKEN_FILE.
 */
#ifndef CLEARANCE_CTL_APPLY_H
#define CLEARANCE_CTL_APPLY_H

/*
 * `apply -f FILE [--dry-run] [--prune] [--set-secrets]`: makes the
 * catalogue what FILE says and prints one line per difference, then a
 * total.  argv holds the arguments after "apply".  Returns an exit status
 * (0 done, 1 failed, 2 usage).
 */
int ctl_apply(int argc, char **argv);

/*
 * `export [-o FILE]`: writes the current catalogue in apply's format
 * (without secrets, sorted by name) to FILE or stdout.  Returns an exit
 * status.
 */
int ctl_export(int argc, char **argv);

#endif
