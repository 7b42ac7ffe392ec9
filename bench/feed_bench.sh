#!/usr/bin/env bash
# Change feeds (issue 16), three measurements in one run of the example
# pipeline (examples/package_trust, whose score stage keeps a changelog):
#
# 1. Cold start: a data directory with N keys (default 1,000,000; filled
#    through the pipeline with --no-sync, not measured), served by
#    `sluice run --serve`; one reader (curl) takes GET /v1/feed/score from
#    the first byte to `snapshot_end`: events/s, NDJSON and SSE, and over
#    gRPC (bench_feed_grpc, bench/feed_grpc_reader.cpp: Feeds.Subscribe,
#    messages decoded, nothing printed), as JSON and as raw states (no
#    renderer), against
#    `sluice export` of the same stage (the same states read and rendered
#    as JSON, to a file) in the same run. Medians over the trials.
# 2. Live tail: the npm list fed 13 times (104,260 changes, each row with
#    other download counts) with an fsync per commit; one subscriber
#    records, for every change, its arrival time minus its commit time
#    (`ts`, ms): p50, p99, max. Then the same with a gRPC subscriber of raw
#    states (bench_feed_grpc --raw --lag).
# 3. Cost: the same feed's throughput (the run's summary line, stage
#    events/s) with 0, 10 and 100 subscribers following the whole stream,
#    and with 100 following one key prefix each (a realistic filtered
#    fan-out), and 10 and 100 gRPC subscribers of raw states, alternating,
#    medians and ratios to 0.
#
# usage: bench/feed_bench.sh [--keys N] [--trials T] [--only cold|lag|cost]
# Needs build/bin/sluice (or $SLUICE_BIN), build/bin/bench_feed_grpc (or
# $FEED_GRPC_BIN), curl, python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sluice="${SLUICE_BIN:-$here/../build/bin/sluice}"
pipeline="$here/../examples/package_trust/pipeline.yaml"
npm="$here/../examples/package_trust/data/npm.tsv"
keys=1000000 trials=3 only=""
while (($#)); do
  case $1 in
    --keys) keys=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
  esac
done
grpc_reader="${FEED_GRPC_BIN:-$here/../build/bin/bench_feed_grpc}"
[[ -x $sluice ]] || { echo "missing $sluice: build it first" >&2; exit 1; }
[[ -x $grpc_reader ]] || { echo "missing $grpc_reader: cmake --build build --target bench_feed_grpc" >&2; exit 1; }
work=$(mktemp -d /var/tmp/sluice_feed_bench.XXXXXX)
pid=""
readers=()
cleanup() {
  local p
  for p in "${readers[@]}" $pid; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
gport=$((port + 1))
base="http://127.0.0.1:$port"
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
serve() { # DATA [ARGS...]: a serving node, ready
  local data=$1
  shift
  "$sluice" --log-level warn run "$pipeline" --data "$data" \
    --http "127.0.0.1:$port" --grpc "127.0.0.1:$gport" --serve --public-read "$@" >"$work/node.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    curl -s -o /dev/null "$base/readyz" && return 0
    sleep 0.05
  done
  echo "the node did not start" >&2
  cat "$work/node.log" >&2
  exit 1
}
stop() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}

bench_header "change feeds"

if [[ -z $only || $only == cold ]]; then
  echo
  echo "-- 1. cold start: $keys keys, one reader to snapshot_end --"
  bash "$here/cluster/unique_feed.sh" "$keys" "$npm" "$work/npm.tsv"
  t0=$(now_ms)
  "$sluice" --log-level warn run "$pipeline" --data "$work/full" \
    --feed "$work/npm.tsv" --no-sync >"$work/fill.log" 2>&1
  echo "filled in $(( ($(now_ms) - t0) / 1000 )) s; data.mdb $(du -h "$work/full/data.mdb" | cut -f1)"
  serve "$work/full"
  for trial in $(seq 1 "$trials"); do
    t0=$(now_ms)
    "$sluice" export --data "$work/full" --stage score >"$work/export.tsv"
    ms=$(($(now_ms) - t0))
    echo "$keys $ms" | awk '{ printf "export %d: %d ms, %.0f keys/s\n", t, $2, $1 * 1000 / $2 }' t="$trial"
    echo "$ms" >>"$work/export.ms"
    for format in ndjson sse; do
      # curl into a FIFO; grep leaves at snapshot_end (mawk would wait to
      # fill its input buffer, which the heartbeats do slowly).
      rm -f "$work/fifo"
      mkfifo "$work/fifo"
      t0=$(now_ms)
      curl -sN "$base/v1/feed/score?format=$format" >"$work/fifo" &
      reader=$!
      n=$(grep -n -m1 'snapshot_end' <"$work/fifo" | cut -d: -f1)
      t1=$(now_ms)
      kill "$reader" 2>/dev/null || true
      wait "$reader" 2>/dev/null || true
      ms=$((t1 - t0))
      echo "$keys $ms $n" | awk '{ printf "%s %d: %d ms to snapshot_end (%d lines), %.0f events/s\n", f, t, $2, $3, $1 * 1000 / $2 }' f="$format" t="$trial"
      echo "$ms" >>"$work/$format.ms"
    done
    t0=$(now_ms)
    out=$("$grpc_reader" "127.0.0.1:$gport" score)
    ms=$(($(now_ms) - t0))
    echo "$keys $ms $out" | awk '{ printf "grpc %d: %d ms to snapshot_end (%d events), %.0f events/s\n", t, $2, $3, $1 * 1000 / $2 }' t="$trial"
    echo "$ms" >>"$work/grpc.ms"
    t0=$(now_ms)
    out=$("$grpc_reader" "127.0.0.1:$gport" score --raw)
    ms=$(($(now_ms) - t0))
    echo "$keys $ms $out" | awk '{ printf "grpc raw %d: %d ms to snapshot_end (%d events), %.0f events/s\n", t, $2, $3, $1 * 1000 / $2 }' t="$trial"
    echo "$ms" >>"$work/raw.ms"
  done
  e=$(median <"$work/export.ms") nd=$(median <"$work/ndjson.ms") ss=$(median <"$work/sse.ms")
  gr=$(median <"$work/grpc.ms") raw=$(median <"$work/raw.ms")
  awk -v k="$keys" -v e="$e" -v n="$nd" -v s="$ss" -v g="$gr" -v r="$raw" 'BEGIN {
    printf "median: export %.0f keys/s; feed NDJSON %.0f events/s (%.2f of export), SSE %.0f events/s (%.2f), gRPC %.0f events/s (%.2f), gRPC raw states %.0f events/s (%.2f)\n",
      k * 1000 / e, k * 1000 / n, e / n, k * 1000 / s, e / s, k * 1000 / g, e / g, k * 1000 / r, e / r }'
  stop
  rm -rf "$work/full" "$work/export.tsv"
fi

# 13 rounds of the npm list, each row with other download counts: every
# row changes its key's score.
mkdir -p "$work/rounds"
python3 - "$npm" >"$work/rounds/npm.tsv" <<'PY'
import sys
rows = open(sys.argv[1]).read().splitlines()
print(rows[0])
for r in range(1, 14):
    for row in rows[1:]:
        f = row.split("\t")
        f[2] = str(int(f[2] or 0) + r)
        print("\t".join(f))
PY
feed="$work/rounds/npm.tsv"
changes=$(($(wc -l <"$feed") - 1))

# http_lag_reader URL N: follows the NDJSON feed at URL (reconnecting with
# its cursor) until N changes came; prints the commit -> delivery lag.
# Run in the background: it execs python, so $! is the reader.
http_lag_reader() {
  exec python3 "$here/feed_lag_reader.py" "$@"
}

# lag_run OUT READER...: the subscriber READER (printing its lag figures)
# is connected before the first change: the node starts with no feed,
# READER subscribes, then the node starts again with the feed on the same
# data directory (READER reconnects with its cursor); OUT's figures.
lag_run() {
  local out=$1 reader t0
  shift
  rm -rf "$work/lag"
  serve "$work/lag"
  "$@" >"$out" &
  reader=$!
  readers+=("$reader")
  sleep 1
  stop
  t0=$(now_ms)
  serve "$work/lag" --feed "$feed"
  wait "$reader"
  echo "fed and delivered in $(($(now_ms) - t0)) ms"
  cat "$out"
  stop
}

if [[ -z $only || $only == lag ]]; then
  echo
  echo "-- 2. live tail: $changes changes, fsync per commit, commit -> delivery --"
  lag_run "$work/lag.txt" http_lag_reader "$base/v1/feed/score?format=ndjson" "$changes"
  echo "-- 2b. the same over gRPC with raw states (no renderer) --"
  lag_run "$work/lag-grpc.txt" "$grpc_reader" "127.0.0.1:$gport" score --raw --lag "$changes"
fi

if [[ -z $only || $only == cost ]]; then
  echo
  echo "-- 3. cost: throughput of the $changes-change feed with subscribers --"
  run_with() { # N FILTERED (1: a prefix each; 2: gRPC, raw states): prints the run's stage events/s
    local n=$1 filtered=$2 data="$work/cost" i
    rm -rf "$data"
    local subs=()
    "$sluice" --log-level warn run "$pipeline" --data "$data" \
      --http "127.0.0.1:$port" --grpc "127.0.0.1:$gport" --serve --public-read --feed-subscribers 128 \
      --feed "$feed" >"$work/node.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 600); do curl -s -o /dev/null "$base/readyz" && break; sleep 0.02; done
    for ((i = 0; i < n; i++)); do
      local q=""
      if ((filtered == 1)); then q="&prefix=npm/$(printf '%x' $((i % 16)))"; fi
      if ((filtered == 2)); then
        "$grpc_reader" "127.0.0.1:$gport" score --raw --lag 1000000000 >/dev/null 2>&1 &
      else
        curl -sN "$base/v1/feed/score?format=ndjson$q" >/dev/null &
      fi
      subs+=($!)
    done
    for _ in $(seq 1 3000); do grep -q '^summary:' "$work/node.log" && break; sleep 0.05; done
    local rate
    rate=$(sed -n 's/^summary:.*(\([0-9.]*\)k stage events\/s).*/\1/p' "$work/node.log")
    if ((${#subs[@]})); then
      kill "${subs[@]}" 2>/dev/null || true
      wait "${subs[@]}" 2>/dev/null || true
    fi
    stop
    echo "$rate"
  }
  for trial in $(seq 1 "$trials"); do
    for setup in "0 0" "10 0" "100 0" "100 1" "10 2" "100 2"; do
      read -r n f <<<"$setup"
      r=$(run_with "$n" "$f")
      echo "trial $trial: $n subscribers$( ((f == 1)) && echo ' (one prefix each)')$( ((f == 2)) && echo ' (gRPC, raw states)'): ${r}k stage events/s"
      echo "$r" >>"$work/cost.$n.$f"
    done
  done
  z=$(median <"$work/cost.0.0")
  for setup in "10 0" "100 0" "100 1" "10 2" "100 2"; do
    read -r n f <<<"$setup"
    m=$(median <"$work/cost.$n.$f")
    awk -v n="$n" -v f="$f" -v m="$m" -v z="$z" 'BEGIN {
      printf "median: %d subscribers%s %.1fk stage events/s, %.2f of none (%.1fk)\n",
        n, f == 1 ? " (one prefix each)" : f == 2 ? " (gRPC, raw states)" : "", m, m / z, z }'
  done
fi
