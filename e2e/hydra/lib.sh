# shellcheck shell=bash
# Functions for running Ory Hydra v2.3.0 in e2e tests. Source it:
#
#   source e2e/hydra/lib.sh
#   trap hydra_stop EXIT
#   HYDRA_ISSUER=http://127.0.0.1:$caddy_port/ hydra_start   # all inputs optional
#   hydra_create_default_clients
#   ... use $HYDRA_PUBLIC_URL / $HYDRA_ADMIN_URL / $HYDRA_ISSUER ...
#
# hydra_start inputs (env, all optional):
#   HYDRA_BIN            hydra binary (default e2e/.bin/hydra; built via build.sh if missing)
#   HYDRA_STATE_DIR      where config, logs, pids and hydra.env go (default: new dir under e2e/.run/)
#   HYDRA_PUBLIC_PORT    public port on 127.0.0.1 (default: a free port)
#   HYDRA_ADMIN_PORT     admin port on 127.0.0.1 (default: a free port)
#   HYDRA_ISSUER         urls.self.issuer (default http://127.0.0.1:$HYDRA_PUBLIC_PORT/).
#                        Use a trailing slash: openid-client compares it with the
#                        discovered issuer byte for byte, and new URL() adds one.
#   HYDRA_SYSTEM_SECRET  secrets.system (default: random)
#   HYDRA_LOG_LEVEL      default info
#   HYDRA_READY_TIMEOUT  seconds to wait for /health/ready (default 60)
# Outputs: exported variables below, and $HYDRA_STATE_DIR/hydra.env (KEY=VALUE lines,
# sourceable by bash and trivially parseable from Go) plus $HYDRA_STATE_DIR/pids.
#   HYDRA_STATE_DIR HYDRA_ISSUER HYDRA_PUBLIC_PORT HYDRA_PUBLIC_URL HYDRA_ADMIN_PORT
#   HYDRA_ADMIN_URL HYDRA_HOOK_PORT HYDRA_HOOK_URL HYDRA_PID HYDRA_HOOK_PID
#   HYDRA_LOG HYDRA_HOOK_LOG
#
# Everything is bound to 127.0.0.1 only. All waits are bounded.

HYDRA_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
E2E_DIR="$(dirname "$HYDRA_LIB_DIR")"

_hydra_log() { echo "hydra-e2e: $*" >&2; }

# e2e_free_port: prints a currently free TCP port on 127.0.0.1 (the kernel picks
# it; there is a small race until the caller binds it, hydra_start retries).
e2e_free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# json_get FIELD [FIELD...]: reads JSON on stdin, prints the value at the path
# (objects/arrays as JSON, strings raw). Example: json_get access_token
json_get() {
  node -e '
    let d = "";
    process.stdin.on("data", c => d += c).on("end", () => {
      let v = JSON.parse(d);
      for (const k of process.argv.slice(1)) v = v == null ? undefined : v[k];
      if (v === undefined) process.exit(3);
      console.log(typeof v === "string" ? v : JSON.stringify(v));
    });' "$@"
}

# jwt_payload TOKEN: prints the decoded (unverified) JWT payload as pretty JSON.
jwt_payload() {
  node -e '
    const p = process.argv[1].split(".");
    if (p.length !== 3) { console.error("not a JWT"); process.exit(3); }
    console.log(JSON.stringify(JSON.parse(Buffer.from(p[1], "base64url").toString()), null, 2));' "$1"
}

_hydra_pid_alive() {
  local pid="$1" st
  st="$(ps -o stat= -p "$pid" 2>/dev/null || true)"
  [[ -n "$st" && "$st" != Z* ]]
}

# _hydra_wait_http URL TIMEOUT_S [PID]: polls until URL answers 200.
_hydra_wait_http() {
  local url="$1" timeout="$2" pid="${3:-}" deadline
  deadline=$(( $(date +%s) + timeout ))
  while (( $(date +%s) < deadline )); do
    if [[ -n "$pid" ]] && ! _hydra_pid_alive "$pid"; then
      return 2
    fi
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# _hydra_kill PID...: TERM, wait up to 10 s, then KILL.
_hydra_kill() {
  local pid deadline
  for pid in "$@"; do
    [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null || true
  done
  deadline=$(( $(date +%s) + 10 ))
  for pid in "$@"; do
    [[ -n "$pid" ]] || continue
    while _hydra_pid_alive "$pid" && (( $(date +%s) < deadline )); do
      sleep 0.1
    done
    if _hydra_pid_alive "$pid"; then
      _hydra_log "pid $pid did not exit after TERM, sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    # Reap if it is our child (no-op otherwise).
    wait "$pid" 2>/dev/null || true
  done
}

_hydra_render_config() {
  local out="$1"
  local -A vals=(
    [ISSUER]="$HYDRA_ISSUER"
    [PUBLIC_PORT]="$HYDRA_PUBLIC_PORT"
    [ADMIN_PORT]="$HYDRA_ADMIN_PORT"
    [HOOK_URL]="$HYDRA_HOOK_URL"
    [SYSTEM_SECRET]="$HYDRA_SYSTEM_SECRET"
    [LOG_LEVEL]="${HYDRA_LOG_LEVEL:-info}"
  )
  local content k
  content="$(<"$HYDRA_LIB_DIR/hydra.yml")"
  for k in "${!vals[@]}"; do
    content="${content//@@${k}@@/${vals[$k]}}"
  done
  if [[ "$content" == *@@* ]]; then
    _hydra_log "unrendered placeholder in config: $(grep -o '@@[A-Z_]*@@' <<<"$content" | head -1)"
    return 1
  fi
  printf '%s\n' "$content" >"$out"
}

_hydra_write_env() {
  local f="$HYDRA_STATE_DIR/hydra.env" k
  : >"$f.tmp"
  for k in HYDRA_STATE_DIR HYDRA_ISSUER HYDRA_PUBLIC_PORT HYDRA_PUBLIC_URL HYDRA_ADMIN_PORT \
    HYDRA_ADMIN_URL HYDRA_HOOK_PORT HYDRA_HOOK_URL HYDRA_PID HYDRA_HOOK_PID HYDRA_LOG HYDRA_HOOK_LOG; do
    printf '%s=%s\n' "$k" "${!k}" >>"$f.tmp"
  done
  mv -f "$f.tmp" "$f"
}

# hydra_start: starts the hook server and `hydra serve all --dev`, waits until
# both are ready. On a port clash (the free-port race) it retries with new ports.
hydra_start() {
  local fixed_public="${HYDRA_PUBLIC_PORT:-}" fixed_admin="${HYDRA_ADMIN_PORT:-}"
  local fixed_issuer="${HYDRA_ISSUER:-}" attempt rc log_offset

  HYDRA_BIN="${HYDRA_BIN:-$E2E_DIR/.bin/hydra}"
  if [[ ! -x "$HYDRA_BIN" ]]; then
    _hydra_log "no hydra binary at $HYDRA_BIN, building it"
    HYDRA_BIN="$(HYDRA_BIN="$HYDRA_BIN" "$HYDRA_LIB_DIR/build.sh")"
  fi
  if [[ -z "${HYDRA_STATE_DIR:-}" ]]; then
    mkdir -p "$E2E_DIR/.run"
    HYDRA_STATE_DIR="$(mktemp -d "$E2E_DIR/.run/hydra.XXXXXX")"
  fi
  mkdir -p "$HYDRA_STATE_DIR"
  HYDRA_STATE_DIR="$(cd "$HYDRA_STATE_DIR" && pwd)"
  HYDRA_SYSTEM_SECRET="${HYDRA_SYSTEM_SECRET:-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')}"
  HYDRA_LOG="$HYDRA_STATE_DIR/hydra.log"
  HYDRA_HOOK_LOG="$HYDRA_STATE_DIR/hook-server.log"
  : >>"$HYDRA_STATE_DIR/pids"

  for attempt in 1 2 3; do
    HYDRA_PUBLIC_PORT="${fixed_public:-$(e2e_free_port)}"
    HYDRA_ADMIN_PORT="${fixed_admin:-$(e2e_free_port)}"
    if [[ "$HYDRA_PUBLIC_PORT" == "$HYDRA_ADMIN_PORT" ]]; then
      HYDRA_ADMIN_PORT="$(e2e_free_port)"
    fi
    HYDRA_PUBLIC_URL="http://127.0.0.1:$HYDRA_PUBLIC_PORT"
    HYDRA_ADMIN_URL="http://127.0.0.1:$HYDRA_ADMIN_PORT"
    HYDRA_ISSUER="${fixed_issuer:-$HYDRA_PUBLIC_URL/}"

    # Hook server first: it binds port 0 itself and reports the port (no race).
    rm -f "$HYDRA_STATE_DIR/hook.port"
    HYDRA_ADMIN_URL="$HYDRA_ADMIN_URL" HOOK_PORT=0 HOOK_PORT_FILE="$HYDRA_STATE_DIR/hook.port" \
      HOOK_LOG_BODIES="${HOOK_LOG_BODIES:-1}" \
      node "$HYDRA_LIB_DIR/hook-server.mjs" </dev/null >>"$HYDRA_HOOK_LOG" 2>&1 &
    HYDRA_HOOK_PID=$!
    echo "$HYDRA_HOOK_PID" >>"$HYDRA_STATE_DIR/pids"
    local deadline=$(( $(date +%s) + 15 ))
    while [[ ! -s "$HYDRA_STATE_DIR/hook.port" ]]; do
      if ! _hydra_pid_alive "$HYDRA_HOOK_PID" || (( $(date +%s) >= deadline )); then
        _hydra_log "hook server failed to start; log:"; tail -n 20 "$HYDRA_HOOK_LOG" >&2
        _hydra_kill "$HYDRA_HOOK_PID"
        return 1
      fi
      sleep 0.1
    done
    HYDRA_HOOK_PORT="$(<"$HYDRA_STATE_DIR/hook.port")"
    HYDRA_HOOK_URL="http://127.0.0.1:$HYDRA_HOOK_PORT"

    _hydra_render_config "$HYDRA_STATE_DIR/hydra.yml" || { _hydra_kill "$HYDRA_HOOK_PID"; return 1; }
    echo "=== attempt $attempt $(date -Is) public=$HYDRA_PUBLIC_PORT admin=$HYDRA_ADMIN_PORT" >>"$HYDRA_LOG"
    log_offset=$(( $(stat -c %s "$HYDRA_LOG") + 1 ))
    # Telemetry off (the binary would otherwise try to reach the internet).
    SQA_OPT_OUT=true DISABLE_TELEMETRY=true \
      "$HYDRA_BIN" serve all --dev --sqa-opt-out -c "$HYDRA_STATE_DIR/hydra.yml" </dev/null >>"$HYDRA_LOG" 2>&1 &
    HYDRA_PID=$!
    echo "$HYDRA_PID" >>"$HYDRA_STATE_DIR/pids"
    _hydra_write_env

    rc=0
    _hydra_wait_http "$HYDRA_ADMIN_URL/health/ready" "${HYDRA_READY_TIMEOUT:-60}" "$HYDRA_PID" || rc=$?
    if (( rc == 0 )); then
      rc=0
      _hydra_wait_http "$HYDRA_PUBLIC_URL/health/ready" 10 "$HYDRA_PID" || rc=$?
    fi
    if (( rc == 0 )); then
      export HYDRA_BIN HYDRA_STATE_DIR HYDRA_ISSUER HYDRA_PUBLIC_PORT HYDRA_PUBLIC_URL HYDRA_ADMIN_PORT \
        HYDRA_ADMIN_URL HYDRA_HOOK_PORT HYDRA_HOOK_URL HYDRA_PID HYDRA_HOOK_PID HYDRA_LOG HYDRA_HOOK_LOG
      _hydra_log "ready: public=$HYDRA_PUBLIC_URL admin=$HYDRA_ADMIN_URL issuer=$HYDRA_ISSUER hook=$HYDRA_HOOK_URL state=$HYDRA_STATE_DIR"
      return 0
    fi
    _hydra_kill "$HYDRA_PID" "$HYDRA_HOOK_PID"
    # Retry only when we picked the ports ourselves (free-port race). grep
    # reads tail's output through a process substitution: piped, the SIGPIPE
    # tail may get once grep -q has matched would, under pipefail, read as
    # no match.
    if [[ -z "$fixed_public" && -z "$fixed_admin" ]] &&
      grep -q 'address already in use' < <(tail -c "+$log_offset" "$HYDRA_LOG"); then
      _hydra_log "port clash on attempt $attempt, retrying with new ports"
      continue
    fi
    _hydra_log "hydra did not become ready (rc=$rc, log $HYDRA_LOG); errors:"
    tail -c "+$log_offset" "$HYDRA_LOG" | grep -E 'level=(error|fatal)' | tail -n 5 >&2 ||
      tail -n 10 "$HYDRA_LOG" >&2
    return 1
  done
  _hydra_log "giving up after 3 attempts"
  return 1
}

# hydra_stop [STATE_DIR]: kills every process recorded in STATE_DIR/pids
# (default $HYDRA_STATE_DIR). Safe to call more than once and from traps.
hydra_stop() {
  local dir="${1:-${HYDRA_STATE_DIR:-}}"
  [[ -n "$dir" && -f "$dir/pids" ]] || return 0
  local -a pids=()
  mapfile -t pids <"$dir/pids"
  _hydra_kill "${pids[@]}"
  : >"$dir/pids"
}

# hydra_unset_env: forgets the current instance's variables. hydra_start treats
# HYDRA_* variables already set (e.g. by a previous hydra_start in the same
# shell) as inputs, so call this before starting a second, fresh instance.
hydra_unset_env() {
  unset HYDRA_STATE_DIR HYDRA_ISSUER HYDRA_PUBLIC_PORT HYDRA_PUBLIC_URL HYDRA_ADMIN_PORT \
    HYDRA_ADMIN_URL HYDRA_HOOK_PORT HYDRA_HOOK_URL HYDRA_PID HYDRA_HOOK_PID HYDRA_LOG \
    HYDRA_HOOK_LOG HYDRA_SYSTEM_SECRET
}

# hydra_create_client JSON: POSTs an OAuth2 client to the admin API, prints the
# created client JSON (includes client_secret). Fails on non-2xx.
hydra_create_client() {
  local out code
  out="$(mktemp)"
  code="$(curl -sS --max-time 10 -o "$out" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' --data "$1" "$HYDRA_ADMIN_URL/admin/clients")" || { rm -f "$out"; return 1; }
  if [[ "$code" != 201 ]]; then
    _hydra_log "creating client failed: HTTP $code $(cat "$out")"
    rm -f "$out"
    return 1
  fi
  cat "$out"
  rm -f "$out"
}

# hydra_create_default_clients: creates the standard e2e clients (fixed ids and
# secrets, see README.md) and writes $HYDRA_STATE_DIR/clients.env.
# Audience "https://api.example.test" and scopes "api:read api:write" are allowed.
hydra_create_default_clients() {
  local cc='"grant_types":["client_credentials"],"scope":"api:read api:write","audience":["https://api.example.test"]'
  hydra_create_client '{"client_id":"cc-basic","client_secret":"cc-basic-secret","token_endpoint_auth_method":"client_secret_basic",'"$cc"',"metadata":{"tenant":"acme"}}' >/dev/null
  hydra_create_client '{"client_id":"cc-post","client_secret":"cc-post-secret","token_endpoint_auth_method":"client_secret_post",'"$cc"',"metadata":{"tenant":"acme"}}' >/dev/null
  hydra_create_client '{"client_id":"cc-globex","client_secret":"cc-globex-secret","token_endpoint_auth_method":"client_secret_basic",'"$cc"',"metadata":{"tenant":"globex"}}' >/dev/null
  hydra_create_client '{"client_id":"cc-opaque","client_secret":"cc-opaque-secret","token_endpoint_auth_method":"client_secret_basic","access_token_strategy":"opaque",'"$cc"',"metadata":{"tenant":"acme"}}' >/dev/null
  hydra_create_client '{"client_id":"cc-notenant","client_secret":"cc-notenant-secret","token_endpoint_auth_method":"client_secret_basic",'"$cc"'}' >/dev/null
  hydra_create_client '{"client_id":"ac-refresh","client_secret":"ac-refresh-secret","token_endpoint_auth_method":"client_secret_basic","grant_types":["authorization_code","refresh_token","client_credentials"],"response_types":["code"],"scope":"openid offline_access api:read","audience":["https://api.example.test"],"redirect_uris":["'"$HYDRA_HOOK_URL"'/callback"],"metadata":{"tenant":"acme"}}' >/dev/null
  cat >"$HYDRA_STATE_DIR/clients.env" <<EOF_CLIENTS
CC_BASIC_ID=cc-basic
CC_BASIC_SECRET=cc-basic-secret
CC_POST_ID=cc-post
CC_POST_SECRET=cc-post-secret
CC_GLOBEX_ID=cc-globex
CC_GLOBEX_SECRET=cc-globex-secret
CC_OPAQUE_ID=cc-opaque
CC_OPAQUE_SECRET=cc-opaque-secret
CC_NOTENANT_ID=cc-notenant
CC_NOTENANT_SECRET=cc-notenant-secret
AC_REFRESH_ID=ac-refresh
AC_REFRESH_SECRET=ac-refresh-secret
AC_REFRESH_REDIRECT_URI=$HYDRA_HOOK_URL/callback
EOF_CLIENTS
  _hydra_log "created clients cc-basic cc-post cc-globex cc-opaque cc-notenant ac-refresh"
}
