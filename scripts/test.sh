#!/usr/bin/env bash
# Setup (missing packages, configure), build everything, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
ctest --test-dir build --output-on-failure --timeout 900 -j "${SLUICE_TEST_JOBS:-1}"
