#!/usr/bin/env bash
# The project's test suite. Without arguments the whole suite, as run by CI
# (.ci/run) and by the README; --quick for the unit tests only.
# Needs Go; the end-to-end part also uses Node/npm and gcc, and fetches what
# it needs from the Go module proxy and npm.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
	cat <<'EOF'
Usage: ./test.sh [--quick | --help]

  (no argument)  the whole suite, as CI runs it:
                 gofmt; the plugin's go.mod requires only what it imports
                 (scripts/check-deps.sh); go vet of the plugin and of the e2e
                 module (also with -tags hydra); npm ci in e2e/node;
                 go test -race of both modules; the allocation budgets;
                 the instruction budgets (bench/budget.sh, valgrind);
                 e2e/run.sh (Ory Hydra behind a ./caddy built with xcaddy);
                 e2e/fleet.sh (three ./caddy replicas sharing a redis-server);
                 the commands of README.md's Quick start
                 (scripts/readme-quickstart.sh) and of examples/saas/README.md
                 (examples/saas/run.sh).
  --quick        gofmt, go vet and go test of the plugin module only: no
                 -race, no e2e module, no Node, no Hydra, no xcaddy build.
  --help         this text.

Both install redis-server and redis-tools (apt-get, with sudo when not
root) when redis-server or redis-cli is missing: the redis source's tests
run real servers and a real Redis Cluster. Without an argument it also
installs python3-requests-oauthlib and python3-authlib when no python3
imports them: e2e/clients_test.go runs those client libraries.

Every phase prints a line with the time when it starts and how long it
took. The first run on a machine downloads the Go modules and compiles
Caddy and its dependencies (several times: plain, with -race, the e2e
module, ./caddy, Hydra), which takes minutes per phase; later runs reuse
the Go build cache.
EOF
}

quick=0
case "${1:-}" in
"") ;;
--quick) quick=1 ;;
-h | --help)
	usage
	exit 0
	;;
*)
	usage >&2
	exit 2
	;;
esac
[[ $# -le 1 ]] || {
	usage >&2
	exit 2
}

export npm_config_update_notifier=false

t_suite=$(date +%s)
phase_name=""
phase_t0=0

# phase NAME: ends the running phase, reporting its time, and starts NAME.
phase() {
	end_phase
	phase_name="$1"
	phase_t0=$(date +%s)
	echo "== [$(date +%H:%M:%S)] $phase_name"
}
end_phase() {
	if [[ -n "$phase_name" ]]; then
		echo "   ($phase_name: $(($(date +%s) - phase_t0))s)"
	fi
	phase_name=""
}
on_exit() {
	local rc=$?
	if [[ $rc -ne 0 && -n "$phase_name" ]]; then
		echo "test.sh: FAILED in \"$phase_name\" after $(($(date +%s) - phase_t0))s (exit $rc)" >&2
	fi
}
trap on_exit EXIT

# slow WHY: says that the coming phase takes minutes, and why.
slow() { echo "   first run on this machine: $*; this takes minutes, and prints nothing until it is done"; }

# stale DIR [GO FLAGS] PKG...: whether the Go build cache lacks a build of
# the packages (with these flags) of the module in DIR. go list computes this
# without compiling anything.
stale() {
	local dir="$1"
	shift
	[[ "$(go -C "$dir" list -f '{{.Stale}}' "$@" 2>/dev/null | sort -u | tail -n1)" != false ]]
}

caddy_version="$(awk '$1 == "github.com/caddyserver/caddy/v2" { print $2 }' go.mod)"
caddy_pkgs=(github.com/caddyserver/caddy/v2/caddytest github.com/caddyserver/caddy/v2/modules/caddyhttp)

phase "Go modules: Caddy $caddy_version and its dependencies in $(go env GOMODCACHE)"
if [[ ! -d "$(go env GOMODCACHE)/github.com/caddyserver/caddy/v2@$caddy_version" ]]; then
	slow "downloading Caddy's dependency tree from the Go module proxy (about 1 GB)"
	go mod download
	[[ $quick == 1 ]] || go -C e2e mod download
else
	echo "   present"
fi

# apt_install WHAT PACKAGE...: installs the Debian packages (with sudo when
# not root), or exits saying how to install WHAT.
apt_install() {
	local what="$1"
	shift
	local sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		if ! command -v sudo >/dev/null; then
			echo "test.sh: $what missing and this user cannot install it: run apt-get install -y $* as root" >&2
			exit 1
		fi
		sudo=(sudo)
	fi
	if ! command -v apt-get >/dev/null; then
		echo "test.sh: $what missing and there is no apt-get: install $* (or their equivalents) with this system's package manager" >&2
		exit 1
	fi
	echo "   missing: apt-get install -y $*"
	if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y "$@"; then
		"${sudo[@]}" apt-get update
		DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y "$@"
	fi
}

phase "redis-server and redis-cli (the redis source's tests run real servers and a real cluster)"
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
	echo "   present: $(redis-server --version | cut -d' ' -f1-3)"
else
	apt_install "redis-server or redis-cli is" redis-server redis-tools
	# The package may start a system service on 6379; the tests start their own servers.
fi

# python_clients: a Python 3 that imports both Python client libraries of
# e2e/clients_test.go, found where that test looks (python3 on the PATH,
# then /usr/bin/python3, where the Debian packages install).
python_clients() {
	local py
	for py in python3 /usr/bin/python3; do
		if command -v "$py" >/dev/null && "$py" -c 'import requests_oauthlib, authlib' 2>/dev/null; then
			command -v "$py"
			return 0
		fi
	done
	return 1
}

if [[ $quick == 0 ]]; then
	phase "requests-oauthlib and Authlib for Python 3 (client libraries of e2e/clients_test.go)"
	if py=$(python_clients); then
		echo "   present: $py"
	else
		apt_install "Python 3 with requests-oauthlib and Authlib is" python3-requests-oauthlib python3-authlib
		python_clients >/dev/null || {
			echo "test.sh: after installing python3-requests-oauthlib and python3-authlib, neither python3 nor /usr/bin/python3 imports requests_oauthlib and authlib" >&2
			exit 1
		}
	fi
fi

phase "bench/floor patches apply to this tree (bench/floor.sh builds with them)"
for p in bench/floor/*.patch; do
	git apply --check "$p"
done

phase "gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:"
	echo "$unformatted"
	exit 1
fi

if [[ $quick == 0 ]]; then
	phase "scripts/check-deps.sh: the plugin's go.mod requires only what its packages import"
	scripts/check-deps.sh
fi

phase "go vet ./... (the plugin module)"
if stale . "${caddy_pkgs[@]}"; then
	slow "compiling Caddy and its dependencies into the Go build cache ($(go env GOCACHE))"
fi
go vet ./...

if [[ $quick == 1 ]]; then
	phase "go test ./... (the plugin module; no -race, no e2e: ./test.sh runs those)"
	go test -count=1 ./...
	end_phase
	echo "test.sh --quick: ok in $(($(date +%s) - t_suite))s"
	exit 0
fi

phase "go vet ./... with no tag, -tags hydra and -tags fleet (the e2e module, e2e/go.mod)"
if stale e2e github.com/zitadel/oidc/v3/pkg/op golang.org/x/oauth2; then
	slow "compiling the e2e module's dependencies (zitadel/oidc, go-jose, x/oauth2)"
fi
go -C e2e vet ./...
go -C e2e vet -tags hydra ./...
go -C e2e vet -tags fleet ./...

phase "npm ci in e2e/node (openid-client and the client libraries of e2e/clients_test.go)"
(cd e2e/node && npm ci --no-audit --no-fund --no-update-notifier --loglevel=error)

phase "go test -race ./... (the plugin module)"
if stale . -race "${caddy_pkgs[@]}"; then
	slow "compiling Caddy and its dependencies again, with the race detector"
fi
# with openid-client installed, its end-to-end tests must run, not skip
E2E_REQUIRE_NODE=1 go test -race -count=1 ./...

phase "go test -race ./... (the e2e module: zitadel/oidc op and x/oauth2 against in-process Caddy)"
if stale e2e -race github.com/zitadel/oidc/v3/pkg/op golang.org/x/oauth2; then
	slow "compiling the e2e module's dependencies with the race detector"
fi
# with the Node and Python client libraries installed, their tests must run, not skip
E2E_REQUIRE_NODE=1 E2E_REQUIRE_PYTHON=1 go -C e2e test -race -count=1 ./...

phase "allocation and memory budgets (without -race, which changes what is allocated)"
go test -count=1 -run 'Allocs|DoesNotAllocate|TestMemoryPerRequestIsBounded' ./enrichers ./caddymodule

phase "instruction budgets of the token path (bench/budget.sh: valgrind counts against bench/budgets)"
command -v valgrind >/dev/null || apt_install "valgrind is" valgrind
bench/budget.sh

phase "end-to-end: e2e/run.sh (zitadel/oidc op and Ory Hydra v2.3.0 behind Caddy)"
if [[ ! -x ./caddy ]]; then
	slow "building ./caddy with xcaddy, then Ory Hydra (see e2e/README.md)"
fi
e2e/run.sh

phase "fleet: e2e/fleet.sh (one redis-server, three ./caddy replicas, one provider, under load)"
e2e/fleet.sh

phase "README Quick start against the demo (scripts/readme-quickstart.sh)"
scripts/readme-quickstart.sh

phase "the SaaS recipe: examples/saas/README.md against redis-server and ./caddy (examples/saas/run.sh)"
examples/saas/run.sh
end_phase
echo "test.sh: ok in $(($(date +%s) - t_suite))s"
