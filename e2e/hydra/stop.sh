#!/usr/bin/env bash
# Stops everything start.sh started. Usage: e2e/hydra/stop.sh STATE_DIR
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
[[ $# -eq 1 ]] || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
hydra_stop "$1"
