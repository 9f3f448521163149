#!/usr/bin/env bash
# The static checks of deploy/ (compose, Kubernetes, OpenAPI vs the route
# tables, nginx/lighttpd/Keycloak files): tests/integration/deploy.test.mjs
# without a running stack.  Needs docker-compose, kubectl and tests/node_modules.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
unset CLEARANCE_BASE_URL
exec node --test --test-timeout=120000 tests/integration/deploy.test.mjs
