#!/usr/bin/env bash
# The static checks of deploy/ (compose, Kubernetes, OpenAPI vs the route
# tables, nginx/lighttpd/Keycloak files): tests/integration/deploy.test.mjs
# without a running stack.  Needs what `tests/stack/deps.sh test` installs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
unset CLEARANCE_BASE_URL
# kubectl (and a newer Node, if needed) from tests/stack/deps.sh.
export PATH=$PWD/build/tools/bin:$PATH
exec node --test --test-timeout=120000 tests/integration/deploy.test.mjs
