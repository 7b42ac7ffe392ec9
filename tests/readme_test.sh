#!/usr/bin/env bash
# The README's folder table must match the tree: every listed folder exists
# (unless marked "to come") and every top-level folder is listed.
set -euo pipefail
root="${1:-$(dirname "$0")/..}"
cd "$root"
fail=0
listed=$(grep -E '^\| `[a-z]+/` \|' README.md | sed -E 's/^\| `([a-z]+)\/`.*/\1/')
for d in $listed; do
  line=$(grep -E "^\| \`$d/\` \|" README.md)
  if [ ! -d "$d" ] && ! grep -q "to come" <<<"$line"; then
    echo "README lists $d/ but there is no such folder"; fail=1
  fi
done
for d in $(git ls-files | cut -d/ -f1 | sort -u); do
  [ -d "$d" ] || continue
  case "$d" in .*) continue ;; esac
  grep -qx "$d" <<<"$listed" || { echo "folder $d/ is not in the README's table"; fail=1; }
  [ -f "$d/README.md" ] || { echo "folder $d/ has no README.md"; fail=1; }
done
if [ $fail -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
