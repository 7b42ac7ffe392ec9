#!/usr/bin/env bash
# Replicated shards (issue 14, the four benchmarks), in one run on this
# machine: three members a, b, c with `--controller` (one etcd 3.4 started
# here, a cluster name per cluster), everything on 127.0.0.1.
#
# 1. Durable three-stage throughput with R = 1, 2, 3 (min_insync =
#    min(2, R)). Per trial a fresh cluster settles (1,024 shards owned,
#    nothing under-replicated), then a proxy member d (--no-shards, the
#    same --controller) feeds N npm records with unique keys
#    (cluster/unique_feed.sh), so a, b and c do the same work whatever R.
#    Time: from d's "joined the cluster" log line to the first poll (one
#    console session per member, every 100 ms) at which d's feed has
#    finished, d's outbox is empty and a, b, c are drained with nothing
#    queued. R = 1 also goes through etcd (--replicas 1), so only the
#    replication differs. The R order alternates; medians per R, each as
#    a ratio to R = 1's median.
# 2. Webhook acknowledgement latency: sequential signed POSTs of a
#    one-event body (a new key each) through member a for S seconds, on
#    the first R = 3 and the first R = 1 cluster once drained.
# 3. Failover: on an R = 3 cluster holding K keys, kill -9 the member that
#    owns the most shards; the time from the kill to the first 200 for a
#    new event whose key is in one of its shards, posted through a
#    surviving member (a new POST after each failure). The victim is then
#    restarted on its data and the trial waits until every member reports
#    replication.under_replicated_here == 0 (also reported: rejoin time).
# 4. Catch-up: kill -9 c, wait until a and b own all 1,024 shards, wipe
#    c's data directory, restart it; time until every member reports
#    under_replicated_here == 0. Keys = rows of `sluice export --stage
#    score` over the members' data directories after the run (with R = 3
#    on three members, c holds a copy of every shard, so it rebuilt all of
#    them, parse and enrich states included).
#
# usage: bench/replication_bench.sh [--quick] [--keep]
#   (full)   N = 20,000 per trial, order R = 1 3 2 2 3 1 3 1 2, latency 20 s
#            per R, 10 failover trials, K = 40,000 keys: about 15 minutes here
#   --quick  N = 8,000, order 1 3 2, latency 5 s, 3 failover trials,
#            K = 8,000: about 5 minutes here (one trial per R: no medians)
#   --keep   keep the scratch directory (logs, data)
#   --failover-only  only parts 3 and 4 (to try the script out)
#   --throughput-only  only part 1, without the latency (before/after runs)
#   --order "R..."     the R of each throughput trial, in order
# Needs build/bin/sluice (or $SLUICE_BIN), etcd on PATH, python3 and
# libxxhash.so.0 (the key -> shard hash, cluster/repl_helper.py).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck disable=SC2034 # read by common.sh
bench_args=("$@")
sluice="${SLUICE_BIN:-$here/../build/bin/sluice}"
pipeline="$here/../examples/package_trust/pipeline.yaml"
npm="$here/../examples/package_trust/data/npm.tsv"
helper="$here/cluster/repl_helper.py"
quick=0 keep=0 failover_only=0 throughput_only=0 order_arg=""
while (($#)); do
  case $1 in
    --quick) quick=1; shift ;;
    --keep) keep=1; shift ;;
    --failover-only) failover_only=1; shift ;;
    --throughput-only) throughput_only=1; shift ;;
    --order)
      [[ $# -ge 2 && $2 =~ ^[123]( [123])*$ ]] || { echo "--order takes R values 1 to 3, e.g. --order \"1 3 3 1\"" >&2; exit 2; }
      order_arg=$2; shift 2 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
  esac
done
if ((quick)); then
  events=8000 order="1 3 2" lat_secs=5 fo_trials=3 cu_keys=8000
else
  events=20000 order="1 3 2 2 3 1 3 1 2" lat_secs=20 fo_trials=10 cu_keys=40000
fi
[[ -n $order_arg ]] && order=$order_arg
[[ -x $sluice ]] || { echo "missing $sluice: build it first" >&2; exit 1; }
command -v etcd >/dev/null || { echo "etcd is not on PATH (Debian etcd-server)" >&2; exit 1; }
# shellcheck source=bench/cluster/common.sh
source "$here/cluster/common.sh"
bench_scratch repl
# bash reports each member killed by kill -9 on stderr; that is the point.
exec 2> >(grep --line-buffered -v -E 'line [0-9]+: +[0-9]+ Killed' >&2)
printf 'hook-%s\n' "$$" >"$work/hook.key"
: >"$work/pids"

echo "== replicated shards (issue 14): three members, etcd controller $( ((quick)) && echo '(--quick)') =="
print_machine
echo "etcd:    $(etcd --version 2>/dev/null | head -1)"
builds_now() { pgrep -c -f 'cc1plus|ninja' 2>/dev/null || true; }
echo "builds running at the start: $(builds_now) compiler/ninja processes"
echo

# -- etcd and the members -----------------------------------------------------
start_etcd

# etcd_get KEY: the value of KEY through the v3 JSON gateway ("" if none).
etcd_get() {
  python3 -c 'import base64, json, sys, urllib.request
b = json.dumps({"key": base64.b64encode(sys.argv[2].encode()).decode()}).encode()
r = json.load(urllib.request.urlopen(sys.argv[1] + "/v3/kv/range", b, timeout=2))
kv = r.get("kvs") or [{}]
print(base64.b64decode(kv[0].get("value", "")).decode(errors="replace"))' "http://127.0.0.1:$ec" "$1"
}

declare -A pid=() port=() http=()
cl="" cdir="" rf=3 mi=2
# new_cluster NAME R: fresh ports and data directories for a, b, c, d.
new_cluster() {
  cl=$1 rf=$2 mi=$(($2 < 2 ? $2 : 2))
  cdir="$work/$cl"
  mkdir -p "$cdir"
  local m
  for m in a b c d; do
    port[$m]=$(free_port)
    http[$m]=$(free_port)
    pid[$m]=""
  done
}
# member NAME [ARGS...]: starts member NAME of the current cluster.
member() {
  local m=$1
  shift
  echo "---- $(date -u +%T.%3N) start $m" >>"$cdir/$m.log"
  "$sluice" --log-level info node --config "$pipeline" --name "$m" \
    --listen "127.0.0.1:${port[$m]}" --join "127.0.0.1:${port[a]}" \
    --data "$cdir/$m" --controller "http://127.0.0.1:$ec" --cluster-name "$cl" \
    --replicas "$rf" --min-insync "$mi" \
    --http "127.0.0.1:${http[$m]}" --hmac-key-file "$work/hook.key" "$@" \
    >>"$cdir/$m.log" 2>&1 &
  pid[$m]=$!
  bench_pids+=("$!")
}
# addrs NAME...: sets `members` to their console addresses.
addrs() {
  local m
  members=()
  for m in "$@"; do members+=("127.0.0.1:${port[$m]}"); done
}
# settled: 1,024 shards owned, none under-replicated, every lease held.
settled() {
  local members
  addrs a b c
  python3 "$helper" replicated --sluice "$sluice" --members "${members[@]}" \
    --owned 1024 --timeout "${1:-180}"
}
stop_members() {
  local m
  for m in "$@"; do
    if [[ -n ${pid[$m]} ]]; then kill -TERM "${pid[$m]}" 2>/dev/null || true; fi
  done
  for m in "$@"; do
    [[ -n ${pid[$m]} ]] && stop_node "${pid[$m]}"
    pid[$m]=""
  done
}
# alive NAME...: fails (naming it) when a member's process has exited.
alive() {
  local m
  for m in "$@"; do
    if [[ -n ${pid[$m]} ]] && ! kill -0 "${pid[$m]}" 2>/dev/null; then
      echo "PROBLEM: member $m of cluster $cl exited; its log ends:" >&2
      tail -5 "$cdir/$m.log" >&2
      return 1
    fi
  done
}
secs_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
score_in() { # the score stage's `in` summed over a, b, c
  local m sum=0 v
  for m in a b c; do
    v=$(console "127.0.0.1:${port[$m]}" stages | python3 -c 'import json, sys
print(sum(s["in"] for s in json.load(sys.stdin)["stages"] if s["name"] == "score"))') || v=0
    sum=$((sum + v))
  done
  echo "$sum"
}
# feed_cluster N FEED: starts proxy d feeding FEED and waits until all is
# drained; sets fed_secs (d joined -> drained) and join_secs (start -> d
# joined).
feed_cluster() {
  local n=$1 feed=$2 t0 end joined members
  addrs a b c
  t0=$(date +%s.%N)
  member d --no-shards --feed "$feed"
  end=$(python3 "$helper" drained --sluice "$sluice" --proxy "127.0.0.1:${port[d]}" \
    --feed-log "$cdir/d.log" --members "${members[@]}" --timeout 900 | awk '$1 == "done" { print $2 }') || true
  [[ -n $end ]] || { echo "PROBLEM: cluster $cl never drained $n events" >&2; return 1; }
  joined=$(log_epoch "$cdir/d.log" "joined the cluster")
  fed_secs=$(secs_between "$joined" "$end")
  join_secs=$(secs_between "$t0" "$joined")
}

# -- 1 and 2: throughput per R, latency on the first R = 3 and R = 1 ----------
mkdir -p "$work/feed"
bash "$here/cluster/unique_feed.sh" "$events" "$npm" "$work/feed/npm.tsv"
echo "## 1. durable three-stage throughput: $events npm records (unique keys) fed through proxy d; fsync on"
echo "order of R: $order"
printf '%5s %3s %9s %10s %9s %8s %9s %7s\n' trial R settle-s drain-s events/s d-join-s score-in builds
results="$work/throughput" lat="$work/latency"
: >"$results"
: >"$lat"
trial=0
((failover_only)) && order=""
for r in $order; do
  trial=$((trial + 1))
  new_cluster "tp$trial-r$r" "$r"
  s0=$(date +%s.%N)
  member a
  member b
  member c
  out=$(settled) || { echo "PROBLEM: trial $trial (R = $r) did not settle: $out" >&2; alive a b c || true; exit 1; }
  settle=$(secs_between "$s0" "$(awk '{ print $2 }' <<<"$out")")
  b0=$(builds_now)
  feed_cluster "$events" "$work/feed/npm.tsv"
  alive a b c d
  got=$(score_in)
  rate=$(awk -v n="$events" -v s="$fed_secs" 'BEGIN { printf "%.0f", n / s }')
  bl="$b0/$(builds_now)"
  printf '%5s %3s %9s %10s %9s %8s %9s %7s\n' "$trial" "$r" "$settle" "$fed_secs" "$rate" "$join_secs" "$got" "$bl"
  [[ $got == "$events" ]] || echo "PROBLEM: score processed $got events, $events fed" >&2
  echo "$r $rate $fed_secs" >>"$results"
  if ((!throughput_only)) && { [[ $r == 3 ]] || [[ $r == 1 ]]; } && ! grep -q "^$r " "$lat"; then
    l=$(python3 "$helper" latency --port "${http[a]}" --key-file "$work/hook.key" \
      --seconds "$lat_secs" --prefix "lat$trial") || true
    echo "$r $l" >>"$lat"
    echo "      webhook latency, R = $r, through a for ${lat_secs} s: $l"
    alive a b c d
  fi
  stop_members d a b c
  ((keep)) || rm -rf "$cdir"/{a,b,c,d}
done
echo
if ((!failover_only)); then
  # shellcheck disable=SC2046
  r1=$(median $(awk '$1 == 1 { print $2 }' "$results"))
  printf '%3s %3s %16s %12s  %s\n' R n 'median events/s' 'ratio to R=1' trials
  for r in 1 2 3; do
    # shellcheck disable=SC2046
    m=$(median $(awk -v r="$r" '$1 == r { print $2 }' "$results"))
    printf '%3s %3s %16s %12s  %s\n' "$r" "$(awk -v r="$r" '$1 == r' "$results" | wc -l)" "$m" \
      "$(awk -v a="$m" -v b="$r1" 'BEGIN { printf "%.2f", a / b }')" \
      "$(awk -v r="$r" '$1 == r { printf "%s ", $2 }' "$results")"
  done
  echo
  if ((throughput_only)); then exit 0; fi
  echo "## 2. webhook acknowledgement latency (sequential POSTs, 1 event each, through a, ${lat_secs} s)"
  while read -r r l; do echo "R = $r: $l"; done <"$lat"
  echo
fi

# -- 3: failover --------------------------------------------------------------
echo "## 3. failover, R = 3, min_insync = 2: kill -9 of the member owning the most shards"
new_cluster fo 3
member a
member b
member c
out=$(settled) || { echo "PROBLEM: the failover cluster did not settle: $out" >&2; exit 1; }
mkdir -p "$work/feed/state" && bash "$here/cluster/unique_feed.sh" "$cu_keys" "$npm" "$work/feed/state/npm.tsv"
feed_cluster "$cu_keys" "$work/feed/state/npm.tsv"
echo "state: $cu_keys keys fed through d in ${fed_secs} s; d stopped"
stop_members d
out=$(settled) || { echo "PROBLEM: not settled after the feed: $out" >&2; exit 1; }
printf '%5s %6s %6s %10s %10s %10s %9s %s\n' trial victim shards controller failover-s owner-then rejoin-s probe
fo="$work/failover"
: >"$fo"
for ((t = 1; t <= fo_trials; t++)); do
  victim="" most=-1
  declare -A shards_of=()
  for m in a b c; do
    j=$(console "127.0.0.1:${port[$m]}" shards) || { echo "PROBLEM: $m does not answer" >&2; exit 1; }
    n=$(json_get .owned_here <<<"$j")
    shards_of[$m]=$(python3 -c 'import json, sys
print(",".join(str(o["shard"]) for o in json.load(sys.stdin)["replication"]["owned"]))' <<<"$j")
    if ((n > most)); then most=$n victim=$m; fi
  done
  ctl=$(etcd_get "/sluice/$cl/controller") || ctl="?"
  survivor=a
  [[ $victim == a ]] && survivor=b
  tk=$(date +%s.%N)
  kill -9 "${pid[$victim]}"
  wait "${pid[$victim]}" 2>/dev/null || true
  pr=$(python3 "$helper" probe --port "${http[$survivor]}" --key-file "$work/hook.key" \
    --shards "${shards_of[$victim]}" --prefix "fo$t" --since "$tk" --timeout 60) || true
  fs=$(awk '$1 == "accepted" { print $2 }' <<<"$pr")
  [[ -n $fs ]] || { echo "PROBLEM: trial $t: no 200 for $victim's shard within 60 s: $pr" >&2; fs=nan; }
  # Who owns the probe's shard in etcd once the 200 came: not the victim,
  # or the 200 came before any failover.
  ps=$(awk '{ for (i = 1; i < NF; i++) if ($i == "shard") print $(i + 1) }' <<<"$pr")
  own=$(etcd_get "/sluice/$cl/shards/$(printf '%04d' "${ps:-0}")" | python3 -c 'import json, sys
a = json.load(sys.stdin); print("%s@%s" % (a["owner"], a["epoch"]))' 2>/dev/null) || own="?"
  if [[ $own == "$victim@"* ]]; then
    echo "PROBLEM: trial $t: the 200 for shard $ps came while etcd still names $victim its owner ($own)" >&2
  fi
  for m in a b c; do [[ $m == "$victim" ]] || alive "$m"; done
  t0=$(date +%s.%N)
  member "$victim"
  out=$(settled 300) || { echo "PROBLEM: trial $t: $victim did not catch up: $out" >&2; exit 1; }
  rj=$(secs_between "$t0" "$(awk '{ print $2 }' <<<"$out")")
  printf '%5s %6s %6s %10s %10s %10s %9s %s\n' "$t" "$victim" "$most" "${ctl:-?}" "$fs" "$own" "$rj" "$pr"
  echo "$fs $rj" >>"$fo"
done
# shellcheck disable=SC2046
echo "failover: median $(median $(awk '{ print $1 }' "$fo")) s, max $(sort -g "$fo" | tail -1 | awk '{ print $1 }') s over $fo_trials trials;" \
  "rejoin (restart on its data -> nothing under-replicated): median $(median $(awk '{ print $2 }' "$fo")) s"
echo

# -- 4: catch-up of a replacement -----------------------------------------------
echo "## 4. catch-up: kill -9 c, wipe its data directory, restart it"
kill -9 "${pid[c]}"
wait "${pid[c]}" 2>/dev/null || true
pid[c]=""
tk=$(date +%s.%N)
# c is gone for a and b: they own every shard and count shards
# under-replicated (c out of the isr). Restarting c before that (its lease
# still alive) would time nothing: a and b would still count it in sync.
ab_lost_c() {
  local sum=0 under=0 m j
  for m in a b; do
    j=$(console "127.0.0.1:${port[$m]}" shards) || return 1
    sum=$((sum + $(json_get .owned_here <<<"$j")))
    under=$((under + $(json_get .replication.under_replicated_here <<<"$j")))
  done
  ((sum == 1024 && under > 0))
}
wait_for 60 ab_lost_c
echo "a and b own all 1,024 shards and count shards under-replicated $(secs_between "$tk" "$(date +%s.%N)") s after the kill"
rm -rf "$cdir/c"
t0=$(date +%s.%N)
member c
out=$(settled 600) || { echo "PROBLEM: the wiped c did not catch up: $out" >&2; exit 1; }
cu=$(secs_between "$t0" "$(awk '{ print $2 }' <<<"$out")")
alive a b c
echo "data directories then: $(for m in a b c; do printf '%s %s MiB  ' "$m" "$(du -sm "$cdir/$m" | cut -f1)"; done)"
stop_members a b c
keys=0
for m in a b c; do
  k=$("$sluice" export --data "$cdir/$m" --stage score 2>/dev/null | wc -l)
  echo "export --stage score of $m after the run: $k rows"
  keys=$((keys + k))
done
echo "catch-up: $cu s from c's start to nothing under-replicated on a, b, c; $keys keys (score rows; parse and enrich states too)" \
  "-> $(awk -v k="$keys" -v s="$cu" 'BEGIN { printf "%.0f", k / s }') keys/s"
echo
echo "builds running at the end: $(builds_now) compiler/ninja processes"
