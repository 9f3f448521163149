#!/usr/bin/env bash
# The integration suite alone (`make integration`): a throwaway PostgreSQL,
# migrations, the three services under spawn-fcgi, nginx, then the Node
# tests in tests/integration/.  Everything is stopped on exit or Ctrl-C.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=tests/stack/lib.sh
source tests/stack/lib.sh
stack_install_traps

main() {
	STACK_BUDGET_S=100000 stack_step "deps" 1800 bash tests/stack/deps.sh test || return 1
	STACK_T0=$SECONDS
	stack_step "start PostgreSQL" 60 stack_pg_start "$STACK_PG" || return 1
	stack_step "migrate" 60 stack_migrate || return 1
	stack_integration
}

rc=0
main || rc=1
stack_summary || rc=1
exit $rc
