#!/usr/bin/env bash
# JSON-lines feeds and standard input: the example's npm records written as
# JSON lines give the same scores as the TSV file, from a file, from a file
# whose format only --format tells, and from a pipe (`--feed -`); a malformed line is a dead letter naming file and line
# and the rest goes through; standard input is new input on every run.
#
# usage: jsonl_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice="$1" src="$2"
source "$(dirname "$0")/lib.sh"
setup_work jsonl

pipeline="$src/examples/package_trust/pipeline.yaml"
head -n 31 "$src/examples/package_trust/data/npm.tsv" > "$work/npm.tsv"
# The same 30 records as events: key, attributes and the row as payload.
python3 - "$work/npm.tsv" > "$work/npm.jsonl" <<'PY'
import json, sys
rows = open(sys.argv[1], encoding="utf-8").read().splitlines()
cols = rows[0].split("\t")
for row in rows[1:]:
    fields = dict(zip(cols, row.split("\t")))
    print(json.dumps({"key": "npm/" + fields["name"],
                      "attributes": {"ecosystem": "npm"},
                      "payload": fields}))
PY
check "30 JSON lines written" test "$(wc -l <"$work/npm.jsonl")" -eq 30

"$sluice" run "$pipeline" --data "$work/tsv" --feed "$work/npm.tsv" -q
"$sluice" export --data "$work/tsv" --stage score >"$work/tsv.out"
check "the TSV run scored 30 packages" test "$(wc -l <"$work/tsv.out")" -eq 30

"$sluice" run "$pipeline" --data "$work/file" --feed "$work/npm.jsonl" -q
rc=$?
check "a JSON-lines file runs (exit $rc)" test "$rc" -eq 0
"$sluice" export --data "$work/file" --stage score >"$work/file.out"
check "and scores exactly what the TSV file does" cmp -s "$work/tsv.out" "$work/file.out"

# A name that says nothing, and a first line that does not look like JSON:
# --format tells the reader (its JSON lines with a space first).
sed 's/^/ /' "$work/npm.jsonl" >"$work/npm.txt"
"$sluice" run "$pipeline" --data "$work/format" --feed "$work/npm.txt" --format jsonl -q
rc=$?
check "--format jsonl reads a .txt of JSON lines (exit $rc)" test "$rc" -eq 0
"$sluice" export --data "$work/format" --stage score >"$work/format.out"
check "and scores what the TSV file does" cmp -s "$work/tsv.out" "$work/format.out"
"$sluice" run "$pipeline" --data "$work/csv" --feed "$work/npm.txt" --format csv -q 2>"$work/csv.err"
rc=$?
check "--format csv is refused (exit $rc)" test "$rc" -eq 2
check "naming the formats" grep -q "tsv, debian, jsonl, lines\|{tsv,debian,jsonl,lines}" "$work/csv.err"

cat "$work/npm.jsonl" | "$sluice" run "$pipeline" --data "$work/pipe" --feed - -q
rc=$?
check "a pipe into --feed - runs (exit $rc)" test "$rc" -eq 0
"$sluice" export --data "$work/pipe" --stage score >"$work/pipe.out"
check "and scores exactly the same" cmp -s "$work/tsv.out" "$work/pipe.out"

# Standard input is new input on every run: a second run takes more.
printf '%s\n' '{"key": "npm/late-pkg", "attributes": {"ecosystem": "npm"}, "payload": {"name": "late-pkg", "version": "1.0.0", "downloads_a_month": "10", "summary": "late"}}' \
  | "$sluice" run "$pipeline" --data "$work/pipe" --feed - >"$work/again.out" 2>&1
rc=$?
check "a second run on the same data takes new standard input (exit $rc)" test "$rc" -eq 0
check "its record is scored" grep -q '^npm/late-pkg' <("$sluice" export --data "$work/pipe" --stage score)
check "and its summary counts one feed record" grep -q "summary: 1 feed records" "$work/again.out"

# A malformed line is a dead letter with its file and line; the rest goes on.
{ sed -n 1,2p "$work/npm.jsonl"; echo '{"key": "npm/broken", '; sed -n 3p "$work/npm.jsonl"; } > "$work/bad.jsonl"
"$sluice" run "$pipeline" --data "$work/bad" --feed "$work/bad.jsonl" -q
rc=$?
check "a feed with a malformed line runs to its end (exit $rc)" test "$rc" -eq 0
"$sluice" dlq list --data "$work/bad" >"$work/dlq.out" 2>&1
check "one dead letter" test "$(grep -c '(ingest)' "$work/dlq.out")" -eq 1
id=$(awk 'NR == 2 { print $1 }' "$work/dlq.out")
"$sluice" dlq show --data "$work/bad" "$id" >"$work/show.out" 2>&1
check "it names the file and line and says why" grep -q "bad.jsonl:3: not JSON" "$work/show.out"
check "the three good lines were scored" \
  test "$("$sluice" export --data "$work/bad" --stage score | wc -l)" -eq 3

check "--feed - twice is refused" bash -c "! '$sluice' run '$pipeline' --data '$work/twice' --feed - --feed - -q </dev/null 2>'$work/twice.err'"
check "with a clear error" grep -q "given more than once" "$work/twice.err"
finish
