#!/usr/bin/env bash
# `make install` into a staging directory (DESTDIR, PREFIX=/usr), then:
#   - the layout: programs, migrations, mail templates, units, examples
#   - systemd-analyze verify accepts every unit (as installed, paths and all)
#   - the hardening the units promise is there
#   - the installed clearance-ctl, run outside the source tree with no
#     CLEARANCE_SQL_DIR, finds the installed migrations and applies them to
#     a new database (needs CLEARANCE_DATABASE_URL: make test's PostgreSQL)
# Prints one line per check; exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
STAGE=$(mktemp -d /tmp/clearance-install.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
fail=0
ok() { echo "ok - $*"; }
bad() { echo "FAIL - $*"; fail=1; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

unset MAKEFLAGS MAKELEVEL MFLAGS
if ! make -s install DESTDIR="$STAGE" PREFIX=/usr >"$STAGE.log" 2>&1; then
	cat "$STAGE.log"; rm -f "$STAGE.log"
	bad "make install DESTDIR=... PREFIX=/usr"
	exit 1
fi
rm -f "$STAGE.log"
ok "make install DESTDIR=... PREFIX=/usr"
S=$STAGE/usr
check "clearance-ctl in bin, the services in sbin" test -x "$S/bin/clearance-ctl" \
	-a -x "$S/sbin/clearance-registrar" -a -x "$S/sbin/clearance-introspect" -a -x "$S/sbin/clearance-access"
check "every migration in share/clearance/sql" \
	diff -q <(cd sql && ls ./*.sql) <(cd "$S/share/clearance/sql" && ls ./*.sql)
check "every mail template in share/clearance/mail" \
	diff -q <(cd deploy/mail && ls) <(cd "$S/share/clearance/mail" && ls)
if [ -d services/portal ]; then
	check "the portal's static files in share/clearance/portal" diff -rq services/portal "$S/share/clearance/portal"
fi
check "examples: nginx site, gateway snippet, env file" test -f "$S/share/clearance/examples/nginx-clearance.conf" \
	-a -f "$S/share/clearance/examples/nginx-gateway.conf" -a -f "$S/share/clearance/examples/clearance.env"
check "the sysusers.d entry for the dedicated user" grep -q '^u clearance ' "$S/lib/sysusers.d/clearance.conf"
check "no @PLACEHOLDER@ left in what was installed" \
	bash -c "! grep -rl '@[A-Z]*DIR@' '$S/lib' '$S/share/clearance/examples'"

units=("$S"/lib/systemd/system/clearance-*)
check "units: 3 sockets, 3 services, migrate" test "${#units[@]}" = 7
# The targets our units name (sysinit, sockets, multi-user...) from the
# systemd package, beside ours in the staging root.
cp -n /usr/lib/systemd/system/*.target "$S/lib/systemd/system/" 2>/dev/null || true
out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no --root="$STAGE" "${units[@]}" 2>&1)
rc=$?
# Only what concerns our units counts (a chroot lacks unrelated units).
ours=$(grep -E 'clearance' <<<"$out" || true)
if [ $rc = 0 ] && [ -z "$ours" ]; then ok "systemd-analyze verify: all units"; else
	bad "systemd-analyze verify (exit $rc):"; echo "$out" | sed 's/^/    /'; fi
for svc in registrar introspect access; do
	u=$S/lib/systemd/system/clearance-$svc.service
	for want in 'User=clearance' 'ProtectSystem=strict' 'NoNewPrivileges=yes' 'StandardInput=socket' \
		'Restart=on-failure' 'CapabilityBoundingSet=$' "ExecStart=/usr/sbin/clearance-$svc\$"; do
		grep -q "^$want" "$u" || bad "clearance-$svc.service: no $want"
	done
	grep -q "^ListenStream=/run/clearance/$svc.sock$" "$S/lib/systemd/system/clearance-$svc.socket" \
		|| bad "clearance-$svc.socket: not on /run/clearance/$svc.sock"
	grep -q "server unix:/run/clearance/$svc.sock;" deploy/nginx/clearance.conf \
		|| bad "the nginx example does not use /run/clearance/$svc.sock"
done
ok "hardening, restart and sockets as promised (else listed above)"
# The hardening really is what systemd will apply: its own exposure score.
for svc in registrar introspect access; do
	score=$(systemd-analyze security --offline=true --root="$STAGE" --no-pager \
		"$S/lib/systemd/system/clearance-$svc.service" 2>/dev/null | grep -o 'Overall exposure level.*' | grep -oE '[0-9]+\.[0-9]+' | head -n 1)
	if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }'; then
		ok "clearance-$svc.service: exposure $score (OK or better)"
	else
		bad "clearance-$svc.service: exposure ${score:-unknown}, want <= 3.0"
	fi
done

if [ -n "${CLEARANCE_DATABASE_URL:-}" ]; then
	db=clearance_install_$$
	psql "$CLEARANCE_DATABASE_URL" -X -q -c "CREATE DATABASE $db" >/dev/null
	out=$(cd / && env -u CLEARANCE_SQL_DIR CLEARANCE_DATABASE_URL="${CLEARANCE_DATABASE_URL/dbname=clearance/dbname=$db}" \
		CLEARANCE_SEAL_KEYS="t1:$(head -c 32 /dev/urandom | base64 -w0)" \
		timeout 60 "$S/bin/clearance-ctl" migrate 2>&1)
	rc=$?
	n=$(grep -c '^applied ' <<<"$out")
	if [ $rc = 0 ] && [ "$n" = "$(ls sql/*.sql | wc -l)" ]; then
		ok "installed clearance-ctl migrate, run from /, applied all $n migrations"
	else
		bad "installed clearance-ctl migrate from / (exit $rc): $(tail -n 3 <<<"$out")"
	fi
	psql "$CLEARANCE_DATABASE_URL" -X -q -c "DROP DATABASE $db" >/dev/null
else
	echo "# CLEARANCE_DATABASE_URL not set: installed migrate not tried"
fi
exit $fail
