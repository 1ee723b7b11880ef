#!/usr/bin/env bash
# The fleet test (e2e/fleet_test.go, build tag fleet): one redis-server, three
# replicas of the ./caddy binary loading e2e/fleet.Caddyfile, one identity
# provider, and a concurrent token load across the three while tenants change
# in Redis, Redis stops and comes back, and a new config is pushed to every
# replica through its admin API. Prints the counts; fails on any failed,
# held-up or cross-tenant response, and when a test is skipped. Then
# e2e/tablefifo_test.go (TestTableFIFO): a ./caddy whose table file is
# replaced by a FIFO still answers POST /load and stops on SIGTERM.
#
# Builds ./caddy first when it is stale (e2e/caddy.sh). Needs redis-server
# (./test.sh installs Debian's package when it is missing).
#
# Usage: e2e/fleet.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v redis-server >/dev/null || {
  echo "fleet: redis-server is not installed: apt-get install redis-server (./test.sh does it)" >&2
  exit 1
}
e2e/caddy.sh

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
rc=0
# No -race: the replicas are separate processes, and the race detector
# would slow the load generator that measures them.
E2E_CADDY_BIN="$PWD/caddy" go -C e2e test -tags fleet -count=1 -run '^(TestFleet|TestTableFIFO)$' -v -timeout 10m . >"$out" 2>&1 || rc=$?
grep -E 'fleet: |\[ *[0-9.]+s\] |--- (PASS|FAIL|SKIP)|(fleet|tablefifo)_test\.go:[0-9]+: ' "$out" | sed -E 's/^ +//' || true
if grep -q -- '--- SKIP' "$out"; then
  echo "fleet: the test skipped; it must run" >&2
  exit 1
fi
if [[ $rc -ne 0 ]] || ! grep -q -- '--- PASS: TestFleet ' "$out" || ! grep -q -- '--- PASS: TestTableFIFO ' "$out"; then
  tail -n 60 "$out" >&2
  echo "fleet: FAILED" >&2
  exit 1
fi
