#!/usr/bin/env bash
# The project's whole test suite, as run by CI (.ci/run) and by the README.
# Needs Go; the end-to-end part also uses Node/npm and gcc, and fetches what
# it needs from the Go module proxy and npm.
set -euo pipefail
cd "$(dirname "$0")"

echo "== gofmt / go vet"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi

echo "== scripts/check-deps.sh: the plugin's go.mod requires only what its packages import"
scripts/check-deps.sh

go vet ./...
go -C e2e vet ./...
go -C e2e vet -tags hydra ./...

echo "== npm ci in e2e/node (openid-client for the end-to-end tests)"
(cd e2e/node && npm ci --no-audit --no-fund --loglevel=error)

echo "== go test -race ./... (the plugin module, then the e2e module)"
# with openid-client installed, its end-to-end tests must run, not skip
E2E_REQUIRE_NODE=1 go test -race -count=1 ./...
E2E_REQUIRE_NODE=1 go -C e2e test -race -count=1 ./...

echo "== allocation budgets (without -race, which changes allocation counts)"
go test -count=1 -run 'Allocs|DoesNotAllocate' ./enrichers ./caddymodule

echo "== end-to-end: e2e/run.sh (zitadel/oidc op and Ory Hydra v2.3.0 behind Caddy)"
e2e/run.sh
