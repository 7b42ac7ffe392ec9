#!/usr/bin/env bash
# Setup (missing packages, configure), build everything, run every test.
# In CI (CI=true), or with SLUICE_SANITIZE_TESTS=1, three more passes:
# the runtime, actor, cluster and integration tests under ASan+UBSan
# (build-asan/); clang-tidy over the project's sources (scripts/tidy.sh, on
# build-asan/'s compile commands); the actor and integration tests under
# ThreadSanitizer (build-tsan/, with CAF itself built from Debian's source
# with -fsanitize=thread, see cmake/SluiceCafTsan.cmake; tests/tsan.supp
# says why each entry is there). The sanitizer builds are unity builds, as
# build/ is in CI (scripts/setup.sh): CAF's headers parsed once per 16
# sources, about half the build time, and clang-tidy checks the unity
# files, a fifth of its time per source. SLUICE_TSAN=1 runs the TSan pass
# alone after ctest. Each stage prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${SLUICE_JOBS:-$(nproc)}"
began=$SECONDS
stage_began=$SECONDS
# The sanitizer builds' (build/'s is set by scripts/setup.sh).
unity=(-DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16)
stage_done() {
  echo "== $1: $((SECONDS - stage_began)) s (total $((SECONDS - began)) s) =="
  stage_began=$SECONDS
}

run_tsan() {
  echo "== the actor and integration tests under ThreadSanitizer =="
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSLUICE_SANITIZE=thread "${unity[@]}" >/dev/null
  cmake --build build-tsan -j "$jobs" --target actors_tests integration_tests
  stage_done "TSan build"
  (
    export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp ${TSAN_OPTIONS:-}"
    build-tsan/actors/actors_tests --gtest_brief=1
    build-tsan/tests/integration_tests --gtest_brief=1
  )
  stage_done "TSan tests"
}

./scripts/build.sh
stage_done "setup and build"
ctest --test-dir build --output-on-failure --timeout 900 -j "${SLUICE_TEST_JOBS:-1}"
stage_done "ctest"

if [ "${CI:-}" = "true" ] || [ "${SLUICE_SANITIZE_TESTS:-0}" = "1" ]; then
  echo "== the same tests under ASan+UBSan =="
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DSLUICE_SANITIZE=address "${unity[@]}" >/dev/null
  cmake --build build-asan -j "$jobs" \
    --target runtime_tests actors_tests cluster_tests integration_tests
  stage_done "ASan build"

  echo "== clang-tidy =="
  ./scripts/tidy.sh build-asan
  stage_done "clang-tidy"
  (
    export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    build-asan/runtime/runtime_tests --gtest_brief=1
    build-asan/actors/actors_tests --gtest_brief=1
    build-asan/cluster/cluster_tests --gtest_brief=1
    build-asan/tests/integration_tests --gtest_brief=1
  )
  stage_done "ASan tests"

  run_tsan
elif [ "${SLUICE_TSAN:-0}" = "1" ]; then
  run_tsan
fi
