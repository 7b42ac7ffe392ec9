#!/usr/bin/env bash
# The debian_slices pipeline through the `sluice` binary: the slice
# controller configured by the topology's settings, the bundled sample's
# main index then its security batch (each a `sluice run` on the same data
# directory); the job stage takes exactly one event per slice or reference
# package the controller reports changed, and the other slices' results
# stay byte for byte; the tenant's view over HTTP and the job results as a
# change feed; a setting that cannot work refuses the topology,
# named by file and line; debian_slices_chunk refuses bad usage.
#
# usage: slices_test.sh SLUICE_BINARY CHUNK_BINARY SOURCE_DIR
set -uo pipefail
sluice="$1" chunk="$2" src="$3"
source "$(dirname "$0")/lib.sh"
setup_work slices

ex="$src/examples/debian_slices"
pipeline="$ex/pipeline.yaml"
"$chunk" --tenant bookworm/amd64 --per 500 "$ex/data/bookworm_main_sample.Packages" \
  >"$work/main.jsonl" 2>/dev/null
"$chunk" --tenant bookworm/amd64 "$ex/data/bookworm_security_sample.Packages" \
  >"$work/security.jsonl" 2>/dev/null
check "the main sample is 6 chunks of at most 500 stanzas" test "$(wc -l <"$work/main.jsonl")" -eq 6

# view FIELD: a field of the tenant's controller view (export of slices).
view() {
  "$sluice" export --data "$work/data" --stage slices \
    | python3 -c 'import json,sys; k,v=sys.stdin.read().split("\t",1); print(eval("json.loads(v)" + sys.argv[1]))' "$1"
}
job_in() { awk '$1 == "job" { print $2 }' "$1"; }

"$sluice" run "$pipeline" --data "$work/data" --feed "$work/main.jsonl" >"$work/main.out" 2>&1
check "the main sample runs" test $? -eq 0
check "into 2,385 slices" test "$(view '["slices"]')" -eq 2385
check "24 reference packages" test "$(view '["reference_records"]')" -eq 24
"$sluice" export --data "$work/data" --stage job >"$work/jobs.before"
check "one job result per slice and reference package" test "$(wc -l <"$work/jobs.before")" -eq $((2385 + 24))
total() { view '["changes"]' | python3 -c 'import ast,sys; c=ast.literal_eval(sys.stdin.read()); print(c["upserted"]+c["merged"]+c["split"]+c["removed"]+c["references"])'; }
before=$(total)
check "the job stage took one event per change reported (main)" test "$(job_in "$work/main.out")" -eq "$before"

"$sluice" run "$pipeline" --data "$work/data" --feed "$work/security.jsonl" >"$work/security.out" 2>&1
check "the security batch runs" test $? -eq 0
after=$(total)
ran=$(job_in "$work/security.out")
check "the job stage took exactly the $((after - before)) changes of the batch ($ran)" test "$ran" -eq $((after - before))
check "a small share of the slices ($ran of 2,409)" test "$ran" -lt 200
"$sluice" export --data "$work/data" --stage job >"$work/jobs.after"
differ=$(comm -3 <(sort "$work/jobs.before") <(sort "$work/jobs.after") | cut -f1 | sort -u | wc -l)
check "no more results changed than jobs ran ($differ)" test "$differ" -le "$ran"
check "the rest stayed byte for byte" test "$(comm -12 <(sort "$work/jobs.before") <(sort "$work/jobs.after") | wc -l)" -ge $((2409 - ran))

# The tenant's slices over HTTP, as the console's inspect shows them.
port=$(free_port)
"$sluice" run "$pipeline" --data "$work/data" --http "127.0.0.1:$port" --serve \
  --public-read -q 2>>"$work/node.log" &
node_pid=$!
for _ in $(seq 100); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" == 200 ]] && break
  sleep 0.1
done
curl -s "http://127.0.0.1:$port/v1/keys/slices/bookworm/amd64?ingest=0" >"$work/key.json"
# The job results as a change feed: a snapshot of every slice's result.
timeout 10 curl -sN "http://127.0.0.1:$port/v1/feed/job?format=ndjson" \
  | grep -m1 -n '"snapshot_end"' >"$work/feed.end"
kill -TERM "$node_pid"
wait "$node_pid" 2>/dev/null
check "GET /v1/keys/slices/TENANT shows the slice count" grep -q '"slices":2385' "$work/key.json"
check "the largest slices and the last change" grep -q '"largest_slices":\[{"members":9' "$work/key.json"
check "and the changes so far" grep -q '"changes":{' "$work/key.json"
check "the job results are a feed: 2,409 snapshot events, then its end" \
  test "$(cut -d: -f1 "$work/feed.end")" -eq $((2409 + 1))

# A setting the controller refuses refuses the topology, by line.
sed 's/min_in_degree: 3/min_in_degree: three/' "$pipeline" >"$work/bad.yaml"
"$sluice" run "$work/bad.yaml" --data "$work/bad" --feed "$work/security.jsonl" >"$work/bad.out" 2>&1
rc=$?
check "a bad setting is refused (exit $rc)" test "$rc" -eq 2
check "naming file, line and setting" grep -q "bad.yaml:[0-9]*: stages.slices.settings.min_in_degree: expected an integer in \[0, 1000000\], got 'three'" "$work/bad.out"
sed 's/min_in_degree: 3/min_in_degre: 3/' "$pipeline" >"$work/typo.yaml"
"$sluice" run "$work/typo.yaml" --data "$work/typo" --feed "$work/security.jsonl" >"$work/typo.out" 2>&1
check "an unknown setting is refused, naming the known ones" grep -q "settings.min_in_degre: unknown setting (known: min_in_degree, reference, topic" "$work/typo.out"
sed 's/min_in_degree: 3/min_in_degree: 4/' "$pipeline" >"$work/four.yaml"
"$sluice" topology diff "$pipeline" "$work/four.yaml" >"$work/diff.out" 2>&1
check "a changed setting is a difference of its stage" grep -q "~ stage slices: settings min_in_degree 3, .* -> min_in_degree 4" "$work/diff.out"

"$chunk" --per 0 x >/dev/null 2>"$work/chunk.err"
check "the chunker refuses --per 0 (exit 2)" test $? -eq 2
check "naming it" grep -q "\-\-per: expected a number" "$work/chunk.err"
"$chunk" --tenant t /no/such/file >/dev/null 2>"$work/chunk.err"
check "and a missing file, by name" grep -q "cannot read '/no/such/file'" "$work/chunk.err"
finish
