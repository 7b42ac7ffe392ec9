#!/usr/bin/env bash
# Setup (missing packages, configure), then build everything.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
jobs="${SLUICE_JOBS:-$(nproc)}"
cmake --build build -j "$jobs"
