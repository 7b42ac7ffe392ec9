#!/usr/bin/env bash
# The webhook and the key API with real HTTP (curl) against
# `sluice run --http --hmac-key-file --serve` on 127.0.0.1: a signed post is
# acknowledged only once committed (kill -9 right after the 200, restart,
# and the event is there and processed); unsigned, badly signed, malformed,
# oversized, wrongly typed bodies, unknown topics and missing keys each get
# their exact status with a JSON error; protobuf bodies; GET /v1/keys;
# ?wait= answers once the event is done through every stage (or 202).
#
# usage: ingest_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice="$1" src="$2"
source "$(dirname "$0")/lib.sh"
setup_work ingest

pipeline="$src/examples/package_trust/pipeline.yaml"
port=$(free_port)
base="http://127.0.0.1:$port"
printf 'webhook-key-%s\n' "$RANDOM" > "$work/key"
# The console token: GET /v1/keys needs a token with scope read.
export SLUICE_TOKEN="ingest-test-token-$RANDOM"
auth=(-H "Authorization: Bearer $SLUICE_TOKEN")

start_node() {
  "$sluice" run "$pipeline" --data "$work/data" --http "127.0.0.1:$port" \
    --hmac-key-file "$work/key" --serve -q 2>>"$work/node.log" &
  node_pid=$!
  for _ in $(seq 1 200); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" == 200 ]] && return 0
    sleep 0.05
  done
  echo "node did not become ready"; cat "$work/node.log"; return 1
}
# post BODY_FILE [CONTENT_TYPE] [SIGNATURE|none] [?QUERY]: prints the status;
# body in $work/resp
post() {
  local body="$1" type="${2:-application/json}" sig="${3:-}" query="${4:-}"
  [[ -z "$sig" ]] && sig=$(sign "$work/key" "$body")
  local hdr=(-H "Content-Type: $type")
  [[ "$sig" != none ]] && hdr+=(-H "X-Sluice-Signature: $sig")
  curl -s -o "$work/resp" -w '%{http_code}' -X POST "${hdr[@]}" --data-binary "@$body" "$base/v1/events$query"
}
json() { python3 -c "import json,sys; d=json.load(open('$work/resp')); print($1)"; }
record() { # record NAME DOWNLOADS: one npm registry record as the feed makes it
  printf '{"topic":"registry","key":"npm/%s","payload":{"name":"%s","version":"1.2.3","downloads_a_month":"%s","summary":"posted"},"attributes":{"ecosystem":"npm","format":"tsv"}}' "$1" "$1" "$2"
}

start_node || exit 1

# -- a signed post, acknowledged after commit, survives kill -9 ------------
record hooked-pkg 4321 > "$work/one.json"
status=$(post "$work/one.json")
# kill -9 at once: the 200 promised the event is in LMDB.
kill -9 "$node_pid"; wait "$node_pid" 2>/dev/null; node_pid=""
check "a signed post gets 200" test "$status" == 200
check "it reports one event accepted" test "$(json 'd["accepted"]')" == 1
id=$(json 'd["ids"][0]')
check "the event got an id derived from the body" test "${id:0:5}" == "http:"
start_node || exit 1
for _ in $(seq 1 100); do
  code=$(curl -s "${auth[@]}" -o "$work/resp" -w '%{http_code}' "$base/v1/keys/score/npm/hooked-pkg")
  [[ "$code" == 200 ]] && break; sleep 0.05
done
check "after kill -9 and restart the event was processed to the last stage" test "$code" == 200
check "GET /v1/keys gives its state" test "$(json 'd["state"]["name"]')" == hooked-pkg
check "GET /v1/keys gives its status" test "$(json 'd["status"]["phase"]')" == done
check "it was processed once" test "$(json 'd["events_processed"]')" == 1

# -- an array of events, and the same body again ---------------------------
printf '[%s,%s]' "$(record two-a 10)" "$(record two-b 20)" > "$work/two.json"
check "an array gets 200" test "$(post "$work/two.json")" == 200
check "with two events" test "$(json 'd["accepted"]')" == 2
ids1=$(json '",".join(d["ids"])')
post "$work/two.json" >/dev/null
check "the same body gets the same ids" test "$(json '",".join(d["ids"])')" == "$ids1"
check "  and 200 again" test "$(json 'd["accepted"]')" == 2
# ... but is queued once: once nothing is queued, each key went through
# parse once, and the store counted the resent events.
for _ in $(seq 1 200); do
  depth=$(curl -s "$base/metrics" | awk '/^sluice_stage_queue_depth\{/ { s += $2 } END { print s + 0 }')
  [[ "$depth" == 0 ]] && break; sleep 0.05
done
for k in two-a two-b; do
  curl -s "${auth[@]}" -o "$work/resp" "$base/v1/keys/parse/npm/$k"
  check "a resent body's event npm/$k was processed once" test "$(json 'd["events_processed"]')" == 1
done
check "the duplicates are counted" bash -c "curl -s '$base/metrics' | grep -q '^sluice_publish_duplicates_total 2'"

# -- protobuf ---------------------------------------------------------------
python3 - "$work/pb.bin" <<'PY'
import sys
# sluice.v1.EventBatch{events: [Event{id, topic, key, priority=NORMAL, payload, attributes}]}
def varint(n):
    out = b""
    while True:
        b = n & 0x7f; n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n: return out
def field(num, data): return varint(num << 3 | 2) + varint(len(data)) + data
def attr(k, v): return field(6, field(1, k.encode()) + field(2, v.encode()))
payload = b'{"name":"pb-pkg","version":"2.0.0","downloads_a_month":"99","summary":"protobuf"}'
ev = (field(1, b"pb:1") + field(2, b"registry") + field(3, b"npm/pb-pkg")
      + varint(5 << 3) + varint(1) + field(7, payload)
      + attr("ecosystem", "npm") + attr("format", "tsv"))
open(sys.argv[1], "wb").write(field(1, ev))
PY
check "a protobuf EventBatch gets 200" test "$(post "$work/pb.bin" application/x-protobuf)" == 200
check "its id is kept" test "$(json 'd["ids"][0]')" == "pb:1"
printf 'not protobuf at all \xff\xff' > "$work/badpb.bin"
check "bytes that are no EventBatch get 400" test "$(post "$work/badpb.bin" application/x-protobuf)" == 400
check "naming the message" bash -c "grep -q 'sluice.v1.EventBatch' '$work/resp'"

# -- ?wait=: answered once the event is done through every stage -----------
record waited-pkg 77 > "$work/waited.json"
check "a post with ?wait=10s gets 200" test "$(post "$work/waited.json" application/json "" '?wait=10s')" == 200
check "  its event is done" test "$(json 'd["done"][0]["outcome"]')" == done
check "  processed by parse, enrich and score" test "$(json 'd["done"][0]["processed"]')" == 3
check "  with nothing dead-lettered" test "$(json 'd["done"][0]["dead_lettered"]')" == 0
# No polling: the answer came after the last stage committed.
check "  and the last stage has its state at once" test "$(curl -s "${auth[@]}" -o "$work/resp" -w '%{http_code}' "$base/v1/keys/score/npm/waited-pkg")" == 200
check "the same body again is a duplicate" test "$(post "$work/waited.json" application/json "" '?wait=10s')" == 200
check "  reported as such" test "$(json 'd["done"][0]["outcome"]')" == duplicate
record unwaited-pkg 78 > "$work/unwaited.json"
check "?wait=0 answers before the stages ran: 202" test "$(post "$work/unwaited.json" application/json "" '?wait=0')" == 202
check "  the event pending" test "$(json 'd["done"][0]["outcome"]')" == pending
record badwait-pkg 79 > "$work/badwait.json"
check "?wait=soon: 400" test "$(post "$work/badwait.json" application/json "" '?wait=soon')" == 400
check "  naming the parameter" bash -c "grep -q 'wait=soon' '$work/resp'"

# -- refusals, each with its exact status and a JSON error -----------------
check "no signature: 401" test "$(post "$work/one.json" application/json none)" == 401
check "  the error says which header" bash -c "grep -q 'X-Sluice-Signature' '$work/resp'"
wrong="sha256=$(printf '%064d' 0)"
check "a wrong signature: 401" test "$(post "$work/one.json" application/json "$wrong")" == 401
check "  does not match" bash -c "grep -q 'does not match' '$work/resp'"
check "a malformed signature header: 400" test "$(post "$work/one.json" application/json "md5=abc")" == 400
printf '{"topic": "registry", "key": ' > "$work/broken.json"
check "malformed JSON: 400" test "$(post "$work/broken.json")" == 400
check "  naming the byte" bash -c "grep -q 'at byte' '$work/resp'"
printf '{"topic":"nowhere","key":"k","payload":"x"}' > "$work/topic.json"
check "an unknown topic: 422" test "$(post "$work/topic.json")" == 422
check "  naming it" bash -c "grep -q \"no topic 'nowhere'\" '$work/resp'"
printf '[{"topic":"registry","key":"a"},{"topic":"registry"}]' > "$work/nokey.json"
check "an event without a key: 400" test "$(post "$work/nokey.json")" == 400
check "  naming the event" bash -c "grep -q 'event 2: no' '$work/resp'"
printf '[]' > "$work/empty.json"
check "no event at all: 422" test "$(post "$work/empty.json")" == 422
printf 'plain' > "$work/plain.txt"
check "an unsupported Content-Type: 415" test "$(post "$work/plain.txt" text/plain)" == 415
python3 -c "print('{\"topic\":\"registry\",\"key\":\"big\",\"payload\":\"' + 'x' * (9 << 20) + '\"}')" > "$work/big.json"
check "a body over 8 MiB: 413" test "$(post "$work/big.json")" == 413
check "GET of an unknown key: 404" test "$(curl -s "${auth[@]}" -o "$work/resp" -w '%{http_code}' "$base/v1/keys/score/npm/never-posted")" == 404
check "  naming it" bash -c "grep -q 'never-posted' '$work/resp'"
check "GET of an unknown stage: 404" test "$(curl -s "${auth[@]}" -o "$work/resp" -w '%{http_code}' "$base/v1/keys/nostage/npm/x")" == 404
# Nothing refused was queued: the keys that reached parse are exactly the
# accepted events' (the refused array's first event, key "a", is not).
for _ in $(seq 1 100); do
  keys=$("$sluice" export --data "$work/data" --stage parse 2>/dev/null | cut -f1 | sort | tr '\n' ' ')
  [[ "$keys" == "npm/hooked-pkg npm/pb-pkg npm/two-a npm/two-b npm/unwaited-pkg npm/waited-pkg " ]] && break; sleep 0.05
done
check "only the accepted events were stored (parse has: $keys)" test "$keys" == "npm/hooked-pkg npm/pb-pkg npm/two-a npm/two-b npm/unwaited-pkg npm/waited-pkg "

kill -TERM "$node_pid"; wait "$node_pid"; rc=$?; node_pid=""
check "the node stops on SIGTERM with exit 0" test "$rc" -eq 0

finish
