#!/usr/bin/env bash
# Builds Ory Hydra v2.3.0 (pinned as a Go tool in e2e/hydra/tool/go.mod) with
# SQLite support (needed for `dsn: memory`) into e2e/.bin/hydra (or $HYDRA_BIN).
# Idempotent: the Go build cache makes a warm rebuild take a few seconds.
# Cold: ~430 MB of modules and several minutes of CPU on 2 cores.
#
# Usage: e2e/hydra/build.sh            prints the binary path on stdout
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
e2e_dir="$(dirname "$here")"
bin="${HYDRA_BIN:-$e2e_dir/.bin/hydra}"
version="$(cd "$here/tool" && go list -m -f '{{.Version}}' github.com/ory/hydra/v2)"

mkdir -p "$(dirname "$bin")"
start=$(date +%s)
if [[ ! -x "$bin" ]]; then
  echo "build.sh: building hydra $version; with a cold Go build cache this takes minutes" >&2
fi
(
  cd "$here/tool"
  # The ldflags only fix `hydra version` output (otherwise "master").
  CGO_ENABLED=1 nice -n "${BUILD_NICE:-10}" go build -tags sqlite \
    -ldflags "-X github.com/ory/hydra/v2/driver/config.Version=$version" \
    -o "$bin" github.com/ory/hydra/v2
)
echo "build.sh: hydra $version built in $(( $(date +%s) - start ))s -> $bin" >&2
echo "$bin"
