#!/usr/bin/env bash
# The checked-in .clang-format applies to every C++ file the project owns.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
command -v clang-format >/dev/null || { echo "clang-format missing: 0 passed, 1 failed"; exit 1; }
bad=()
while IFS= read -r f; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.cpp' '*.hpp')
if ((${#bad[@]})); then
  printf 'not formatted (run clang-format -i): %s\n' "${bad[@]}"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "1 passed, 0 failed"
