# shellcheck shell=bash
# Start and stop the real test stack: a throwaway PostgreSQL cluster, the
# three FastCGI services under spawn-fcgi, and nginx.  Sourced by test.sh and
# integration.sh; everything lives under $STACK_DIR (build/stack) and every
# process started here is recorded so stack_stop_all can end it, even after a
# failure or Ctrl-C (call it from `trap ... EXIT`).

STACK_ROOT=${STACK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
STACK_DIR=${STACK_DIR:-$STACK_ROOT/build/stack}
STACK_RUN=$STACK_DIR/run
STACK_LOGS=$STACK_DIR/logs
STACK_PG=$STACK_DIR/pg
STACK_NGINX=$STACK_DIR/nginx
STACK_WWW=$STACK_DIR/www
STACK_BIN=${STACK_BIN:-$STACK_ROOT/build/bin}
# Programs tests/stack/deps.sh installs outside Debian (a newer Node when the
# system's is too old, kubectl) come first, whether or not they exist yet.
case ":$PATH:" in *":$STACK_ROOT/build/tools/bin:"*) ;; *) PATH=$STACK_ROOT/build/tools/bin:$PATH ;; esac
export PATH
STACK_SERVICES=(registrar introspect access)
STACK_PG_BIN=${STACK_PG_BIN:-}
STACK_PG_UP=0
STACK_PG_TMP=
# pids started by this shell (always ours to stop).
STACK_STARTED=
STACK_CHILD=
# Set by stack_nginx_start.
STACK_NGINX_PORT=
export STACK_NGINX_PORT

stack_log() { printf '[stack %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
stack_die() { stack_log "ERROR: $*"; return 1; }

# Runs a command as the postgres user when we are root (the server refuses
# to run as root); as ourselves otherwise.
_stack_as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

_stack_pg_bindir() {
	if [ -n "$STACK_PG_BIN" ]; then echo "$STACK_PG_BIN"; return; fi
	local d
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null || true)
		if [ -x "$d/initdb" ]; then echo "$d"; return; fi
	fi
	for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
		if [ -x "$d/initdb" ]; then echo "$d"; return; fi
	done
	command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)" && return
	return 1
}

# ---------------------------------------------------------------- ports, waits

# True when nothing listens on 127.0.0.1:PORT.
stack_port_free() {
	local port=$1
	if command -v ss >/dev/null 2>&1; then
		! ss -Hltn "sport = :$port" 2>/dev/null | grep -q .
		return
	fi
	! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# Prints a free TCP port from a range unlikely to collide with anything
# (not the ephemeral range the kernel hands out to clients).
stack_free_port() {
	local lo=${1:-20000} hi=${2:-29999} i port
	for ((i = 0; i < 200; i++)); do
		port=$((lo + RANDOM % (hi - lo + 1)))
		if stack_port_free "$port"; then echo "$port"; return 0; fi
	done
	stack_die "no free port in $lo-$hi"
}

# stack_wait_for TIMEOUT_S DESCRIPTION CMD...: polls CMD every 0.1 s until
# it succeeds; fails after TIMEOUT_S seconds.
stack_wait_for() {
	local timeout=$1 what=$2; shift 2
	local deadline=$((SECONDS + timeout))
	while ! "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			stack_die "timed out after ${timeout}s waiting for $what"
			return 1
		fi
		sleep 0.1
	done
}

# curl with hard limits: never hangs the suite.
stack_curl() { curl -sS --connect-timeout 2 --max-time 5 "$@"; }

_stack_http_is() { [ "$(stack_curl -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)" = "$2" ]; }

# stack_wait_http TIMEOUT_S URL [EXPECTED_STATUS=200]
stack_wait_http() {
	local timeout=$1 url=$2 want=${3:-200}
	stack_wait_for "$timeout" "$url -> $want" _stack_http_is "$url" "$want"
}

_stack_sock_listening() {
	[ -S "$1" ] || return 1
	command -v ss >/dev/null 2>&1 || return 0
	ss -Hlx 2>/dev/null | grep -qF " $1 "
}

# stack_wait_socket TIMEOUT_S PATH: a unix socket exists and is listening.
stack_wait_socket() { stack_wait_for "$1" "socket $2" _stack_sock_listening "$2"; }

_stack_pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# True when pid is a child of this shell (from /proc/PID/stat: the fields
# after the command name, which may contain spaces and parentheses).
_stack_is_child() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "$(cut -d' ' -f2 <<<"$st")" = "$$" ]
}

# Sends TERM, waits up to 5 s, then KILL.
_stack_kill_pid() {
	local pid=$1 what=$2 i
	_stack_pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		_stack_pid_alive "$pid" || return 0
		sleep 0.1
	done
	stack_log "$what (pid $pid) ignored TERM; killing"
	kill -KILL "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------- PostgreSQL

# stack_pg_start [DIR]: throwaway cluster, unix socket only, trust auth.
# Exports CLEARANCE_DATABASE_URL for database "clearance".
stack_pg_start() {
	local dir=${1:-$STACK_PG} bindir
	bindir=$(_stack_pg_bindir) || { stack_die "PostgreSQL server binaries not found"; return 1; }
	STACK_PG=$dir
	STACK_PG_BIN=$bindir
	if [ -f "$dir/data/postmaster.pid" ]; then
		# A leftover from a killed run: stop it before wiping the directory.
		_stack_as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -t 10 stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	mkdir -p "$dir/sock" "$STACK_LOGS"
	[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
	# The server runs as postgres, which must reach the directory (a clone
	# under /root is not), and a socket path must fit in sun_path.  Else use
	# a private directory under /tmp rather than loosen anyone's home.
	if ! _stack_as_pg test -w "$dir/sock" 2>/dev/null || [ ${#dir} -gt 80 ]; then
		rm -rf "$dir"
		dir=$(mktemp -d /tmp/clearance-pg.XXXXXX) || return 1
		mkdir -p "$dir/sock"
		[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
		STACK_PG_TMP=$dir
		ln -sfn "$dir" "$STACK_PG"
		stack_log "cluster in $dir (build/stack/pg not usable by postgres)"
	fi
	STACK_PG=$dir
	_stack_as_pg "$bindir/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 \
		--locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
		|| _stack_as_pg "$bindir/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 \
			--locale=C --no-sync >"$dir/initdb.log" 2>&1 \
		|| { cat "$dir/initdb.log" >&2; stack_die "initdb failed"; return 1; }
	STACK_PG_UP=1
	_stack_as_pg "$bindir/pg_ctl" -D "$dir/data" -w -t 30 -l "$dir/postgres.log" \
		-o "-k $dir/sock -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
		start >/dev/null \
		|| { tail -n 50 "$dir/postgres.log" >&2; stack_die "PostgreSQL did not start"; return 1; }
	_stack_as_pg "$bindir/createdb" -h "$dir/sock" -U postgres clearance \
		|| { stack_die "createdb failed"; return 1; }
	export CLEARANCE_DATABASE_URL="host=$dir/sock dbname=clearance user=postgres"
	stack_log "PostgreSQL up (socket dir $dir/sock)"
}

stack_pg_stop() {
	[ "$STACK_PG_UP" = 1 ] || return 0
	STACK_PG_UP=0
	if [ -n "$STACK_PG_BIN" ] && [ -f "$STACK_PG/data/postmaster.pid" ]; then
		_stack_as_pg "$STACK_PG_BIN/pg_ctl" -D "$STACK_PG/data" -m fast -t 20 stop >/dev/null 2>&1 \
			|| _stack_as_pg "$STACK_PG_BIN/pg_ctl" -D "$STACK_PG/data" -m immediate -t 10 stop >/dev/null 2>&1 \
			|| stack_log "could not stop PostgreSQL"
	fi
	if [ -n "$STACK_PG_TMP" ]; then
		rm -rf "$STACK_PG_TMP"
		STACK_PG_TMP=
	fi
}

# ---------------------------------------------------------------- Clearance

stack_migrate() {
	[ -x "$STACK_BIN/clearance-ctl" ] || { stack_die "$STACK_BIN/clearance-ctl missing"; return 1; }
	stack_seal_key
	timeout 60 "$STACK_BIN/clearance-ctl" migrate --dir "$STACK_ROOT/sql"
}

# A fresh seal key per run: "t1:<base64 of 32 random bytes>".
stack_seal_key() {
	if [ -z "${CLEARANCE_SEAL_KEYS:-}" ]; then
		CLEARANCE_SEAL_KEYS="t1:$(head -c 32 /dev/urandom | base64 -w0)"
	fi
	export CLEARANCE_SEAL_KEYS
	# The token pepper (auth.h) goes with the seal key: every program that
	# hashes or checks tokens (services, clearance-ctl, the tests) needs it.
	# A caller that keeps its pepper in a file (make run) keeps it.
	if [ -z "${CLEARANCE_TOKEN_PEPPER:-}" ] && [ -z "${CLEARANCE_TOKEN_PEPPER_FILE:-}" ]; then
		CLEARANCE_TOKEN_PEPPER="$(head -c 32 /dev/urandom | base64 -w0)"
	fi
	# Exported only when set: an empty CLEARANCE_TOKEN_PEPPER next to a
	# CLEARANCE_TOKEN_PEPPER_FILE is "both set", which the programs refuse.
	if [ -n "${CLEARANCE_TOKEN_PEPPER:-}" ]; then export CLEARANCE_TOKEN_PEPPER; fi
}

# stack_services_start: each service under spawn-fcgi on $STACK_RUN/<svc>.sock,
# stderr (the JSON log) to $STACK_LOGS/<svc>.log.  Extra environment for the
# services can be passed as CLEARANCE_* variables exported by the caller.
stack_services_start() {
	local svc
	: "${CLEARANCE_DATABASE_URL:?stack_services_start needs CLEARANCE_DATABASE_URL}"
	command -v spawn-fcgi >/dev/null || { stack_die "spawn-fcgi not installed"; return 1; }
	stack_seal_key
	mkdir -p "$STACK_RUN" "$STACK_LOGS"
	for svc in "${STACK_SERVICES[@]}"; do
		[ -x "$STACK_BIN/clearance-$svc" ] || { stack_die "$STACK_BIN/clearance-$svc missing"; return 1; }
	done
	for svc in "${STACK_SERVICES[@]}"; do
		_stack_svc_stop "$svc"
		: >"$STACK_LOGS/$svc.log"
		stack_service_spawn "$svc"
	done
	sleep 0.3 # a service that fails its config or DB check exits at once
	for svc in "${STACK_SERVICES[@]}"; do
		if ! stack_wait_socket 15 "$STACK_RUN/$svc.sock"; then
			tail -n 30 "$STACK_LOGS/$svc.log" >&2 || true
			return 1
		fi
		if ! _stack_pid_alive "$(cat "$STACK_RUN/$svc.pid")"; then
			tail -n 30 "$STACK_LOGS/$svc.log" >&2 || true
			stack_die "clearance-$svc exited at start"
			return 1
		fi
	done
	stack_log "services up: ${STACK_SERVICES[*]} (sockets in $STACK_RUN)"
}

# stack_service_spawn SVC: starts clearance-SVC under spawn-fcgi on
# $STACK_RUN/SVC.sock, appending to its log; its pid goes to SVC.pid and
# STACK_STARTED.  Does not wait for the socket (stack_wait_socket).
stack_service_spawn() {
	local svc=$1 sock=$STACK_RUN/$1.sock
	rm -f "$sock"
	# spawn-fcgi daemonizes and points the child's stdio at /dev/null
	# unless it stays in the foreground; -n keeps it in front so our
	# redirection holds, and `&` backgrounds it.  The program gets the
	# listening socket on fd 0 and execs in place of spawn-fcgi, so $!
	# is the service's pid.
	CLEARANCE_DATABASE_URL=$CLEARANCE_DATABASE_URL \
	CLEARANCE_SEAL_KEYS=$CLEARANCE_SEAL_KEYS \
	CLEARANCE_THREADS=${CLEARANCE_THREADS:-4} \
	CLEARANCE_LOG_LEVEL=${CLEARANCE_LOG_LEVEL:-info} \
		spawn-fcgi -n -s "$sock" -M 0666 -- "$STACK_BIN/clearance-$svc" \
		</dev/null >>"$STACK_LOGS/$svc.log" 2>&1 &
	echo $! >"$STACK_RUN/$svc.pid"
	STACK_STARTED="$STACK_STARTED $!"
}

# True when pid's command line contains the string (a pid file left by an
# earlier, killed run may name a pid that now belongs to someone else).
_stack_pid_is() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"; }

_stack_svc_stop() {
	local svc=$1 pidf=$STACK_RUN/$1.pid pid
	[ -f "$pidf" ] || return 0
	pid=$(cat "$pidf" 2>/dev/null || true)
	if [[ " $STACK_STARTED " == *" $pid "* ]] || _stack_pid_is "$pid" "clearance-$svc"; then
		_stack_kill_pid "$pid" "clearance-$svc"
	fi
	rm -f "$pidf" "$STACK_RUN/$svc.sock"
}

stack_services_stop() {
	local svc
	for svc in "${STACK_SERVICES[@]}"; do _stack_svc_stop "$svc"; done
}

# stack_nginx_start [PORT]: renders the test config and starts nginx on
# 127.0.0.1:PORT (a free one when omitted).  Sets STACK_NGINX_PORT and
# exports CLEARANCE_BASE_URL.
stack_nginx_start() {
	local port=${1:-} conf=$STACK_NGINX/nginx.conf user_line=''
	command -v nginx >/dev/null || { stack_die "nginx not installed"; return 1; }
	[ -n "$port" ] || port=$(stack_free_port 20000 29999) || return 1
	stack_port_free "$port" || { stack_die "port $port is in use"; return 1; }
	stack_nginx_stop
	mkdir -p "$STACK_NGINX/tmp" "$STACK_LOGS" "$STACK_RUN" "$STACK_WWW/api"
	[ "$(id -u)" = 0 ] && user_line='user root;'
	# A static stand-in for the protected upstream (see the template).
	printf '{"ok":true,"resource":"hello"}\n' >"$STACK_WWW/api/hello.json"
	sed -e "s|@PORT@|$port|g" -e "s|@PREFIX@|$STACK_NGINX|g" -e "s|@RUN@|$STACK_RUN|g" \
		-e "s|@LOGDIR@|$STACK_LOGS|g" -e "s|@WWW@|$STACK_WWW|g" -e "s|@PORTAL@|$STACK_ROOT/services/portal|g" -e "s|@USER_LINE@|$user_line|g" \
		"$STACK_ROOT/tests/stack/nginx-test.conf.template" >"$conf"
	nginx -t -q -p "$STACK_NGINX" -c "$conf" -e "$STACK_LOGS/nginx-error.log" \
		|| { stack_die "nginx config test failed"; return 1; }
	nginx -p "$STACK_NGINX" -c "$conf" -e "$STACK_LOGS/nginx-error.log" \
		|| { stack_die "nginx did not start"; return 1; }
	STACK_NGINX_PORT=$port
	export CLEARANCE_BASE_URL="http://127.0.0.1:$port"
	# The portal's index page at "/" means it is serving.
	stack_wait_http 10 "$CLEARANCE_BASE_URL/" 200 || return 1
	stack_log "nginx up on $CLEARANCE_BASE_URL"
}

stack_nginx_stop() {
	local pidf=$STACK_NGINX/nginx.pid
		[ -f "$pidf" ] || return 0
	# nginx removes its pid file on a clean exit; QUIT is graceful.
	local pid
	pid=$(cat "$pidf" 2>/dev/null || true)
	if _stack_pid_alive "$pid" && _stack_pid_is "$pid" "$STACK_NGINX/nginx.conf"; then
		kill -QUIT "$pid" 2>/dev/null || true
		local i
		for ((i = 0; i < 50; i++)); do _stack_pid_alive "$pid" || break; sleep 0.1; done
		_stack_kill_pid "$pid" nginx
	fi
	rm -f "$pidf"
}

# ---------------------------------------------------------------- SMTP catcher
# (added for the access issue) The services read CLEARANCE_SMTP_URL at
# start-up, so a catcher (tests/integration/lib/smtp-server.mjs) runs before
# them and writes every message it receives as a JSON file into
# $STACK_DIR/mail, where the node tests read them.  Mail templates come from
# the repository's deploy/mail.
STACK_SMTP_PID=
stack_smtp_start() {
	local port
	port=$(stack_free_port 30000 32999) || return 1
	rm -rf "$STACK_DIR/mail"
	mkdir -p "$STACK_DIR/mail" "$STACK_LOGS"
	node "$STACK_ROOT/tests/integration/lib/smtp-server.mjs" --port "$port" \
		--dir "$STACK_DIR/mail" >"$STACK_LOGS/smtp.log" 2>&1 &
	STACK_SMTP_PID=$!
	STACK_STARTED="$STACK_STARTED $STACK_SMTP_PID"
	stack_wait_for 15 "SMTP catcher on $port" eval '! stack_port_free '"$port" \
		|| { cat "$STACK_LOGS/smtp.log" >&2; return 1; }
	export CLEARANCE_SMTP_URL="smtp://127.0.0.1:$port"
	export CLEARANCE_MAIL_FROM=${CLEARANCE_MAIL_FROM:-clearance@stack.test}
	export CLEARANCE_MAIL_TEMPLATES=${CLEARANCE_MAIL_TEMPLATES:-$STACK_ROOT/deploy/mail}
	stack_log "SMTP catcher on $CLEARANCE_SMTP_URL (messages in $STACK_DIR/mail)"
}

stack_smtp_stop() {
	[ -n "$STACK_SMTP_PID" ] || return 0
	_stack_kill_pid "$STACK_SMTP_PID" "smtp catcher"
	STACK_SMTP_PID=
}

# Idempotent; safe from a trap at any point.
stack_stop_all() {
	local rc=$?
	trap - INT TERM
	if _stack_pid_alive "${STACK_CHILD:-}"; then
		# timeout passes TERM on to the whole group of the running step.
		_stack_kill_pid "$STACK_CHILD" "running step"
		wait "$STACK_CHILD" 2>/dev/null || true
	fi
	STACK_CHILD=
	stack_nginx_stop || true
	stack_services_stop || true
	stack_smtp_stop || true # access issue: SMTP catcher
	# Anything else this shell started (bench's helpers, a test's extras)
	# and still its child: a pid recorded long ago may be someone else's now.
	local pid
	for pid in $STACK_STARTED; do
		_stack_is_child "$pid" && _stack_kill_pid "$pid" "pid $pid"
	done
	STACK_STARTED=
	stack_pg_stop || true
	return $rc
}

# stack_tail_logs [N]: the last N lines of every service log (on failure).
stack_tail_logs() {
	local n=${1:-50} f
	for f in "$STACK_LOGS"/registrar.log "$STACK_LOGS"/introspect.log "$STACK_LOGS"/access.log \
		"$STACK_LOGS"/nginx-error.log "$STACK_PG"/postgres.log; do
		[ -s "$f" ] || continue
		echo "===== last $n lines of $f" >&2
		tail -n "$n" "$f" >&2
	done
}

# Installs the traps: everything is stopped on exit, error, Ctrl-C or TERM.
stack_install_traps() {
	trap 'stack_stop_all' EXIT
	trap 'stack_log "interrupted"; exit 130' INT
	trap 'stack_log "terminated"; exit 143' TERM
}

# ---------------------------------------------------------------- suite steps

# Wall-clock budget for the whole suite (CI must end well under 25 min):
# each step's timeout is capped by what is left of it.
STACK_BUDGET_S=${STACK_BUDGET_S:-1320}
STACK_T0=${STACK_T0:-$SECONDS}
STACK_FAILED=()
STACK_CHILD=

# stack_step NAME MAX_S CMD...: runs CMD under a timeout, records a failure
# (never exits), returns CMD's status.  A shell function runs in this shell
# (it may start jobs and export variables) with no timeout: every function
# here bounds its own waits.
stack_step() {
	local name=$1 max=$2; shift 2
	local left=$((STACK_BUDGET_S - (SECONDS - STACK_T0)))
	((left < max)) && max=$left
	if ((max <= 0)); then
		stack_log "SKIP $name: suite time budget used up"
		STACK_FAILED+=("$name (no time left)")
		return 1
	fi
	stack_log "BEGIN $name (timeout ${max}s)"
	local t=$SECONDS rc=0
	if declare -F "$1" >/dev/null; then
		"$@" || rc=$?
	else
		# In the background + wait, so that a signal runs our traps at once
		# (bash defers traps while a foreground child runs, and timeout puts
		# the command in its own process group where Ctrl-C does not reach).
		timeout -k 10 "$max" "$@" &
		STACK_CHILD=$!
		wait "$STACK_CHILD" || rc=$?
		STACK_CHILD=
	fi
	if ((rc == 0)); then
		stack_log "PASS  $name ($((SECONDS - t))s)"
	else
		((rc == 124)) && stack_log "TIMEOUT $name after ${max}s"
		stack_log "FAIL  $name (exit $rc, $((SECONDS - t))s)"
		STACK_FAILED+=("$name")
	fi
	return $rc
}

# A failure found outside stack_step: recorded and logged like one (the
# closing total in test.sh counts FAIL lines).
_stack_fail() {
	stack_log "FAIL  $1"
	STACK_FAILED+=("$1")
}

stack_summary() {
	if [ "${#STACK_FAILED[@]}" -eq 0 ]; then
		stack_log "ALL PASSED in $((SECONDS - STACK_T0))s"
		return 0
	fi
	stack_log "FAILED: ${STACK_FAILED[*]} ($((SECONDS - STACK_T0))s)"
	return 1
}

# Creates an admin token with clearance-ctl and exports CLEARANCE_ADMIN_TOKEN.
# Accepts either a bare token or JSON with a "token" member on stdout; the
# token itself is never printed.
stack_admin_token() {
	local out tok
	stack_seal_key
	out=$(timeout 30 "$STACK_BIN/clearance-ctl" admin-token create ci) \
		|| { stack_die "clearance-ctl admin-token create failed"; return 1; }
	tok=$(printf '%s' "$out" | node -e '
		let s = require("fs").readFileSync(0, "utf8").trim();
		try { const j = JSON.parse(s); if (j && typeof j.token === "string") s = j.token; } catch {}
		s = s.split("\n").filter(Boolean).pop() || "";
		process.stdout.write(s.trim());')
	[ -n "$tok" ] || { stack_die "clearance-ctl admin-token printed no token"; return 1; }
	export CLEARANCE_ADMIN_TOKEN=$tok
}

# Runs the node:test files one after another, one runner each, 240 s a file
# (STACK_NODE_FILE_MS).
# A file whose runner gave no result at all in that time (it hung before its
# first test finished: seen a few times in the ASan pass, with no request
# reaching nginx meanwhile, cause not found yet) is reported as HUNG with
# its output (prefixed, so the totals do not count it) and run once more;
# the second run decides.  Any other failure stands as it is.
# The whole run stays within 900 s and the suite's budget, as one step would.
stack_node_files() {
	local f tap rc=0 r end=$((SECONDS + 900))
	local budget_end=$((STACK_T0 + STACK_BUDGET_S))
	((budget_end < end)) && end=$budget_end
	_node_one() { # $1: file, output to $tap; exit status of the runner (124: out of time)
		local left=$((end - SECONDS))
		((left > 0)) || return 124
		timeout -k 10 "$left" node --test --test-concurrency=1 --test-timeout="${STACK_NODE_FILE_MS:-240000}" "$1" >"$tap" 2>&1 &
		STACK_CHILD=$!
		wait "$STACK_CHILD"
		local st=$?
		STACK_CHILD=
		return $st
	}
	for f in "$@"; do
		tap=$STACK_DIR/node-$(basename "$f").tap
		rm -f "$tap"
		r=0
		_node_one "$f" || r=$?
		if ((r != 0 && r != 124)) && grep -qxF "not ok 1 - $f" "$tap" &&
			grep -q "test timed out after" "$tap"; then
			stack_log "HUNG: $(basename "$f") gave no result in $((${STACK_NODE_FILE_MS:-240000} / 1000)) s; its output, then one more run:"
			sed 's/^/hung| /' "$tap"
			r=0
			_node_one "$f" || r=$?
		fi
		[ ! -f "$tap" ] || cat "$tap"
		if ((r == 124)); then
			stack_log "TIMEOUT integration tests: out of time in $(basename "$f")"
			rc=1
			break
		fi
		((r == 0)) || rc=1
	done
	return $rc
}

# The integration part, PostgreSQL already up and migrated: services, nginx,
# admin token, node tests.  Service logs are shown when anything fails.
stack_integration() {
	# $1: optional label, so a second pass (sanitizers) reads apart in the summary.
	local ok=1 sfx=${1:+ ($1)}
	export CLEARANCE_STACK_DIR=$STACK_DIR CLEARANCE_BIN_DIR=$STACK_BIN
	# Short job backoff so retry tests see several attempts in seconds.
	export CLEARANCE_JOB_BACKOFF_MS=${CLEARANCE_JOB_BACKOFF_MS:-200}
	export CLEARANCE_JOB_MAX_ATTEMPTS=${CLEARANCE_JOB_MAX_ATTEMPTS:-3}
	export CLEARANCE_WEBHOOK_MAX_ATTEMPTS=${CLEARANCE_WEBHOOK_MAX_ATTEMPTS:-3}
	# One allowed private range, so tests see a non-public redirect host both
	# refused (10.0.0.1) and allowed by the operator (10.99.0.0/16).
	export CLEARANCE_REDIRECT_ALLOW_PRIVATE=${CLEARANCE_REDIRECT_ALLOW_PRIVATE-10.99.0.0/16}
	stack_step "start SMTP catcher$sfx" 30 stack_smtp_start || ok=0 # access issue
	if ((ok)); then stack_step "start services$sfx" 60 stack_services_start || ok=0; fi
	if ((ok)); then stack_step "start nginx$sfx" 30 stack_nginx_start || ok=0; fi
	if ((ok)); then stack_step "admin token$sfx" 30 stack_admin_token || ok=0; fi
	local files=("$STACK_ROOT"/tests/integration/*.test.mjs)
	# INTEGRATION_ONLY=glob (e.g. glewlwyd.test.mjs): one file while developing.
	if [ -n "${INTEGRATION_ONLY:-}" ]; then
		# shellcheck disable=SC2206 # the glob is meant to expand
		files=("$STACK_ROOT"/tests/integration/$INTEGRATION_ONLY)
	fi
	if ((ok)) && [ ! -e "${files[0]}" ]; then
		stack_die "no tests/integration/*.test.mjs"; _stack_fail "integration tests (none found)"; ok=0
	fi
	if ((ok)); then
		stack_step "integration tests$sfx" 900 stack_node_files "${files[@]}" || ok=0
	fi
	((ok)) || stack_tail_logs 50
	((ok))
}

# The integration suite once more, against the services built with
# AddressSanitizer and UndefinedBehaviorSanitizer (make B=build/asan SAN=1):
# the unit tests cannot reach the request paths the services take for real.
# Any sanitizer report in a service's log fails the step, including leaks
# that LeakSanitizer reports when the services exit on SIGTERM.
stack_integration_sanitized() {
	local bin=$STACK_ROOT/build/asan/bin ok=1 save=$STACK_BIN bad
	if [ ! -x "$bin/clearance-registrar" ]; then
		stack_die "no sanitizer build in $bin"
		_stack_fail "integration (ASan/UBSan): no build"
		return 1
	fi
	stack_nginx_stop || true
	stack_services_stop || true
	stack_smtp_stop || true
	STACK_BIN=$bin
	export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:strict_string_checks=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	export LSAN_OPTIONS=suppressions=$STACK_ROOT/tests/lsan.supp:print_suppressions=0
	stack_integration "ASan/UBSan services" || ok=0
	# Stop nginx first so no kept-alive connection holds a service open.
	stack_nginx_stop || true
	stack_services_stop || true
	unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
	STACK_BIN=$save
	bad=$(grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$STACK_LOGS"/*.log 2>/dev/null || true)
	if [ -n "$bad" ]; then
		for f in $bad; do
			stack_log "sanitizer report in $f:"
			grep -A30 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" | head -n 60 >&2
		done
		_stack_fail "sanitizer reports from the services"
		ok=0
	else
		stack_log "PASS  no sanitizer report in the services' logs"
	fi
	((ok))
}

# ---------------------------------------------------------------- kept stack
# For `make run` / `make up` (deploy/run/run.sh): a cluster that survives
# between runs, and nginx on a chosen address.  The suite never calls these.

# stack_pg_start_kept DIR: starts (creating on first use) a cluster in DIR
# that is kept between runs; the database "clearance" is created if missing.
# Unlike stack_pg_start it never wipes anything and keeps fsync on.
# Exports CLEARANCE_DATABASE_URL.
stack_pg_start_kept() {
	local dir=$1 bindir link='' sum
	bindir=$(_stack_pg_bindir) || { stack_die "PostgreSQL server binaries not found"; return 1; }
	STACK_PG_BIN=$bindir
	mkdir -p "$STACK_LOGS"
	if [ -L "$dir" ]; then
		link=$dir
		dir=$(readlink "$dir")
	fi
	mkdir -p "$dir/sock"
	[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir" "$dir/sock"
	# The server runs as postgres, which must reach DIR, and the socket path
	# must fit in sun_path; else a directory of its own under /var/tmp
	# (kept across reboots, unlike /tmp), named after DIR.
	if [ -z "$link" ] && { ! _stack_as_pg test -w "$dir/sock" 2>/dev/null || [ ${#dir} -gt 80 ]; }; then
		if [ -e "$dir/data" ]; then
			stack_die "$dir/data exists but the postgres user cannot use $dir"
			return 1
		fi
		sum=$(printf '%s' "$dir" | cksum | cut -d' ' -f1)
		link=$dir
		rm -rf "$dir"
		dir=/var/tmp/clearance-pg-$sum
		mkdir -p "$dir/sock"
		[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
		ln -sfn "$dir" "$link"
		stack_log "cluster in $dir ($link is not usable by postgres)"
	fi
	STACK_PG=$dir
	if _stack_as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		# Left running by a run that was killed: ours, stop it cleanly first.
		_stack_as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -t 30 stop >/dev/null 2>&1 || true
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		rm -rf "$dir/data"
		_stack_as_pg "$bindir/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 \
			--locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
			|| { rm -rf "$dir/data"; _stack_as_pg "$bindir/initdb" -D "$dir/data" -A trust \
				-U postgres -E UTF8 --locale=C >"$dir/initdb.log" 2>&1; } \
			|| { cat "$dir/initdb.log" >&2; stack_die "initdb failed"; return 1; }
		stack_log "new PostgreSQL cluster in $dir/data"
	fi
	STACK_PG_UP=1
	_stack_as_pg "$bindir/pg_ctl" -D "$dir/data" -w -t 60 -l "$dir/postgres.log" \
		-o "-k $dir/sock -c listen_addresses=''" start >/dev/null \
		|| { tail -n 50 "$dir/postgres.log" >&2; stack_die "PostgreSQL did not start"; return 1; }
	if [ "$(_stack_as_pg "$bindir/psql" -h "$dir/sock" -U postgres -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'clearance'")" != 1 ]; then
		_stack_as_pg "$bindir/createdb" -h "$dir/sock" -U postgres clearance \
			|| { stack_die "createdb failed"; return 1; }
	fi
	export CLEARANCE_DATABASE_URL="host=$dir/sock dbname=clearance user=postgres"
	stack_log "PostgreSQL up (data $dir/data, socket dir $dir/sock)"
}

# stack_nginx_start_on ADDR PORT: stack_nginx_start's config (same routing,
# same static stand-in for the protected API under $STACK_WWW/api/) but
# listening on ADDR:PORT.  Sets STACK_NGINX_PORT; exports CLEARANCE_BASE_URL
# (on 127.0.0.1 when ADDR is a wildcard).
stack_nginx_start_on() {
	local addr=$1 port=$2 conf=$STACK_NGINX/nginx.conf user_line='' host=$1
	command -v nginx >/dev/null || { stack_die "nginx not installed"; return 1; }
	stack_nginx_stop
	mkdir -p "$STACK_NGINX/tmp" "$STACK_LOGS" "$STACK_RUN" "$STACK_WWW/api"
	[ "$(id -u)" = 0 ] && user_line='user root;'
	case $addr in 0.0.0.0 | '*' | '[::]') host=127.0.0.1 ;; esac
	[ -f "$STACK_WWW/api/hello.json" ] \
		|| printf '{"ok":true,"resource":"hello"}\n' >"$STACK_WWW/api/hello.json"
	sed -e "s|listen 127.0.0.1:@PORT@|listen $addr:$port|" \
		-e "s|@PORT@|$port|g" -e "s|@PREFIX@|$STACK_NGINX|g" -e "s|@RUN@|$STACK_RUN|g" \
		-e "s|@LOGDIR@|$STACK_LOGS|g" -e "s|@WWW@|$STACK_WWW|g" -e "s|@PORTAL@|$STACK_ROOT/services/portal|g" -e "s|@USER_LINE@|$user_line|g" \
		"$STACK_ROOT/tests/stack/nginx-test.conf.template" >"$conf"
	grep -q "listen $addr:$port;" "$conf" || { stack_die "nginx template has no listen line to set"; return 1; }
	nginx -t -q -p "$STACK_NGINX" -c "$conf" -e "$STACK_LOGS/nginx-error.log" \
		|| { stack_die "nginx config test failed"; return 1; }
	nginx -p "$STACK_NGINX" -c "$conf" -e "$STACK_LOGS/nginx-error.log" \
		|| { stack_die "nginx did not start on $addr:$port"; return 1; }
	STACK_NGINX_PORT=$port
	export CLEARANCE_BASE_URL="http://$host:$port"
	stack_wait_http 10 "$CLEARANCE_BASE_URL/" 200 || return 1
	stack_log "nginx up on $addr:$port"
}
