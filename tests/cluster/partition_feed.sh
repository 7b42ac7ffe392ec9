# shellcheck shell=bash
# Sourced by partition_test.sh and replication_test.sh: what feeds and
# measures the members from outside: webhook posters on every member (from
# inside its namespace, if it has one), the probes after a heal (or any other
# event), the per-stage counter sums over the members' /metrics, and the
# single-node reference fed every acknowledged body.
# shellcheck disable=SC2154,SC2034,SC2004  # the driver's, lib.sh's and partition_scenarios.sh's globals; associative arrays

declare -A poster_pid=()

# ns_prefix NAME: ns_pre = the words that run a command in NAME's network
# namespace (none when it has none), so `"${ns_pre[@]}" CMD &` keeps CMD's
# PID in $!.
ns_pre=()
ns_prefix() {
  ns_pre=()
  if [[ -n ${netns_of[$1]} ]]; then ns_pre=(ip netns exec "${netns_of[$1]}"); fi
}

# start_posters DIR TAG [MEMBER...]: a webhook poster on each MEMBER
# (default: every member), from inside its namespace: 10 events every
# 50 ms, keys npm/TAG-MEMBER-N, each acknowledged body in DIR/acked.MEMBER,
# each body retried for up to $poster_retry_for s (default 20); they stop
# when DIR/stop exists.
start_posters() {
  local dir=$1 tag=$2 n
  shift 2
  [[ $# -gt 0 ]] || set -- "${members[@]}"
  rm -f "$dir/stop"
  for n in "$@"; do
    ns_prefix "$n"
    # A simple command, so $! is the poster's own PID (ip execs it).
    "${ns_pre[@]}" "$py" "$here/webhook_poster.py" \
      --url "${hook[$n]}/v1/events" --key-file "$hook_key" --prefix "$tag-$n" \
      --out "$dir/acked.$n" --stop "$dir/stop" --retry-for "${poster_retry_for:-20}" \
      >"$dir/poster.$n.log" 2>&1 &
    poster_pid[$n]=$!
    running[${poster_pid[$n]}]=poster-$n
  done
}

# stop_posters DIR: every poster stops and must have had each of its
# bodies acknowledged.
stop_posters() {
  local dir=$1 n
  touch "$dir/stop"
  for n in "${!poster_pid[@]}"; do
    reap "${poster_pid[$n]}"
    unset "poster_pid[$n]"
    check "$scenario: the poster at $n had every body acknowledged (exit $reaped): $(tail -n 1 "$dir/poster.$n.log")" \
      test "$reaped" -eq 0
  done
}

# probe_after_heal DIR TAG T_HEAL [WHAT]: right after a heal (or WHAT),
# each member is posted 6 new events (from its namespace) and must
# acknowledge them within 3 s of the first try; then every probe key must
# reach the last stage (or $probe_stage: one keyed by the posted keys) at
# some member within 3 s more.
probe_after_heal() {
  local dir=$1 tag=$2 t_heal=$3 what=${4:-the heal} n t rc keys='' pids=() line
  for n in "${members[@]}"; do
    ns_prefix "$n"
    "${ns_pre[@]}" "$py" "$here/webhook_poster.py" \
      --url "${hook[$n]}/v1/events" --key-file "$hook_key" --prefix "$tag-probe-$n" \
      --out "$dir/acked.probe.$n" --once --batch 6 --retry-for 3 >"$dir/probe.$n.log" 2>&1 &
    pids+=($!)
    running[$!]=probe-$n
  done
  for n in "${members[@]}"; do
    reap "${pids[0]}"
    pids=("${pids[@]:1}")
    line=$(tail -n 1 "$dir/probe.$n.log")
    check "$scenario: after $what, $n acknowledges a new post within 3 s (exit $reaped: ${line#*: })" \
      test "$reaped" -eq 0
    for t in 0 1 2 3 4 5; do keys+=,npm/$tag-probe-$n-$t; done
  done
  note "$scenario: probes acknowledged $(secs $(($(now_ms) - t_heal))) s after $what"
  local specs=() answer
  for n in "${members[@]}"; do specs+=("$n=${netns_of[$n]:+/run/netns/${netns_of[$n]}}=${hook[$n]}"); done
  rc=0
  answer=$("$py" "$here/keys_done.py" --stage "${probe_stage:-${stages[-1]}}" --within 3 \
    --keys "${keys#,}" "${specs[@]}") || rc=$?
  note "$scenario: the probes at the last stage ($(secs $(($(now_ms) - t_heal))) s after $what): $answer"
  check "$scenario: every probe reached the last stage within 3 s of its acknowledgement" test "$rc" -eq 0
}

# member_counters: per stage, done/skipped/failed summed over the members'
# /metrics (each read inside its namespace), as "stage=d/s/f ...".
member_counters() {
  local n
  for n in "${members[@]}"; do
    in_ns "$n" curl -s --max-time 5 "${hook[$n]}/metrics" || echo "unreachable $n"
  done | sum_counters
}

# sum_counters: stdin Prometheus text -> "stage=done/skipped/failed ...".
sum_counters() {
  "$py" -c '
import re, sys
sums = {}
for line in sys.stdin:
    m = re.match(r"sluice_stage_(done|skipped|failed)_total\{(.*)\} (\S+)$", line.strip())
    if not m:
        continue
    st = re.search(r"stage=\"([^\"]*)\"", m.group(2))
    if st:
        c = sums.setdefault(st.group(1), {"done": 0, "skipped": 0, "failed": 0})
        c[m.group(1)] += int(float(m.group(3)))
print(" ".join("%s=%d/%d/%d" % (s, c["done"], c["skipped"], c["failed"])
               for s, c in sorted(sums.items())))
'
}

# reference_run DIR: a single `sluice run` (no cluster, this namespace) fed
# every body the cluster acknowledged (DIR/acked.*); its sorted export per
# stage in DIR/ref/STAGE.tsv and its counters in ref_counters.
ref_counters=
reference_run() {
  local dir=$1 rport rpid rc s depth=
  mkdir -p "$dir/ref"
  rport=$(free_ports 1)
  "$sluice" run "$pipeline" --data "$dir/ref/data" --http "127.0.0.1:$rport" \
    --hmac-key-file "$hook_key" --serve --no-sync -q 2>"$dir/ref/stderr.log" &
  rpid=$!
  running[$rpid]=reference
  for _ in $(seq 1 200); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$rport/readyz") == 200 ]] && break
    sleep 0.05
  done
  rc=0
  "$py" "$here/webhook_poster.py" --url "http://127.0.0.1:$rport/v1/events" \
    --key-file "$hook_key" --replay "$dir"/acked.* >"$dir/ref/replay.log" 2>&1 || rc=$?
  if [[ $rc -ne 0 ]]; then
    fail "$scenario: feeding the reference node failed: $(tail -n 2 "$dir/ref/replay.log")"
  fi
  for _ in $(seq 1 $((wait_limit * 10))); do
    depth=$(curl -s "http://127.0.0.1:$rport/metrics" \
      | awk '/^sluice_stage_queue_depth\{/ { s += $2 } END { print s + 0 }')
    [[ $depth == 0 ]] && break
    sleep 0.1
  done
  ref_counters=$(curl -s "http://127.0.0.1:$rport/metrics" | sum_counters)
  kill -TERM "$rpid" 2>/dev/null || true
  reap "$rpid"
  if [[ $depth != 0 || $reaped != 0 ]]; then
    fail "$scenario: the reference node did not drain (queued $depth) or exited $reaped"
    tail -n 10 "$dir/ref/stderr.log" | sed 's/^/       /'
  fi
  for s in "${stages[@]}"; do
    if ! "$sluice" export --data "$dir/ref/data" --stage "$s" 2>"$dir/ref/$s.err" \
        | LC_ALL=C sort >"$dir/ref/$s.tsv"; then
      fail "$scenario: export of stage $s from the reference failed: $(head -c 300 "$dir/ref/$s.err")"
    fi
  done
  note "$scenario: reference: $(wc -l <"$dir/ref/${stages[-1]}.tsv") keys at the last stage; $(tail -n 1 "$dir/ref/replay.log")"
}
