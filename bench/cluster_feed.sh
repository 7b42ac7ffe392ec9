#!/usr/bin/env bash
# Change feeds through a cluster member (issue 16): what subscribing through
# one member of three costs against one node holding everything, the same
# pipeline (examples/package_trust, whose score stage keeps a changelog),
# in one run, alternating.
#
# 1. Cold start: N keys (unique npm records, default 300,000), filled with
#    --no-sync (not measured) once into one node (`sluice run`) and once
#    into a cluster (a fed alone, then b and c join and take their shards;
#    waited until quiet). Per trial, one reader (curl, NDJSON) from the
#    request to `snapshot_end`: through the single node, through a (which
#    reads b's and c's shards over the cluster's links) and through b.
#    Events/s and the ratio to the single node; medians over the trials.
# 2. Live tail: 104,260 changes (the npm list 13 times with other download
#    counts), posted through the webhook (1,000 events a post, fsync per
#    commit) to the single node, and to member a of a fresh cluster of
#    three (which forwards each key to its owner). One subscriber
#    (bench/feed_lag_reader.py) follows the feed from before the first
#    post, through the single node, and through b in the cluster (2/3 of
#    the changes are other members' shards): the commit -> delivery lag
#    (arrival minus the change's `ts`, stamped by the member that commits
#    it): p50, p99, max; and the time the posts took. Twice: at full speed
#    (each post when the last is acknowledged: the three members, the
#    poster and the subscriber share the cores, so this is throughput-
#    bound), and paced (--rate, default 5,000 events/s, 100 a post).
#
# usage: bench/cluster_feed.sh [--keys N] [--trials T] [--only cold|lag]
#          [--rate EVENTS_PER_S] [--also SLUICE_BINARY] [--replicated]
#          [--keep]
#   --also B      the live tail through b also with binary B (e.g. an
#                 earlier build), in the same trials: a before/after
#   --replicated  the live tail through b also on three replicated members
#                 (R = 3, min_insync 2, an etcd started here), whose
#                 subscribers see a change once two members hold it
# Needs build/bin/sluice (or $SLUICE_BIN), curl, python3; etcd with
# --replicated.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bench_args=("$@")
sluice="${SLUICE_BIN:-$here/../build/bin/sluice}"
pipeline="$here/../examples/package_trust/pipeline.yaml"
npm="$here/../examples/package_trust/data/npm.tsv"
poster="$here/../tests/cluster/webhook_poster.py"
keys=300000 trials=3 only="" keep=0 rate=5000 also="" replicated=0
while (($#)); do
  case $1 in
    --keys) keys=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --rate) rate=$2; shift 2 ;;
    --also) also=$2; shift 2 ;;
    --replicated) replicated=1; shift ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
  esac
done
[[ -x $sluice ]] || { echo "missing $sluice: build it first" >&2; exit 1; }
main_sluice=$sluice
# shellcheck source=bench/cluster/common.sh
source "$here/cluster/common.sh"
bench_scratch cluster_feed
printf 'hook-%s\n' "$RANDOM$RANDOM" >"$work/hook.key"
chmod 600 "$work/hook.key"

echo "== change feeds through a cluster member =="
print_machine

declare -A lport hport
now_ms() { date +%s%3N; }
# single DATA [ARGS...]: a single node serving DATA, ready; its PID in $one.
single() {
  local data=$1
  shift
  hport[one]=$(free_port)
  "$sluice" --log-level warn run "$pipeline" --data "$data" --serve --public-read \
    --http "127.0.0.1:${hport[one]}" --hmac-key-file "$work/hook.key" "$@" >>"$work/one.log" 2>&1 &
  one=$!
  bench_pids+=("$one")
  wait_for 60 curl -sf -o /dev/null "127.0.0.1:${hport[one]}/readyz"
}
# member NAME DATA [ARGS...]: a cluster member; its PID in pid_NAME.
member() {
  local n=$1 data=$2
  shift 2
  [[ -n ${lport[$n]:-} ]] || { lport[$n]=$(free_port); hport[$n]=$(free_port); }
  start_node "$work/$n.log" --config "$pipeline" --name "$n" --listen "127.0.0.1:${lport[$n]}" \
    --data "$data" --http "127.0.0.1:${hport[$n]}" --public-read \
    --hmac-key-file "$work/hook.key" "$@"
  printf -v "pid_$n" '%s' "$started"
  wait_for 60 curl -sf -o /dev/null "127.0.0.1:${hport[$n]}/healthz"
}
# quiet NAME...: joined, drained, nothing to hand off or incoming, on all.
quiet() {
  local n nodes shards
  for n in "$@"; do
    nodes=$(console "127.0.0.1:${lport[$n]}" nodes) || return 1
    shards=$(console "127.0.0.1:${lport[$n]}" shards) || return 1
    python3 "$here/../tests/cluster/quiet_check.py" "$nodes" "$shards" "$#" 2>/dev/null || return 1
  done
}
# cluster_of_three DIR [ARGS OF a...]: a, then b and c joining it; quiet.
cluster_of_three() {
  local d=$1
  shift
  member a "$d/a" "$@"
  wait_for 600 quiet a
  member b "$d/b" --join "127.0.0.1:${lport[a]}"
  wait_for 120 quiet a b
  member c "$d/c" --join "127.0.0.1:${lport[a]}"
  wait_for 120 quiet a b c
}
# replicated_three DIR NAME: a, b and c with the controller (an etcd
# cluster NAME), R = 3, min_insync 2; waits until every shard is owned and
# fully replicated.
replicated_three() {
  local d=$1 n args
  args=(--controller "http://127.0.0.1:$ec" --cluster-name "$2" --replicas 3 --min-insync 2)
  member a "$d/a" "${args[@]}"
  for n in b c; do member "$n" "$d/$n" --join "127.0.0.1:${lport[a]}" "${args[@]}"; done
  python3 "$here/cluster/repl_helper.py" replicated --sluice "$sluice" --owned 1024 --timeout 180 \
    --members "127.0.0.1:${lport[a]}" "127.0.0.1:${lport[b]}" "127.0.0.1:${lport[c]}" >/dev/null
}
stop_cluster() {
  local n p
  for n in c b a; do
    p="pid_$n"
    stop_node "${!p}"
  done
}
# snapshot_ms PORT: "MS LINES": ms from the request to snapshot_end, and
# the lines read.
snapshot_ms() {
  local t0 t1 reader
  rm -f "$work/fifo"
  mkfifo "$work/fifo"
  t0=$(now_ms)
  curl -sN "127.0.0.1:$1/v1/feed/score?format=ndjson" >"$work/fifo" &
  reader=$!
  local lines
  lines=$(grep -n -m1 'snapshot_end' <"$work/fifo" | cut -d: -f1)
  t1=$(now_ms)
  kill "$reader" 2>/dev/null || true
  wait "$reader" 2>/dev/null || true
  echo "$((t1 - t0)) $lines"
}

if [[ -z $only || $only == cold ]]; then
  echo
  echo "-- 1. cold start: $keys keys, one reader (NDJSON) to snapshot_end --"
  mkdir -p "$work/keys"
  bash "$here/cluster/unique_feed.sh" "$keys" "$npm" "$work/keys/npm.tsv"
  t0=$(now_ms)
  "$sluice" --log-level warn run "$pipeline" --data "$work/one" \
    --feed "$work/keys/npm.tsv" --no-sync >"$work/fill.log" 2>&1
  echo "single node filled in $((($(now_ms) - t0) / 1000)) s"
  t0=$(now_ms)
  cluster_of_three "$work/three" --feed "$work/keys/npm.tsv" --no-sync
  echo "cluster filled (a fed, then b and c joined) in $((($(now_ms) - t0) / 1000)) s"
  for n in a b c; do
    echo "  $n holds $("$sluice" export --data "$work/three/$n" --stage score | wc -l) score keys"
  done
  # All four serve at once (the idle ones cost next to nothing); each
  # trial reads through the single node, a and b in turn.
  single "$work/one"
  for trial in $(seq 1 "$trials"); do
    read -r ms lines < <(snapshot_ms "${hport[one]}")
    echo "$keys $ms $lines" | awk '{ printf "trial %d, single node: %d ms (%d lines), %.0f events/s\n", t, $2, $3, $1 * 1000 / $2 }' t="$trial"
    echo "$ms" >>"$work/one.ms"
    for n in a b; do
      read -r ms lines < <(snapshot_ms "${hport[$n]}")
      echo "$keys $ms $lines" | awk '{ printf "trial %d, through %s: %d ms (%d lines), %.0f events/s\n", t, n, $2, $3, $1 * 1000 / $2 }' t="$trial" n="$n"
      echo "$ms" >>"$work/$n.ms"
    done
  done
  stop_node "$one"
  stop_cluster
  # shellcheck disable=SC2046 # one number a line
  o=$(median $(cat "$work/one.ms")) a=$(median $(cat "$work/a.ms")) b=$(median $(cat "$work/b.ms"))
  awk -v k="$keys" -v o="$o" -v a="$a" -v b="$b" 'BEGIN {
    printf "median: single node %.0f events/s; through a %.0f events/s (%.2f of it), through b %.0f events/s (%.2f)\n",
      k * 1000 / o, k * 1000 / a, o / a, k * 1000 / b, o / b }'
  rm -rf "$work/one" "$work/three" "$work/keys"
fi

if [[ -z $only || $only == lag ]]; then
  echo
  # 13 rounds of the npm list, each row with other download counts: every
  # row changes its key's score. As webhook bodies (one line, one body).
  python3 - "$npm" >"$work/rounds.json" <<'PY'
import json, sys
rows = open(sys.argv[1]).read().splitlines()
head = rows[0].split("\t")
events = []
for r in range(1, 14):
    for row in rows[1:]:
        f = dict(zip(head, row.split("\t")))
        f["downloads_a_month"] = str(int(f.get("downloads_a_month") or 0) + r)
        events.append({"topic": "registry", "key": "npm/" + f["name"], "payload": f,
                       "attributes": {"ecosystem": "npm", "format": "tsv"}})
print(json.dumps(events, separators=(",", ":")))
PY
  changes=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$work/rounds.json")
  echo "-- 2. live tail: $changes changes posted, fsync, commit -> delivery --"
  echo "   full speed: 1,000 events a post, each post when the last is acknowledged"
  echo "   paced: $rate events/s, 100 a post"
  if ((replicated)); then start_etcd; fi
  # lag_through FEED_PORT POST_PORT LABEL POSTER-ARGS...: the subscriber
  # first, then the posts.
  lag_through() {
    local sub t0 posted feed=$1 post=$2 label=$3
    shift 3
    python3 "$here/feed_lag_reader.py" "http://127.0.0.1:$feed/v1/feed/score?format=ndjson" "$changes" >"$work/lag.out" &
    sub=$!
    bench_pids+=("$sub")
    sleep 1
    t0=$(now_ms)
    python3 "$poster" --url "http://127.0.0.1:$post/v1/events" --key-file "$work/hook.key" \
      --replay "$work/rounds.json" "$@" >"$work/post.out" 2>&1 || { cat "$work/post.out"; return 1; }
    posted=$(($(now_ms) - t0))
    wait "$sub"
    echo "$label: posted in $posted ms, delivered in $(($(now_ms) - t0)) ms; $(cat "$work/lag.out")"
  }
  for trial in $(seq 1 "$trials"); do
    for pace in full paced; do
      args=()
      [[ $pace == paced ]] && args=(--per-post 100 --rate "$rate")
      rm -rf "$work/lag1" "$work/lag3"
      single "$work/lag1"
      lag_through "${hport[one]}" "${hport[one]}" "trial $trial, $pace, single node" "${args[@]}" | tee -a "$work/lag.all"
      stop_node "$one"
      cluster_of_three "$work/lag3"
      lag_through "${hport[b]}" "${hport[a]}" "trial $trial, $pace, through b, posted to a" "${args[@]}" | tee -a "$work/lag.all"
      stop_cluster
      lport=() hport=()
      if ((replicated)); then
        rm -rf "$work/lag3"
        replicated_three "$work/lag3" "feed-$trial-$pace"
        lag_through "${hport[b]}" "${hport[a]}" "trial $trial, $pace, through b, replicated, posted to a" "${args[@]}" | tee -a "$work/lag.all"
        stop_cluster
        lport=() hport=()
      fi
      if [[ -n $also ]]; then
        rm -rf "$work/lag3"
        sluice=$also
        cluster_of_three "$work/lag3"
        lag_through "${hport[b]}" "${hport[a]}" "trial $trial, $pace, through b ($also), posted to a" "${args[@]}" | tee -a "$work/lag.all"
        stop_cluster
        lport=() hport=()
        sluice=$main_sluice
      fi
    done
  done
  for pace in full paced; do
    whats=("single node" "through b, posted")
    if ((replicated)); then whats+=("through b, replicated"); fi
    if [[ -n $also ]]; then whats+=("through b ($also)"); fi
    for what in "${whats[@]}"; do
      grep "$pace, $what" "$work/lag.all" | sed -n 's/.*p50 \([0-9.]*\) ms.*/\1/p' >"$work/p50"
      grep "$pace, $what" "$work/lag.all" | sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' >"$work/p99"
      # shellcheck disable=SC2046 # one number a line
      echo "median: $pace, $what: p50 $(median $(cat "$work/p50")) ms, p99 $(median $(cat "$work/p99")) ms"
    done
  done
fi
