#!/usr/bin/env bash
# make bench - how close the gateway check comes to the architecture's
# ceiling.  One nginx, one load generator (wrk, -t2 -c$CONNS), loopback,
# the same static file protected five ways:
#   a) auth_request answered inside nginx (204): the front end's own ceiling
#   b) auth_request -> no-op libfcgi responder (tests/bench/noop.c)
#   c) auth_request -> clearance-introspect, one RS256 token repeated
#   d) the same with $NTOKENS distinct valid RS256 tokens (wrk Lua rotation)
#   e) the same with one ES256 token
#   f) case d against a second clearance-introspect with the verified-token
#      cache off (CLEARANCE_GATEWAY_TOKEN_CACHE=0): every request parses and
#      verifies an RS256 signature, i.e. what d costs for tokens the cache
#      has not seen (d itself is warmed up, so it mostly measures hits)
#   g) case c against a copy whose database holds $BIG_CLIENTS registered
#      clients with grants and $BIG_PRODUCTS products (issue 8: the grant
#      and path lookups must not grow with them); its memory is reported
#   h) a client on a rate-limited plan (a limit it never reaches) through
#      three copies behind one nginx upstream (round robin): the cost of
#      the shared counter leases (services/introspect/limits.h)
# Prints req/s, p50, p99, non-2xx per case, the ratios c/b d/b e/b, and a
# sanity check that req/s x mean latency ~ connections (wrk does not count
# requests that never get an answer, so a hung run can look fast).
#
# Read ../shared/reference/nginx-fastcgi-notes.md for why the shapes are
# what they are: no FastCGI keepalive for auth subrequests (nginx 1.22
# does not reuse them), unix sockets, a static file and never `return`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export STACK_DIR=${BENCH_DIR:-$PWD/build/bench}
# shellcheck source=tests/stack/lib.sh
source tests/stack/lib.sh
stack_install_traps

DUR=${BENCH_DURATION:-6s}
ROUNDS=${BENCH_ROUNDS:-3}   # cases interleaved per round; medians reported
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-8}
NTOKENS=${BENCH_TOKENS:-2000}
BIG_CLIENTS=${BENCH_BIG_CLIENTS:-100000}
BIG_PRODUCTS=${BENCH_BIG_PRODUCTS:-1000}
CASES="a b c d e f g h"
B=$STACK_DIR/bench
mkdir -p "$B" "$STACK_RUN" "$STACK_LOGS" "$STACK_WWW/a" "$STACK_WWW/b" "$STACK_WWW/c" \
	"$STACK_WWW/d" "$STACK_WWW/e" "$STACK_WWW/f" "$STACK_WWW/g" "$STACK_WWW/h" "$STACK_NGINX/tmp"

if ! command -v wrk >/dev/null; then
	echo "bench: installing wrk (Debian)"
	sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo)
	DEBIAN_FRONTEND=noninteractive timeout 600 "${sudo[@]}" apt-get install -y -qq wrk
fi
for t in wrk nginx spawn-fcgi node psql; do
	command -v "$t" >/dev/null || { echo "bench: $t is required" >&2; exit 1; }
done
[ -x "$STACK_BIN/clearance-introspect" ] || { echo "bench: run make first" >&2; exit 1; }

# --- the no-op responder ---------------------------------------------------
cc -O2 -Wall -Wextra -Werror -o "$B/noop" tests/bench/noop.c -lfcgi -pthread

# --- keys, tokens, JWKS (node's crypto; nothing from the network) ----------
JWKS_PORT=$(stack_free_port 30000 39999)
ISSUER="http://127.0.0.1:$JWKS_PORT"
node - "$B" "$ISSUER" "$NTOKENS" <<'NODE'
const crypto = require('crypto');
const fs = require('fs');
const [dir, iss, n] = process.argv.slice(2);
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pub = (k, kid, alg) => ({ ...k.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' });
fs.writeFileSync(`${dir}/jwks.json`, JSON.stringify({ keys: [pub(rsa, 'rs', 'RS256'), pub(ec, 'es', 'ES256')] }));
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
function tok(alg, kid, i, client = `bench-client-${i % 50}`) {
  const input = `${b64({ alg, kid, typ: 'at+jwt' })}.${b64({
    iss, aud: 'https://api.bench', client_id: client, sub: client,
    scope: 'bench:read plan:bench', iat: now, exp: now + 7200, jti: `j${i}`,
  })}`;
  const sig = alg === 'RS256'
    ? crypto.sign('sha256', Buffer.from(input), rsa.privateKey)
    : crypto.sign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}
fs.writeFileSync(`${dir}/rs.token`, tok('RS256', 'rs', 0));
fs.writeFileSync(`${dir}/es.token`, tok('ES256', 'es', 0));
fs.writeFileSync(`${dir}/rl.token`, tok('RS256', 'rs', 0, 'bench-rl-client'));
const many = [];
for (let i = 0; i < Number(n); i += 1) many.push(tok('RS256', 'rs', i));
fs.writeFileSync(`${dir}/many.tokens`, `${many.join('\n')}\n`);
NODE
( cd "$B" && exec python3 -m http.server "$JWKS_PORT" --bind 127.0.0.1 ) >"$STACK_LOGS/jwks-http.log" 2>&1 &
JWKS_PID=$!
STACK_STARTED="$STACK_STARTED $JWKS_PID"

# --- PostgreSQL with the provider, product and plan ------------------------
stack_pg_start "$STACK_PG"
stack_migrate >/dev/null
# The catalogue and clients; $1 database URL, $2 clients, $3 extra products.
bench_seed() {
	psql "$1" -X -q -v ON_ERROR_STOP=1 -v iss="$ISSUER" -v nclients="$2" -v nproducts="$3" <<'SQL'
INSERT INTO providers (name, kind, well_known_url, issuer, token_endpoint, jwks_uri,
                       audience, allow_insecure_http)
VALUES ('bench', 'other', :'iss' || '/.well-known/openid-configuration', :'iss',
        :'iss' || '/token', :'iss' || '/jwks.json', 'https://api.bench', true);
WITH pr AS (INSERT INTO products (name, path_prefixes, scopes)
            VALUES ('bench', ARRAY['/c', '/d', '/e', '/f', '/g', '/h'], 'bench:read') RETURNING id),
     pl AS (INSERT INTO plans (name, scopes) VALUES ('bench', 'plan:bench') RETURNING id),
     rl AS (INSERT INTO plans (name, scopes, rate_limit_requests, rate_limit_window_seconds)
            VALUES ('bench-rl', 'plan:bench', 1000000000, 3600) RETURNING id)
INSERT INTO product_plans SELECT pr.id, pl.id FROM pr, pl UNION ALL SELECT pr.id, rl.id FROM pr, rl;
-- Other products, each with its own prefix and plan (the big case).
WITH pr AS (INSERT INTO products (name, path_prefixes, scopes)
            SELECT 'other-' || i, ARRAY['/other/' || i], 'other:' || i
            FROM generate_series(1, :nproducts) AS i RETURNING id, name),
     pl AS (INSERT INTO plans (name, scopes) VALUES ('other', 'plan:other') RETURNING id)
INSERT INTO product_plans SELECT pr.id, pl.id FROM pr, pl;
-- The bench clients are registered (CLEARANCE_GATEWAY_REQUIRE_REGISTERED) and
-- granted the bench product; the rate-limited one its own plan; the rest of
-- the clients (big case) one of the other products each.
INSERT INTO registrations (provider_id, client_name, status, client_id)
SELECT p.id, 'bench-client-' || i, 'active', 'bench-client-' || i
FROM providers p, generate_series(0, :nclients - 1) AS i WHERE p.name = 'bench';
INSERT INTO registrations (provider_id, client_name, status, client_id)
SELECT p.id, 'bench-rl-client', 'active', 'bench-rl-client' FROM providers p WHERE p.name = 'bench';
INSERT INTO registration_grants (registration_id, product_id, plan_id)
SELECT r.id, pr.id, pl.id FROM registrations r, products pr, plans pl
WHERE r.client_id ~ '^bench-client-([0-9]|[1-4][0-9])$' AND pr.name = 'bench' AND pl.name = 'bench';
INSERT INTO registration_grants (registration_id, product_id, plan_id)
SELECT r.id, pr.id, pl.id FROM registrations r, products pr, plans pl
WHERE r.client_id = 'bench-rl-client' AND pr.name = 'bench' AND pl.name = 'bench-rl';
INSERT INTO registration_grants (registration_id, product_id, plan_id)
SELECT r.id, pr.id, pl.id
FROM registrations r
JOIN products pr ON pr.name = 'other-' || (1 + (substring(r.client_id from 14)::int % greatest(:nproducts, 1)))
JOIN plans pl ON pl.name = 'other'
WHERE r.client_id LIKE 'bench-client-%' AND substring(r.client_id from 14)::int >= 50;
SQL
}
bench_seed "$CLEARANCE_DATABASE_URL" 50 0
# The big case has its own database in the same cluster.
BIG_URL="${CLEARANCE_DATABASE_URL/dbname=clearance/dbname=clearance_big}"
psql "$CLEARANCE_DATABASE_URL" -X -q -c 'CREATE DATABASE clearance_big'
CLEARANCE_DATABASE_URL=$BIG_URL stack_migrate >/dev/null
t0=$(date +%s)
bench_seed "$BIG_URL" "$BIG_CLIENTS" "$BIG_PRODUCTS"
echo "bench: big database seeded ($BIG_CLIENTS clients, $BIG_PRODUCTS products) in $(($(date +%s) - t0)) s"

# --- FastCGI services --------------------------------------------------------
stack_seal_key
declare -A SVC_PID
for svc in noop introspect nocache big rl1 rl2 rl3; do
	rm -f "$STACK_RUN/$svc.sock"
	bin=$B/noop; [ "$svc" != noop ] && bin=$STACK_BIN/clearance-introspect
	tcache=65536; [ "$svc" = nocache ] && tcache=0
	db=$CLEARANCE_DATABASE_URL; [ "$svc" = big ] && db=$BIG_URL
	CLEARANCE_DATABASE_URL=$db CLEARANCE_THREADS=$THREADS \
	CLEARANCE_GATEWAY_TOKEN_CACHE=$tcache \
	CLEARANCE_LOG_LEVEL=warn NOOP_THREADS=$THREADS \
		spawn-fcgi -n -s "$STACK_RUN/$svc.sock" -M 0666 -- "$bin" \
		</dev/null >>"$STACK_LOGS/$svc.log" 2>&1 &
	SVC_PID[$svc]=$!
	STACK_STARTED="$STACK_STARTED $!"
	stack_wait_socket 15 "$STACK_RUN/$svc.sock"
done


# --- nginx -------------------------------------------------------------------
PORT=$(stack_free_port 20000 29999)
for c in $CASES; do printf '{"ok":true}\n' >"$STACK_WWW/$c/f.json"; done
user_line=''; [ "$(id -u)" = 0 ] && user_line='user root;'
cat >"$STACK_NGINX/nginx.conf" <<NGX
$user_line
worker_processes 1;
daemon on;
pid $STACK_NGINX/nginx.pid;
error_log $STACK_LOGS/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $STACK_NGINX/tmp/cb;
    proxy_temp_path $STACK_NGINX/tmp/p;
    fastcgi_temp_path $STACK_NGINX/tmp/f;
    uwsgi_temp_path $STACK_NGINX/tmp/u;
    scgi_temp_path $STACK_NGINX/tmp/s;
    default_type application/json;
    upstream noop { server unix:$STACK_RUN/noop.sock; }
    upstream introspect { server unix:$STACK_RUN/introspect.sock; }
    upstream nocache { server unix:$STACK_RUN/nocache.sock; }
    upstream big { server unix:$STACK_RUN/big.sock; }
    upstream rl3 {
        server unix:$STACK_RUN/rl1.sock;
        server unix:$STACK_RUN/rl2.sock;
        server unix:$STACK_RUN/rl3.sock;
    }
    server {
        listen 127.0.0.1:$PORT;
        root $STACK_WWW;
        location = /_auth_nginx { internal; return 204; }
        location = /_auth_noop {
            internal;
            fastcgi_pass_request_body off;
            fastcgi_param REQUEST_METHOD GET;
            fastcgi_param PATH_INFO /auth;
            fastcgi_param HTTP_X_ORIGINAL_URI \$request_uri;
            fastcgi_pass noop;
        }
        location = /_auth_ix {
            internal;
            fastcgi_pass_request_body off;
            fastcgi_param REQUEST_METHOD GET;
            fastcgi_param SCRIPT_NAME "";
            fastcgi_param PATH_INFO /auth;
            fastcgi_param DOCUMENT_URI /auth;
            fastcgi_param REQUEST_URI /auth;
            fastcgi_param QUERY_STRING "";
            fastcgi_param CONTENT_LENGTH "";
            fastcgi_param HTTP_X_ORIGINAL_URI \$request_uri;
            fastcgi_param HTTP_X_ORIGINAL_METHOD \$request_method;
            fastcgi_param REMOTE_ADDR \$remote_addr;
            fastcgi_pass introspect;
        }
        location = /_auth_nocache {
            internal;
            fastcgi_pass_request_body off;
            fastcgi_param REQUEST_METHOD GET;
            fastcgi_param SCRIPT_NAME "";
            fastcgi_param PATH_INFO /auth;
            fastcgi_param DOCUMENT_URI /auth;
            fastcgi_param REQUEST_URI /auth;
            fastcgi_param QUERY_STRING "";
            fastcgi_param CONTENT_LENGTH "";
            fastcgi_param HTTP_X_ORIGINAL_URI \$request_uri;
            fastcgi_param HTTP_X_ORIGINAL_METHOD \$request_method;
            fastcgi_param REMOTE_ADDR \$remote_addr;
            fastcgi_pass nocache;
        }
        location = /_auth_big {
            internal;
            fastcgi_pass_request_body off;
            fastcgi_param REQUEST_METHOD GET;
            fastcgi_param SCRIPT_NAME "";
            fastcgi_param PATH_INFO /auth;
            fastcgi_param DOCUMENT_URI /auth;
            fastcgi_param REQUEST_URI /auth;
            fastcgi_param QUERY_STRING "";
            fastcgi_param CONTENT_LENGTH "";
            fastcgi_param HTTP_X_ORIGINAL_URI \$request_uri;
            fastcgi_param HTTP_X_ORIGINAL_METHOD \$request_method;
            fastcgi_param REMOTE_ADDR \$remote_addr;
            fastcgi_pass big;
        }
        location = /_auth_rl3 {
            internal;
            fastcgi_pass_request_body off;
            fastcgi_param REQUEST_METHOD GET;
            fastcgi_param SCRIPT_NAME "";
            fastcgi_param PATH_INFO /auth;
            fastcgi_param DOCUMENT_URI /auth;
            fastcgi_param REQUEST_URI /auth;
            fastcgi_param QUERY_STRING "";
            fastcgi_param CONTENT_LENGTH "";
            fastcgi_param HTTP_X_ORIGINAL_URI \$request_uri;
            fastcgi_param HTTP_X_ORIGINAL_METHOD \$request_method;
            fastcgi_param REMOTE_ADDR \$remote_addr;
            fastcgi_pass rl3;
        }
        location /a/ { auth_request /_auth_nginx; }
        location /b/ { auth_request /_auth_noop; }
        location /c/ { auth_request /_auth_ix; }
        location /d/ { auth_request /_auth_ix; }
        location /e/ { auth_request /_auth_ix; }
        location /f/ { auth_request /_auth_nocache; }
        location /g/ { auth_request /_auth_big; }
        location /h/ { auth_request /_auth_rl3; }
    }
}
NGX
nginx -t -q -p "$STACK_NGINX" -c "$STACK_NGINX/nginx.conf" -e "$STACK_LOGS/nginx-error.log"
nginx -p "$STACK_NGINX" -c "$STACK_NGINX/nginx.conf" -e "$STACK_LOGS/nginx-error.log"
# stack_install_traps' EXIT trap stops nginx, PostgreSQL and every pid in
# STACK_STARTED (JWKS server, no-op responder, both introspect copies).
URL=http://127.0.0.1:$PORT

RS=$(cat "$B/rs.token")
ES=$(cat "$B/es.token")
RL=$(cat "$B/rl.token")
# Every case must really be allowed before it is measured.
for p in "a/f.json:" "b/f.json:" "c/f.json:$RS" "d/f.json:$(head -n1 "$B/many.tokens")" "e/f.json:$ES" "f/f.json:$RS" "g/f.json:$RS" "h/f.json:$RL"; do
	# the big copy may still be loading its 100k clients
	for _ in $(seq 1 60); do
		code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${p#*:}" "$URL/${p%%:*}")
		[ "$code" = 200 ] && break
		sleep 0.5
	done
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${p#*:}" "$URL/${p%%:*}")
	[ "$code" = 200 ] || { echo "bench: /${p%%:*} answered $code, not 200" >&2; tail -n 20 "$STACK_LOGS/introspect.log" >&2; exit 1; }
done

cat >"$B/many.lua" <<LUA
local tokens = {}
for line in io.lines("$B/many.tokens") do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format("GET", wrk.path, { ["Authorization"] = "Bearer " .. tokens[i] })
end
LUA

declare -A RPS P50 P99 BAD MEAN
to_ms() { # wrk prints 1.23ms / 456.00us / 1.02s
	awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
		else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}
# One wrk run; appends "rps mean p50 p99 non2xx" to $B/res-<case>.
run() {
	local name=$1 round=$2; shift 2
	local out bad
	out=$(wrk -t2 -c"$CONNS" -d"$DUR" --latency "$@")
	echo "$out" >"$B/wrk-$name-$round.txt"
	bad=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' <<<"$out")
	echo "$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")" \
		"$(to_ms "$(awk '/^ +Latency/ { print $2; exit }' <<<"$out")")" \
		"$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")" \
		"$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")" "${bad:-0}" >>"$B/res-$name"
	[ -n "$(awk '/Socket errors/' <<<"$out")" ] && echo "  $name: $(grep 'Socket errors' <<<"$out")"
	return 0
}
# Median of column $2 over the rounds of case $1 (non-2xx: the sum).
med() {
	if [ "$2" = 5 ]; then awk '{ s += $5 } END { print s + 0 }' "$B/res-$1"; return; fi
	awk -v c="$2" '{ print $c }' "$B/res-$1" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# A short warm-up fills the caches (JWKS, verified tokens) like a live gateway.
wrk -t2 -c"$CONNS" -d2s -H "Authorization: Bearer $RS" "$URL/c/f.json" >/dev/null
wrk -t2 -c"$CONNS" -d2s -s "$B/many.lua" "$URL/d/f.json" >/dev/null
wrk -t2 -c"$CONNS" -d2s -H "Authorization: Bearer $ES" "$URL/e/f.json" >/dev/null
wrk -t2 -c"$CONNS" -d2s -H "Authorization: Bearer $RS" "$URL/g/f.json" >/dev/null
wrk -t2 -c"$CONNS" -d2s -H "Authorization: Bearer $RL" "$URL/h/f.json" >/dev/null

echo "bench: wrk -t2 -c$CONNS -d$DUR x $ROUNDS interleaved rounds (medians), $THREADS FastCGI threads, nginx 1 worker, $(nproc) cores"
rm -f "$B"/res-? "$B"/wrk-*.txt
for round in $(seq 1 "$ROUNDS"); do
	run a "$round" "$URL/a/f.json"
	run b "$round" "$URL/b/f.json"
	run c "$round" -H "Authorization: Bearer $RS" "$URL/c/f.json"
	run d "$round" -s "$B/many.lua" "$URL/d/f.json"
	run e "$round" -H "Authorization: Bearer $ES" "$URL/e/f.json"
	run f "$round" -s "$B/many.lua" "$URL/f/f.json"
	run g "$round" -H "Authorization: Bearer $RS" "$URL/g/f.json"
	run h "$round" -H "Authorization: Bearer $RL" "$URL/h/f.json"
done
for c in $CASES; do
	RPS[$c]=$(med "$c" 1); MEAN[$c]=$(med "$c" 2); P50[$c]=$(med "$c" 3)
	P99[$c]=$(med "$c" 4); BAD[$c]=$(med "$c" 5)
done

printf '\n%-44s %10s %9s %9s %9s %14s\n' case req/s p50_ms p99_ms non2xx "rps*mean/conns"
fail=0
for c in $CASES; do
	case $c in
	a) d="a) auth_request answered by nginx (204)" ;;
	b) d="b) auth_request -> no-op libfcgi" ;;
	c) d="c) introspect, one RS256 token" ;;
	d) d="d) introspect, $NTOKENS distinct RS256 tokens" ;;
	e) d="e) introspect, one ES256 token" ;;
	f) d="f) as d, token cache off (all verified)" ;;
	g) d="g) as c, ${BIG_CLIENTS} clients/${BIG_PRODUCTS} products" ;;
	h) d="h) rate-limited plan, 3 copies (round robin)" ;;
	esac
	little=$(awk -v r="${RPS[$c]}" -v m="${MEAN[$c]}" -v n="$CONNS" 'BEGIN { printf "%.2f", r * m / 1000 / n }')
	printf '%-44s %10s %9s %9s %9s %14s\n' "$d" "${RPS[$c]}" "${P50[$c]}" "${P99[$c]}" "${BAD[$c]}" "$little"
	[ "${BAD[$c]}" = 0 ] || { echo "bench: case $c had non-2xx answers" >&2; fail=1; }
	awk -v l="$little" 'BEGIN { exit !(l < 0.7 || l > 1.3) }' && {
		echo "bench: case $c: req/s x latency is far from the connection count (hung requests?)" >&2; fail=1; }
done
ratio() { awk -v x="${RPS[$1]}" -v y="${RPS[$2]}" 'BEGIN { printf "%.2f", x / y }'; }
echo
echo "c/b = $(ratio c b)   (target >= 0.9)"
echo "d/b = $(ratio d b)   (target >= 0.7)"
echo "e/b = $(ratio e b)"
echo "f/b = $(ratio f b)   (d for tokens not in the cache: every signature verified)"
echo "g/c = $(ratio g c)   (target >= 0.9: $BIG_CLIENTS clients with grants, $BIG_PRODUCTS products)"
echo "h/c = $(ratio h c)   (shared rate-limit counter, 3 copies)"
rss() { awk '/^VmRSS/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }
echo "memory (VmRSS): small copy $(rss "${SVC_PID[introspect]}"), big copy $(rss "${SVC_PID[big]}")"
echo "case h: $(psql "$CLEARANCE_DATABASE_URL" -X -A -t -c "SELECT coalesce(sum(used), 0) FROM gateway_usage WHERE kind = 'rate'") units leased from PostgreSQL for $(awk '/requests in/ { s += $1 } END { print s + 0 }' "$B"/wrk-h-*.txt) measured requests (+ warm-up)"
echo "p99 c/b = $(awk -v x="${P99[c]}" -v y="${P99[b]}" 'BEGIN { printf "%.2f", x / y }')   (target <= 1.5)"
echo "raw wrk output: $B/wrk-*.txt"
exit $fail
