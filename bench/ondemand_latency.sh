#!/usr/bin/env bash
# HTTP ingest and on-demand queries (issue 6): the latency of
# GET /v1/keys/score/KEY for keys the node has never seen (ingested from the
# --catalog as urgent events, answered once the pipeline finished them)
# while a backlog of at least N normal events is queued and draining, and
# the webhook's accepted rate (signed POST /v1/events batches), both against
# baselines measured in the same run.
#
# Per trial, `sluice run examples/package_trust/pipeline.yaml --http
# --catalog pypi.tsv --hmac-key-file --serve` (fsync on every commit unless
# --no-sync), driven by bench_http_load (bench/http_load.cpp):
#
#  A. idle node (no feed, fresh data directory): Q query keys one at a time
#     with a new connection per query, Q other keys over one keep-alive
#     connection (the idle baselines); then the webhook for S seconds over C
#     keep-alive connections, then S seconds with a new connection per POST:
#     batches of B generated npm records (unique keys).
#  B. backlog node (fresh data directory, --feed of N + EXTRA unique npm
#     records, console on --listen): parse is paused at once, the feed
#     queues everything (the file feed's rate is printed: the durable queue
#     append without HTTP), parse is resumed, and after a 3 s warm-up the
#     same 2Q keys are queried as in A (the backlog depth before and after is
#     printed; EXTRA keeps it at least N throughout), then the backlog drains
#     alone for 10 s (the node's processing rate with no HTTP load), then
#     the webhook runs as in A.
#
# Both connection modes are measured because the node's HTTP server writes
# a response in two parts without TCP_NODELAY: on a reused connection the
# second part waits for the client's delayed ACK (40 ms); a new connection
# acknowledges at once (what curl measures).
#
# The query keys are PyPI names from the catalog (evenly spread over
# pypi.tsv), never fed: every query is an on-demand ingestion behind the
# backlog. Each query checks 200 and the state's name. Rates of the node
# are events through the last stage (score) per second, from /metrics;
# the node's and the whole machine's CPU are printed for every window.
# Each trial starts once the machine has been idle (under 0.3 cores busy)
# for 3 s, and is marked SUSPECT when anything besides the node used more
# than 0.3 cores in one of its windows (the driver uses about 0.05).
# Ratios compare the two nodes of the same trial; the end prints the
# medians over the trials.
#
# usage: bench/ondemand_latency.sh [--backlog N] [--extra E] [--queries Q]
#          [--clients K] [--ingest-seconds S] [--batch B] [--connections C]
#          [--trials T] [--no-sync] [--keep]
#   --backlog N         backlog at the start of the queries, default 1000000
#   --extra E           fed beyond N (drained before and during the
#                       queries), default 400000
#   --queries Q         catalog keys per connection mode, default 200
#   --clients K         concurrent query clients, default 1
#   --ingest-seconds S  per connection mode, default 20; --batch B default
#                       100; --connections C default 4
#   --trials T          default 3 (medians reported)
#   --no-sync           no fsync per commit
# Reduced, for development: bench/ondemand_latency.sh --backlog 100000
#   --extra 100000 --queries 50 --ingest-seconds 5 --trials 1
# Needs build/bin/sluice (or $SLUICE_BIN) and build/bin/bench_http_load (or
# $HTTP_LOAD_BIN): cmake --build build --target sluice bench_http_load -j1
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bench_args=("$@")
sluice="${SLUICE_BIN:-$here/../build/bin/sluice}"
load="${HTTP_LOAD_BIN:-$here/../build/bin/bench_http_load}"
ex="$here/../examples/package_trust"
backlog=1000000 extra=400000 queries=200 clients=1 ingest_s=20 batch=100
conns=4 trials=3 sync=1 keep=0 warmup=3 settle=10
while (($#)); do
  case $1 in
    --backlog) backlog=$2; shift 2 ;;
    --extra) extra=$2; shift 2 ;;
    --queries) queries=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --ingest-seconds) ingest_s=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --no-sync) sync=0; shift ;;
    --keep) keep=1; shift ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
  esac
done
for b in "$sluice" "$load"; do
  [[ -x $b ]] || { echo "missing $b: build it first" >&2; exit 1; }
done
work=$(mktemp -d /var/tmp/sluice_ondemand.XXXXXX)
mkdir -p "$work/feed"
node_pid=""
cleanup() {
  if [[ -n $node_pid ]]; then kill -KILL "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true; fi
  if ((keep)); then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
export SLUICE_TOKEN="bench-token-$$-$RANDOM"
nosync=(--no-sync)
((sync)) && nosync=()
printf 'bench-hmac-%s-%s\n' "$$" "$RANDOM" >"$work/hmac.key"

# -- helpers --------------------------------------------------------------
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
now() { date +%s.%N; }
# snap: "epoch depth_total depth_parse score_done feed_records node_ticks
# machine_busy_ticks commits commit_seconds_sum commit_records_sum" from
# /metrics and /proc.
snap() {
  local t m
  t=$(now)
  m=$(curl -s --max-time 10 "http://127.0.0.1:$http_port/metrics")
  awk -v t="$t" '
    /^sluice_stage_queue_depth\{/ { d += $2; if ($1 ~ /stage="parse"/) p += $2 }
    /^sluice_stage_done_total\{/ && /stage="score"/ { s = $2 }
    /^sluice_feed_records_total\{/ { f += $2 }
    END { printf "%s %d %d %d %d", t, d, p, s, f }' <<<"$m"
  awk '{ printf " %d", $14 + $15 }' "/proc/$node_pid/stat"
  awk 'NR == 1 { for (i = 2; i <= 9; i++) t += $i; printf " %d", t - $5 - $6 }' /proc/stat
  awk '
    $1 == "sluice_store_commit_seconds_count" { c = $2 }
    $1 == "sluice_store_commit_seconds_sum" { cs = $2 }
    $1 == "sluice_store_commit_records_sum" { cr = $2 }
    END { printf " %d %.6f %.0f\n", c, cs, cr }' <<<"$m"
}
# store_window SNAP0 SNAP1: the store's commits in the window.
store_window() {
  awk '
    NR == 1 { t0 = $1; c0 = $8; s0 = $9; r0 = $10 }
    NR == 2 { dt = $1 - t0; n = $8 - c0
              if (n <= 0) { print "store: no commit"; exit }
              printf "store: %.1f commits/s, mean %.0f records and %.1f ms each\n",
                     n / dt, ($10 - r0) / n, ($9 - s0) / n * 1000 }' <(echo "$1") <(echo "$2")
}
field() { # field SNAP N
  awk -v n="$2" '{ print $n }' <<<"$1"
}
# window SNAP0 SNAP1: "seconds score_done/s node_cores machine_cores"
window() {
  awk -v hz="$(getconf CLK_TCK)" '
    NR == 1 { t0 = $1; s0 = $4; n0 = $6; m0 = $7 }
    NR == 2 { dt = $1 - t0; printf "%.2f %.0f %.2f %.2f\n", dt, ($4 - s0) / dt,
              ($6 - n0) / hz / dt, ($7 - m0) / hz / dt }' <(echo "$1") <(echo "$2")
}
describe_window() { # describe_window SNAP0 SNAP1
  read -r secs rate ncores mcores <<<"$(window "$1" "$2")"
  echo "${secs} s: node processed ${rate} events/s through score; node CPU ${ncores} cores, machine ${mcores} of $(nproc) busy"
}
# track_other SNAP0 SNAP1: keeps in other_max the most CPU (cores) that
# anything but the node used in a window: the driver (some 0.05 cores) and
# any other load on the machine.
other_max=0
track_other() {
  other_max=$(window "$1" "$2" | awk -v m="$other_max" '{ o = $4 - $3; print (o > m ? o : m) }')
}
# wait_idle: until the machine was less than 0.3 cores busy over 3 s (at
# most 10 minutes; then go on, and say so).
wait_idle() {
  local i a b busy
  for ((i = 0; i < 200; i++)); do
    a=$(head -1 /proc/stat)
    sleep 3
    b=$(head -1 /proc/stat)
    busy=$(printf '%s\n%s\n' "$a" "$b" | awk -v hz="$(getconf CLK_TCK)" '
      { t = 0; for (i = 2; i <= 9; i++) t += $i; v[NR] = t - $5 - $6 }
      END { printf "%.2f", (v[2] - v[1]) / hz / 3 }')
    if awk -v b="$busy" 'BEGIN { exit !(b < 0.3) }'; then
      ((i > 0)) && echo "  (waited $((i * 3)) s for an idle machine)"
      return 0
    fi
  done
  echo "  (the machine stayed busy ($busy cores) for 10 minutes: running anyway)"
}
start_node() { # start_node LOG ARGS...
  local log=$1
  shift
  "$sluice" --log-level info run "$ex/pipeline.yaml" --http "127.0.0.1:$http_port" \
    --catalog "$ex/data/pypi.tsv" --hmac-key-file "$work/hmac.key" --serve -q \
    --query-rate 100000 --query-per-client 100000 --query-in-flight 12 \
    "${nosync[@]}" "$@" >"$log" 2>&1 &
  node_pid=$!
  local i
  for ((i = 0; i < 1200; i++)); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/readyz")" == 200 ]] && return 0
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "the node did not become ready:" >&2
  tail -20 "$log" >&2
  exit 1
}
stop_node() {
  kill -TERM "$node_pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 600; i++)); do
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$node_pid" 2>/dev/null || true
  wait "$node_pid" 2>/dev/null || true
  node_pid=""
}
console() { "$sluice" console "127.0.0.1:$console_port" -c "$1" >/dev/null; }
result_of() { # result_of FILE KEY: a value of the `result` line
  sed -n 's/^result .*/&/p' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
          else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }

# -- header ---------------------------------------------------------------
commit=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo '?')
[[ -n "$(git -C "$here/.." status --porcelain --untracked-files=no 2>/dev/null)" ]] && commit="$commit (+ uncommitted changes)"
fed=$((backlog + extra))
echo "== on-demand queries and webhook ingest (issue 6) =="
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo)"
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC'); tree at commit $commit"
echo "command: $0 ${bench_args[*]:-}"
echo "binary:  $sluice (built $(date -u -r "$sluice" '+%Y-%m-%d %H:%M UTC'))"
echo "scratch: $work ($(df -PT "$work" | awk 'NR == 2 {print $2}')); fsync per commit: $( ((sync)) && echo on || echo off)"
echo "queries: $queries catalog keys, $clients client(s), default wait (2 s); webhook: batches of $batch, $conns connections, $ingest_s s"
echo "backlog: $fed unique npm records fed, at least $backlog queued when the queries start"

# The backlog feed: unique npm keys (copy c of record r is named NAME~c).
bash "$(dirname "$0")/cluster/unique_feed.sh" "$fed" "$ex/data/npm.tsv" "$work/feed/npm.tsv"
# The query keys: 2Q PyPI names spread evenly over the catalog; the first Q
# are queried with a new connection each, the other Q over a keep-alive
# connection (on each node: both nodes start empty).
awk -F'\t' 'NR > 1 && $1 ~ /^[A-Za-z0-9._-]+$/ { print "pypi/" $1 }' "$ex/data/pypi.tsv" >"$work/all_keys"
awk -v q="$((2 * queries))" -v n="$(wc -l <"$work/all_keys")" \
  'BEGIN { step = n / q } { if (NR - 1 >= next_i && got < q) { print; got++; next_i += step } }' \
  "$work/all_keys" >"$work/keys"
awk 'NR % 2 == 1' "$work/keys" >"$work/keys_new"
awk 'NR % 2 == 0' "$work/keys" >"$work/keys_ka"
echo

# Results: res[NAME] holds one value per trial.
declare -A res
add() { res[$1]="${res[$1]:-} $2"; }
show() { sed 's/^/  /' "$1" | grep -v '^  result'; }

# queries NODE: both query runs against the running node; files q_NODE_new
# and q_NODE_ka; snapshots qs0 (before), qs1 (between), qs2 (after).
queries() {
  local node=$1 label=$2
  qs0=$(snap)
  "$load" query --url "http://127.0.0.1:$http_port" --keys "$work/keys_new" \
    --clients "$clients" --new-connection --label "$label" >"$d/q_${node}_new" || true
  qs1=$(snap)
  show "$d/q_${node}_new"
  echo "    node meanwhile: $(describe_window "$qs0" "$qs1"); queued $(field "$qs0" 2) -> $(field "$qs1" 2)"
  track_other "$qs0" "$qs1"
  echo "    $(store_window "$qs0" "$qs1")"
  "$load" query --url "http://127.0.0.1:$http_port" --keys "$work/keys_ka" \
    --clients "$clients" --label "$label" >"$d/q_${node}_ka" || true
  qs2=$(snap)
  show "$d/q_${node}_ka"
  echo "    node meanwhile: $(describe_window "$qs1" "$qs2"); queued $(field "$qs1" 2) -> $(field "$qs2" 2)"
  track_other "$qs1" "$qs2"
  echo "    $(store_window "$qs1" "$qs2")"
}
# ingest NODE LABEL: the webhook over keep-alive connections, then with a
# new connection per POST; files i_NODE_ka, i_NODE_new; snapshots is0..is2.
ingest() {
  local node=$1 label=$2
  is0=$(snap)
  "$load" ingest --url "http://127.0.0.1:$http_port" --hmac-key-file "$work/hmac.key" \
    --records "$ex/data/npm.tsv" --batch "$batch" --connections "$conns" \
    --seconds "$ingest_s" --tag "${node}k$t" --label "$label" >"$d/i_${node}_ka" || true
  is1=$(snap)
  show "$d/i_${node}_ka"
  echo "    node meanwhile: $(describe_window "$is0" "$is1"); queued $(field "$is0" 2) -> $(field "$is1" 2)"
  track_other "$is0" "$is1"
  echo "    $(store_window "$is0" "$is1")"
  "$load" ingest --url "http://127.0.0.1:$http_port" --hmac-key-file "$work/hmac.key" \
    --records "$ex/data/npm.tsv" --batch "$batch" --connections "$conns" \
    --seconds "$ingest_s" --new-connection --tag "${node}n$t" --label "$label" >"$d/i_${node}_new" || true
  is2=$(snap)
  show "$d/i_${node}_new"
  echo "    node meanwhile: $(describe_window "$is1" "$is2"); queued $(field "$is1" 2) -> $(field "$is2" 2)"
  track_other "$is1" "$is2"
  echo "    $(store_window "$is1" "$is2")"
}

for ((t = 1; t <= trials; t++)); do
  d="$work/t$t"
  mkdir -p "$d"
  echo "---- trial $t of $trials ($(date -u '+%H:%M:%S UTC'))"
  wait_idle
  other_max=0
  # -- A. idle node ------------------------------------------------------
  echo "  A. idle node"
  http_port=$(free_port)
  start_node "$d/idle.log" --data "$d/idle"
  queries idle idle
  ingest idle idle
  stop_node

  # -- B. backlog node ---------------------------------------------------
  echo "  B. backlog node"
  http_port=$(free_port) console_port=$(free_port)
  f0=$(now)
  start_node "$d/backlog.log" --data "$d/backlog" --feed "$work/feed/npm.tsv" \
    --listen "127.0.0.1:$console_port"
  console "pause parse"
  # Until the feed has read everything and the queue depth stopped growing.
  prev=-1 grew_at=$f0
  while true; do
    kill -0 "$node_pid" 2>/dev/null || { echo "the node died:" >&2; tail -20 "$d/backlog.log" >&2; exit 1; }
    awk -v a="$(now)" -v b="$f0" 'BEGIN { exit !(a - b > 1800) }' && { echo "the feed did not finish in 30 min" >&2; exit 1; }
    s=$(snap)
    depth=$(field "$s" 2) read_n=$(field "$s" 5)
    if ((depth != prev)); then prev=$depth grew_at=$(field "$s" 1); fi
    if ((read_n >= fed)) && awk -v a="$(field "$s" 1)" -v b="$grew_at" 'BEGIN { exit !(a - b >= 1.0) }'; then
      break
    fi
    sleep 0.25
  done
  if ((depth < backlog)); then
    echo "only $depth events queued (the feed's records were not routed to parse?):" >&2
    curl -s "http://127.0.0.1:$http_port/metrics" | grep -E '^sluice_(feed|stage_queue_depth)' >&2
    exit 1
  fi
  feed_secs=$(awk -v a="$f0" -v b="$grew_at" 'BEGIN { printf "%.1f", b - a }')
  feed_rate=$(awk -v n="$depth" -v s="$feed_secs" 'BEGIN { printf "%.0f", n / s }')
  echo "  backlog: $depth events queued by the feed in $feed_secs s from the node's start ($feed_rate events/s durably queued by the file feed, parse paused; ±0.25 s)"
  console "resume parse"
  sleep "$warmup"
  queries bl "under backlog"
  sleep "$settle"
  s_alone=$(snap)
  echo "  backlog draining alone: $(describe_window "$qs2" "$s_alone"); queued $(field "$s_alone" 2)"
  track_other "$qs2" "$s_alone"
  echo "    $(store_window "$qs2" "$s_alone")"
  ingest bl "under backlog"
  stop_node

  # -- this trial's figures ---------------------------------------------
  for node in idle bl; do
    for c in new ka; do
      f="$d/q_${node}_$c"
      for k in p50_ms p99_ms max_ms server_p50_ms server_p99_ms; do add "q_${node}_${c}_$k" "$(result_of "$f" "$k")"; done
      add "q_${node}_${c}_not_ok" "$(($(result_of "$f" n) - $(result_of "$f" ok)))"
      f="$d/i_${node}_$c"
      for k in events_per_s p50_ms p99_ms s429 s503 errors; do add "i_${node}_${c}_$k" "$(result_of "$f" "$k")"; done
    done
  done
  for c in new ka; do
    for k in p50_ms p99_ms; do
      add "q_ratio_${c}_$k" "$(ratio "$(result_of "$d/q_bl_$c" "$k")" "$(result_of "$d/q_idle_$c" "$k")")"
    done
    add "i_ratio_$c" "$(ratio "$(result_of "$d/i_bl_$c" events_per_s)" "$(result_of "$d/i_idle_$c" events_per_s)")"
  done
  add depth_start "$(field "$qs0" 2)"
  add depth_end "$(field "$qs2" 2)"
  add feed_rate "$feed_rate"
  add drain_queries "$(window "$qs0" "$qs2" | cut -d' ' -f2)"
  add drain_alone "$(window "$qs2" "$s_alone" | cut -d' ' -f2)"
  add drain_ingest "$(window "$is0" "$is2" | cut -d' ' -f2)"
  echo "  trial $t: query p99 (new connection / keep-alive): idle $(result_of "$d/q_idle_new" p99_ms) / $(result_of "$d/q_idle_ka" p99_ms) ms, under backlog $(result_of "$d/q_bl_new" p99_ms) / $(result_of "$d/q_bl_ka" p99_ms) ms"
  add other_max "$other_max"
  if awk -v o="$other_max" 'BEGIN { exit !(o > 0.3) }'; then
    echo "  trial $t: SUSPECT: something besides the node used up to $other_max cores in a window (other load on the machine?)"
  else
    echo "  trial $t: besides the node, at most $other_max cores used in any window (the driver): clean"
  fi
  ((keep)) || rm -rf "$d/idle" "$d/backlog"
  echo
done

row() { # row LABEL NAME
  # shellcheck disable=SC2086
  printf '%-62s %9s   (%s)\n' "$1" "$(median ${res[$2]})" "$(echo ${res[$2]})"
}
echo "== medians over $trials trial(s) (each trial's values in brackets) =="
for c in new ka; do
  if [[ $c == new ]]; then echo "on-demand queries, a new connection per query:"; else echo "on-demand queries, one keep-alive connection:"; fi
  row "  idle node: p50 ms" "q_idle_${c}_p50_ms"
  row "  idle node: p99 ms" "q_idle_${c}_p99_ms"
  row "  under backlog: p50 ms" "q_bl_${c}_p50_ms"
  row "  under backlog: p99 ms" "q_bl_${c}_p99_ms"
  row "  under backlog: max ms" "q_bl_${c}_max_ms"
  row "  under backlog: server took_ms p50" "q_bl_${c}_server_p50_ms"
  row "  under backlog: server took_ms p99" "q_bl_${c}_server_p99_ms"
  row "  p50 under backlog / idle" "q_ratio_${c}_p50_ms"
  row "  p99 under backlog / idle" "q_ratio_${c}_p99_ms"
  row "  not 200 with the state (idle, backlog)" "q_idle_${c}_not_ok"
  row "" "q_bl_${c}_not_ok"
done
row "backlog queued when the queries started" depth_start
row "backlog queued when they ended" depth_end
for c in ka new; do
  if [[ $c == new ]]; then echo "webhook, a new connection per POST:"; else echo "webhook, keep-alive connections:"; fi
  row "  idle node: accepted events/s" "i_idle_${c}_events_per_s"
  row "  under backlog: accepted events/s" "i_bl_${c}_events_per_s"
  row "  under backlog / idle" "i_ratio_$c"
  row "  idle node: POST p50 / p99 ms" "i_idle_${c}_p50_ms"
  row "" "i_idle_${c}_p99_ms"
  row "  under backlog: POST p50 / p99 ms" "i_bl_${c}_p50_ms"
  row "" "i_bl_${c}_p99_ms"
  row "  429 / 503 / errors (idle)" "i_idle_${c}_s429"
  row "" "i_idle_${c}_s503"
  row "" "i_idle_${c}_errors"
  row "  429 / 503 / errors (backlog)" "i_bl_${c}_s429"
  row "" "i_bl_${c}_s503"
  row "" "i_bl_${c}_errors"
done
row "file feed: events/s durably queued (parse paused)" feed_rate
row "backlog drain, events/s through score: during the queries" drain_queries
row "backlog drain: alone" drain_alone
row "backlog drain: during the ingest" drain_ingest
row "most CPU used besides the node in a window (cores; > 0.3: suspect)" other_max
