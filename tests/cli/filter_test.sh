#!/usr/bin/env bash
# Filter policies and priority classes with real HTTP: events posted to the
# webhook reach the stage whose SNS-style filter accepts their attributes;
# those no subscription takes are counted as unrouted, not lost silently;
# an attribute value mapped to urgent (`priority_from`) makes the event
# urgent at that stage. And a feed file whose name is no ecosystem the
# example's parse stage takes (feed.tsv): the run says why nothing went
# through, once per reason and in its summary.
#
# usage: filter_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice="$1" src="$2"
source "$(dirname "$0")/lib.sh"
setup_work filter

port=$(free_port)
base="http://127.0.0.1:$port"
printf 'filter-key-%s\n' "$RANDOM" > "$work/key"
# The example, with parse taking npm and pypi only, and events whose
# attribute `priority` is "1" made urgent.
sed -e 's|filter: { ecosystem: \[npm, pypi, debian\] }|filter: { ecosystem: [npm, pypi] }\n        priority_from: { attribute: priority, urgent: ["1"] }|' \
  "$src/examples/package_trust/pipeline.yaml" > "$work/pipeline.yaml"
grep -q 'priority_from' "$work/pipeline.yaml" || { echo "FAIL: the test's pipeline edit did not apply"; exit 1; }

# The console token: GET /v1/keys needs a token with scope read.
export SLUICE_TOKEN="filter-test-token-$RANDOM"
cport=$(free_port)
"$sluice" run "$work/pipeline.yaml" --data "$work/data" --http "127.0.0.1:$port" \
  --hmac-key-file "$work/key" --listen "127.0.0.1:$cport" --serve -q 2>>"$work/node.log" &
node_pid=$!
for _ in $(seq 1 200); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" == 200 ]] && break
  sleep 0.05
done

event() { # NAME ECOSYSTEM PRIORITY-ATTRIBUTE
  printf '{"topic":"registry","key":"%s/%s","payload":{"name":"%s","version":"1.0.0","downloads_a_month":"5","summary":"f"},"attributes":{"ecosystem":"%s","format":"tsv","priority":"%s"}}' \
    "$2" "$1" "$1" "$2" "$3"
}
printf '[%s,%s,%s,%s]' "$(event plain-npm npm 0)" "$(event hot-pypi pypi 1)" \
  "$(event some-crate crates 0)" "$(event deb-pkg debian 1)" > "$work/body.json"
sig=$(sign "$work/key" "$work/body.json")
code=$(curl -s -o "$work/resp" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -H "X-Sluice-Signature: $sig" --data-binary "@$work/body.json" "$base/v1/events")
check "the four events are accepted (200)" test "$code" == 200

state() { curl -s -H "Authorization: Bearer $SLUICE_TOKEN" -o /dev/null -w '%{http_code}' "$base/v1/keys/score/$1"; }
for _ in $(seq 1 200); do
  [[ $(state npm/plain-npm) == 200 && $(state pypi/hot-pypi) == 200 ]] && break; sleep 0.05
done
check "npm, which the filter accepts, went through the pipeline" test "$(state npm/plain-npm)" == 200
check "pypi too" test "$(state pypi/hot-pypi)" == 200
check "crates, which no subscription takes, did not" test "$(state crates/some-crate)" == 404
check "debian, filtered out now, did not" test "$(state debian/deb-pkg)" == 404
metrics=$(curl -s "$base/metrics")
check "the two are counted as unrouted, not lost silently" \
  grep -q '^sluice_publish_unrouted_total{topic="registry"} 2$' <<<"$metrics"
check "priority \"1\" made hot-pypi urgent at parse" \
  grep -q '^sluice_stage_latency_seconds_count{priority="urgent",stage="parse"} 1$' <<<"$metrics"
check "and the other one normal" \
  grep -q '^sluice_stage_latency_seconds_count{priority="normal",stage="parse"} 1$' <<<"$metrics"

# The console's stages list them with why; the log says it once per reason.
take_why='matched no subscription: parse takes ecosystem npm or pypi'
"$sluice" console "127.0.0.1:$cport" -c stages >"$work/stages.json" 2>"$work/console.err"
unrouted=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(";".join("%s|%s|%d" % (u["source"], u["why"], u["records"]) for u in d["unrouted"]))' "$work/stages.json")
check "the console's stages say why each was taken by no stage ($unrouted)" \
  test "$unrouted" == "publish|ecosystem=crates $take_why|1;publish|ecosystem=debian $take_why|1"
check "the node logged the first of each reason with the event" \
  grep -q "published event .* (topic registry): taken by no stage: ecosystem=crates $take_why" "$work/node.log"

kill -TERM "$node_pid"; wait "$node_pid"; node_pid=""

# The example routes by the ecosystem it takes from the feed's file name.
head -n 51 "$src/examples/package_trust/data/npm.tsv" > "$work/feed.tsv"
"$sluice" run "$src/examples/package_trust/pipeline.yaml" --data "$work/feed-data" \
  --feed "$work/feed.tsv" >"$work/feed.out" 2>&1
rc=$?
check "a feed no stage takes still runs to its end (exit $rc)" test "$rc" -eq 0
why='ecosystem=feed matched no subscription: parse takes ecosystem debian, npm or pypi'
check "the first such record is logged with its line and why" \
  grep -q "feed.tsv:2: taken by no stage: $why" "$work/feed.out"
check "the end of the feed counts them per reason" \
  grep -q "feed.tsv: 50 records taken by no stage: $why" "$work/feed.out"
check "the summary says so" \
  grep -q "^  50 feed records taken by no stage" "$work/feed.out"
finish
