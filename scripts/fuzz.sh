#!/usr/bin/env bash
# Runs every fuzz target for a short fixed time, one after the other, on top
# of the regular test suite (which already replays the seed corpora in
# testdata/fuzz/). Exits non-zero on the first failure; the failing input is
# saved under testdata/fuzz/<Target>/ by go test.
#
#   FUZZTIME=15s scripts/fuzz.sh        # default 15s per target
#   FUZZTIME=2m  scripts/fuzz.sh FuzzEnrich
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-15s}"

# package target
targets=(
	"./enrichers FuzzDecodeJWT"
	"./enrichers FuzzEnrich"
	"./enrichers FuzzParseTokenRequest"
	"./enrichers FuzzDecodeBody"
	"./caddymodule FuzzUnmarshalCaddyfile"
)

for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	if [[ $# -gt 0 && ! " $* " =~ " $name " ]]; then
		continue
	fi
	echo "--- fuzz $name ($pkg, $FUZZTIME)"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg"
done
