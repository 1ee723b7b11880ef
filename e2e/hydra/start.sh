#!/usr/bin/env bash
# Starts Hydra v2.3.0 (+ token hook / login-consent helper) in the background and
# returns once both are ready. Processes keep running after this script exits;
# stop them with `e2e/hydra/stop.sh STATE_DIR`.
#
# Usage: e2e/hydra/start.sh [STATE_DIR]
#   Inputs (env, all optional): HYDRA_ISSUER HYDRA_PUBLIC_PORT HYDRA_ADMIN_PORT
#   HYDRA_BIN HYDRA_SYSTEM_SECRET HYDRA_LOG_LEVEL HYDRA_READY_TIMEOUT
#   HYDRA_CREATE_CLIENTS=1 also creates the default clients (clients.env).
#   Prints STATE_DIR/hydra.env (KEY=VALUE: ports, URLs, pids, logs) on stdout.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

if [[ $# -ge 1 ]]; then HYDRA_STATE_DIR="$1"; fi
if ! hydra_start; then
  hydra_stop
  exit 1
fi
if [[ "${HYDRA_CREATE_CLIENTS:-0}" == 1 ]]; then
  hydra_create_default_clients || { hydra_stop; exit 1; }
fi
cat "$HYDRA_STATE_DIR/hydra.env"
