#!/usr/bin/env bash
# Smoke test of the Hydra harness: build, start Hydra (issuer = its own public
# URL), create the clients, get JWT tokens with curl and with openid-client,
# an opaque token, a 401 for a bad secret, an authorization_code + refresh_token
# round trip, then stop everything and check nothing is left running.
#
# Usage: e2e/hydra/smoke.sh   (SMOKE_VERBOSE=0 hides the decoded claims;
#        SMOKE_KEEP=1 keeps the state dir with logs, which is removed on success)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
node_dir="$(dirname "$here")/node"
source "$here/lib.sh"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $*"; }
nok() { failed=$((failed + 1)); echo "FAIL - $*"; }
show() { if [[ "${SMOKE_VERBOSE:-1}" == 1 ]]; then sed 's/^/    /'; else cat >/dev/null; fi; }

# check NAME JSON JS_EXPR: evaluates JS_EXPR with `j` bound to the parsed JSON.
check() {
  local name="$1" json="$2" expr="$3"
  if node -e 'const j = JSON.parse(process.argv[1]); if (!(eval(process.argv[2]))) process.exit(1)' "$json" "$expr" 2>/dev/null; then
    ok "$name"
  else
    nok "$name  [expected: $expr] got: $json"
  fi
}

cleanup() {
  local rc=$?
  hydra_stop
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s)
HYDRA_BIN="$("$here/build.sh")"
export HYDRA_BIN
if [[ ! -d "$node_dir/node_modules/openid-client" ]]; then
  (cd "$node_dir" && npm ci --no-audit --no-fund --no-update-notifier --loglevel=error >&2)
fi
echo "# build + npm: $(( $(date +%s) - t0 ))s"

t0=$(date +%s)
hydra_start
echo "# hydra ready in $(( $(date +%s) - t0 ))s; state in $HYDRA_STATE_DIR"
hydra_create_default_clients
source "$HYDRA_STATE_DIR/clients.env"

disc="$(curl -fsS --max-time 5 "$HYDRA_PUBLIC_URL/.well-known/openid-configuration")"
check "discovery issuer == $HYDRA_ISSUER" "$disc" "j.issuer === '$HYDRA_ISSUER' && j.token_endpoint === '${HYDRA_ISSUER}oauth2/token'"

# --- client_credentials with curl (client_secret_basic) ------------------------
resp="$(curl -sS --max-time 10 -u "$CC_BASIC_ID:$CC_BASIC_SECRET" -d grant_type=client_credentials \
  --data-urlencode 'scope=api:read api:write' --data-urlencode audience=https://api.example.test \
  "$HYDRA_PUBLIC_URL/oauth2/token")"
echo "# curl cc-basic token response:"; show <<<"$resp"
check "curl basic: token response members" "$resp" \
  "Object.keys(j).sort().join() === 'access_token,expires_in,scope,token_type' && j.token_type === 'bearer' && typeof j.expires_in === 'number' && j.scope === 'api:read api:write'"
payload="$(jwt_payload "$(json_get access_token <<<"$resp")")"
echo "# decoded JWT access token payload (cc-basic):"; show <<<"$payload"
check "jwt: iss/sub/client_id" "$payload" "j.iss === '$HYDRA_ISSUER' && j.sub === 'cc-basic' && j.client_id === 'cc-basic'"
check "jwt: aud is an array with the granted audience" "$payload" "Array.isArray(j.aud) && j.aud.join() === 'https://api.example.test'"
check "jwt: scp is an array of scopes" "$payload" "Array.isArray(j.scp) && j.scp.join(' ') === 'api:read api:write'"
check "jwt: tenant top level and mirrored under ext" "$payload" "j.tenant === 'acme' && j.ext && j.ext.tenant === 'acme'"
check "jwt: numeric exp/iat/nbf and a jti" "$payload" "[j.exp, j.iat, j.nbf].every(Number.isInteger) && typeof j.jti === 'string'"

# --- client_credentials with curl (client_secret_post) --------------------------
resp="$(curl -sS --max-time 10 -d grant_type=client_credentials -d "client_id=$CC_POST_ID" \
  -d "client_secret=$CC_POST_SECRET" --data-urlencode 'scope=api:read' "$HYDRA_PUBLIC_URL/oauth2/token")"
check "curl post: JWT with tenant acme" "$(jwt_payload "$(json_get access_token <<<"$resp")")" "j.sub === 'cc-post' && j.tenant === 'acme'"

# --- client_credentials with openid-client ---------------------------------------
resp="$(node "$node_dir/client.mjs" --issuer "$HYDRA_ISSUER" --client-id "$CC_BASIC_ID" \
  --client-secret "$CC_BASIC_SECRET" --auth basic --scope 'api:read' --audience https://api.example.test)"
echo "# openid-client cc-basic (basic) response:"; show <<<"$resp"
check "openid-client basic: accepted, bearer token" "$resp" "j.token_type === 'bearer' && j.scope === 'api:read' && typeof j.expires_in === 'number'"
resp="$(node "$node_dir/client.mjs" --issuer "$HYDRA_ISSUER" --client-id "$CC_POST_ID" \
  --client-secret "$CC_POST_SECRET" --auth post --scope 'api:write')"
check "openid-client post: accepted" "$resp" "j.token_type === 'bearer' && j.scope === 'api:write'"
resp="$(node "$node_dir/client.mjs" --issuer "$HYDRA_ISSUER" --client-id "$CC_GLOBEX_ID" --client-secret "$CC_GLOBEX_SECRET")"
check "openid-client second tenant: tenant globex" "$(jwt_payload "$(json_get access_token <<<"$resp")")" "j.tenant === 'globex' && j.ext.tenant === 'globex'"
resp="$(node "$node_dir/client.mjs" --issuer "$HYDRA_ISSUER" --client-id "$CC_NOTENANT_ID" --client-secret "$CC_NOTENANT_SECRET")"
payload="$(jwt_payload "$(json_get access_token <<<"$resp")")"
echo "# decoded JWT (client without tenant, no scope/audience requested):"; show <<<"$payload"
check "client without metadata.tenant: no tenant, empty ext, empty scp/aud arrays" "$payload" \
  "!('tenant' in j) && JSON.stringify(j.ext) === '{}' && j.scp.length === 0 && j.aud.length === 0"

# --- opaque token -----------------------------------------------------------------
resp="$(node "$node_dir/client.mjs" --issuer "$HYDRA_ISSUER" --client-id "$CC_OPAQUE_ID" \
  --client-secret "$CC_OPAQUE_SECRET" --scope 'api:read')"
echo "# opaque token response:"; show <<<"$resp"
check "opaque: ory_at_ token, not a JWT" "$resp" "j.access_token.startsWith('ory_at_') && j.access_token.split('.').length === 2"
intro="$(curl -fsS --max-time 10 --data-urlencode "token=$(json_get access_token <<<"$resp")" \
  "$HYDRA_ADMIN_URL/admin/oauth2/introspect")"
echo "# admin introspection of the opaque token:"; show <<<"$intro"
check "opaque: introspection active with ext.tenant" "$intro" "j.active === true && j.client_id === 'cc-opaque' && j.ext && j.ext.tenant === 'acme'"

# --- bad secret -> 401 JSON error ---------------------------------------------------
body="$(mktemp)"
code="$(curl -sS --max-time 10 -o "$body" -w '%{http_code} %{content_type}' -u "$CC_BASIC_ID:wrong" \
  -d grant_type=client_credentials "$HYDRA_PUBLIC_URL/oauth2/token")"
echo "# bad secret: HTTP $code"; { cat "$body"; echo; } | show
check "bad secret (curl): 401 application/json invalid_client" "$(cat "$body")" \
  "'$code'.startsWith('401 application/json') && j.error === 'invalid_client'"
rm -f "$body"
rc=0
resp="$(node "$node_dir/client.mjs" --issuer "$HYDRA_ISSUER" --client-id "$CC_POST_ID" --client-secret wrong --auth post 2>/dev/null)" || rc=$?
check "bad secret (openid-client): exit 3, invalid_client, 401" "$resp" "$rc === 3 && j.error === 'invalid_client' && j.http_status === 401"

# --- authorization_code (auto login/consent) + refresh_token ------------------------
resp="$(node "$node_dir/client.mjs" --issuer "$HYDRA_ISSUER" --client-id "$AC_REFRESH_ID" \
  --client-secret "$AC_REFRESH_SECRET" --grant authorization_code --redirect-uri "$AC_REFRESH_REDIRECT_URI" \
  --scope 'openid offline_access api:read' --audience https://api.example.test)"
check "authorization_code: access, id and refresh token" "$resp" \
  "j.refresh_token.startsWith('ory_rt_') && typeof j.id_token === 'string' && j.scope === 'openid offline_access api:read'"
check "authorization_code: JWT sub alice, tenant from consent" "$(jwt_payload "$(json_get access_token <<<"$resp")")" \
  "j.sub === 'alice' && j.client_id === 'ac-refresh' && j.tenant === 'acme' && j.aud.join() === 'https://api.example.test'"
check "authorization_code: id_token has tenant" "$(jwt_payload "$(json_get id_token <<<"$resp")")" "j.tenant === 'acme' && j.aud.join() === 'ac-refresh'"
rt="$(json_get refresh_token <<<"$resp")"
resp2="$(node "$node_dir/client.mjs" --issuer "$HYDRA_ISSUER" --client-id "$AC_REFRESH_ID" \
  --client-secret "$AC_REFRESH_SECRET" --grant refresh_token --refresh-token="$rt")"
echo "# refresh_token grant response:"; show <<<"$resp2"
check "refresh_token: new rotated refresh token + JWT with tenant" "$resp2" \
  "j.refresh_token.startsWith('ory_rt_') && j.refresh_token !== '$rt' && typeof j.id_token === 'string'"
check "refresh_token: access token claims" "$(jwt_payload "$(json_get access_token <<<"$resp2")")" "j.sub === 'alice' && j.tenant === 'acme'"
rc=0
resp3="$(node "$node_dir/client.mjs" --issuer "$HYDRA_ISSUER" --client-id "$AC_REFRESH_ID" \
  --client-secret "$AC_REFRESH_SECRET" --grant refresh_token --refresh-token="$rt" 2>/dev/null)" || rc=$?
check "refresh_token reuse: rejected (invalid_grant)" "$resp3" "$rc === 3 && j.error === 'invalid_grant'"

# --- stop and verify -----------------------------------------------------------------
mapfile -t pids <"$HYDRA_STATE_DIR/pids"
hydra_stop
left=""
for p in "${pids[@]}"; do
  if _hydra_pid_alive "$p"; then left+=" $p"; fi
done
if [[ -z "$left" ]]; then ok "stop: all processes gone (${pids[*]})"; else nok "stop: still running:$left"; fi

echo "smoke: $passed passed, $failed failed"
if [[ $failed -eq 0 && "${SMOKE_KEEP:-0}" != 1 ]]; then
  rm -rf "$HYDRA_STATE_DIR"
else
  echo "# logs kept in $HYDRA_STATE_DIR"
fi
[[ $failed -eq 0 ]]
