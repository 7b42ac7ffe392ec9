#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) from the runtime's
# sources and runs each for a bounded number of runs over a copy of its
# corpus in tests/fuzz/corpus/. Fails on any crash or broken invariant.
#
# usage: run_fuzzers.sh BUILD_DIR SOURCE_DIR [RUNS]
set -euo pipefail
build=$(realpath -- "$1")
src=$(realpath -- "$2")
runs=${3:-20000}
command -v clang++ >/dev/null || { echo "clang++ missing: 0 passed, 1 failed"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined
       -I"$src/runtime/include" -I"$src/runtime/internal" -I"$build/protocols")
common=("$src/runtime/src/event.cpp" "$src/runtime/src/result.cpp"
        "$src/runtime/src/event_codec.cpp" "$src/runtime/src/store/keys.cpp"
        "$build/protocols/sluice/v1/event.pb.cc")
libs=(-lprotobuf -lxxhash -lpthread)
passed=0 failed=0
for target in event_decoder feed_reader; do
  extra=()
  [[ $target == feed_reader ]] && extra=("$src/runtime/src/feed_reader.cpp" "$src/runtime/src/event_json.cpp")
  clang++ "${flags[@]}" "$src/tests/fuzz/${target}_fuzzer.cpp" "${common[@]}" \
    "${extra[@]}" "${libs[@]}" -o "$work/$target"
  cp -r "$src/tests/fuzz/corpus/$target" "$work/corpus_$target"
  if "$work/$target" -runs="$runs" -max_len=4096 -timeout=10 \
       "$work/corpus_$target" >"$work/$target.log" 2>&1; then
    echo "ok   $target: $(grep -o 'Done [0-9]* runs' "$work/$target.log")"
    passed=$((passed + 1))
  else
    echo "FAIL $target:"; tail -40 "$work/$target.log"
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
