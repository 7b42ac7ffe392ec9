#!/usr/bin/env bash
# --refeed through the real binary: feeding the example's files a second
# time skips every unchanged record at the parse stage (skip_unchanged),
# sends nothing downstream, and leaves every export as it was. A plain
# rerun of a finished run feeds nothing.
#
# usage: refeed_test.sh SLUICE_BINARY SOURCE_DIR
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 SLUICE_BINARY SOURCE_DIR" >&2; exit 2; }
sluice=$(realpath -- "$1")
ex=$(realpath -- "$2")/examples/package_trust
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_refeed.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
feeds=(--feed "$ex/data/npm.tsv" --feed "$ex/data/pypi.tsv" --feed "$ex/data/debian.Packages")
failed=0 passed=0
expect() { # NAME ACTUAL EXPECTED
  if [[ "$2" == "$3" ]]; then passed=$((passed + 1)); else
    echo "FAIL: $1: got '$2', expected '$3'"; failed=$((failed + 1)); fi
}
row() { grep -E "^  $2 " "$1" | awk "{print \$$3}"; } # FILE STAGE COLUMN

"$sluice" run "$ex/pipeline.yaml" "${feeds[@]}" --data d >p1.txt 2>&1
for s in parse enrich score; do "$sluice" export --data d --stage $s >"$s.1"; done
expect "first pass: parse ran every record" "$(row p1.txt parse 3)" 20985

"$sluice" run "$ex/pipeline.yaml" "${feeds[@]}" --data d >p2.txt 2>&1
expect "a plain rerun feeds nothing" "$(row p2.txt parse 2)" 0

"$sluice" run "$ex/pipeline.yaml" "${feeds[@]}" --data d --refeed >p3.txt 2>&1
expect "refeed: every record reaches parse" "$(row p3.txt parse 2)" 20985
expect "refeed: all skipped as unchanged" "$(row p3.txt parse 4)" 20985
expect "refeed: none run" "$(row p3.txt parse 3)" 0
expect "refeed: nothing reaches enrich" "$(row p3.txt enrich 2)" 0
for s in parse enrich score; do
  "$sluice" export --data d --stage $s >"$s.3"
  if cmp -s "$s.1" "$s.3"; then passed=$((passed + 1)); else
    echo "FAIL: export of $s changed"; failed=$((failed + 1)); fi
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
