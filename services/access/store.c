/*
 * store.c - every SQL statement of the access service, prepared on each
 * connection.  Views are built as JSON by PostgreSQL (json_build_object),
 * which makes the list of exposed columns explicit: nothing sealed, no
 * password hash and no token hash can appear in an answer by accident.
 * Developer-scoped statements take the developer id as a parameter that is
 * NULL for admins ("$n::uuid IS NULL OR developer_id = $n").
 */
#include "store.h"

#define ACCOUNT_JSON(a)                                                                            \
	"json_build_object('id', " a ".id, 'role', " a ".role, 'email', " a ".email, 'name', " a   \
	".name, 'blocked', " a ".blocked, 'created_at', " a ".created_at)"

#define PRODUCT_JSON                                                                               \
	"json_build_object('id', p.id, 'name', p.name, 'description', p.description,"              \
	" 'path_prefixes', to_json(p.path_prefixes), 'dcr_enabled', p.dcr_enabled,"                \
	" 'scopes', p.scopes, 'auto_approve', p.auto_approve,"                                     \
	" 'client_type_ids', (SELECT coalesce(json_agg(c.client_type_id ORDER BY "                 \
	"c.client_type_id),"                                                                       \
	" '[]') FROM product_client_types c WHERE c.product_id = p.id),"                           \
	" 'plan_ids', (SELECT coalesce(json_agg(x.plan_id ORDER BY x.plan_id), '[]')"              \
	" FROM product_plans x JOIN plans y ON y.id = x.plan_id AND y.deleted_at IS NULL"          \
	" WHERE x.product_id = p.id),"                                                             \
	" 'created_at', p.created_at, 'updated_at', p.updated_at)"

#define PLAN_JSON                                                                                  \
	"json_build_object('id', l.id, 'name', l.name, 'description', l.description,"              \
	" 'scopes', l.scopes, 'rate_limit_requests', l.rate_limit_requests,"                       \
	" 'rate_limit_window_seconds', l.rate_limit_window_seconds,"                               \
	" 'monthly_quota', l.monthly_quota, 'created_at', l.created_at,"                           \
	" 'updated_at', l.updated_at)"

#define APP_JSON                                                                                   \
	"json_build_object('id', a.id, 'developer_id', a.developer_id, 'name', a.name,"            \
	" 'description', a.description, 'redirect_uris', a.redirect_uris,"                         \
	" 'created_at', a.created_at, 'updated_at', a.updated_at)"

#define REQ_JSON                                                                                   \
	"json_build_object('id', r.id, 'status', r.status, 'developer_id', r.developer_id,"        \
	" 'developer_email', d.email, 'developer_name', d.name, 'app_id', r.app_id,"               \
	" 'app_name', a.name, 'product_id', r.product_id, 'product_name', p.name,"                 \
	" 'plan_id', r.plan_id, 'plan_name', l.name, 'client_type_id', r.client_type_id,"          \
	" 'client_id', g.client_id, 'reason', r.reason, 'last_error', r.last_error,"               \
	" 'needs_admin', coalesce(r.status = 'provisioning' AND g.status = 'outcome_unknown', "    \
	"false),"                                                                                  \
	" 'decided_by', r.decided_by, 'created_at', r.created_at, 'updated_at', r.updated_at,"     \
	" 'decided_at', r.decided_at)"

#define REQ_FROM                                                                                   \
	" FROM access_requests r JOIN accounts d ON d.id = r.developer_id"                         \
	" JOIN apps a ON a.id = r.app_id JOIN products p ON p.id = r.product_id"                   \
	" JOIN plans l ON l.id = r.plan_id"                                                        \
	" LEFT JOIN registrations g ON g.id = r.registration_id"

#define WEBHOOK_JSON                                                                               \
	"json_build_object('id', w.id, 'url', w.url, 'events', to_json(w.events),"                 \
	" 'created_at', w.created_at)"

/*
 * A client type with a redirect-based grant: only those get the app's
 * redirect URIs (the registrar refuses redirect URIs for the others).
 */
#define FRONT(t) "(" t ".grant_types ?| array['authorization_code', 'implicit'])"

/* A throttle row whose window is over and that is not locked starts again. */
#define THR_FRESH                                                                                  \
	"(f.window_start < now() - interval '15 minutes'"                                          \
	" AND (f.locked_until IS NULL OR f.locked_until <= now()))"

/* Live = still heading for, or holding, a client. */
#define LIVE "('pending', 'provisioning', 'active', 'failed')"

/*
 * The link setters delete what is no longer listed and insert what is new
 * in one statement: the CTE's DELETE and the INSERT see the same snapshot,
 * so they must not touch the same rows.
 */
const struct clr_db_stmt acc_stmts[] = {
    /* ---- audit, events -------------------------------------------------- */
    {"acc_audit_insert",
     "INSERT INTO audit_log (actor_role, actor_id, actor_name, action, target_type,"
     " target_id, detail, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)",
     8},
    /* Filters: action, target_id, target_type, actor (id or name), since, until. */
    {"acc_audit_list",
     "WITH f AS (SELECT * FROM audit_log"
     " WHERE ($1::text IS NULL OR action = $1) AND ($2::text IS NULL OR target_id = $2)"
     " AND ($3::text IS NULL OR target_type = $3)"
     " AND ($4::text IS NULL OR actor_id = $4 OR actor_name = $4)"
     " AND ($5::timestamptz IS NULL OR at >= $5::timestamptz)"
     " AND ($6::timestamptz IS NULL OR at < $6::timestamptz))"
     " SELECT json_build_object('total', (SELECT count(*) FROM f), 'audit',"
     " coalesce((SELECT json_agg(json_build_object('id', x.id, 'at', x.at,"
     " 'actor_role', x.actor_role, 'actor_id', x.actor_id, 'actor_name', x.actor_name,"
     " 'action', x.action, 'target_type', x.target_type, 'target_id', x.target_id,"
     " 'detail', x.detail, 'request_id', x.request_id) ORDER BY x.id DESC)"
     " FROM (SELECT * FROM f ORDER BY id DESC LIMIT $7::int OFFSET $8::int) x),"
     " '[]'::json))",
     8},
    {"acc_webhooks_for_event",
     "SELECT id::text FROM webhooks WHERE $1 = ANY (events) ORDER BY created_at", 1},

    /* ---- accounts, sessions --------------------------------------------- */
    {"acc_account_insert",
     "INSERT INTO accounts AS a (role, email, name, password_hash) VALUES ($1, $2, $3, $4)"
     " RETURNING " ACCOUNT_JSON("a"),
     4},
    {"acc_account_by_email",
     "SELECT id::text, role, password_hash, blocked FROM accounts"
     " WHERE lower(email) = lower($1)",
     1},
    /*
     * Read again after the (slow) password check, under a share lock: a
     * block committed meanwhile is seen, and a block still running waits
     * for the new session and then revokes it with the others.
     */
    {"acc_account_lock_login", "SELECT blocked FROM accounts WHERE id = $1::uuid FOR SHARE", 1},
    {"acc_account_get", "SELECT " ACCOUNT_JSON("a") " FROM accounts a WHERE a.id = $1::uuid", 1},
    /*
     * Every attempt is counted before the password is checked, in one
     * upsert (the row lock orders parallel attempts): reading the counter
     * and counting a failure afterwards let N parallel guesses through
     * where 5 were meant.  The 6th attempt within 15 minutes locks the pair
     * for 15 minutes; a success deletes the row.  Answers "locked".
     */
    {"acc_throttle_take",
     "INSERT INTO login_failures AS f (email, ip, failures) VALUES (lower($1), $2, 1)"
     " ON CONFLICT (email, ip) DO UPDATE SET"
     " failures = CASE WHEN " THR_FRESH " THEN 1 ELSE f.failures + 1 END,"
     " window_start = CASE WHEN " THR_FRESH " THEN now() ELSE f.window_start END,"
     " locked_until = CASE WHEN " THR_FRESH " THEN NULL"
     "  WHEN f.locked_until > now() THEN f.locked_until"
     "  WHEN f.failures + 1 > 5 THEN now() + interval '15 minutes' ELSE f.locked_until END"
     " RETURNING f.locked_until IS NOT NULL AND f.locked_until > now()",
     2},
    {"acc_throttle_clear", "DELETE FROM login_failures WHERE email = lower($1) AND ip = $2", 2},
    {"acc_devs_list",
     "SELECT json_agg(" ACCOUNT_JSON(
	 "a") " ORDER BY a.created_at, a.id) FROM"
	      " (SELECT * FROM accounts WHERE role = 'developer' ORDER BY created_at, id"
	      " LIMIT $1::int OFFSET $2::int) a",
     2},
    {"acc_dev_get",
     "SELECT " ACCOUNT_JSON("a") " FROM accounts a WHERE a.id = $1::uuid"
				 " AND a.role = 'developer'",
     1},
    {"acc_dev_set_blocked",
     "UPDATE accounts a SET blocked = $2::boolean, updated_at = now()"
     " WHERE a.id = $1::uuid AND a.role = 'developer' RETURNING " ACCOUNT_JSON("a"),
     2},
    {"acc_tokens_revoke_subject",
     "UPDATE api_tokens SET revoked_at = now() WHERE subject_id = $1::uuid"
     " AND revoked_at IS NULL",
     1},

    /* ---- products -------------------------------------------------------- */
    {"acc_product_lock",
     "SELECT json_build_object('dcr_enabled', dcr_enabled, 'scopes', scopes) FROM products"
     " WHERE id = $1::uuid AND deleted_at IS NULL FOR UPDATE",
     1},
    {"acc_product_insert",
     "INSERT INTO products (id, name, description, path_prefixes, dcr_enabled, scopes,"
     " auto_approve) VALUES ($1::uuid, $2, coalesce($3, ''),"
     " coalesce(ARRAY(SELECT jsonb_array_elements_text($4::jsonb)), '{}'),"
     " coalesce($5::boolean, false), coalesce($6, ''), coalesce($7::boolean, false))",
     7},
    {"acc_product_update",
     "UPDATE products SET name = coalesce($2, name), description = coalesce($3, description),"
     " path_prefixes = CASE WHEN $4::jsonb IS NULL THEN path_prefixes"
     "  ELSE ARRAY(SELECT jsonb_array_elements_text($4::jsonb)) END,"
     " dcr_enabled = coalesce($5::boolean, dcr_enabled), scopes = coalesce($6, scopes),"
     " auto_approve = coalesce($7::boolean, auto_approve), updated_at = now()"
     " WHERE id = $1::uuid AND deleted_at IS NULL",
     7},
    {"acc_product_set_ctypes",
     "WITH d AS (DELETE FROM product_client_types WHERE product_id = $1::uuid AND client_type_id "
     "<> ALL"
     "  (ARRAY(SELECT v::uuid FROM jsonb_array_elements_text($2::jsonb) v)))"
     " INSERT INTO product_client_types (product_id, client_type_id)"
     " SELECT DISTINCT $1::uuid, v::uuid FROM jsonb_array_elements_text($2::jsonb) v"
     " ON CONFLICT DO NOTHING",
     2},
    {"acc_product_set_plans",
     "WITH d AS (DELETE FROM product_plans WHERE product_id = $1::uuid AND plan_id <> ALL"
     "  (ARRAY(SELECT v::uuid FROM jsonb_array_elements_text($2::jsonb) v)))"
     " INSERT INTO product_plans (product_id, plan_id)"
     " SELECT DISTINCT $1::uuid, v::uuid FROM jsonb_array_elements_text($2::jsonb) v"
     " ON CONFLICT DO NOTHING",
     2},
    {"acc_product_plans_dead",
     "SELECT 1 FROM product_plans x JOIN plans y ON y.id = x.plan_id"
     " WHERE x.product_id = $1::uuid AND y.deleted_at IS NOT NULL",
     1},
    {"acc_product_get",
     "SELECT " PRODUCT_JSON " FROM products p WHERE p.id = $1::uuid AND p.deleted_at IS NULL", 1},
    {"acc_products_list",
     "SELECT json_agg(" PRODUCT_JSON " ORDER BY lower(p.name), p.id) FROM"
     " (SELECT * FROM products WHERE deleted_at IS NULL ORDER BY lower(name), id"
     " LIMIT $1::int OFFSET $2::int) p",
     2},
    {"acc_product_busy",
     "SELECT 1 FROM access_requests WHERE product_id = $1::uuid AND status IN " LIVE, 1},
    {"acc_product_delete",
     "UPDATE products SET deleted_at = now(), updated_at = now() WHERE id = $1::uuid"
     " AND deleted_at IS NULL",
     1},

    /* ---- plans ------------------------------------------------------------ */
    {"acc_plan_lock",
     "SELECT json_build_object('rate_limit_requests', rate_limit_requests,"
     " 'rate_limit_window_seconds', rate_limit_window_seconds) FROM plans"
     " WHERE id = $1::uuid AND deleted_at IS NULL FOR UPDATE",
     1},
    {"acc_plan_insert",
     "INSERT INTO plans (id, name, description, scopes, rate_limit_requests,"
     " rate_limit_window_seconds, monthly_quota) VALUES ($1::uuid, $2, coalesce($3, ''),"
     " coalesce($4, ''), CASE WHEN $5::boolean THEN $6::int END,"
     " CASE WHEN $7::boolean THEN $8::int END, CASE WHEN $9::boolean THEN $10::bigint END)",
     10},
    {"acc_plan_update",
     "UPDATE plans SET name = coalesce($2, name), description = coalesce($3, description),"
     " scopes = coalesce($4, scopes),"
     " rate_limit_requests = CASE WHEN $5::boolean THEN $6::int ELSE rate_limit_requests END,"
     " rate_limit_window_seconds = CASE WHEN $7::boolean THEN $8::int"
     "  ELSE rate_limit_window_seconds END,"
     " monthly_quota = CASE WHEN $9::boolean THEN $10::bigint ELSE monthly_quota END,"
     " updated_at = now() WHERE id = $1::uuid AND deleted_at IS NULL",
     10},
    {"acc_plan_get",
     "SELECT " PLAN_JSON " FROM plans l WHERE l.id = $1::uuid AND l.deleted_at IS NULL", 1},
    {"acc_plans_list",
     "SELECT json_agg(" PLAN_JSON " ORDER BY lower(l.name), l.id) FROM"
     " (SELECT * FROM plans WHERE deleted_at IS NULL ORDER BY lower(name), id"
     " LIMIT $1::int OFFSET $2::int) l",
     2},
    {"acc_plan_busy", "SELECT 1 FROM access_requests WHERE plan_id = $1::uuid AND status IN " LIVE,
     1},
    {"acc_plan_delete",
     "WITH d AS (DELETE FROM product_plans WHERE plan_id = $1::uuid)"
     " UPDATE plans SET deleted_at = now(), updated_at = now() WHERE id = $1::uuid"
     " AND deleted_at IS NULL",
     1},
    {"acc_catalogue",
     "SELECT json_agg(json_build_object('id', p.id, 'name', p.name, 'description',"
     " p.description, 'scopes', p.scopes, 'auto_approve', p.auto_approve,"
     " 'plans', (SELECT coalesce(json_agg(json_build_object('id', l.id, 'name', l.name,"
     "  'description', l.description, 'scopes', l.scopes, 'rate_limit_requests',"
     "  l.rate_limit_requests, 'rate_limit_window_seconds', l.rate_limit_window_seconds,"
     "  'monthly_quota', l.monthly_quota) ORDER BY lower(l.name)), '[]')"
     "  FROM product_plans x JOIN plans l ON l.id = x.plan_id AND l.deleted_at IS NULL"
     "  WHERE x.product_id = p.id),"
     " 'client_types', (SELECT coalesce(json_agg(json_build_object('id', t.id,"
     "  'display_name', t.display_name, 'description', t.description)"
     "  ORDER BY lower(t.display_name)), '[]') FROM product_client_types c"
     "  JOIN client_types t ON t.id = c.client_type_id WHERE c.product_id = p.id))"
     " ORDER BY lower(p.name), p.id) FROM products p"
     " WHERE p.deleted_at IS NULL AND p.dcr_enabled",
     0},

    /* ---- apps, credentials ------------------------------------------------ */
    {"acc_app_insert",
     "INSERT INTO apps AS a (developer_id, name, description, redirect_uris)"
     " VALUES ($1::uuid, $2, coalesce($3, ''), $4::jsonb) RETURNING " APP_JSON,
     4},
    {"acc_apps_list",
     "SELECT json_agg(" APP_JSON " ORDER BY a.created_at, a.id) FROM"
     " (SELECT * FROM apps WHERE deleted_at IS NULL"
     " AND ($1::uuid IS NULL OR developer_id = $1::uuid) ORDER BY created_at, id"
     " LIMIT $2::int OFFSET $3::int) a",
     3},
    {"acc_app_get",
     "SELECT " APP_JSON " FROM apps a WHERE a.id = $1::uuid AND a.deleted_at IS NULL"
     " AND ($2::uuid IS NULL OR a.developer_id = $2::uuid)",
     2},
    {"acc_app_lock",
     "SELECT " APP_JSON " FROM apps a WHERE a.id = $1::uuid AND a.deleted_at IS NULL"
     " AND ($2::uuid IS NULL OR a.developer_id = $2::uuid) FOR UPDATE",
     2},
    {"acc_app_update",
     "UPDATE apps a SET name = coalesce($3, name), description = coalesce($4, description),"
     " redirect_uris = coalesce($5::jsonb, redirect_uris), updated_at = now()"
     " WHERE a.id = $1::uuid AND a.developer_id = $2::uuid AND a.deleted_at IS NULL"
     " RETURNING " APP_JSON,
     5},
    {"acc_app_live_regs",
     "SELECT g.id::text FROM access_requests r JOIN registrations g ON g.id = r.registration_id"
     " JOIN client_types t ON t.id = g.client_type_id"
     " WHERE r.app_id = $1::uuid AND r.status = 'active' AND g.status = 'active'"
     " AND " FRONT("t"),
     1},
    {"acc_app_live_requests",
     "SELECT id::text FROM access_requests WHERE app_id = $1::uuid AND status IN " LIVE
     " ORDER BY created_at",
     1},
    {"acc_app_delete",
     "UPDATE apps SET deleted_at = now(), updated_at = now() WHERE id = $1::uuid"
     " AND developer_id = $2::uuid AND deleted_at IS NULL",
     2},
    {"acc_creds",
     "SELECT json_agg(json_build_object('access_request_id', r.id, 'registration_id', g.id,"
     " 'client_id', g.client_id, 'client_secret_sealed', g.client_secret_sealed,"
     " 'client_secret_expires_at', g.client_secret_expires_at,"
     " 'token_endpoint', v.token_endpoint, 'issuer', v.issuer, 'scope', g.scope,"
     " 'product', json_build_object('id', p.id, 'name', p.name),"
     " 'plan', json_build_object('id', l.id, 'name', l.name)) ORDER BY r.created_at)"
     " FROM access_requests r JOIN apps a ON a.id = r.app_id"
     " JOIN registrations g ON g.id = r.registration_id"
     " JOIN providers v ON v.id = g.provider_id JOIN products p ON p.id = r.product_id"
     " JOIN plans l ON l.id = r.plan_id"
     " WHERE r.app_id = $1::uuid AND a.developer_id = $2::uuid AND a.deleted_at IS NULL"
     " AND r.status = 'active' AND g.status = 'active'",
     2},
    /* can_rotate: what the registrar's driver for the provider's kind says (sql/010). */
    {"acc_cred_lock",
     "SELECT json_build_object('id', r.id, 'registration_id', g.id, 'provider_kind', v.kind,"
     " 'can_rotate', coalesce(k.can_rotate, false)) FROM access_requests r"
     " JOIN apps a ON a.id = r.app_id JOIN registrations g ON g.id = r.registration_id"
     " JOIN providers v ON v.id = g.provider_id LEFT JOIN provider_kinds k ON k.kind = v.kind"
     " WHERE a.id = $1::uuid AND a.developer_id = "
     "$2::uuid AND a.deleted_at IS NULL"
     " AND r.id = $3::uuid AND r.status = 'active' FOR UPDATE OF r",
     3},

    /* ---- access requests --------------------------------------------------- */
    {"acc_combo",
     "SELECT p.auto_approve, " FRONT(
	 "t") " FROM products p"
	      " JOIN product_plans x ON x.product_id = p.id AND x.plan_id = $2::uuid"
	      " JOIN plans l ON l.id = x.plan_id AND l.deleted_at IS NULL"
	      " JOIN product_client_types c ON c.product_id = p.id AND c.client_type_id = $3::uuid"
	      " JOIN client_types t ON t.id = c.client_type_id"
	      " WHERE p.id = $1::uuid AND p.deleted_at IS NULL AND p.dcr_enabled",
     3},
    {"acc_req_insert",
     "INSERT INTO access_requests (id, developer_id, app_id, product_id, plan_id,"
     " client_type_id) VALUES ($1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::uuid, $6::uuid)",
     6},
    {"acc_req_get",
     "SELECT " REQ_JSON REQ_FROM " WHERE r.id = $1::uuid"
     " AND ($2::uuid IS NULL OR r.developer_id = $2::uuid)",
     2},
    {"acc_req_lock",
     "SELECT " REQ_JSON REQ_FROM " WHERE r.id = $1::uuid"
     " AND ($2::uuid IS NULL OR r.developer_id = $2::uuid) FOR UPDATE OF r",
     2},
    {"acc_reqs_list",
     "SELECT json_agg(" REQ_JSON " ORDER BY r.created_at DESC, r.id)" REQ_FROM
     " WHERE r.id IN (SELECT id FROM access_requests"
     "  WHERE ($1::uuid IS NULL OR developer_id = $1::uuid)"
     "  AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR app_id = $3::uuid)"
     "  ORDER BY created_at DESC, id LIMIT $4::int OFFSET $5::int)",
     5},
    {"acc_admin_emails",
     "SELECT email FROM accounts WHERE role = 'admin' AND NOT blocked ORDER BY email", 0},
    /* scope = product scopes + plan scopes, each once, in a stable order. */
    /*
     * What the registrar's provision job registers for request $1: the
     * client type's provider, the app's redirect URIs (front-channel types
     * only), scope = product scopes + plan scopes, each once, in a stable
     * order.  No row: the client type is gone.
     */
    {"acc_req_client_meta",
     "SELECT json_build_object('client_type_id', t.id,"
     " 'client_name', left(a.name || ' - ' || p.name, 200),"
     " 'redirect_uris', CASE WHEN " FRONT(
	 "t") " THEN a.redirect_uris ELSE '[]'::jsonb END,"
	      " 'scope', (SELECT string_agg(s, ' ' ORDER BY s) FROM (SELECT DISTINCT s FROM"
	      "  unnest(string_to_array(p.scopes, ' ') || string_to_array(l.scopes, ' ')) s"
	      "  WHERE s <> '') u),"
	      " 'owner', json_build_object('service', 'access', 'access_request_id', r.id,"
	      "  'app_id', a.id, 'developer_id', r.developer_id))"
	      " FROM access_requests r JOIN apps a ON a.id = r.app_id"
	      " JOIN products p ON p.id = r.product_id JOIN plans l ON l.id = r.plan_id"
	      " JOIN client_types t ON t.id = r.client_type_id WHERE r.id = $1::uuid",
     1},
    {"acc_req_provisioning",
     "UPDATE access_requests SET status = 'provisioning', registration_id = $2::uuid,"
     " decided_by = coalesce(decided_by, $3), decided_at = coalesce(decided_at, now()),"
     " last_error = NULL, updated_at = now() WHERE id = $1::uuid",
     3},
    {"acc_req_reject",
     "UPDATE access_requests SET status = 'rejected', reason = $2, decided_by = $3,"
     " decided_at = now(), updated_at = now() WHERE id = $1::uuid AND status = 'pending'",
     3},
    /*
     * Returns the old status and the registration so the caller can
     * deregister.  The old row is read under FOR UPDATE: a plain self-join
     * reads it from the statement's snapshot, so an approval committed
     * while this waited (pending -> provisioning with a new registration)
     * was reported as 'pending' without the registration, whose client was
     * then never deregistered.
     */
    {"acc_req_revoke",
     "WITH o AS (SELECT id, status, registration_id FROM access_requests"
     " WHERE id = $1::uuid FOR UPDATE)"
     " UPDATE access_requests n SET status = 'revoked', reason = coalesce($2, n.reason),"
     " decided_by = $3, updated_at = now() FROM o"
     " WHERE n.id = o.id AND o.status IN " LIVE " RETURNING o.status, o.registration_id::text",
     3},
    /*
     * The request and the registration a request_settle job is about; the
     * request row is locked so settling and an admin's transition never
     * interleave.
     */
    {"acc_settle_lock",
     "SELECT r.status, r.registration_id::text, g.status, g.last_error"
     " FROM access_requests r LEFT JOIN registrations g ON g.id = $2::uuid"
     " WHERE r.id = $1::uuid FOR UPDATE OF r",
     2},
    {"acc_req_settled",
     "UPDATE access_requests SET status = $2, last_error = $3, updated_at = now()"
     " WHERE id = $1::uuid AND status = 'provisioning'",
     3},

    /* ---- webhooks ----------------------------------------------------------- */
    {"acc_webhook_insert",
     "INSERT INTO webhooks AS w (id, url, events, secret_sealed) VALUES ($1::uuid, $2,"
     " ARRAY(SELECT jsonb_array_elements_text($3::jsonb)), $4) RETURNING " WEBHOOK_JSON,
     4},
    {"acc_webhooks_list", "SELECT json_agg(" WEBHOOK_JSON " ORDER BY w.created_at) FROM webhooks w",
     0},
    {"acc_webhook_get", "SELECT " WEBHOOK_JSON " FROM webhooks w WHERE w.id = $1::uuid", 1},
    {"acc_webhook_delete", "DELETE FROM webhooks WHERE id = $1::uuid", 1},
    {"acc_webhook_update",
     "UPDATE webhooks w SET url = coalesce($2, w.url),"
     " events = CASE WHEN $3::jsonb IS NULL THEN w.events"
     " ELSE ARRAY(SELECT jsonb_array_elements_text($3::jsonb)) END"
     " WHERE w.id = $1::uuid RETURNING " WEBHOOK_JSON,
     3},
    {"acc_webhook_set_secret",
     "UPDATE webhooks w SET secret_sealed = $2 WHERE w.id = $1::uuid RETURNING " WEBHOOK_JSON, 2},
    {"acc_webhook_delivery_insert",
     "INSERT INTO webhook_deliveries (webhook_id, job_id, event, attempt, http_status,"
     " duration_ms, ok, error) VALUES ($1::uuid, $2, $3, $4::int, $5::int, $6::int,"
     " $7::boolean, left($8, 300))",
     8},
    {"acc_webhook_deliveries",
     "SELECT json_build_object('total', (SELECT count(*) FROM webhook_deliveries"
     " WHERE webhook_id = $1::uuid), 'deliveries', coalesce((SELECT json_agg("
     "json_build_object('id', d.id, 'at', d.at, 'event', d.event, 'job_id', d.job_id,"
     " 'attempt', d.attempt, 'http_status', d.http_status, 'duration_ms', d.duration_ms,"
     " 'ok', d.ok, 'error', d.error) ORDER BY d.id DESC) FROM (SELECT * FROM"
     " webhook_deliveries WHERE webhook_id = $1::uuid ORDER BY id DESC"
     " LIMIT $2::int OFFSET $3::int) d), '[]'::json))"
     " FROM webhooks WHERE id = $1::uuid",
     3},
};
const size_t acc_nstmts = sizeof(acc_stmts) / sizeof(acc_stmts[0]);
