#!/usr/bin/env bash
# The local Clearance stack for `make run`, `make up` and `make down`.
#
#   run.sh run    install what is missing, build, start everything, seed the
#                 demo, print the journey, stay in the foreground; Ctrl-C
#                 (or TERM) stops all of it.
#   run.sh up     the same, in the background (its own session); returns once
#                 the stack is ready and prints the journey.
#   run.sh down   stops what `up` (or a killed `run`) left running.
#   run.sh status says whether it runs and where.
#
# What runs, all on this machine, everything under var/ (kept between runs):
#   PostgreSQL     var/pg (cluster kept, migrated on every start, unix socket only)
#   the services   clearance-registrar, -introspect, -access under spawn-fcgi on
#                  var/run/<svc>.sock
#   nginx          CLEARANCE_RUN_HOST:CLEARANCE_RUN_PORT (127.0.0.1:8080): the API,
#                  and the demo API var/www/api/ behind auth_request
#   demo IdP       oidc-provider on 127.0.0.1:CLEARANCE_RUN_IDP_PORT (8090) and an
#                  SMTP catcher on 127.0.0.1:CLEARANCE_RUN_SMTP_PORT (2525)
# Logs in var/logs/, secrets (seal key, admin token, IdP initial access
# token; mode 0600) in var/secrets/.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

# Our own knobs are read here and then unset: the services warn about every
# CLEARANCE_* variable that is not one of their settings.
RUN_HOST=${CLEARANCE_RUN_HOST:-127.0.0.1}
RUN_PORT=${CLEARANCE_RUN_PORT:-8080}
IDP_PORT=${CLEARANCE_RUN_IDP_PORT:-8090}
SMTP_PORT=${CLEARANCE_RUN_SMTP_PORT:-2525}
VAR=${CLEARANCE_RUN_DIR:-$ROOT/var}
SKIP_BUILD=${CLEARANCE_RUN_SKIP_BUILD:-0}
unset CLEARANCE_RUN_HOST CLEARANCE_RUN_PORT CLEARANCE_RUN_IDP_PORT CLEARANCE_RUN_SMTP_PORT \
	CLEARANCE_RUN_DIR CLEARANCE_RUN_SKIP_BUILD CLEARANCE_ADMIN_TOKEN CLEARANCE_BASE_URL
# A make above us must not leak its settings into the build we run.
unset MAKEFLAGS MAKELEVEL MFLAGS

mkdir -p "$VAR"
VAR=$(cd "$VAR" && pwd)
export STACK_DIR=$VAR
# shellcheck source=tests/stack/lib.sh
source tests/stack/lib.sh

SECRETS=$VAR/secrets
SUPERVISOR_PID=$STACK_RUN/supervisor.pid
READY=$STACK_RUN/ready
JOURNEY=$VAR/journey.txt
IDP_PIDF=$STACK_RUN/demo-idp.pid
IDP_READY=$STACK_RUN/demo-idp.ready
IDP_PID=

log() { stack_log "$@"; }

# How to stop this stack (another CLEARANCE_RUN_DIR is another stack).
DOWN_CMD="make down"
[ "$VAR" = "$ROOT/var" ] || DOWN_CMD="CLEARANCE_RUN_DIR=$VAR make down"

for p in "$RUN_PORT" "$IDP_PORT" "$SMTP_PORT"; do
	[[ $p =~ ^[0-9]+$ ]] && ((p >= 1 && p <= 65535)) || { log "ERROR: bad port '$p'"; exit 2; }
done

# The supervisor's pid, if one is running (its command line names us).
supervisor_pid() {
	local pid
	[ -f "$SUPERVISOR_PID" ] || return 1
	pid=$(cat "$SUPERVISOR_PID" 2>/dev/null || true)
	_stack_pid_alive "$pid" && _stack_pid_is "$pid" "deploy/run/run.sh" && echo "$pid"
}

prepare() {
	bash tests/stack/deps.sh run
	if [ "$SKIP_BUILD" != 1 ]; then
		make -j"$(nproc 2>/dev/null || echo 2)" all
	fi
}

# Secrets made once and kept: the database holds values sealed with the
# seal key, and the provider row holds the IdP's initial access token.
make_secrets() {
	(
		umask 077
		mkdir -p "$SECRETS"
		[ -s "$SECRETS/seal-keys" ] || printf 'k1:%s\n' "$(head -c 32 /dev/urandom | base64 -w0)" >"$SECRETS/seal-keys"
		[ -s "$SECRETS/token-pepper" ] || head -c 32 /dev/urandom | base64 -w0 >"$SECRETS/token-pepper"
		[ -s "$SECRETS/idp-initial-access-token" ] || head -c 24 /dev/urandom | base64 -w0 | tr '+/' '-_' >"$SECRETS/idp-initial-access-token"
	)
	CLEARANCE_SEAL_KEYS=$(cat "$SECRETS/seal-keys")
	export CLEARANCE_SEAL_KEYS
	# The stack's own pepper file wins over an inherited value (as the seal
	# key does): both set at once is a configuration error.
	unset CLEARANCE_TOKEN_PEPPER
	CLEARANCE_TOKEN_PEPPER_FILE=$SECRETS/token-pepper
	export CLEARANCE_TOKEN_PEPPER_FILE
}

check_ports() {
	local p what
	for p in "$RUN_PORT:nginx (CLEARANCE_RUN_PORT)" "$IDP_PORT:demo IdP (CLEARANCE_RUN_IDP_PORT)" \
		"$SMTP_PORT:SMTP catcher (CLEARANCE_RUN_SMTP_PORT)"; do
		what=${p#*:}
		if ! stack_port_free "${p%%:*}"; then
			stack_die "port ${p%%:*} for the $what is in use; set another one"
			return 1
		fi
	done
}

demo_idp_start() {
	rm -f "$IDP_READY"
	DEMO_IDP_PORT=$IDP_PORT DEMO_SMTP_PORT=$SMTP_PORT \
	DEMO_IDP_IAT_FILE=$SECRETS/idp-initial-access-token \
	DEMO_MAIL_DIR=$VAR/mail DEMO_READY_FILE=$IDP_READY \
		node deploy/run/demo-idp.mjs </dev/null >>"$STACK_LOGS/demo-idp.log" 2>&1 &
	IDP_PID=$!
	echo "$IDP_PID" >"$IDP_PIDF"
	# Ready when it wrote its ready file; given up when it exits, or after
	# 120 s (loading oidc-provider on a busy machine can take a while).
	local deadline=$((SECONDS + 120))
	while [ ! -s "$IDP_READY" ]; do
		if ! _stack_pid_alive "$IDP_PID" || ((SECONDS >= deadline)); then
			tail -n 30 "$STACK_LOGS/demo-idp.log" >&2 || true
			stack_die "demo IdP $(_stack_pid_alive "$IDP_PID" && echo 'not ready after 120 s' || echo exited)"
			return 1
		fi
		sleep 0.1
	done
	stack_wait_http 10 "http://127.0.0.1:$IDP_PORT/.well-known/openid-configuration" 200 || return 1
	log "demo IdP up on http://127.0.0.1:$IDP_PORT, SMTP catcher on 127.0.0.1:$SMTP_PORT"
}

demo_idp_stop() {
	local pid
	pid=${IDP_PID:-$(cat "$IDP_PIDF" 2>/dev/null || true)}
	if _stack_pid_alive "$pid" && _stack_pid_is "$pid" "demo-idp.mjs"; then
		_stack_kill_pid "$pid" "demo IdP"
	fi
	rm -f "$IDP_PIDF" "$IDP_READY"
	IDP_PID=
}

# The demo API behind the gateway: static JSON (nginx refuses it without a
# token that introspect accepts for the product covering /api/).
demo_api_files() {
	mkdir -p "$STACK_WWW/api"
	printf '{"ok":true,"resource":"hello"}\n' >"$STACK_WWW/api/hello.json"
	printf '{"orders":[{"id":"o-1","total":"12.50"},{"id":"o-2","total":"7.00"}]}\n' >"$STACK_WWW/api/orders.json"
}

# Reuses the kept admin token if it still works, else makes a new one.
admin_token() {
	local f=$SECRETS/admin-token hdr=$SECRETS/admin-header code
	if [ -s "$f" ]; then
		(umask 077; printf 'Authorization: Bearer %s\n' "$(cat "$f")" >"$hdr")
		code=$(stack_curl -o /dev/null -w '%{http_code}' -H @"$hdr" "$CLEARANCE_BASE_URL/v1/providers" || true)
		[ "$code" = 200 ] && { log "admin token: kept ($f)"; return 0; }
	fi
	stack_admin_token || return 1
	(umask 077; printf '%s\n' "$CLEARANCE_ADMIN_TOKEN" >"$f"
	 printf 'Authorization: Bearer %s\n' "$CLEARANCE_ADMIN_TOKEN" >"$hdr")
	unset CLEARANCE_ADMIN_TOKEN
	log "admin token: new one in $f"
}

seed() {
	CLEARANCE_ADMIN_TOKEN_FILE=$SECRETS/admin-token \
	DEMO_IDP_URL=http://127.0.0.1:$IDP_PORT DEMO_IDP_IAT_FILE=$SECRETS/idp-initial-access-token \
	DEMO_SMTP_URL=smtp://127.0.0.1:$SMTP_PORT DEMO_MAIL_DIR=$VAR/mail \
	DEMO_STATE_FILE=$VAR/demo.json DEMO_JOURNEY_FILE=$JOURNEY DEMO_ROOT=$ROOT DEMO_DOWN_CMD=$DOWN_CMD \
		timeout 120 node deploy/run/seed.mjs
}

stop_everything() {
	local rc=$?
	trap - EXIT INT TERM
	rm -f "$READY"
	stack_nginx_stop || true
	stack_services_stop || true
	demo_idp_stop || true
	stack_pg_stop || true
	rm -f "$SUPERVISOR_PID"
	log "stopped"
	exit "$rc"
}

# Starts everything and watches it; returns only by a signal or a failure.
serve() {
	local print=$1 svc pid
	if pid=$(supervisor_pid) && [ "$pid" != $$ ]; then
		stack_die "already running (pid $pid); stop it with: $DOWN_CMD"
		return 1
	fi
	mkdir -p "$STACK_RUN" "$STACK_LOGS"
	echo $$ >"$SUPERVISOR_PID"
	trap stop_everything EXIT
	# Ctrl-C (make run) and TERM (make down) are the ways to stop it: a
	# clean stop, not an error (make would report "Error 130").
	trap 'log "interrupted: stopping"; exit 0' INT
	trap 'log "stopping"; exit 0' TERM
	rm -f "$READY"

	check_ports
	make_secrets
	stack_pg_start_kept "$VAR/pg"
	stack_migrate
	demo_idp_start
	# The access service mails through the catcher.
	export CLEARANCE_SMTP_URL=smtp://127.0.0.1:$SMTP_PORT
	export CLEARANCE_MAIL_FROM=${CLEARANCE_MAIL_FROM:-clearance@localhost}
	stack_services_start
	demo_api_files
	stack_nginx_start_on "$RUN_HOST" "$RUN_PORT"
	admin_token
	seed || log "WARNING: seeding failed (see above); the stack runs anyway"
	# The web portal's demo admin (deploy/run/portal-admin.mjs).
	PORTAL_ADMIN_PASSWORD_FILE=$SECRETS/portal-admin-password PORTAL_URL=http://$RUN_HOST:$RUN_PORT/ \
	DEMO_JOURNEY_FILE=$JOURNEY timeout 60 node deploy/run/portal-admin.mjs \
		|| log "WARNING: the portal's demo admin could not be made"
	touch "$READY"
	if [ "$print" = 1 ]; then
		cat "$JOURNEY" 2>/dev/null || true
		log "running; Ctrl-C stops everything"
	fi
	# Watch: a service that dies is started again (and said so), unless it
	# keeps dying; if anything else dies, say which and stop the rest.
	local -A deaths=()
	while :; do
		sleep 2 &
		wait $! || true
		for svc in "${STACK_SERVICES[@]}"; do
			pid=$(cat "$STACK_RUN/$svc.pid" 2>/dev/null || true)
			_stack_pid_alive "$pid" && continue
			restart_service "$svc" "$pid" || return 1
		done
		_stack_pid_alive "$IDP_PID" || { stack_die "demo IdP exited; see $STACK_LOGS/demo-idp.log"; return 1; }
		pid=$(cat "$STACK_NGINX/nginx.pid" 2>/dev/null || true)
		_stack_pid_alive "$pid" || { stack_die "nginx exited; see $STACK_LOGS/nginx-error.log"; return 1; }
		[ -f "$STACK_PG/data/postmaster.pid" ] || { stack_die "PostgreSQL exited; see $STACK_PG/postgres.log"; return 1; }
	done
}

# restart_service SVC OLD_PID: the supervisor's answer to a dead service.
# Gives up (stopping the stack) after 5 deaths within 60 s.
restart_service() {
	local svc=$1 old=$2 st=0 now=$SECONDS recent=() t
	wait "$old" 2>/dev/null || st=$?
	for t in ${deaths[$svc]:-}; do ((now - t < 60)) && recent+=("$t"); done
	recent+=("$now")
	deaths[$svc]=${recent[*]}
	if ((${#recent[@]} > 5)); then
		stack_die "clearance-$svc exited (status $st) ${#recent[@]} times in 60 s; giving up, see $STACK_LOGS/$svc.log"
		return 1
	fi
	log "clearance-$svc exited (status $st); restarting it (see $STACK_LOGS/$svc.log)"
	stack_service_spawn "$svc"
	if ! stack_wait_socket 15 "$STACK_RUN/$svc.sock"; then
		log "clearance-$svc did not come back yet; will retry"
		return 0
	fi
	log "clearance-$svc restarted (pid $(cat "$STACK_RUN/$svc.pid"))"
}

cmd_up() {
	local pid deadline
	if pid=$(supervisor_pid); then
		log "already running (pid $pid)"
		cat "$JOURNEY" 2>/dev/null || true
		return 0
	fi
	prepare
	mkdir -p "$STACK_LOGS" "$STACK_RUN"
	rm -f "$READY"
	log "starting in the background; log in $STACK_LOGS/run.log"
	CLEARANCE_RUN_HOST=$RUN_HOST CLEARANCE_RUN_PORT=$RUN_PORT CLEARANCE_RUN_IDP_PORT=$IDP_PORT \
	CLEARANCE_RUN_SMTP_PORT=$SMTP_PORT CLEARANCE_RUN_DIR=$VAR \
		setsid bash "$ROOT/deploy/run/run.sh" serve </dev/null >>"$STACK_LOGS/run.log" 2>&1 &
	pid=$!
	# Interrupted before it is ready: stop what was started.
	trap 'log "interrupted: stopping the stack"; kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; exit 130' INT TERM
	deadline=$((SECONDS + 180))
	while [ ! -f "$READY" ]; do
		if ! _stack_pid_alive "$pid"; then
			tail -n 40 "$STACK_LOGS/run.log" >&2 || true
			stack_die "the stack did not start (full log: $STACK_LOGS/run.log)"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			tail -n 40 "$STACK_LOGS/run.log" >&2 || true
			stack_die "not ready after 180 s; stopping it"
			kill -TERM "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			return 1
		fi
		sleep 0.2
	done
	trap - INT TERM
	grep -F 'seed: ' "$STACK_LOGS/run.log" | tail -n 20 >&2 || true
	cat "$JOURNEY"
	log "running in the background (pid $pid); stop it with: $DOWN_CMD"
}

cmd_down() {
	local pid i
	if pid=$(supervisor_pid); then
		kill -TERM "$pid"
		for ((i = 0; i < 600; i++)); do
			_stack_pid_alive "$pid" || break
			sleep 0.1
		done
		_stack_pid_alive "$pid" && { stack_die "pid $pid still running after 60 s"; return 1; }
		log "stopped"
		return 0
	fi
	# Nothing supervising: clean up whatever a killed run left (each stop
	# checks that the pid still belongs to the program before signalling).
	stack_nginx_stop || true
	stack_services_stop || true
	demo_idp_stop || true
	local pgdir=$VAR/pg bindir
	[ -L "$pgdir" ] && pgdir=$(readlink "$pgdir")
	if [ -f "$pgdir/data/postmaster.pid" ] && bindir=$(_stack_pg_bindir); then
		STACK_PG=$pgdir STACK_PG_BIN=$bindir STACK_PG_UP=1 stack_pg_stop
	fi
	rm -f "$READY" "$SUPERVISOR_PID"
	log "nothing was running under make up; leftovers (if any) stopped"
}

cmd_status() {
	local pid
	if pid=$(supervisor_pid); then
		echo "running (pid $pid): http://$RUN_HOST:$RUN_PORT, IdP http://127.0.0.1:$IDP_PORT; logs in $STACK_LOGS"
		[ -f "$READY" ] || echo "(still starting)"
	else
		echo "not running"
		return 1
	fi
}

case ${1:-} in
run)
	if pid=$(supervisor_pid); then
		stack_die "already running in the background (pid $pid); stop it with: $DOWN_CMD"
		exit 1
	fi
	prepare
	serve 1
	;;
serve) serve 0 ;;
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
*) echo "usage: $0 run|up|down|status" >&2; exit 2 ;;
esac
