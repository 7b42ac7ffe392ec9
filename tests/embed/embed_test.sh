#!/usr/bin/env bash
# Embedding, as a team does it: install Sluice into a temporary prefix,
# build examples/embed out of tree with find_package(Sluice) only, then run
# its pipeline through both paths: the team's own binary (behaviour linked)
# and the installed `sluice` with --plugin. Bad plugins get clear errors.
#
# usage: embed_test.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build="$1" src="$2"
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_embed.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
check() { # check NAME COMMAND...
  local name="$1"; shift
  if "$@" >"$work/out" 2>"$work/err"; then passed=$((passed + 1)); else
    echo "FAIL: $name"; cat "$work/out" "$work/err"; failed=$((failed + 1)); fi
}
refuses() { # refuses NAME PATTERN COMMAND...: exit 2 and PATTERN on stderr
  local name="$1" pattern="$2"; shift 2
  "$@" >"$work/out" 2>"$work/err"; local rc=$?
  if [[ $rc -eq 2 ]] && grep -q -- "$pattern" "$work/err"; then passed=$((passed + 1)); else
    echo "FAIL: $name (exit $rc)"; cat "$work/err"; failed=$((failed + 1)); fi
}

check "cmake --install" cmake --install "$build" --prefix "$work/prefix"
check "no internal header is installed" test ! -e "$work/prefix/include/sluice/node_env.hpp"
check "the package config is installed" test -f "$work/prefix/lib/cmake/Sluice/SluiceConfigVersion.cmake"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
check "configure the out-of-tree example" cmake -S "$src/examples/embed" -B "$work/b" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" "${launcher[@]}"
check "build it" cmake --build "$work/b"
# A version the package does not offer is refused by find_package.
mkdir -p "$work/v9" && cat > "$work/v9/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(v9 LANGUAGES CXX)
find_package(Sluice 9.0 REQUIRED)
CMAKE
cmake -S "$work/v9" -B "$work/v9b" -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/out" 2>&1
if [[ $? -ne 0 ]] && grep -q "0.1" "$work/out"; then passed=$((passed + 1)); else
  echo "FAIL: find_package(Sluice 9.0) should fail naming 0.1"; failed=$((failed + 1)); fi

# tcmalloc comes with sluice::actors (the team's binary has it), unless the
# project sets SLUICE_TCMALLOC OFF.
check "the team's binary is linked with tcmalloc" bash -c "ldd '$work/b/tally' | grep -q libtcmalloc"
mkdir -p "$work/alloc" && cat > "$work/alloc/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(alloc LANGUAGES CXX)
find_package(Sluice 0.1 REQUIRED)
file(WRITE ${CMAKE_BINARY_DIR}/main.cpp "int main() { return 0; }\n")
add_executable(alloc ${CMAKE_BINARY_DIR}/main.cpp)
target_link_libraries(alloc PRIVATE sluice::actors)
CMAKE
check "configure with SLUICE_TCMALLOC OFF" cmake -S "$work/alloc" -B "$work/alloc-off" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DSLUICE_TCMALLOC=OFF "${launcher[@]}"
check "build it" cmake --build "$work/alloc-off"
check "SLUICE_TCMALLOC OFF keeps the project's own allocator" \
  bash -c "! ldd '$work/alloc-off/alloc' | grep -q libtcmalloc"

cd "$src/examples/embed"
expected=$'orders/alice\t{"orders":3,"cents":1301,"last_order":"o-6","settled":true}\norders/bob\t{"orders":2,"cents":1000,"last_order":"o-5","settled":true}\norders/carol\t{"orders":1,"cents":999,"last_order":"o-4","settled":true}'
# The raw CAF actor stage's state, once every customer's settle timer fired.
audited=$'orders/alice\t"audit: 3 orders, 1301 cents"\norders/bob\t"audit: 2 orders, 1000 cents"\norders/carol\t"audit: 1 orders, 999 cents"'

check "the team's behaviour unit test passes" "$work/b/tally_behaviour_test"

# Linked path: the team's binary, with the whole command line.
check "linked: run" "$work/b/tally" run pipeline.yaml --feed data/orders.tsv --data "$work/linked" -q
check "linked: export" "$work/b/tally" export --data "$work/linked" --stage sum
check "linked: the tallies are right" test "$(cat "$work/out")" == "$expected"
check "linked: export audit" "$work/b/tally" export --data "$work/linked" --stage audit
check "linked: the actor stage audited every customer" test "$(cat "$work/out")" == "$audited"

# Plugin path: the installed sluice loads the behaviour from the module.
plugin="$work/b/libtally_plugin.so"
sluice="$work/prefix/bin/sluice"
refuses "without the plugin the behaviour is unknown" "tally.sum" \
  "$sluice" run pipeline.yaml --feed data/orders.tsv --data "$work/none" -q
refuses "without the plugin the error suggests --plugin" "no plugin loaded: a behaviour built as a shared library needs --plugin PATH" \
  "$sluice" run pipeline.yaml --feed data/orders.tsv --data "$work/none" -q
check "plugin: run" "$sluice" --plugin "$plugin" run pipeline.yaml --feed data/orders.tsv --data "$work/plugged" -q
check "plugin: export" "$sluice" --plugin "$plugin" export --data "$work/plugged" --stage sum
check "plugin: the tallies are right" test "$(cat "$work/out")" == "$expected"
check "plugin: export audit" "$sluice" --plugin "$plugin" export --data "$work/plugged" --stage audit
check "plugin: the actor stage audited every customer" test "$(cat "$work/out")" == "$audited"

# Bad plugins: each a clear error and exit 2.
refuses "a missing plugin file" "no such file" "$sluice" --plugin "$work/nope.so" export --data "$work/plugged" --stage sum
printf 'not an ELF file' > "$work/junk.so"
refuses "a file that is no library" "cannot load" "$sluice" --plugin "$work/junk.so" export --data "$work/plugged" --stage sum
printf 'extern "C" int unrelated() { return 1; }\n' > "$work/none.cpp"
c++ -shared -fPIC -o "$work/libnone.so" "$work/none.cpp"
refuses "a library without the entry point" "missing symbol sluice_plugin_abi" \
  "$sluice" --plugin "$work/libnone.so" export --data "$work/plugged" --stage sum
printf '#include <cstdint>\nextern "C" std::uint32_t sluice_plugin_abi() { return 999; }\nextern "C" bool sluice_plugin_register(void*) { return true; }\n' > "$work/old.cpp"
c++ -shared -fPIC -o "$work/libold.so" "$work/old.cpp"
refuses "an ABI mismatch" "ABI version 999" \
  "$sluice" --plugin "$work/libold.so" export --data "$work/plugged" --stage sum

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
