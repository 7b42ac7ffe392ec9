#!/usr/bin/env bash
# The install ships the embedder API and nothing else: `cmake --install` into
# a temporary prefix, then every installed header must be a public one (a
# component's include/, listed in cmake/SluicePublicHeaders.cmake; nothing
# from internal/), include only installed sluice headers, keep CAF out
# (except sluice/caf/, the raw-actor escape hatch, whose API is CAF's by
# nature), and compile alone against the prefix and the dependencies' own
# include folders, so a public header that secretly needs an internal one
# fails here rather than in a team's build.
#
# usage: embedder_api_test.sh BUILD_DIR SOURCE_DIR CXX [DEP_INCLUDE_DIRS]
#   DEP_INCLUDE_DIRS: colon-separated (CAF's and protobuf's)
set -uo pipefail
build="$1" src=$(realpath -- "$2") cxx="$3" deps="${4:-}"
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_api.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix" inc="$work/prefix/include"
passed=0 failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

if ! cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1; then
  cat "$work/install.log"; echo "cmake --install failed: 0 passed, 1 failed"; exit 1
fi

# Headers by the name they are included by ("sluice/node.hpp"), from the
# components' include/ and internal/ folders (build trees skipped).
tree_headers() { # tree_headers include|internal
  local dir top
  for dir in $(find "$src" -maxdepth 4 -type d -path "*/$1/sluice" | sort); do
    top="${dir#"$src"/}" && top="${top%%/*}"
    [[ -f "$src/$top/CMakeCache.txt" ]] && continue
    (cd "${dir%/sluice}" && find sluice -name '*.hpp' -o -name '*.h')
  done | sort
}
tree_headers include >"$work/public"
tree_headers internal >"$work/internal"
(cd "$inc" && find . -type f | sed 's|^\./||') | grep -v '^sluice/v1/[^/]*\.pb\.h$' \
  | grep -v '^sluice/v1/[^/]*\.proto$' | sort >"$work/installed"
(cd "$inc" && find sluice/v1 -maxdepth 1 -name '*.pb.h') | sort >"$work/generated"

# 1. What is installed is exactly the include/ folders: nothing internal,
#    nothing public left out of cmake/SluicePublicHeaders.cmake.
n=0
while read -r h; do
  grep -qxF "$h" "$work/internal" && { fail "internal header installed: $h"; n=1; }
  grep -qxF "$h" "$work/public" || { fail "installed but in no include/ folder: $h"; n=1; }
done <"$work/installed"
while read -r h; do
  grep -qxF "$h" "$work/installed" \
    || { fail "$h is in an include/ folder but not installed: list it in cmake/SluicePublicHeaders.cmake, or move it to internal/"; n=1; }
done <"$work/public"
[[ $n -eq 0 ]] && passed=$((passed + 1))
[[ -s "$work/installed" ]] || fail "no public header installed"

# 2. Each installed header's own includes: sluice ones installed, CAF only
#    in sluice/caf/, and nothing public outside it reaches into sluice/caf/.
n=0
while read -r h; do
  while IFS= read -r target; do
    case "$target" in
      caf/*)
        [[ $h == sluice/caf/* ]] || { fail "$h includes CAF (<$target>): only sluice/caf/ may"; n=1; } ;;
      sluice/caf/*)
        [[ $h == sluice/caf/* ]] || { fail "$h includes $target: CAF only for who opts in"; n=1; } ;;
      sluice/*)
        [[ -f "$inc/$target" ]] || { fail "$h includes $target, which is not installed (internal)"; n=1; } ;;
    esac
  done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/p' "$inc/$h")
done < <(cat "$work/installed" "$work/generated")
[[ $n -eq 0 ]] && passed=$((passed + 1))

# 3. Each compiles alone against the prefix (with our warnings, as errors),
#    and outside sluice/caf/ pulls in no CAF header, not even transitively.
dflags=()
IFS=: read -ra dirs <<<"$deps"
for d in "${dirs[@]}"; do # the compiler's own folders stay as they are
  [[ -z $d || $d == /usr/include || $d == /usr/local/include ]] || dflags+=(-isystem "$d")
done
while read -r h; do
  warn=(-Wall -Wextra -Wpedantic -Werror)
  [[ $h == *.pb.h ]] && warn=() # generated code is exempt, as in the build
  if ! printf '#include "%s"\n' "$h" | "$cxx" -std=c++20 -fsyntax-only "${warn[@]}" \
         -MD -MF "$work/deps" -MT tu -I"$inc" "${dflags[@]}" -x c++ - >"$work/cc.log" 2>&1; then
    fail "$h does not compile alone against the install:"; head -20 "$work/cc.log"; continue
  fi
  if [[ $h != sluice/caf/* ]]; then # every file it pulled in, transitively
    caf=$(tr ' \\' '\n\n' <"$work/deps" | grep -v "^$inc/" | grep -m1 '/caf/' || true)
    [[ -n $caf ]] && { fail "$h pulls in CAF ($caf): only sluice/caf/ may"; continue; }
  fi
  passed=$((passed + 1))
done < <(cat "$work/installed" "$work/generated")

echo "$(wc -l <"$work/installed") public headers installed: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
