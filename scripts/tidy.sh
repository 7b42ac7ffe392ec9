#!/usr/bin/env bash
# clang-tidy 14 with the checks of .clang-tidy (every finding an error) over
# the project's own sources in BUILD/compile_commands.json: runtime, actors,
# cluster, tools and examples, their unit tests included. Not generated
# protobuf code (in BUILD/), not tests/ and bench/ (gtest's and google-
# benchmark's macros are noise for these checks). Our headers are checked
# through the files that include them (HeaderFilterRegex).
# In a unity build (-DCMAKE_UNITY_BUILD=ON, as scripts/test.sh configures
# build-asan/) it checks the unity files, each of which includes several
# sources: CAF's headers are parsed and matched once per unity file rather
# than once per source (about 2 min instead of 10-12 here); the sources'
# findings are reported through HeaderFilterRegex, which covers src/.
#   scripts/tidy.sh [BUILD]   (default build/, configured if need be)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
jobs="${SLUICE_JOBS:-$(nproc)}"
command -v run-clang-tidy-14 >/dev/null \
  || { echo "tidy: run-clang-tidy-14 missing (apt-get install clang-tidy)"; exit 1; }
[ -f "$build/compile_commands.json" ] \
  || cmake -S . -B "$build" -G Ninja >/dev/null
# The sources include the headers protoc generates.
cmake --build "$build" -j "$jobs" \
  --target sluice_protocols sluice_feed_grpc sluice_example_package_trust_gen >/dev/null
root=$(pwd)
build_abs=$(cd "$build" && pwd)
db=$(mktemp -d)
trap 'rm -rf "$db"' EXIT
# GCC's precompiled CAF headers (cmake_pch.hxx.gch) are unreadable for
# clang: drop the forced include (every source includes what it uses), and
# -Werror, so that only the checks of .clang-tidy decide.
sed -E 's# -include [^ ]*cmake_pch\.hxx##; s# -Winvalid-pch##; s# -Werror\b##' \
  "$build/compile_commands.json" >"$db/compile_commands.json"
components='(runtime|actors|cluster|tools|examples)'
extra=()
if grep -q '/Unity/unity_[0-9]*_cxx\.cxx"' "$db/compile_commands.json"; then
  files="^$build_abs/$components/.*/Unity/unity_[0-9]+_cxx\.cxx$"
  # clang-tidy finds .clang-tidy from the checked file up: the unity files
  # sit in BUILD, which need not be inside the tree. Their #include of
  # .cpp files is the point of a unity file, not a finding.
  cp .clang-tidy "$build_abs/.clang-tidy"
  extra=(-checks=-bugprone-suspicious-include)
else
  files="^$root/$components/.*\.cpp$"
fi
start=$(date +%s)
run-clang-tidy-14 -p "$db" -j "$jobs" -quiet "${extra[@]}" "$files"
echo "tidy: clean, $(($(date +%s) - start)) s"
