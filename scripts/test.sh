#!/usr/bin/env bash
# Setup (missing packages, configure), build everything, run every test.
# In CI (CI=true), or with SLUICE_SANITIZE_TESTS=1, the runtime, actor and
# integration tests also run once more under ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
ctest --test-dir build --output-on-failure --timeout 900 -j "${SLUICE_TEST_JOBS:-1}"

if [ "${CI:-}" = "true" ] || [ "${SLUICE_SANITIZE_TESTS:-0}" = "1" ]; then
  echo "== the same tests under ASan+UBSan =="
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON >/dev/null
  targets=(runtime_tests actors_tests integration_tests)
  cmake --build build-asan -j "${SLUICE_JOBS:-$(nproc)}" --target "${targets[@]}"
  export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  build-asan/runtime/runtime_tests --gtest_brief=1
  build-asan/actors/actors_tests --gtest_brief=1
  build-asan/tests/integration_tests --gtest_brief=1
fi
