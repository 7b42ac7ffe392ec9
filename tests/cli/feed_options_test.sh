#!/usr/bin/env bash
# Feeds that are not registry rows: the topology's `feed: {key, attributes}`
# takes each record's key from a column and copies columns into the
# attributes, where a filter policy routes on them and `priority_from`
# makes some urgent. Here: the example's npm rows with a `tier` column,
# keyed by their name alone; parse takes gold and silver, and gold is
# urgent; bronze is taken by no stage, and the run says why. The score
# stage's change feed filtered on the events' attributes (over HTTP and
# gRPC) takes exactly the gold or the silver keys.
#
# usage: feed_options_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice="$1" src="$2"
source "$(dirname "$0")/lib.sh"
setup_work feed_options

# 30 npm rows, tiers gold, silver, bronze in turn.
awk -F'\t' 'BEGIN { OFS = "\t"; split("gold silver bronze", t, " ") }
  NR == 1 { print $0, "tier"; next }
  NR <= 31 { print $0, t[(NR - 2) % 3 + 1] }' \
  "$src/examples/package_trust/data/npm.tsv" > "$work/npm.tsv"
sed -e 's|^feed: { topic: registry }$|feed: { topic: registry, key: name, attributes: [tier] }|' \
    -e 's|        filter: { ecosystem: \[npm, pypi, debian\] }|        filter: { ecosystem: [npm, pypi, debian], tier: [gold, silver] }\n        priority_from: { attribute: tier, urgent: [gold] }|' \
  "$src/examples/package_trust/pipeline.yaml" > "$work/pipeline.yaml"
check "the test's edits applied" grep -q 'attributes: \[tier\]' "$work/pipeline.yaml"
check "both of them" grep -q 'urgent: \[gold\]' "$work/pipeline.yaml"

port=$(free_port)
"$sluice" run "$work/pipeline.yaml" --data "$work/data" --feed "$work/npm.tsv" \
  >"$work/run.out" 2>&1
rc=$?
check "the run ends (exit $rc)" test "$rc" -eq 0
"$sluice" export --data "$work/data" --stage score | cut -f1 > "$work/keys"
check "20 records (gold and silver) were scored" test "$(wc -l <"$work/keys")" -eq 20
check "under the key column's value, not ecosystem/name" \
  grep -qx "$(awk -F'\t' 'NR == 2 { print $1 }' "$work/npm.tsv")" "$work/keys"
check "the run says the 10 bronze records went nowhere, and why" \
  grep -q "10 feed records taken by no stage" "$work/run.out"
check "naming the attribute's value" grep -q "tier=bronze" "$work/run.out"

# Priorities: parse took 10 urgent (gold) and 10 normal (silver), read
# from the metrics of a serving run.
gport=$(free_port)
"$sluice" run "$work/pipeline.yaml" --data "$work/data2" --feed "$work/npm.tsv" \
  --http "127.0.0.1:$port" --grpc "127.0.0.1:$gport" --serve --public-read -q >/dev/null 2>&1 &
node_pid=$!
for _ in $(seq 1 400); do
  m=$(curl -s "http://127.0.0.1:$port/metrics")
  grep -q '^sluice_stage_done_total{stage="score"} 20$' <<<"$m" && break
  sleep 0.05
done
check "gold records were urgent at parse" \
  grep -q '^sluice_stage_latency_seconds_count{priority="urgent",stage="parse"} 10$' <<<"$m"
check "silver ones normal" \
  grep -q '^sluice_stage_latency_seconds_count{priority="normal",stage="parse"} 10$' <<<"$m"

# The change feed filtered on the attributes of the events behind each
# state (emits inherit their event's attributes: tier reaches score).
feed() { # TRANSPORT-ARGS... : the snapshot of score, then exit
  timeout 2 "$sluice" subscribe "$@" score --once >"$work/feed.out" 2>"$work/feed.err"
  grep -c '"type":"snapshot"' "$work/feed.out"
}
gold='{"tier":["gold"]}'
check "HTTP, attributes gold: the 10 gold keys" \
  test "$(feed "127.0.0.1:$port" --attributes "$gold")" -eq 10
check "each with its attributes" \
  test "$(grep -c '"attributes":{"ecosystem":"npm","format":"tsv","tier":"gold"}' "$work/feed.out")" -eq 10
check "gRPC, attributes silver: the 10 silver keys" \
  test "$(feed --grpc "127.0.0.1:$gport" --attributes '{"tier":"silver"}')" -eq 10
check "no silver key among them" bash -c "! grep -q '\"tier\":\"gold\"' '$work/feed.out'"
check "attributes and a state field at once" \
  test "$(feed "127.0.0.1:$port" --attributes "$gold" --filter '{"ecosystem":["pypi"]}')" -eq 0
check "no filter: all 20" test "$(feed --grpc "127.0.0.1:$gport")" -eq 20
code=$(curl -s -o "$work/bad.json" -w '%{http_code}' "http://127.0.0.1:$port/v1/feed/score?attributes=%7B%22tier%22%3A%5B1%5D%7D")
check "a malformed attributes filter: 400 ($code) naming it" \
  bash -c "[[ $code == 400 ]] && grep -q 'bad attributes filter' '$work/bad.json'"
kill -TERM "$node_pid"; wait "$node_pid"; node_pid=""
finish
