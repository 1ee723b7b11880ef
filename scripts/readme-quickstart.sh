#!/usr/bin/env bash
# Runs every shell command of README.md's "Quick start" section, so the README
# cannot drift from what works: the fenced ```sh blocks under that heading,
# up to the next "## " heading, one command per logical line (a trailing
# backslash continues it; `a && b` is two commands).
#
#   ./xcaddy.sh      runs when ./caddy is missing or older than the module's
#                    sources (the rule e2e/run.sh uses), or QUICKSTART_REBUILD=1
#   ./caddy run ...  starts in the background, as in a second terminal, with
#                    its config and data directories in a temporary directory
#   curl ...         must carry -sS --fail-with-body. With the demo's secret
#                    (-u <client>:demo-secret) it must exit 0 and print a
#                    token response with access_token, tenant_id, api-uri,
#                    region and plan, and limits for eu-client (the demo's
#                    EU tenant) only; with any other secret it must exit 22
#                    (curl's status for an HTTP error) and print the stand-in
#                    IdP's error exactly as the IdP sent it
#
# The demo must leave nothing in Caddy's config folder (persist_config off):
# no autosave.json after the run.
#
# Any other command fails the run: teach this script what it means first.
# The demo listens on fixed ports (8080, 8081, admin 2019). When `unshare -n`
# (or -rn) works, the demo and the curl commands run in a private network
# namespace, so nothing else on the machine can clash with them; otherwise
# those ports must be free. Every process started is stopped on exit.
#
# Usage: scripts/readme-quickstart.sh
#   QUICKSTART_REBUILD=1  run ./xcaddy.sh even when ./caddy looks current
#   QUICKSTART_NETNS=0    use the machine's network even where unshare works
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

log() { echo "readme-quickstart: $*" >&2; }
die() { log "$*"; exit 1; }

# --- the second half: demo and curl commands, possibly in a network namespace ---
if [[ "${1:-}" == --serve ]]; then
  state="$2"
  if [[ "${QUICKSTART_NETNS:-}" == 1 ]]; then
    # a fresh network namespace has only a loopback interface, down
    ip link set lo up
  fi
  caddy_pid=""
  cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$caddy_pid" ]] && kill -0 "$caddy_pid" 2>/dev/null; then
      kill -TERM "$caddy_pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$caddy_pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$caddy_pid" 2>/dev/null || true
      wait "$caddy_pid" 2>/dev/null || true
    fi
    exit "$rc"
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  if [[ "${QUICKSTART_NETNS:-}" != 1 ]]; then
    for port in 8080 8081 2019; do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "port $port is in use; the demo needs it (or run where \`unshare -n\` works)"
      fi
    done
  fi

  curls=0
  while IFS= read -r cmd; do
    case "$cmd" in
      "./caddy run"*)
        log "\$ $cmd   (in the background)"
        XDG_CONFIG_HOME="$state/xdg-config" XDG_DATA_HOME="$state/xdg-data" \
          bash -c "exec $cmd" </dev/null >"$state/caddy.out" 2>&1 &
        caddy_pid=$!
        deadline=$(( $(date +%s) + 30 ))
        until curl -s -o /dev/null --max-time 2 http://127.0.0.1:8080/ 2>/dev/null; do
          if ! kill -0 "$caddy_pid" 2>/dev/null || (( $(date +%s) >= deadline )); then
            tail -n 20 "$state/caddy.out" >&2
            die "the demo did not start: $cmd"
          fi
          sleep 0.1
        done
        ;;
      curl\ *)
        [[ -n "$caddy_pid" ]] || die "curl before ./caddy run: $cmd"
        [[ "$cmd" == *" -sS --fail-with-body "* ]] || die "curl without -sS --fail-with-body (a failure would print nothing): $cmd"
        log "\$ $cmd"
        rc=0
        out="$(bash -c "$cmd")" || rc=$?
        echo "$out"
        if [[ "$cmd" != *-u\ *:demo-secret\ * ]]; then
          # a wrong secret: the IdP's 401 passes through byte for byte
          [[ $rc -eq 22 ]] || die "exit status $rc, want 22 (an HTTP error): $cmd"
          [[ "$out" == '{"error":"access_denied","error_description":"Unauthorized"}' ]] ||
            die "the IdP's error did not pass through unchanged: $cmd"
          curls=$((curls + 1))
          continue
        fi
        [[ $rc -eq 0 ]] || die "exit status $rc: $cmd"
        want=(access_token tenant_id api-uri region plan)
        if [[ "$cmd" == *eu-client:* ]]; then
          want+=(limits)
        elif grep -q '"limits":' <<<"$out"; then
          die "\"limits\" in the response to $cmd: only the EU tenant's rule adds it"
        fi
        for member in "${want[@]}"; do
          grep -q "\"$member\":" <<<"$out" || die "no \"$member\" in the response to: $cmd"
        done
        curls=$((curls + 1))
        ;;
      *)
        die "unknown Quick start command (teach scripts/readme-quickstart.sh what it means): $cmd"
        ;;
    esac
  done <"$state/serve"
  [[ -n "$caddy_pid" ]] || die "no ./caddy run command in the Quick start"
  (( curls > 0 )) || die "no curl command in the Quick start"
  kill -0 "$caddy_pid" 2>/dev/null || die "the demo exited early"
  autosave=""
  if [[ -d "$state/xdg-config" ]]; then
    autosave="$(find "$state/xdg-config" -name autosave.json -print -quit)"
  fi
  [[ -z "$autosave" ]] || die "the demo left $autosave (persist_config off is missing from ./Caddyfile)"
  log "ok: $curls curl command(s) against the demo"
  exit 0
fi

# --- the first half: extract the commands, build ./caddy -------------------------
state="$(mktemp -d "${TMPDIR:-/tmp}/readme-quickstart.XXXXXX")"
trap 'rm -rf "$state"' EXIT

awk '
  /^## / { inside = ($0 == "## Quick start"); next }
  inside && /^```sh[[:space:]]*$/ { code = 1; next }
  inside && code && /^```/ { code = 0; if (cmd != "") print cmd; cmd = ""; next }
  inside && code {
    line = $0
    cont = sub(/[[:space:]]*\\[[:space:]]*$/, "", line)
    sub(/^[[:space:]]+/, "", line)
    cmd = (cmd == "" ? line : cmd " " line)
    if (!cont) { if (cmd != "") print cmd; cmd = "" }
  }
' README.md | sed -e 's/[[:space:]]\+#.*$//' -e 's/[[:space:]]*$//' | grep -v '^$' |
  awk '{ n = split($0, parts, / && /); for (i = 1; i <= n; i++) print parts[i] }' >"$state/commands"

[[ -s "$state/commands" ]] || die "no commands found under README.md's \"## Quick start\""

: >"$state/serve"
while IFS= read -r cmd; do
  if [[ "$cmd" == ./xcaddy.sh ]]; then
    stale="$(caddy_stale)"
    if [[ -z "$stale" && "${QUICKSTART_REBUILD:-0}" == 1 ]]; then
      stale="QUICKSTART_REBUILD=1"
    fi
    if [[ -n "$stale" ]]; then
      log "\$ ./xcaddy.sh   (./caddy: $stale)"
      ./xcaddy.sh >&2
    else
      log "./xcaddy.sh: ./caddy is current, not rebuilt"
    fi
  else
    echo "$cmd" >>"$state/serve"
  fi
done <"$state/commands"

serve_isolated QUICKSTART_NETNS "$0" --serve "$state"
