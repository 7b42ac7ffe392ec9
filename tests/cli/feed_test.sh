#!/usr/bin/env bash
# Change feeds through the real binary (GET /v1/feed/score of the example
# pipeline, whose score stage keeps a changelog), while the pipeline writes
# over 100,000 changes (the npm registry list fed 13 times, each round with
# other download counts, so every row changes its key's score):
#  - subscribers starting cold at random moments, one of them SIGKILLed and
#    restarted from its last cursor, and a filtered one: each one's view
#    ends equal to `sluice export`, every key's versions rising by exactly
#    one (no change twice, none skipped) and offsets only growing;
#  - `sluice subscribe --cursor-file`, stopped and started again;
#  - `sluice subscribe --grpc` (the Feeds gRPC service), stopped and resumed
#    over HTTP with the same cursor, then over gRPC again, through the
#    node's kill -9: one log with no gap and no duplicate;
#  - the node killed (kill -9) and restarted: every subscriber resumes from
#    its cursor, again with no gap and no duplicate;
#  - Server-Sent Events with `id:` lines, Last-Event-ID winning over
#    ?cursor=, heartbeats;
#  - a subscriber that never reads does not stop the pipeline;
#  - bad requests: 400 (cursor, filter, format, max_rate) naming what is
#    wrong, 404 (stage), 409 (a stage without changelog), 503 with
#    Retry-After beyond --feed-subscribers.
#
# usage: feed_test.sh SLUICE_BINARY SOURCE_DIR
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 SLUICE_BINARY SOURCE_DIR" >&2; exit 2; }
sluice=$(realpath -- "$1")
src=$(realpath -- "$2")
ex=$src/examples/package_trust
feed_py=$src/tests/cli/feed_client.py
source "$(dirname "$0")/lib.sh"
setup_work feed
cd "$work"
pids=()
cleanup_feed() {
  local p
  for p in "${pids[@]}" "$node_pid"; do [[ -n "$p" ]] && { kill -9 "$p" 2>/dev/null || true; }; done
  wait 2>/dev/null || true
  node_pid=""
  cleanup_work
}
trap cleanup_feed EXIT

port=$(free_port)
gport=$(free_port)
base="http://127.0.0.1:$port"

# 13 rounds of the npm list, each with other download counts.
python3 - "$ex/data/npm.tsv" <<'PY' >npm.tsv
import sys
rows = open(sys.argv[1]).read().splitlines()
print(rows[0])
for r in range(1, 14):
    for row in rows[1:]:
        f = row.split("\t")
        f[2] = str(int(f[2] or 0) + r)
        print("\t".join(f))
PY
rows=$(($(wc -l <npm.tsv) - 1))
check "the feed has over 100,000 rows ($rows)" test "$rows" -gt 100000

start_node() { # FEED-ARGS...
  "$sluice" run "$ex/pipeline.yaml" --data data --http "127.0.0.1:$port" \
    --grpc "127.0.0.1:$gport" --serve --public-read "$@" >>node.log 2>&1 &
  node_pid=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "$base/readyz" && return 0
    sleep 0.1
  done
  echo "FAIL: the node did not start"; cat node.log; exit 1
}
drained() { # FEEDS: that many feeds were read whole, every queue is empty
  local q
  q=$(curl -s "$base/metrics" | awk '/^sluice_stage_queue_depth/ { s += $2 } END { print s + 0 }')
  [[ "$q" == 0 && $(grep -c '^summary:' node.log) -ge $1 ]]
}
wait_drained() { # FEEDS
  for _ in $(seq 1 900); do
    if drained "$1"; then sleep 1; drained "$1" && return 0; fi
    sleep 0.2
  done
  echo "FAIL: the pipeline did not drain"; exit 1
}

start_node --feed npm.tsv
# A subscriber that never reads: connects, asks, and sleeps.
python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(b"GET /v1/feed/score?format=ndjson HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(600)' "$port" &
pids+=($!)
# Cold subscribers at random moments while the pipeline runs.
for i in 1 2 3; do
  (sleep "$(python3 -c 'import random; print(random.uniform(0, 3))')"
   exec python3 "$feed_py" follow "$base/v1/feed/score" "sub$i.log") &
  pids+=($!)
done
python3 "$feed_py" follow "$base/v1/feed/score?prefix=npm/a&filter=%7B%22ecosystem%22%3A%5B%22npm%22%5D%7D" filtered.log &
pids+=($!)
filtered_pid=$!
python3 "$feed_py" follow "$base/v1/feed/score" killed.log &
killed_pid=$!
"$sluice" subscribe "127.0.0.1:$port" score --cursor-file cli.cursor >cli.log 2>cli.err &
cli_pid=$!
"$sluice" subscribe --grpc "127.0.0.1:$gport" score --cursor-file grpc.cursor >grpc.log 2>grpc.err &
grpc_pid=$!
sleep 1.5
kill -9 "$killed_pid" "$filtered_pid"
wait "$killed_pid" "$filtered_pid" 2>/dev/null || true
kill -TERM "$cli_pid" "$grpc_pid"
wait "$cli_pid" || true
wait "$grpc_pid" || true
check "sluice subscribe saved a cursor" test -s cli.cursor
check "sluice subscribe --grpc saved a cursor" test -s grpc.cursor
check "over gRPC: the snapshot ended with its cursor" grep -q '"type":"snapshot_end"' grpc.log
# The gRPC follower's cursor resumes over HTTP.
"$sluice" subscribe "127.0.0.1:$port" score --cursor-file grpc.cursor >>grpc.log 2>>grpc.err &
grpc_pid=$!
sleep 1
python3 "$feed_py" follow "$base/v1/feed/score" killed.log &
pids+=($!)
python3 "$feed_py" follow "$base/v1/feed/score?prefix=npm/a&filter=%7B%22ecosystem%22%3A%5B%22npm%22%5D%7D" filtered.log &
pids+=($!)
"$sluice" subscribe "127.0.0.1:$port" score --cursor-file cli.cursor >>cli.log 2>>cli.err &
cli_pid=$!
pids+=("$cli_pid")
sleep 1
kill -TERM "$grpc_pid"
wait "$grpc_pid" || true
# ... and over gRPC again, through the node's kill -9 below.
"$sluice" subscribe --grpc "127.0.0.1:$gport" score --cursor-file grpc.cursor >>grpc.log 2>>grpc.err &
pids+=($!)
wait_drained 1
sleep 2
"$sluice" export --data data --stage score >export1.tsv
for log in sub1 sub2 sub3 killed cli grpc; do
  check "$log: the view equals export, no gap, no duplicate" python3 "$feed_py" check "$log.log" export1.tsv
done
check "filtered: exactly the keys matching, no gap, no duplicate" \
  python3 "$feed_py" check filtered.log export1.tsv npm/a
check "the filtered subscriber took only npm/a keys" \
  bash -c "! grep -v '\"type\":\"snapshot_end\"\|\"type\":\"progress\"\|\"type\":\"connect\"' filtered.log | grep -qv '\"key\":\"npm/a'"

# kill -9 the node, start it again with one more round: every subscriber
# resumes from its cursor.
kill -9 "$node_pid"
wait "$node_pid" 2>/dev/null || true
mkdir -p round14
python3 - npm.tsv >round14/npm.tsv <<'PY'
import sys
rows = open(sys.argv[1]).read().splitlines()
print(rows[0])
for row in rows[1:8021]:
    f = row.split("\t")
    f[2] = str(int(f[2]) + 100)
    print("\t".join(f))
PY
start_node --feed round14/npm.tsv
wait_drained 2
sleep 3
"$sluice" export --data data --stage score >export2.tsv
check "the last round changed the states" bash -c "! cmp -s export1.tsv export2.tsv"
for log in sub1 sub2 sub3 killed cli grpc; do
  check "$log: resumed across kill -9 of the node" python3 "$feed_py" check "$log.log" export2.tsv
done
check "filtered: resumed across kill -9 of the node" \
  python3 "$feed_py" check filtered.log export2.tsv npm/a
check "no subscriber needed a new snapshot" \
  bash -c "! grep -q '\"type\":\"reset\"' sub1.log sub2.log sub3.log killed.log cli.log grpc.log filtered.log"

# Server-Sent Events: id lines, heartbeat, Last-Event-ID over ?cursor=.
curl -sN --max-time 7 "$base/v1/feed/score?prefix=npm/b" >sse.txt || true
check "SSE: snapshot events, then snapshot_end with an id" \
  bash -c "grep -q '^event: snapshot$' sse.txt && grep -A1 '^event: snapshot_end$' sse.txt | grep -q '^id: 1'"
check "SSE: a heartbeat comment when idle" grep -q '^: heartbeat$' sse.txt
cursor=$(grep -A1 '^event: snapshot_end$' sse.txt | sed -n 's/^id: //p')
curl -sN --max-time 2 -H "Last-Event-ID: $cursor" "$base/v1/feed/score?prefix=npm/b&cursor=bogus" >resume.txt || true
check "Last-Event-ID resumes (no snapshot again) and wins over ?cursor=" \
  bash -c "! grep -q '^event: snapshot' resume.txt && ! grep -q error resume.txt"

# Bad requests.
status() { curl -s -o body.txt -w '%{http_code}' "$@"; }
check "a malformed cursor: 400 naming it" \
  bash -c "[[ \$(curl -s -o body.txt -w '%{http_code}' '$base/v1/feed/score?cursor=1%21%21') == 400 ]] && grep -q 'malformed cursor' body.txt"
check "a malformed filter: 400 naming it" \
  bash -c "[[ \$(curl -s -o body.txt -w '%{http_code}' '$base/v1/feed/score?filter=%5B') == 400 ]] && grep -q 'bad filter' body.txt"
check "a bad format: 400" \
  bash -c "[[ \$(curl -s -o body.txt -w '%{http_code}' '$base/v1/feed/score?format=xml') == 400 ]] && grep -q 'format=xml' body.txt"
check "a bad max_rate: 400" \
  bash -c "[[ \$(curl -s -o body.txt -w '%{http_code}' '$base/v1/feed/score?max_rate=-1') == 400 ]]"
check "an unknown stage: 404 naming the stages" \
  bash -c "[[ \$(curl -s -o body.txt -w '%{http_code}' '$base/v1/feed/nope') == 404 ]] && grep -q 'stages: parse, enrich, score' body.txt"
check "a stage without changelog: 409 saying how to add one" \
  bash -c "[[ \$(curl -s -o body.txt -w '%{http_code}' '$base/v1/feed/parse') == 409 ]] && grep -q 'keeps no changelog' body.txt"
live=$(curl -s "$base/metrics" | awk '/^sluice_feed_subscribers\{stage="score"\}/ { print $2 }')
check "the metrics count the followers ($live)" test "${live:-0}" -ge 6
check "the node logged no error" bash -c "! grep -q '\[error\]\|\[critical\]' node.log"
# A node that serves two subscribers refuses a third.
kill -9 "$node_pid"
wait "$node_pid" 2>/dev/null || true
port=$(free_port)
gport=$(free_port)
base="http://127.0.0.1:$port"
"$sluice" run "$ex/pipeline.yaml" --data small --http "127.0.0.1:$port" \
  --serve --public-read --feed-subscribers 2 >small.log 2>&1 &
node_pid=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "$base/readyz" && break; sleep 0.1; done
for _ in 1 2; do
  curl -sN --max-time 20 -o /dev/null "$base/v1/feed/score" &
  pids+=($!)
done
sleep 1
code=$(curl -s -D headers.txt -o body.txt -w '%{http_code}' --max-time 5 "$base/v1/feed/score" || true)
check "beyond --feed-subscribers: 503 ($code)" test "$code" = 503
check "503 carries Retry-After" grep -qi '^Retry-After: 5' headers.txt
check "503 says the limit" grep -q '2 feed subscribers already' body.txt
finish
