#!/usr/bin/env bash
# Cross-node forwarding throughput (issue 4, benchmark 1), against raw
# loopback TCP for the same bytes in the same run.
#
# Every key is owned by the other member. A proxy member A (--no-shards)
# is fed N npm records with unique keys while the only owner, B, is not
# running yet: A keeps retrying its seed, and since it owns no shard the
# whole feed goes into its outbox. Once A's outbox holds all N events, B
# starts (a fresh single-member cluster that owns all 1024 shards) and its
# three stages are paused through the console at once, so B only receives:
# it commits each forwarded batch into parse's queue and acknowledges it,
# and A deletes the batch from its outbox. Polling A's outbox depth
# (`metrics sluice_outbox_depth` through one console session) every
# --interval-ms measures the time until it is empty.
#
# Then bench_tcp_loopback sends the same number of event bytes over a
# 127.0.0.1 TCP connection in as many writes as the forwarder sent batches
# (their average size), streaming and with a 1-byte answer per batch.
# Each trial waits for an idle machine, and is discarded and repeated when
# other processes used more than 0.3 cores of user time (cluster/common.sh).
#
# With --tls, each trial runs twice, plain and then with both members and
# the console on mutual TLS (--tls-dir, a CA made by `sluice certs` in the
# scratch directory), and the medians compare the two (tls/plain).
#
# usage: bench/cluster_forward.sh [--events N] [--trials T]
#          [--batches "2048 512 8192"] [--sync] [--interval-ms MS] [--tls]
#          [--keep]
#   --events N       events (= keys), default 500000
#   --trials T       runs per batch size, default 3 (medians reported)
#   --batches LIST   --forward-batch values, default "2048 512 8192"
#   --sync           fsync each commit on both members (default: --no-sync)
#   --interval-ms MS poll interval, default 20
#   --tls            every trial plain and over TLS (ratios tls/plain)
#   --keep           keep the scratch directory
# Reduced, for development: bench/cluster_forward.sh --events 50000
#   --trials 1 --batches 2048
# Needs build/bin/sluice (or $SLUICE_BIN) and build/bin/bench_tcp_loopback
# (cmake --build build --target sluice bench_tcp_loopback -j1).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bench_args=("$@")
sluice="${SLUICE_BIN:-$here/../build/bin/sluice}"
tcp="$here/../build/bin/bench_tcp_loopback"
pipeline="$here/../examples/package_trust/pipeline.yaml"
npm="$here/../examples/package_trust/data/npm.tsv"
events=500000 trials=3 batches="2048 512 8192" sync=0 interval=20 keep=0
modes=plain
while (($#)); do
  case $1 in
    --events) events=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --sync) sync=1; shift ;;
    --interval-ms) interval=$2; shift 2 ;;
    --tls) modes="plain tls"; shift ;;
    --keep) keep=1; shift ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
  esac
done
for f in "$sluice" "$tcp"; do
  [[ -x $f ]] || { echo "missing $f: build it first" >&2; exit 1; }
done
# shellcheck source=bench/cluster/common.sh
source "$here/cluster/common.sh"
bench_scratch forward
nosync=(--no-sync)
((sync)) && nosync=()

echo "== cluster forwarding: $events events, every key owned by the other member =="
print_machine

# The feed: npm.tsv's 8,020 records, copy c > 0 renaming `name` to `name~c`,
# so every one of the N lines has its own key (named npm.tsv: the feed
# reader takes the ecosystem from the file name).
mkdir -p "$work/feed"
bash "$(dirname "$0")/cluster/unique_feed.sh" "$events" "$npm" "$work/feed/npm.tsv"
echo "feed: $events npm records, unique keys, $(stat -c %s "$work/feed/npm.tsv") bytes of TSV"
echo "fsync: $( ((sync)) && echo on || echo 'off (--no-sync on both members)')"
echo "B's stages parse, enrich and score are paused as soon as B answers the console: B only receives"
echo "poll: A's sluice_outbox_depth through one console session every ${interval} ms"
if [[ $modes == *tls* ]]; then
  "$sluice" certs init "$work/tls/ca" >/dev/null
  for n in a b console; do
    "$sluice" certs issue --ca "$work/tls/ca" --name "$n" --host 127.0.0.1 \
      --out "$work/tls/$n" >/dev/null
  done
  echo "tls: each trial runs plain, then with --tls-dir on A, B and the console (mutual TLS, P-256 certificates from sluice certs)"
fi
echo

results="$work/results"
: >"$results"
# One trial; leaves DIR/discarded (and records nothing) when other
# processes used more than $other_limit cores during the forwarding or the
# raw TCP runs.
run_trial() { # FORWARD_BATCH TRIAL DIR MODE
  local fb=$1 t=$2 d=$3 mode=${4:-plain} pa pb a b t0 fill
  local tls_a=() tls_b=()
  mkdir -p "$d"
  unset SLUICE_TLS_DIR
  if [[ $mode == tls ]]; then
    tls_a=(--tls-dir "$work/tls/a") tls_b=(--tls-dir "$work/tls/b")
    export SLUICE_TLS_DIR=$work/tls/console # the console's (and the poll's)
  fi
  wait_idle
  pa=$(free_port) pb=$(free_port)
  t0=$(date +%s.%N)
  start_node "$d/a.log" --config "$pipeline" --name a --no-shards \
    --listen "127.0.0.1:$pa" --join "127.0.0.1:$pb" --data "$d/a" \
    "${nosync[@]}" --forward-batch "$fb" --feed "$work/feed/npm.tsv" "${tls_a[@]}"
  a=$started
  outbox_full() {
    [[ "$(console "127.0.0.1:$pa" nodes | json_get .local.outbox 2>/dev/null)" == "$events" ]] &&
      grep -q "finished after $events records" "$d/a.log"
  }
  wait_for 600 outbox_full
  fill=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  # A retries its seed with a doubling backoff of at most 2 s; once it is
  # there, B gets a moment after it starts in which to pause its stages.
  local wait_more
  wait_more=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { w = 3.5 - (b - a); print (w > 0 ? w : 0) }')
  sleep "$wait_more"

  local poll ca0 cb0 lo0
  python3 "$here/cluster/console_poll.py" --sluice "$sluice" \
    --address "127.0.0.1:$pa" --outbox --until 0 --interval-ms "$interval" \
    --timeout 900 >"$d/poll.txt" &
  poll=$!
  bench_pids+=("$poll")
  wait_for 10 grep -qs " $events\$" "$d/poll.txt"
  ca0=$(cpu_snapshot "$a")
  lo0=$(awk '$1 == "lo:" { print $2 }' /proc/net/dev)
  start_node "$d/b.log" --config "$pipeline" --name b \
    --listen "127.0.0.1:$pb" --data "$d/b" "${nosync[@]}" "${tls_b[@]}"
  b=$started
  wait_for 30 console "127.0.0.1:$pb" "pause parse" >/dev/null
  console "127.0.0.1:$pb" "pause enrich" >/dev/null
  console "127.0.0.1:$pb" "pause score" >/dev/null
  cb0=$(cpu_snapshot "$b")
  wait "$poll"
  local ca1 cb1 lo1
  ca1=$(cpu_snapshot "$a") cb1=$(cpu_snapshot "$b")
  lo1=$(awk '$1 == "lo:" { print $2 }' /proc/net/dev)

  local joined fwd bytes recv parse_in queued
  joined=$(log_epoch "$d/a.log" "joined the cluster")
  fwd=$(metric "127.0.0.1:$pa" sluice_cluster_forwarded_total)
  bytes=$(metric "127.0.0.1:$pa" sluice_cluster_forwarded_bytes_total)
  recv=$(metric "127.0.0.1:$pb" sluice_cluster_received_total)
  local stages
  stages=$(console "127.0.0.1:$pb" stages)
  parse_in=$(json_get .stages.0.in <<<"$stages")
  queued=$(json_get .stages.0.queued_normal <<<"$stages")
  # From the polls: the first poll that saw the outbox below N (events
  # left then: v1) to the first that saw it empty.
  local line
  line=$(awk -v n="$events" -v j="$joined" '
    /^#/ { next }
    $2 != n && first == "" { first = $1; v1 = $2 }
    $2 == "0" { end = $1; before = last; exit }
    { last = $1 }
    END { printf "%s %s %s %s\n", first, v1, end, before }' "$d/poll.txt")
  local first v1 end before
  read -r first v1 end before <<<"$line"
  local secs rate mbs join_secs batches_n batch_bytes
  secs=$(awk -v a="$first" -v b="$end" 'BEGIN { printf "%.4f", b - a }')
  rate=$(awk -v v="$v1" -v s="$secs" 'BEGIN { printf "%.0f", v / s }')
  mbs=$(awk -v r="$rate" -v b="$bytes" -v n="$events" 'BEGIN { printf "%.2f", r * b / n / 1e6 }')
  join_secs=$(awk -v a="$joined" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
  batches_n=$(((events + fb - 1) / fb))
  batch_bytes=$(((bytes + batches_n - 1) / batches_n))

  local window cpua cpub wire machine other
  window=$(awk -v a="$joined" -v b="$end" 'BEGIN { print b - a }')
  cpua=$(cpu_report <(echo "$ca0") <(echo "$ca1") "$window" "$events")
  cpub=$(cpu_report <(echo "$cb0") <(echo "$cb1") "$window" "$events")
  local cpua_us cpub_us
  cpua_us=$(sed -n 's/^[^=]*= \([0-9.]*\) us\/event.*/\1/p' <<<"$cpua")
  cpub_us=$(sed -n 's/^[^=]*= \([0-9.]*\) us\/event.*/\1/p' <<<"$cpub")
  machine=$(cpu_window "$joined" "$end")
  other=$(other_load "$joined" "$end" "$a" "$b")
  wire=$(awk -v a="$lo0" -v b="$lo1" -v e="$bytes" 'BEGIN { printf "%.2f", (b - a) / e }')
  stop_node "$b"
  stop_node "$a"

  local tp r0 r1 raw_other stream ack
  r0=$(date +%s.%N)
  "$tcp" --bytes "$bytes" --batch-bytes "$batch_bytes" --repeat 7 >"$d/raw.txt" &
  tp=$!
  wait "$tp"
  r1=$(date +%s.%N)
  sleep 0.2 # a sample after the end
  raw_other=$(other_load "$r0" "$r1" -- "$(sed -n 's/^cpu user_s=\([0-9.]*\).*/\1/p' "$d/raw.txt")")
  stream=$(sed -n 's/^result mode=stream mb_s=\([0-9.]*\).*/\1/p' "$d/raw.txt")
  ack=$(sed -n 's/^result mode=ack mb_s=\([0-9.]*\).*/\1/p' "$d/raw.txt")
  local discard=0
  if awk -v o="$other" -v r="$raw_other" -v l="$other_limit" 'BEGIN { exit !((o != "nan" && o + 0 > l) || (r != "nan" && r + 0 > l)) }'; then
    discard=1
  fi

  printf '%6s %5s %5s %10s %8s %9s %9s %9s %8s %8s%s\n' "$fb" "$mode" "$t" "$rate" "$mbs" \
    "$join_secs" "$stream" "$ack" \
    "$(awk -v f="$mbs" -v r="$stream" 'BEGIN { printf "%.4f", f / r }')" \
    "$(awk -v f="$mbs" -v r="$ack" 'BEGIN { printf "%.4f", f / r }')" \
    "$( ((discard)) && echo "  DISCARDED: other load")"
  {
    echo "    outbox filled in ${fill} s (A's feed, no owner reachable); joined at $(date -d "@$joined" '+%T.%3N'), first poll below $events at +$(awk -v a="$joined" -v b="$first" 'BEGIN { printf "%.0f", (b - a) * 1000 }') ms ($v1 left), empty at +$(awk -v a="$joined" -v b="$end" 'BEGIN { printf "%.0f", (b - a) * 1000 }') ms (previous poll +$(awk -v a="$joined" -v b="$before" 'BEGIN { printf "%.0f", (b - a) * 1000 }') ms)"
    echo "    forwarded $fwd events, $bytes event bytes ($(awk -v b="$bytes" -v n="$events" 'BEGIN { printf "%.0f", b / n }') B/event, $batches_n batches of ~$batch_bytes B); B received $recv, parse queued $queued, parse dispatched $parse_in"
    echo "    loopback traffic during the window: ${wire}x the event bytes (both directions, headers, gossip and console polls included)"
    echo "    CPU over the window ($(awk -v w="$window" 'BEGIN { printf "%.2f", w }') s): A $cpua; B $cpub"
    echo "    machine $machine cores busy (user + system) over the window; other processes' user time: $other cores during the window (the poll, other load), $raw_other during the raw TCP runs"
    grep '^# polls' "$d/poll.txt" | sed 's/^# /    poll: /'
  } >"$d/detail"
  ((keep)) || rm -rf "$d/a" "$d/b"
  if ((discard)); then
    touch "$d/discarded"
  else
    echo "$fb $t $rate $mbs $join_secs $stream $ack $mode $cpua_us $cpub_us" >>"$results"
  fi
}

printf '%6s %5s %5s %10s %8s %9s %9s %9s %8s %8s\n' batch mode trial events/s MB/s \
  join-empty raw-MB/s raw-ack fwd/raw fwd/ack
start_cpu_sampler
for fb in $batches; do
  for ((t = 1; t <= trials; t++)); do
    for mode in $modes; do
      for ((try = 0; ; try++)); do
        run_trial "$fb" "$t" "$work/t$fb.$mode.$t.$try" "$mode"
        cat "$work/t$fb.$mode.$t.$try/detail"
        [[ -e "$work/t$fb.$mode.$t.$try/discarded" ]] || break
        if ((try >= max_retries)); then
          echo "trial $t of batch $fb ($mode): other load in $((try + 1)) attempts; no figure" >&2
          break
        fi
      done
    done
  done
done

echo
echo "== medians over the trials kept (n); MB = 10^6 bytes of events (sluice_cluster_forwarded_bytes_total), not wire bytes =="
printf '%6s %5s %3s %10s %8s %10s %10s %12s %9s %9s %8s %8s\n' batch mode n events/s MB/s join-empty \
  raw-MB/s raw-ack-MB/s fwd/raw fwd/ack A-us/ev B-us/ev
for fb in $batches; do
  for mode in $modes; do
    mapfile -t rows < <(awk -v f="$fb" -v m="$mode" '$1 == f && $8 == m' "$results")
    col() { printf '%s\n' "${rows[@]}" | awk -v c="$1" '{ print $c }'; }
    fwd_ratio=() ack_ratio=()
    for r in "${rows[@]}"; do
      read -r _ _ _ m _ s a _ <<<"$r"
      fwd_ratio+=("$(awk -v f="$m" -v r="$s" 'BEGIN { print f / r }')")
      ack_ratio+=("$(awk -v f="$m" -v r="$a" 'BEGIN { print f / r }')")
    done
    ((${#rows[@]})) || continue
    # shellcheck disable=SC2046
    printf '%6s %5s %3s %10.0f %8.2f %10.3f %10.0f %12.0f %9.4f %9.4f %8.2f %8.2f\n' "$fb" "$mode" "${#rows[@]}" \
      "$(median $(col 3))" "$(median $(col 4))" "$(median $(col 5))" \
      "$(median $(col 6))" "$(median $(col 7))" \
      "$(median "${fwd_ratio[@]}")" "$(median "${ack_ratio[@]}")" \
      "$(median $(col 9))" "$(median $(col 10))"
  done
  if [[ $modes == *tls* ]]; then
    # tls/plain per trial (both runs of a trial kept), then the median.
    ratios=()
    for ((t = 1; t <= trials; t++)); do
      p=$(awk -v f="$fb" -v t="$t" '$1 == f && $2 == t && $8 == "plain" { print $3 }' "$results")
      q=$(awk -v f="$fb" -v t="$t" '$1 == f && $2 == t && $8 == "tls" { print $3 }' "$results")
      [[ -n $p && -n $q ]] && ratios+=("$(awk -v p="$p" -v q="$q" 'BEGIN { print q / p }')")
    done
    if ((${#ratios[@]})); then
      echo "batch $fb: events/s tls/plain per trial: ${ratios[*]}; median $(median "${ratios[@]}")"
    fi
  fi
done
echo "events/s: events acknowledged per second from the first poll that saw the outbox shrink to the first that saw it empty."
echo "join-empty: seconds from A's \"joined the cluster\" log line to the first poll that saw the outbox empty."
echo "raw: bench_tcp_loopback, the same event bytes in as many writes as batches, median of 7 repetitions of at least 0.5 s; raw-ack: one 1-byte answer per write."
echo "fwd/raw: the forwarding MB/s over the raw MB/s of the same trial (the issue's target: at least 0.30), median over trials."
echo "Each trial waits until the machine has been idle for 3 s; a trial in which other processes used more than $other_limit cores of user time (forwarding window or raw TCP runs) is DISCARDED and run again, at most $max_retries times."
