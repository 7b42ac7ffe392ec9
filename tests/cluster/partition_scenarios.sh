# shellcheck shell=bash
# Sourced by partition_test.sh: the harness check, the two partition
# scenarios, and what they share: three members a, b, c in namespaces 1-3,
# webhook posters on every member, the probes after a heal, the single-node
# reference fed the acknowledged bodies, and the per-stage counter sums.
# shellcheck disable=SC2154,SC2034,SC2004  # the driver's, lib.sh's and checks.sh's globals; associative arrays

declare -A poster_pid=() hook=()
members=(a b c)

# check_harness: the namespaces reach each other, a cut and a heal work,
# and no address outside 127.0.0.0/8 exists in them.
check_harness() {
  scenario=Harness
  echo "== 0. $scenario"
  check "$scenario: 1 reaches 2 and 3, 3 reaches 2" \
    eval 'netns_can_reach 1 2 && netns_can_reach 1 3 && netns_can_reach 3 2'
  netns_isolate 3
  check "$scenario: with 3 isolated, 1 and 3 cannot reach each other" \
    eval '! netns_can_reach 1 3 && ! netns_can_reach 3 1'
  check "$scenario: with 3 isolated, 1 still reaches 2" netns_can_reach 1 2
  netns_heal
  check "$scenario: healed, 1 reaches 3 again" netns_can_reach 1 3
  local i others=
  for i in 1 2 3; do
    others+=$(netns_exec "$i" ip -o addr show | awk '$3 ~ /^inet/ && $4 !~ /^127\./ { print " " $4 }')
  done
  check "$scenario: no address outside 127.0.0.0/8 in the namespaces${others}" test -z "$others"
}

# start_members DIR: a (new cluster), b and c join it, each in its own
# namespace, each with the webhook on; waits until the cluster is quiet
# (every hand-off done).
start_members() {
  local dir=$1 i=1 n
  setup_nodes "$dir" "${members[@]}"
  for n in "${members[@]}"; do
    host[$n]=$(netns_addr "$i")
    netns_of[$n]=$(netns_name "$i")
    port[$n]=7400
    hook[$n]=http://${host[$n]}:7480
    i=$((i + 1))
  done
  local web=(--hmac-key-file "$hook_key")
  start_node a --http "${host[a]}:7480" "${web[@]}"
  wait_answers a || return 1
  start_node b --join "$(addr a)" --http "${host[b]}:7480" "${web[@]}"
  wait_answers b || return 1
  wait_members_up a 2 || return 1
  start_node c --join "$(addr a)" --http "${host[c]}:7480" "${web[@]}"
  wait_answers c || return 1
  wait_quiet a b c
}

# start_posters DIR TAG: a webhook poster on every member, from inside its
# namespace: 10 events every 50 ms, keys npm/TAG-MEMBER-N, each
# acknowledged body in DIR/acked.MEMBER; they stop when DIR/stop exists.
start_posters() {
  local dir=$1 tag=$2 n
  rm -f "$dir/stop"
  for n in "${members[@]}"; do
    # A simple command, so $! is the poster's own PID (ip execs it).
    ip netns exec "${netns_of[$n]}" "$py" "$here/webhook_poster.py" \
      --url "${hook[$n]}/v1/events" --key-file "$hook_key" --prefix "$tag-$n" \
      --out "$dir/acked.$n" --stop "$dir/stop" >"$dir/poster.$n.log" 2>&1 &
    poster_pid[$n]=$!
    running[${poster_pid[$n]}]=poster-$n
  done
}

# stop_posters DIR: every poster stops and must have had each of its
# bodies acknowledged.
stop_posters() {
  local dir=$1 n
  touch "$dir/stop"
  for n in "${members[@]}"; do
    reap "${poster_pid[$n]}"
    check "$scenario: the poster at $n had every body acknowledged (exit $reaped): $(tail -n 1 "$dir/poster.$n.log")" \
      test "$reaped" -eq 0
  done
}

# status_at VIEWER MEMBER: MEMBER's status in VIEWER's member table.
status_at() {
  con "$1" nodes | pyj "[m['status'] for m in d['nodes'] if m['name'] == '$2'][0]" 2>/dev/null \
    || echo "no answer"
}

# wait_statuses LIMIT_MS VIEWER:MEMBER:REGEX...: until each VIEWER reports
# its MEMBER with a status matching REGEX; 0 if all did within LIMIT_MS.
wait_statuses() {
  local limit=$1 deadline spec v m re ok
  shift
  deadline=$(($(now_ms) + limit))
  while :; do
    ok=1
    for spec in "$@"; do
      IFS=: read -r v m re <<<"$spec"
      [[ $(status_at "$v" "$m") =~ ^($re)$ ]] || { ok=0; break; }
    done
    [[ $ok == 1 ]] && return 0
    [[ $(now_ms) -ge $deadline ]] && return 1
    sleep 0.2
  done
}

# matches TEXT REGEX: TEXT matches the extended REGEX.
matches() { [[ $1 =~ $2 ]]; }

# watch_statuses UNTIL_MS VIEWER:MEMBER...: polls each VIEWER's status of
# its MEMBER until now_ms reaches UNTIL_MS; watched[VIEWER:MEMBER] gets
# each change with the seconds since the start, e.g. "up@0.0 suspect@1.4".
declare -A watched=()
watch_statuses() {
  local until=$1 t0 spec st last
  shift
  t0=$(now_ms)
  declare -A last_seen=()
  for spec in "$@"; do watched[$spec]=; last_seen[$spec]=; done
  while [[ $(now_ms) -lt $until ]]; do
    for spec in "$@"; do
      st=$(status_at "${spec%%:*}" "${spec#*:}")
      last=${last_seen[$spec]}
      if [[ $st != "$last" ]]; then
        watched[$spec]+=" $st@$(secs $(($(now_ms) - t0)))"
        last_seen[$spec]=$st
      fi
    done
    sleep 0.2
  done
}

# outboxes: "a=N b=N c=N", each member's outbox length.
outboxes() {
  local n out=
  for n in "${members[@]}"; do
    out+=" $n=$(con "$n" nodes | jqr .local.outbox 2>/dev/null || echo '?')"
  done
  echo "${out# }"
}

# probe_after_heal DIR TAG T_HEAL: right after a heal, each member is
# posted 6 new events (from its namespace) and must acknowledge them within
# 3 s of the first try; then every probe key must reach the last stage at
# some member within 3 s more.
probe_after_heal() {
  local dir=$1 tag=$2 t_heal=$3 n t rc keys='' pids=() line
  for n in "${members[@]}"; do
    ip netns exec "${netns_of[$n]}" "$py" "$here/webhook_poster.py" \
      --url "${hook[$n]}/v1/events" --key-file "$hook_key" --prefix "$tag-probe-$n" \
      --out "$dir/acked.probe.$n" --once --batch 6 --retry-for 3 >"$dir/probe.$n.log" 2>&1 &
    pids+=($!)
    running[$!]=probe-$n
  done
  for n in "${members[@]}"; do
    reap "${pids[0]}"
    pids=("${pids[@]:1}")
    line=$(tail -n 1 "$dir/probe.$n.log")
    check "$scenario: after the heal, $n acknowledges a new post within 3 s (exit $reaped: ${line#*: })" \
      test "$reaped" -eq 0
    for t in 0 1 2 3 4 5; do keys+=,npm/$tag-probe-$n-$t; done
  done
  note "$scenario: probes acknowledged $(secs $(($(now_ms) - t_heal))) s after the heal"
  local specs=() answer
  for n in "${members[@]}"; do specs+=("$n=/run/netns/${netns_of[$n]}=${hook[$n]}"); done
  rc=0
  answer=$("$py" "$here/keys_done.py" --stage "${stages[-1]}" --within 3 \
    --keys "${keys#,}" "${specs[@]}") || rc=$?
  note "$scenario: the probes at the last stage ($(secs $(($(now_ms) - t_heal))) s after the heal): $answer"
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

# verify_after_heal DIR TAG: the probes, then the posters stop; once quiet,
# the owner maps, the counters against the reference, the exports.
verify_after_heal() {
  local dir=$1 tag=$2 t_heal=$3 counters
  probe_after_heal "$dir" "$tag" "$t_heal"
  stop_posters "$dir"
  wait_quiet "${members[@]}" || { kill_all "${members[@]}"; return 1; }
  note "$scenario: quiet $(secs $(($(now_ms) - t_heal))) s after the heal"
  check_shards "${members[@]}"
  counters=$(member_counters)
  reference_run "$dir"
  check "$scenario: each stage's done/skipped/failed summed over the members equals the single node's ($counters)" \
    test "$counters" == "$ref_counters"
  if [[ $counters != "$ref_counters" ]]; then note "single node: $ref_counters"; fi
  ref_dir=$dir/ref compare_exports "$dir/export" "${members[@]}"
  stop_nodes "${members[@]}"
}

# -- scenarios ----------------------------------------------------------------

partition_1() {
  scenario=OneMemberCutOffThenHealed
  echo "== 1. $scenario"
  local dir=$work/p1 t_cut t_heal
  start_members "$dir" || { kill_all "${members[@]}"; return; }
  start_posters "$dir" p1
  sleep 1
  t_cut=$(now_ms)
  netns_isolate 3
  note "$scenario: $(date +%T.%3N) c cut off ($(netns_cuts))"
  check "$scenario: a and b see c down or suspect, c sees a and b so, within 3 s" \
    wait_statuses 3000 'a:c:down|suspect' 'b:c:down|suspect' 'c:a:down|suspect' 'c:b:down|suspect'
  check "$scenario: a and b still see each other up" wait_statuses 0 'a:b:up' 'b:a:up'
  sleep_until $((t_cut + cut_ms))
  local ob
  ob=$(outboxes)
  note "$scenario: outboxes before the heal: $ob"
  check "$scenario: during the cut, c's outbox holds events for a and b, and a's for c ($ob)" \
    matches "$ob" '^a=[1-9][0-9]* b=[0-9]+ c=[1-9]'
  netns_heal
  t_heal=$(now_ms)
  note "$scenario: $(date +%T.%3N) healed"
  verify_after_heal "$dir" p1 "$t_heal"
}

partition_2() {
  scenario=BridgeMemberSeesBothHalves
  echo "== 2. $scenario"
  local dir=$work/p2 t_cut t_heal
  start_members "$dir" || { kill_all "${members[@]}"; return; }
  start_posters "$dir" p2
  sleep 1
  t_cut=$(now_ms)
  netns_cut 2 3
  note "$scenario: $(date +%T.%3N) b and c cut apart, a reaches both ($(netns_cuts))"
  watch_statuses $((t_cut + cut_ms)) b:c c:b a:b a:c
  local w
  for w in b:c c:b a:b a:c; do
    note "$scenario: during the cut, ${w%%:*} saw ${w#*:}:${watched[$w]}"
  done
  check "$scenario: during the cut, b saw c not up or c saw b not up" \
    matches "${watched[b:c]} ${watched[c:b]}" '(suspect|down)@'
  local ob
  ob=$(outboxes)
  note "$scenario: outboxes before the heal: $ob; a sees b $(status_at a b), c $(status_at a c)"
  check "$scenario: during the cut, b's and c's outboxes hold events for each other ($ob)" \
    matches "$ob" ' b=[1-9][0-9]* c=[1-9]'
  netns_heal
  t_heal=$(now_ms)
  note "$scenario: $(date +%T.%3N) healed"
  verify_after_heal "$dir" p2 "$t_heal"
}
