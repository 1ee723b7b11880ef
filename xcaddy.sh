#!/usr/bin/env bash
# Builds ./caddy with the token_enrich module from this checkout.
# Pins Caddy and xcaddy; needs only Go (xcaddy runs via `go run`).
# Extra arguments are passed to `xcaddy build` (e.g. --with other/plugin).
set -euo pipefail
cd "$(dirname "$0")"

CADDY_VERSION="${CADDY_VERSION:-v2.11.9}"
XCADDY_VERSION="${XCADDY_VERSION:-v0.4.5}"
MODULE="github.com/caddy-token-enrich/caddy-token-enrich"

# The explicit pseudo-version makes `go` take the replacement from ./ instead of
# asking the module proxy for an unpublished path (which it refuses).
exec go run "github.com/caddyserver/xcaddy/cmd/xcaddy@${XCADDY_VERSION}" build "${CADDY_VERSION}" \
	--output ./caddy \
	--with "${MODULE}@v0.0.0-00010101000000-000000000000=./" \
	"$@"
