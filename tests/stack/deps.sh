#!/usr/bin/env bash
# Installs what the build and the test stack need, only when missing:
# Debian packages (apt-get runs only if a dpkg check fails) and the Node
# packages of tests/ (npm ci when node_modules is missing or stale).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

PKGS=(libfcgi-dev check libjansson-dev libcurl4-openssl-dev libpq-dev libssl-dev
	postgresql nginx spawn-fcgi pkg-config valgrind lighttpd curl docker-compose
	clang libclang-rt-14-dev clang-format
	chromium  # chromium: the portal's browser tests (playwright-core drives it)
	prometheus) # prometheus: promtool checks each service's /metrics exposition

missing=()
for p in "${PKGS[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	sudo=()
	[ "$(id -u)" = 0 ] || sudo=(sudo)
	export DEBIAN_FRONTEND=noninteractive
	timeout 600 "${sudo[@]}" apt-get update -qq
	timeout 900 "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v node >/dev/null || { echo "deps: node (>= 20) is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "deps: npm is required" >&2; exit 1; }
if [ ! -f tests/node_modules/.package-lock.json ] || [ tests/package-lock.json -nt tests/node_modules/.package-lock.json ]; then
	echo "deps: npm ci in tests/"
	timeout 600 npm ci --prefix tests --no-audit --no-fund
	touch tests/node_modules/.package-lock.json
fi
