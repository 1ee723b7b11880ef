#!/usr/bin/env bash
# Runs every shell command of examples/saas/README.md, in order, so that the
# recipe cannot drift from what works: the fenced ```sh blocks, one command
# per logical line (a trailing backslash continues it). Nothing is faked but
# Auth0, which the recipe itself stands in for (auth0-stand-in.Caddyfile):
# the proxies are the built ./caddy, Redis is a real redis-server.
#
#   ./xcaddy.sh            runs when ./caddy is missing or older than the
#                          module's sources, or SAAS_REBUILD=1
#   [VAR=value ...] ./caddy run ...
#                          starts in the background, as in another terminal,
#                          with its config and data directories in a
#                          temporary directory; ready once it logs "serving
#                          initial configuration"
#   redis-server ...       starts in the background; ready once redis-cli
#                          PING on its --port answers
#   redis-cli ..., go run ./examples/saas/loader ...
#                          must exit 0
#   curl ...               must carry -sS --fail-with-body and exit 0; every
#                          "member":"value" in its trailing comment must be in
#                          what it prints. The README says a change in Redis
#                          reaches every proxy within a second, so a curl is
#                          tried again for up to 2 seconds until it does.
#
# Any other command fails the run: teach this script what it means first.
# The recipe listens on fixed ports (8080-8083, 2019-2022, 9000, 6379). When
# `unshare -n` (or -rn) works, everything runs in a private network
# namespace; otherwise those ports must be free. Every process started is
# stopped on exit.
#
# Usage: examples/saas/run.sh
#   SAAS_REBUILD=1  run ./xcaddy.sh even when ./caddy looks current
#   SAAS_NETNS=0    use the machine's network even where unshare works
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

log() { echo "saas-recipe: $*" >&2; }
die() { log "$*"; exit 1; }

# --- the second half: the commands, possibly in a network namespace --------
if [[ "${1:-}" == --serve ]]; then
  state="$2"
  if [[ "${SAAS_NETNS:-}" == 1 ]]; then
    ip link set lo up
  fi
  pids=()
  cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    done
    if [[ $rc -ne 0 ]]; then
      for f in "$state"/bg-*.out; do
        [[ -e "$f" ]] || continue
        log "--- the last lines of $(head -n 1 "$f.cmd")"
        tail -n 15 "$f" >&2
      done
    fi
    exit "$rc"
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  if [[ "${SAAS_NETNS:-}" != 1 ]]; then
    for port in 8080 8081 8082 8083 2019 2020 2021 2022 9000 6379; do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "port $port is in use; the recipe needs it (or run where \`unshare -n\` works)"
      fi
    done
  fi

  # background starts cmd as in another terminal; its output goes to the
  # file $out, its process id is $pid
  background() {
    local cmd="$1"
    out="$state/bg-${#pids[@]}.out"
    echo "$cmd" >"$out.cmd"
    XDG_CONFIG_HOME="$state/xdg-config" XDG_DATA_HOME="$state/xdg-data" \
      bash -c "exec env $cmd" </dev/null >"$out" 2>&1 &
    pid=$!
    pids+=("$pid")
  }

  curls=0
  while IFS=$'\t' read -r cmd comment; do
    case "$cmd" in
      *"./caddy run"*)
        log "\$ $cmd   (in the background)"
        background "$cmd"
        deadline=$(( $(date +%s) + 30 ))
        until grep -q 'serving initial configuration' "$out"; do
          kill -0 "$pid" 2>/dev/null || die "it exited: $cmd"
          (( $(date +%s) < deadline )) || die "not serving after 30 s: $cmd"
          sleep 0.1
        done
        ;;
      redis-server\ *)
        log "\$ $cmd   (in the background)"
        port="$(sed -n 's/.*--port \([0-9]\+\).*/\1/p' <<<"$cmd")"
        [[ -n "$port" ]] || die "redis-server without --port: $cmd"
        background "$cmd"
        deadline=$(( $(date +%s) + 30 ))
        until [[ "$(redis-cli -p "$port" PING 2>/dev/null)" == PONG ]]; do
          kill -0 "$pid" 2>/dev/null || die "it exited: $cmd"
          (( $(date +%s) < deadline )) || die "not answering after 30 s: $cmd"
          sleep 0.1
        done
        ;;
      redis-cli\ * | "go run ./examples/saas/loader "*)
        log "\$ $cmd"
        bash -c "$cmd" </dev/null || die "exit status $?: $cmd"
        ;;
      curl\ *)
        [[ "$cmd" == *" -sS --fail-with-body "* ]] || die "curl without -sS --fail-with-body (a failure would print nothing): $cmd"
        want=()
        while IFS= read -r m; do want+=("$m"); done < <(grep -o '"[^"]*":"[^"]*"' <<<"$comment" || true)
        (( ${#want[@]} > 0 )) || die "curl without the members it prints in its comment: $cmd"
        log "\$ $cmd"
        deadline=$(( $(date +%s) + 2 ))
        while :; do
          rc=0
          out="$(bash -c "$cmd" </dev/null)" || rc=$?
          missing=""
          if [[ $rc -eq 0 ]]; then
            for m in "${want[@]}"; do
              [[ "$out" == *"$m"* ]] || { missing="$m"; break; }
            done
          fi
          if [[ $rc -eq 0 && -z "$missing" ]] || (( $(date +%s) >= deadline )); then break; fi
          sleep 0.1
        done
        echo "$out"
        [[ $rc -eq 0 ]] || die "exit status $rc: $cmd"
        [[ -z "$missing" ]] || die "no $missing in the response to: $cmd"
        grep -q '"access_token":' <<<"$out" || die "no access_token in the response to: $cmd"
        curls=$((curls + 1))
        ;;
      *)
        die "unknown command (teach examples/saas/run.sh what it means): $cmd"
        ;;
    esac
  done <"$state/serve"
  (( curls > 0 )) || die "no curl command in examples/saas/README.md"
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || die "a background process exited early"
  done
  log "ok: $curls curl command(s) against the recipe"
  exit 0
fi

# --- the first half: extract the commands, build ./caddy ---------------------
state="$(mktemp -d "${TMPDIR:-/tmp}/saas-recipe.XXXXXX")"
trap 'rm -rf "$state"' EXIT

# each logical line: the command, a tab, its trailing comment (if any)
awk '
  /^```sh[[:space:]]*$/ { code = 1; next }
  code && /^```/ { code = 0; if (cmd != "") print cmd; cmd = ""; next }
  code {
    line = $0
    cont = sub(/[[:space:]]*\\[[:space:]]*$/, "", line)
    sub(/^[[:space:]]+/, "", line)
    cmd = (cmd == "" ? line : cmd " " line)
    if (!cont) { if (cmd != "") print cmd; cmd = "" }
  }
' examples/saas/README.md | awk '{
    i = index($0, " #")
    if (i > 0) { c = substr($0, i + 2); $0 = substr($0, 1, i - 1) } else c = ""
    sub(/[[:space:]]+$/, "")
    if ($0 != "") print $0 "\t" c
  }' >"$state/commands"

[[ -s "$state/commands" ]] || die "no commands found in examples/saas/README.md"

: >"$state/serve"
while IFS=$'\t' read -r cmd comment; do
  if [[ "$cmd" == ./xcaddy.sh ]]; then
    stale="$(caddy_stale)"
    if [[ -z "$stale" && "${SAAS_REBUILD:-0}" == 1 ]]; then
      stale="SAAS_REBUILD=1"
    fi
    if [[ -n "$stale" ]]; then
      log "\$ ./xcaddy.sh   (./caddy: $stale)"
      ./xcaddy.sh >&2
    else
      log "./xcaddy.sh: ./caddy is current, not rebuilt"
    fi
  else
    printf '%s\t%s\n' "$cmd" "$comment" >>"$state/serve"
  fi
done <"$state/commands"

command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install redis-server)"
command -v redis-cli >/dev/null || die "redis-cli is not installed (apt-get install redis-tools)"

serve_isolated SAAS_NETNS "$0" --serve "$state"
