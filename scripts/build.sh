#!/usr/bin/env bash
# Setup (missing packages, configure), then build the given targets
# (default: everything).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
jobs="${SLUICE_JOBS:-$(nproc)}"
if (($#)); then
  cmake --build build -j "$jobs" --target "$@"
else
  cmake --build build -j "$jobs"
fi
