/*
 * routes.c - the access service's route table.  Sign-up and login are
 * public; catalogue writes, developer administration, approvals,
 * webhooks and the audit log need an admin; everything else takes either
 * role and the handler scopes what a developer sees to their own rows.
 */
#include "apps.h"
#include "h_accounts.h"
#include "h_apps.h"
#include "h_catalogue.h"
#include "h_requests.h"
#include "h_audit.h"
#include "h_webhooks.h"
#include "routes.h"
#include "web.h"

#define PUB CLR_AUTH_NONE
#define ANY CLR_AUTH_ANY
#define ADM CLR_AUTH_ADMIN

const struct clr_route acc_routes[] = {
    {"POST", "/v1/developers", acc_h_signup, PUB, 1},
    {"GET", "/v1/developers", acc_h_devs_list, ADM, 0},
    {"GET", "/v1/developers/{}", acc_h_devs_get, ADM, 0},
    {"PATCH", "/v1/developers/{}", acc_h_devs_patch, ADM, 1},
    {"POST", "/v1/sessions", acc_h_login, PUB, 1},
    {"DELETE", "/v1/sessions/current", acc_h_logout, ANY, 0},
    {"GET", "/v1/me", acc_h_me, ANY, 0},
    /* web.c: verification, password reset and change, per-product OpenAPI */
    {"POST", "/v1/email-verifications", acc_h_verify_confirm, PUB, 1},
    {"GET", "/v1/me/verification", acc_h_verify_status, ANY, 0},
    {"POST", "/v1/me/verification", acc_h_verify_resend, ANY, 0},
    {"POST", "/v1/password-resets", acc_h_reset_request, PUB, 1},
    {"POST", "/v1/password-resets/confirm", acc_h_reset_confirm, PUB, 1},
    {"POST", "/v1/me/password", acc_h_password_change, ANY, 1},
    {"PUT", "/v1/products/{}/openapi", acc_h_openapi_put, ADM, 1},
    {"GET", "/v1/products/{}/openapi", acc_h_openapi_get, ANY, 0},
    {"DELETE", "/v1/products/{}/openapi", acc_h_openapi_delete, ADM, 0},

    {"POST", "/v1/products", acc_h_products_create, ADM, 1},
    {"GET", "/v1/products", acc_h_products_list, ANY, 0},
    {"GET", "/v1/products/{}", acc_h_products_get, ANY, 0},
    {"PATCH", "/v1/products/{}", acc_h_products_patch, ADM, 1},
    {"DELETE", "/v1/products/{}", acc_h_products_delete, ADM, 0},
    {"POST", "/v1/plans", acc_h_plans_create, ADM, 1},
    {"GET", "/v1/plans", acc_h_plans_list, ANY, 0},
    {"GET", "/v1/plans/{}", acc_h_plans_get, ANY, 0},
    {"PATCH", "/v1/plans/{}", acc_h_plans_patch, ADM, 1},
    {"DELETE", "/v1/plans/{}", acc_h_plans_delete, ADM, 0},
    {"GET", "/v1/catalogue", acc_h_catalogue, ANY, 0},

    {"POST", "/v1/apps", acc_h_apps_create, ANY, 1},
    {"GET", "/v1/apps", acc_h_apps_list, ANY, 0},
    {"GET", "/v1/apps/{}", acc_h_apps_get, ANY, 0},
    {"PATCH", "/v1/apps/{}", acc_h_apps_patch, ANY, 1},
    {"DELETE", "/v1/apps/{}", acc_h_apps_delete, ANY, 0},
    {"GET", "/v1/apps/{}/credentials", acc_h_creds_get, ANY, 0},
    {"POST", "/v1/apps/{}/credentials/{}/rotate", acc_h_creds_rotate, ANY, 0},

    {"POST", "/v1/access-requests", acc_h_reqs_create, ANY, 1},
    {"GET", "/v1/access-requests", acc_h_reqs_list, ANY, 0},
    {"GET", "/v1/access-requests/{}", acc_h_reqs_get, ANY, 0},
    {"POST", "/v1/access-requests/{}/approve", acc_h_reqs_approve, ADM, 0},
    {"POST", "/v1/access-requests/{}/reject", acc_h_reqs_reject, ADM, 1},
    {"POST", "/v1/access-requests/{}/revoke", acc_h_reqs_revoke, ADM, 0},
    {"POST", "/v1/access-requests/{}/retry", acc_h_reqs_retry, ADM, 0},

    {"POST", "/v1/webhooks", acc_h_webhooks_create, ADM, 1},
    {"GET", "/v1/webhooks", acc_h_webhooks_list, ADM, 0},
    {"GET", "/v1/webhooks/{}", acc_h_webhooks_get, ADM, 0},
    {"DELETE", "/v1/webhooks/{}", acc_h_webhooks_delete, ADM, 0},
    {"PATCH", "/v1/webhooks/{}", acc_h_webhooks_patch, ADM, 1},
    {"POST", "/v1/webhooks/{}/rotate-secret", acc_h_webhooks_rotate, ADM, 0},
    {"POST", "/v1/webhooks/{}/test", acc_h_webhooks_test, ADM, 0},
    {"GET", "/v1/webhooks/{}/deliveries", acc_h_webhooks_deliveries, ADM, 0},
    {"GET", "/v1/audit", acc_h_audit_list, ADM, 0},
};
const size_t acc_nroutes = sizeof(acc_routes) / sizeof(acc_routes[0]);

/* The field tables dispatch checks before the handlers (fields.h). */
const struct clr_route_body acc_route_bodies[] = {
    {"POST", "/v1/developers", &acc_body_signup},
    {"PATCH", "/v1/developers/{}", &acc_body_dev_patch},
    {"POST", "/v1/sessions", &acc_body_login},
    {"POST", "/v1/products", &acc_body_product_create},
    {"PATCH", "/v1/products/{}", &acc_body_product_patch},
    {"POST", "/v1/plans", &acc_body_plan_create},
    {"PATCH", "/v1/plans/{}", &acc_body_plan_patch},
    {"POST", "/v1/apps", &acc_body_app_create},
    {"PATCH", "/v1/apps/{}", &acc_body_app_patch},
    {"POST", "/v1/access-requests", &acc_body_request_create},
    {"POST", "/v1/access-requests/{}/reject", &acc_body_request_reject},
    {"POST", "/v1/webhooks", &acc_body_webhook_create},
    {"PATCH", "/v1/webhooks/{}", &acc_body_webhook_patch},
    {"POST", "/v1/email-verifications", &acc_body_verify_confirm},
    {"POST", "/v1/password-resets", &acc_body_reset_request},
    {"POST", "/v1/password-resets/confirm", &acc_body_reset_confirm},
    {"POST", "/v1/me/password", &acc_body_password_change},
};
const size_t acc_nroute_bodies = sizeof(acc_route_bodies) / sizeof(acc_route_bodies[0]);
