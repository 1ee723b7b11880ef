#!/usr/bin/env bash
# Builds ./caddy with ./xcaddy.sh when it is missing, older than the module's
# non-test sources, or E2E_REBUILD=1; then checks that it has token_enrich.
# Used by e2e/run.sh and e2e/fleet.sh. The Go build cache makes a rebuild
# of an unchanged tree short; a cold cache compiles Caddy and takes minutes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
stale="$(caddy_stale)"
if [[ -z "$stale" && "${E2E_REBUILD:-0}" == 1 ]]; then
  stale="E2E_REBUILD=1"
fi
if [[ -n "$stale" ]]; then
  echo "e2e: building ./caddy ($stale); with a cold Go build cache this compiles Caddy and takes minutes" >&2
  nice -n "${BUILD_NICE:-10}" ./xcaddy.sh >&2
fi
# the list is read whole before grep looks at it: grep -q stops at the first
# match, and under pipefail the SIGPIPE that list-modules may then get would
# fail the check
modules="$(./caddy list-modules 2>/dev/null)" || modules=""
grep -qx 'http.handlers.token_enrich' <<<"$modules" || {
  echo "e2e: ./caddy lacks token_enrich" >&2
  exit 1
}
