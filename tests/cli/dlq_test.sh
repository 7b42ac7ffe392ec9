#!/usr/bin/env bash
# `sluice dlq` through the real binary: list (table and JSON), show, redrive
# (an event: yes; raw input: refused with the reason), drop, bad ids and
# data dirs, and listing beside a running node.
#
# usage: dlq_test.sh SLUICE_BINARY SOURCE_DIR
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 SLUICE_BINARY SOURCE_DIR" >&2; exit 2; }
sluice=$(realpath -- "$1")
example=$(realpath -- "$2")/examples/package_trust
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_dlq.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
passed=0
failed=0
check() { # NAME COMMAND...: the command must succeed
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); else echo "FAIL: $name"; failed=$((failed + 1)); fi
}
exits() { # CODE NAME COMMAND...: the command must exit with CODE
  local code=$1 name=$2 rc=0; shift 2
  "$@" >out.txt 2>err.txt || rc=$?
  if [[ $rc -eq $code ]]; then passed=$((passed + 1)); else
    echo "FAIL: $name: exit $rc, expected $code"; cat err.txt; failed=$((failed + 1)); fi
}

printf 'name\tversion\tdownloads_a_month\tsummary\nleft-pad\t1.3.0\t100\tpad\nbadrow\tonly\nnover\t\t5\tno version\n' > npm.tsv
"$sluice" run "$example/pipeline.yaml" --feed npm.tsv --data d -q 2>/dev/null

exits 0 "list" "$sluice" dlq list --data d
check "the table lists both dead letters" grep -q "^2 dead letters" out.txt
exits 0 "list --json" "$sluice" dlq list --data d --json
check "one JSON object per dead letter" test "$(wc -l < out.txt)" -eq 2
check "the ingest one names file and line" grep -q '"source":"npm.tsv:3".*\|"redrivable":false' out.txt
check "the parse one names key and error" grep -q '"key":"npm/nover".*"last_error":"behaviour package.parse failed permanently' out.txt
raw=$(grep '"redrivable":false' out.txt | sed 's/.*"id":"\([^"]*\)".*/\1/')
ev=$(grep '"redrivable":true' out.txt | sed 's/.*"id":"\([^"]*\)".*/\1/')
exits 0 "list --stage parse" "$sluice" dlq list --data d --stage parse --json
check "the stage filter narrows" test "$(wc -l < out.txt)" -eq 1
exits 0 "show" "$sluice" dlq show --data d "$ev" --json
check "show has the payload" grep -q '"payload":' out.txt
check "show has every error" grep -q '"errors":\[{"at_ns"' out.txt
exits 2 "redrive of raw input" "$sluice" dlq redrive --data d "$raw"
check "refused with the reason" grep -q "raw input" err.txt
exits 2 "a malformed id" "$sluice" dlq show --data d nonsense
check "the id is named" grep -q "'nonsense'" err.txt
exits 2 "an unknown id" "$sluice" dlq show --data d 9:9
exits 2 "a missing data dir" "$sluice" dlq list --data nowhere
check "the dir is named" grep -q "nowhere" err.txt
exits 2 "redrive without ids or --all" "$sluice" dlq redrive --data d
exits 0 "redrive" "$sluice" dlq redrive --data d "$ev"
check "one redriven" grep -q "redriven: 1" out.txt
exits 0 "list after redrive" "$sluice" dlq list --data d --json
check "only the raw one is left" test "$(wc -l < out.txt)" -eq 1
# The redriven event runs again on the next start (and fails again: the
# record still lacks a version), so it is back in the dead letters.
"$sluice" run "$example/pipeline.yaml" --feed npm.tsv --data d -q 2>/dev/null
exits 0 "list after the rerun" "$sluice" dlq list --data d --json
check "the event failed again, once" test "$(grep -c '"key":"npm/nover"' out.txt)" -eq 1
exits 0 "drop --all" "$sluice" dlq drop --data d --all
check "all dropped" grep -q "dropped: 2" out.txt
exits 0 "list after drop" "$sluice" dlq list --data d
check "none left" grep -q "^0 dead letters" out.txt

# Beside a running node: reads never block the writer.
"$sluice" run "$example/pipeline.yaml" --feed "$example/data/debian.Packages" --data big -q 2>/dev/null &
pid=$!
for _ in $(seq 50); do [[ -f big/data.mdb ]] && break; sleep 0.05; done
exits 0 "list beside a running node" "$sluice" dlq list --data big
wait "$pid"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
