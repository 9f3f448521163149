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
	# Installing packages on a new machine takes minutes: not part of the
	# suite's time budget, which starts after it.
	STACK_BUDGET_S=100000 stack_step "deps" 1800 bash tests/stack/deps.sh test || return 1
	STACK_T0=$SECONDS
	# Every command the scripts call comes from a package deps.sh installs.
	stack_step "command provenance" 120 node --test tests/stack/commands.test.mjs || true
	stack_step "build" 600 "$MAKE" -j"$JOBS" all || return 1
	# The registrar with its test-only crash hook (tests/integration/faults.test.mjs).
	stack_step "build registrar with test hooks" 600 "$MAKE" -j"$JOBS" B=build/hooks \
		CFLAGS=-DREG_TEST_HOOKS build/hooks/bin/clearance-registrar || true
	stack_step "format (clang-format)" 120 "$MAKE" format-check || true
	stack_step "start PostgreSQL" 60 stack_pg_start "$STACK_PG" || return 1
	stack_step "migrate" 60 stack_migrate || return 1
	export CLEARANCE_TEST_DATABASE_URL=$CLEARANCE_DATABASE_URL
	# make install into a staging root: layout, systemd-analyze verify, and
	# the installed clearance-ctl finding its migrations from /.
	stack_step "install (make install, systemd units)" 180 bash tests/stack/install-check.sh || true
	# -j builds the test binaries in parallel; the Makefile runs them one by one.
	stack_step "unit" 300 "$MAKE" -j"$JOBS" unit || true
	stack_step "sanitize (ASan/UBSan)" 420 "$MAKE" -j"$JOBS" sanitize || true
	stack_step "memcheck (valgrind)" 420 "$MAKE" memcheck || true
	stack_step "fuzz smoke (libFuzzer)" 300 "$MAKE" fuzz FUZZ_SECONDS=10 || true
	stack_step "deploy checks" 240 bash tests/stack/deploy-check.sh || true
	# make up / down / run for real, in a directory and on ports of their own.
	stack_step "make up, down, run (deploy/run/run.sh)" 420 bash tests/stack/run-check.sh || true
	stack_integration || true
	stack_step "build services with ASan/UBSan" 600 "$MAKE" -j"$JOBS" B=build/asan SAN=1 all || true
	stack_integration_sanitized || true
}

# Everything printed also goes to a file, so the closing line can total the
# Check and node:test results of every step.
mkdir -p "$STACK_DIR"
SUITE_LOG=$STACK_DIR/suite.log
exec > >(tee "$SUITE_LOG") 2>&1

# Prints "tests: N passed, M failed" from the runners' own summary lines:
# Check's "NN%: Checks: N, Failures: F, Errors: E" and node's "# pass N" /
# "# fail N" (top-level totals only: they start the line).  A step that
# failed without its runner counting a failure (it crashed before printing,
# a build or format step, a time-out, a step skipped for lack of time)
# counts as one failed test, and so does a failed suite with nothing else
# counted: the total never says 0 failed when `make test` fails.
suite_totals() {
	awk -v rc="$1" '
		/^\[stack [0-9:]+\] BEGIN / { stepfail = 0 }
		/^[0-9]+%: Checks: / {
			gsub(/,/, ""); n = $3; f = $5; e = $7
			pass += n - f - e; fail += f + e; stepfail += f + e
		}
		/^# pass [0-9]+$/ { pass += $3 }
		/^# fail [0-9]+$/ { fail += $3; stepfail += $3 }
		/^\[stack [0-9:]+\] (FAIL  |SKIP )/ {
			if (stepfail == 0) { fail++; uncounted++ }
			stepfail = 0
		}
		END {
			if (rc != 0 && fail == 0) { fail = 1; uncounted++ }
			if (uncounted) printf "(%d of the failures: steps that failed with no test result of their own)\n", uncounted
			printf "tests: %d passed, %d failed\n", pass, fail
		}
	' "$SUITE_LOG"
}

rc=0
main || rc=1
stack_summary || rc=1
sleep 0.2 # let tee catch up before the log is read
suite_totals "$rc"
exit $rc
