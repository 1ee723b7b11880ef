#!/usr/bin/env bash
# The root module is what `xcaddy build --with` compiles into a user's Caddy:
# its go.mod must directly require only modules that the plugin's own
# packages import. Dependencies of tests only (OpenID providers, OAuth client
# libraries) belong to the e2e module (e2e/go.mod).
#
# Fails, naming them, when no non-test package of the root module imports a
# package of a direct requirement of ./go.mod. Packages under internal/test* are
# helpers compiled only into tests, so they do not count as the plugin's.
# Imports are taken for linux, darwin and windows, so that a requirement
# used by one platform's files only is not reported.
set -euo pipefail
cd "$(dirname "$0")/.."

main="$(go list -m)"

# Direct requirements: go.mod's require lines without "// indirect".
direct="$(awk '
	/^require[ \t]*\($/ { block = 1; next }
	block && /^\)/ { block = 0; next }
	block { if ($0 !~ /\/\/ indirect/) print $1; next }
	/^require[ \t]/ { if ($0 !~ /\/\/ indirect/) print $2 }
' go.mod | sort -u)"

# Modules providing a package that a non-test package of this module imports
# itself (go list without -test leaves test imports out). Imports of
# imports do not count: the x/oauth2 that Caddy pulls in is Caddy's
# requirement, recorded as indirect, not one of this module.
pkgs="$(go list ./... | grep -v "^$main/internal/test" || true)"
needed="$(for goos in linux darwin windows; do
	# shellcheck disable=SC2086 # one argument per package
	imports="$(GOOS=$goos go list -f '{{join .Imports "\n"}}' $pkgs | sort -u)"
	# shellcheck disable=SC2086
	GOOS=$goos go list -f '{{with .Module}}{{.Path}}{{end}}' $imports
done | grep -vx -e '' -e "$main" | sort -u)"

unneeded="$(comm -23 <(echo "$direct") <(echo "$needed"))"
if [[ -n "$unneeded" ]]; then
	echo "check-deps: go.mod directly requires modules that no non-test package of $main imports:" >&2
	sed 's/^/  /' <<<"$unneeded" >&2
	echo "check-deps: a test-only dependency belongs in e2e/go.mod (move the test into the e2e module);" >&2
	echo "check-deps: otherwise remove the import and run go mod tidy. See: go mod why -m <module>" >&2
	exit 1
fi
echo "check-deps: ok, $(wc -l <<<"$direct") direct requirements, each imported by the plugin's packages"
