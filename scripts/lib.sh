# Shell helpers the repository's scripts source (scripts/readme-quickstart.sh,
# examples/saas/run.sh, e2e/caddy.sh, bench/load.sh). They run from the
# repository's root.

# caddy_stale prints why ./caddy must be built: "missing", or the first
# source newer than it (any non-test Go file of the module's packages,
# go.mod, go.sum, xcaddy.sh); nothing when ./caddy is current.
caddy_stale() {
  if [[ ! -x ./caddy ]]; then
    echo missing
    return
  fi
  local newer
  newer="$(find go.mod go.sum xcaddy.sh tokenenrich.go caddymodule enrichers sources -newer ./caddy \
    \( -name '*.go' ! -name '*_test.go' -o -name 'go.mod' -o -name 'go.sum' -o -name 'xcaddy.sh' \) -print -quit)"
  [[ -z "$newer" ]] || echo "$newer is newer"
}

# serve_isolated VAR SCRIPT ARGS... runs `bash SCRIPT ARGS...` in a network
# namespace of its own where unshare allows one (with VAR=1 in its
# environment, so that it brings its loopback up), else on the machine's
# network; VAR=0 in the environment asks for the machine's network.
serve_isolated() {
  local var=$1
  shift
  if [[ "${!var:-}" == 0 ]]; then
    bash "$@"
  elif unshare -n true 2>/dev/null && command -v ip >/dev/null; then
    env "$var=1" unshare -n bash "$@"
  elif unshare -rn true 2>/dev/null && command -v ip >/dev/null; then
    env "$var=1" unshare -rn bash "$@"
  else
    bash "$@"
  fi
}
