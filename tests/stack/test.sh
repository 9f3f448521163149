#!/usr/bin/env bash
# The whole suite (`make test`, CI): deps, build, a throwaway PostgreSQL,
# migrations, unit tests plain / ASan+UBSan / valgrind against it, then the
# integration tests through nginx and the three services.  Every step runs
# even if an earlier one failed (except what cannot: no build, no database);
# the exit status is non-zero if any failed.  Everything started is stopped
# on exit, error or Ctrl-C.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=tests/stack/lib.sh
source tests/stack/lib.sh
stack_install_traps
# A make above us (make test) must not leak its settings into ours.
unset MAKEFLAGS MAKELEVEL MFLAGS
MAKE=${MAKE:-make}
JOBS=$(nproc 2>/dev/null || echo 2)

main() {
	stack_step "deps" 900 bash tests/stack/deps.sh || return 1
	stack_step "build" 600 "$MAKE" -j"$JOBS" all || return 1
	stack_step "start PostgreSQL" 60 stack_pg_start "$STACK_PG" || return 1
	stack_step "migrate" 60 stack_migrate || return 1
	export CLEARANCE_TEST_DATABASE_URL=$CLEARANCE_DATABASE_URL
	# -j builds the test binaries in parallel; the Makefile runs them one by one.
	stack_step "unit" 300 "$MAKE" -j"$JOBS" unit || true
	stack_step "sanitize (ASan/UBSan)" 420 "$MAKE" -j"$JOBS" sanitize || true
	stack_step "memcheck (valgrind)" 420 "$MAKE" memcheck || true
	stack_step "fuzz smoke (libFuzzer)" 300 "$MAKE" fuzz FUZZ_SECONDS=10 || true
	stack_step "deploy checks" 240 bash tests/stack/deploy-check.sh || true
	stack_integration || true
}

rc=0
main || rc=1
stack_summary || rc=1
exit $rc
