#!/usr/bin/env bash
# `make up` / `make down` / `make run` for real (deploy/run/run.sh), on free
# ports in a directory of their own (another CLEARANCE_RUN_DIR is another
# stack): the stack answers, a killed service is started again by the
# supervisor, `down` leaves nothing running, and `run` stops everything with
# exit status 0 when told to (TERM: a background job here cannot get the
# terminal's Ctrl-C, which takes the same path).  Needs the build in
# build/bin.  Prints one line per check; exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
# shellcheck source=tests/stack/lib.sh
source tests/stack/lib.sh
unset CLEARANCE_DATABASE_URL CLEARANCE_BASE_URL CLEARANCE_ADMIN_TOKEN CLEARANCE_SMTP_URL \
	CLEARANCE_MAIL_FROM CLEARANCE_MAIL_TEMPLATES CLEARANCE_SEAL_KEYS MAKEFLAGS MAKELEVEL MFLAGS
VAR=$ROOT/build/stack/run-check
fail=0
ok() { echo "ok - $*"; }
bad() { echo "FAIL - $*"; fail=1; }

PORT=$(stack_free_port 40000 44999) && IDP=$(stack_free_port 45000 47999) \
	&& SMTP=$(stack_free_port 48000 49999) || { bad "no free ports"; exit 1; }
export CLEARANCE_RUN_DIR=$VAR CLEARANCE_RUN_PORT=$PORT CLEARANCE_RUN_IDP_PORT=$IDP \
	CLEARANCE_RUN_SMTP_PORT=$SMTP CLEARANCE_RUN_SKIP_BUILD=1
runsh() { timeout -k 10 "$1" bash deploy/run/run.sh "${@:2}"; }
alive() { local p; for p in "$@"; do kill -0 "$p" 2>/dev/null && echo "$p"; done; }
# Waits up to 5 s for the pids to be gone (a server may take a moment to
# exit after its pid file went away); prints those still there.
gone() {
	local i left
	for ((i = 0; i < 50; i++)); do
		left=$(alive "$@")
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	for p in $left; do printf '%s(%s) ' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"; done
}
# Every pid of the stack in $VAR: supervisor, services, IdP, nginx, postmaster.
stack_pids() {
	local f
	for f in "$VAR"/run/*.pid "$VAR"/nginx/nginx.pid; do [ -f "$f" ] && head -n 1 "$f"; done
	f=$(readlink -f "$VAR/pg")/data/postmaster.pid
	[ -f "$f" ] && head -n 1 "$f"
}
cleanup() { runsh 90 down >/dev/null 2>&1; rm -rf "$VAR"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
rm -rf "$VAR"

out=$(runsh 240 up 2>&1)
rc=$?
if [ $rc = 0 ]; then ok "make up on :$PORT"; else
	bad "make up: exit $rc"; echo "$out" | tail -n 30
	for f in "$VAR"/logs/*.log; do echo "== $f"; tail -n 15 "$f"; done
	exit 1
fi
grep -qF "stop it with: CLEARANCE_RUN_DIR=$VAR make down" <<<"$out" \
	&& ok "make up names the make down for this CLEARANCE_RUN_DIR" || bad "make up: no 'CLEARANCE_RUN_DIR=$VAR make down' in its output"
code=$(stack_curl -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/access/healthz")
[ "$code" = 200 ] && ok "the stack answers (access healthz 200)" || bad "access healthz: $code"
second=$(CLEARANCE_RUN_DIR=$VAR runsh 30 run 2>&1)
[[ $second == *"already running"*"CLEARANCE_RUN_DIR=$VAR make down"* ]] \
	&& ok "a second make run for the same directory refuses, naming the right make down" \
	|| bad "second make run: $second"

old=$(cat "$VAR/run/access.pid")
kill -KILL "$old"
if stack_wait_for 30 "access restarted" bash -c "grep -q 'clearance-access restarted' '$VAR/logs/run.log' \
	&& [ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT/access/healthz)\" = 200 ]"; then
	ok "a killed clearance-access is started again, the rest kept ($(grep -c 'restarting it' "$VAR/logs/run.log") restart)"
else
	bad "clearance-access not restarted"; tail -n 20 "$VAR/logs/run.log"
fi
[ -n "$(alive "$(cat "$VAR/run/supervisor.pid" 2>/dev/null)")" ] && ok "the supervisor kept running" \
	|| bad "the supervisor stopped"

pids=$(stack_pids)
out=$(runsh 90 down 2>&1)
rc=$?
# shellcheck disable=SC2086
left=$(gone $pids)
if [ $rc = 0 ] && [ -z "$left" ]; then ok "make down stops all $(wc -w <<<"$pids") processes"; else
	bad "make down: exit $rc, still running: $left"; fi

# make run in the foreground, stopped by a signal: exit 0, nothing left.
runsh 240 run >"$VAR.run.log" 2>&1 &
job=$!
if stack_wait_for 180 "make run ready" test -f "$VAR/run/ready"; then
	pids=$(stack_pids)
	kill -TERM "$(cat "$VAR/run/supervisor.pid")"
	wait "$job"
	rc=$?
	# shellcheck disable=SC2086
	left=$(gone $pids)
	if [ $rc = 0 ] && [ -z "$left" ]; then ok "make run, stopped: exit 0, all $(wc -w <<<"$pids") processes gone"
	else bad "make run, stopped: exit $rc, still running after 5 s: $left"; tail -n 20 "$VAR.run.log"; fi
else
	bad "make run did not get ready"; tail -n 30 "$VAR.run.log"
	kill -TERM "$job" 2>/dev/null; wait "$job"
fi
rm -f "$VAR.run.log"
exit $fail
