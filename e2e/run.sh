#!/usr/bin/env bash
# End-to-end suite against real OAuth 2.0 / OpenID providers:
#
#   1. zitadel/oidc v3 `op` (e2e/internal/testidp, in-process) behind the
#      in-process Caddy of caddytest: e2e/zitadel_test.go;
#   2. Ory Hydra v2.3.0 behind the ./caddy binary built with xcaddy, Hydra's
#      issuer being that Caddy's address: e2e/hydra_test.go (TestHydra*);
#
# both read with golang.org/x/oauth2 and with openid-client 6.x (Node,
# e2e/node/client.mjs); the first also with the client libraries of
# docs/clients.md (e2e/clients_test.go: Node packages of e2e/node, and
# requests-oauthlib and Authlib for python3, which test.sh installs). Every
# test must pass: a skipped test fails the run.
# The tests are the package e2e of the e2e module (e2e/go.mod), which keeps
# their dependencies out of the plugin's go.mod.
#
# Builds ./caddy (./xcaddy.sh) when it is missing or older than the module's
# sources, Hydra (e2e/hydra/build.sh) when missing; both are cached by the Go
# build cache. Installs e2e/node with `npm ci` when needed. Every process it
# starts is stopped on exit, also on failure or Ctrl-C.
#
# Usage: e2e/run.sh
#   E2E_KEEP=1     keep the state directory (logs) even on success
#   E2E_REBUILD=1  rebuild ./caddy even when it looks current
#   E2E_NPM_CI=1   run npm ci even when node_modules looks current
set -euo pipefail
export npm_config_update_notifier=false

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source e2e/hydra/lib.sh

t_start=$(date +%s)
state=""
caddy_pid=""
test_pid=""
failures=0

log() { echo "e2e: $*" >&2; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$test_pid" ]]; then
    kill -TERM -- "-$test_pid" 2>/dev/null || true
    wait "$test_pid" 2>/dev/null || true
  fi
  if [[ -n "$caddy_pid" ]] && kill -0 "$caddy_pid" 2>/dev/null; then
    kill -TERM "$caddy_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$caddy_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$caddy_pid" 2>/dev/null || true
    wait "$caddy_pid" 2>/dev/null || true
  fi
  hydra_stop
  if [[ -n "$state" ]]; then
    if [[ $rc -eq 0 && "${E2E_KEEP:-0}" != 1 ]]; then
      rm -rf "$state"
    else
      log "logs kept in $state"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- builds ---------------------------------------------------------------------
t0=$(date +%s)
e2e/caddy.sh
t_caddy=$(( $(date +%s) - t0 ))

t0=$(date +%s)
HYDRA_BIN="$(e2e/hydra/build.sh)"
export HYDRA_BIN
t_hydra=$(( $(date +%s) - t0 ))

t0=$(date +%s)
lock=e2e/node/package-lock.json
installed=e2e/node/node_modules/.package-lock.json
if [[ "${E2E_NPM_CI:-0}" == 1 || ! -f "$installed" || "$lock" -nt "$installed" ]]; then
  log "npm ci in e2e/node"
  (cd e2e/node && npm ci --no-audit --no-fund --no-update-notifier --loglevel=error >&2)
fi
t_npm=$(( $(date +%s) - t0 ))

# --- Hydra with the built Caddy as its issuer --------------------------------------
t0=$(date +%s)
mkdir -p e2e/.run
state="$(mktemp -d "$root/e2e/.run/e2e.XXXXXX")"
caddy_port="$(e2e_free_port)"
hydra_unset_env
HYDRA_STATE_DIR="$state/hydra" HYDRA_ISSUER="http://127.0.0.1:$caddy_port/" hydra_start
hydra_create_default_clients
source "$HYDRA_STATE_DIR/clients.env"

# Caddy keeps its data and (not) its autosave under the state directory.
E2E_CADDY_PORT="$caddy_port" E2E_STATE_DIR="$state" HYDRA_PUBLIC_URL="$HYDRA_PUBLIC_URL" \
  XDG_CONFIG_HOME="$state/xdg-config" XDG_DATA_HOME="$state/xdg-data" \
  ./caddy run --adapter caddyfile --config e2e/hydra.Caddyfile </dev/null >"$state/caddy.out" 2>&1 &
caddy_pid=$!
deadline=$(( $(date +%s) + 30 ))
until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$caddy_port/.well-known/openid-configuration" 2>/dev/null; do
  if ! kill -0 "$caddy_pid" 2>/dev/null || (( $(date +%s) >= deadline )); then
    log "caddy did not start:"; tail -n 20 "$state/caddy.out" >&2
    exit 1
  fi
  sleep 0.1
done
t_start_procs=$(( $(date +%s) - t0 ))
log "hydra $HYDRA_PUBLIC_URL behind ./caddy http://127.0.0.1:$caddy_port (pid $caddy_pid)"

# --- the Go suite: zitadel (in-process) and Hydra (through ./caddy) ----------------
t0=$(date +%s)
out="$state/go-test.out"
# In the background, in its own process group, so that a signal to this
# script stops it (and the node clients it runs) at once.
E2E_HYDRA_ISSUER="$HYDRA_ISSUER" E2E_HYDRA_PUBLIC_URL="$HYDRA_PUBLIC_URL" \
  E2E_HYDRA_REDIRECT_URI="$AC_REFRESH_REDIRECT_URI" E2E_REQUIRE_NODE=1 E2E_REQUIRE_PYTHON=1 \
  setsid nice -n 10 go -C e2e test -race -count=1 -tags hydra -v . >"$out" 2>&1 </dev/null &
test_pid=$!
go_rc=0
wait "$test_pid" || go_rc=$?
test_pid=""
t_tests=$(( $(date +%s) - t0 ))

results="$(grep -E '^\s*--- (PASS|FAIL|SKIP): ' "$out" || true)"
passed=$(grep -c -- '--- PASS' <<<"$results" || true)
failed=$(grep -c -- '--- FAIL' <<<"$results" || true)
skipped=$(grep -c -- '--- SKIP' <<<"$results" || true)
sed -E 's/^(\s*)--- /\1/' <<<"$results"
if [[ $go_rc -ne 0 || $failed -ne 0 ]]; then
  grep -vE '^\{"level"' "$out" | grep -E '_test\.go:[0-9]+|^(FAIL|panic)' | head -n 40 >&2 || true
  failures=$((failures + 1))
fi
if [[ $skipped -ne 0 ]]; then
  log "skipped tests count as failures here"
  failures=$((failures + 1))
fi
for t in TestZitadelClientCredentials TestZitadelRefresh TestZitadelErrorsPassThrough TestZitadelDiscoveryPassesThrough \
  TestZitadelOpenIDClient TestHydraDiscoveryPassesThrough TestHydraClientCredentials TestHydraErrorsPassThrough \
  TestHydraRefresh TestHydraOpenIDClient TestOAuth2ClientLibraryReadsExtras; do
  if ! grep -q -- "^--- PASS: $t " <<<"$results"; then
    log "$t did not pass"
    failures=$((failures + 1))
  fi
done

# The built Caddy did the enriching, and auto recognised Hydra's tokens.
enriched=$(grep -c '"msg":"token response enriched"' "$state/caddy.log" || true)
as_hydra=$(grep '"msg":"token response enriched"' "$state/caddy.log" | grep -c '"preset":"hydra"' || true)
if (( enriched < 10 || as_hydra < 8 )); then
  log "caddy log: $enriched enriched responses, $as_hydra with preset hydra (want >= 10 and >= 8)"
  failures=$((failures + 1))
else
  passed=$((passed + 1))
  echo "caddy log: $enriched token responses enriched by ./caddy, $as_hydra as preset hydra"
fi

# --- stop everything and check --------------------------------------------------------
mapfile -t hpids <"$HYDRA_STATE_DIR/pids"
kill -TERM "$caddy_pid" 2>/dev/null || true
wait "$caddy_pid" 2>/dev/null || true
hydra_stop
left=""
for p in "$caddy_pid" "${hpids[@]}"; do
  if kill -0 "$p" 2>/dev/null; then left+=" $p"; fi
done
caddy_pid=""
if [[ -n "$left" ]]; then
  log "still running:$left"
  failures=$((failures + 1))
fi

total=$(( $(date +%s) - t_start ))
echo "e2e: timings: caddy build ${t_caddy}s, hydra build ${t_hydra}s, npm ${t_npm}s, start ${t_start_procs}s, tests ${t_tests}s, total ${total}s"
echo "e2e: $passed passed, $((failed + failures)) failed, $skipped skipped"
[[ $failures -eq 0 && $failed -eq 0 ]]
