# shellcheck shell=bash
# Sourced by the replication drivers: the scenarios of replication_test.sh
# (1. owners killed five times, then once quiet, with change feeds'
# subscribers through a and b, 2. a member killed and
# wiped, 3. an owner stopped beyond its lease, 4. scale-out from two members to three: the
# controller's rebalance gives the new member a third of the owners, 5. as
# 2 with R = 2, 6. a damaged record at an owner fetched again from a
# replica), the
# failover measurement, and the checks after each, also used by
# replication_partition_test.sh (replication_views.sh has the members and
# their views).
# shellcheck disable=SC2154,SC2034,SC2004  # the driver's, lib.sh's, partition_feed.sh's and replication_views.sh's globals; associative arrays

# verify_scenario DIR TAG: posters stopped; the controller's rebalance done
# (a returned member has its shards back); quiet and in sync; one owner map; replica digests equal; a post through every member acknowledged
# within 3 s and processed once (the counters' growth equals a single
# node's for those posts); each stage's merged export equals a single node
# fed every acknowledged body; the members stop on SIGTERM with exit 0.
verify_scenario() {
  verify_replicated "$1" "$2" "$1" || return 1
  stop_nodes "${members[@]}"
}

# verify_replicated DIR TAG ALL: verify_scenario's checks but the stop, the
# members left running; DIR holds this scenario's posters' files, ALL every
# body acknowledged since the members' data directories were made
# (ALL/acked.*; ALL may be DIR).
verify_replicated() {
  local dir=$1 tag=$2 all=$3 before after delta t n
  stop_posters "$dir"
  for n in "${members[@]}"; do
    [[ -f $dir/poster.$n.log ]] && note "$scenario: poster at $n: $(tail -n 1 "$dir/poster.$n.log")"
  done
  wait_rebalanced sync "${members[@]}" || { abandon "$dir"; return 1; }
  wait_quiet "${members[@]}" || { abandon "$dir"; return 1; }
  wait_replicated quiet "${members[@]}" || { abandon "$dir"; return 1; }
  check_owners "${members[@]}"
  check_digests "$dir" "${members[@]}"
  before=$(member_counters)
  t=$(now_ms)
  probe_after_heal "$dir" "$tag" "$t" "the cluster went quiet"
  wait_quiet "${members[@]}" || { abandon "$dir"; return 1; }
  after=$(member_counters)
  mkdir -p "$dir/probes"
  cp "$dir"/acked.probe.* "$dir/probes/"
  if [[ $all != "$dir" ]]; then
    for n in "$dir"/acked.*; do cp "$n" "$all/${n##*/}.$tag"; done
  fi
  reference_run "$dir/probes"
  delta=$(counters_delta "$before" "$after")
  check "$scenario: the members' done/skipped/failed per stage grew by exactly the single node's for the probes ($delta)" \
    test "$delta" == "$ref_counters"
  if [[ $delta != "$ref_counters" ]]; then note "single node: $ref_counters"; fi
  rm -rf "$all/ref"
  reference_run "$all"
  # Not checked: a process killed -9 takes its counters with it, and work
  # redone after a failover counts again; the exports are the whole run's.
  note "$scenario: whole run: members' counters (their last lives) $after; single node $ref_counters"
  # While the members run (quiet): once one stops, the others take its
  # shards over and its data directory keeps a stale copy of their state.
  ref_dir=$all/ref compare_exports "$dir/export" "${members[@]}"
}

# -- scenarios ----------------------------------------------------------------

# measure_failover DIR TAG I VICTIM: kill -9 VICTIM; the time until it is
# gone from a's owner map and then a new post through a is acknowledged.
measure_failover() {
  local dir=$1 tag=$2 i=$3 v=$4 t_kill t_gone t_ack owned deadline rc=0
  t_kill=$(now_ms)
  kill9 "$v"
  deadline=$((t_kill + wait_limit * 1000))
  while owned=$(owned_by a "$v"); [[ $owned != 0 && $(now_ms) -lt $deadline ]]; do sleep 0.1; done
  t_gone=$(now_ms)
  if [[ $owned != 0 ]]; then
    fail "$scenario: kill $i: $v still in a's owner map ($owned shards) ${wait_limit} s after its kill"
    note "a: $(repl_summary a)"
    show_logs a
    return 1
  fi
  "$py" "$here/webhook_poster.py" --url "${hook[a]}/v1/events" --key-file "$hook_key" \
    --prefix "$tag-fo$i" --out "$dir/acked.fo$i" --once --retry-for "$wait_limit" \
    >"$dir/fo$i.log" 2>&1 || rc=$?
  t_ack=$(now_ms)
  check "$scenario: kill $i: a post through a is acknowledged after $v's kill ($(tail -n 1 "$dir/fo$i.log"))" \
    test "$rc" -eq 0
  failover_ms+=($((t_ack - t_kill)))
  note "$scenario: kill $i of $v: gone from a's owner map after $(secs $((t_gone - t_kill))) s, a post through a acknowledged after $(secs $((t_ack - t_kill))) s"
}

# metric_sum NAME MEMBER...: the sum of metric NAME over the members'
# /metrics.
metric_sum() {
  local name=$1 n total=0 v
  shift
  for n in "$@"; do
    v=$(curl -s --max-time 5 "${hook[$n]}/metrics" | awk -v m="$name" '$1 == m { print $2 }')
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

# quiet_failover DIR TAG: posters stopped and every copy at its owner's
# position, the member owning the most shards (b or c) is killed -9. Its
# shards are promoted on the survivors, each new owner's first record of
# the new epoch carries what its import renumbered, and the other
# survivor, whose copy was where the new owner's was, goes on from the log:
# not one snapshot is sent (before, every such shard took one, one at a
# time per follower, and stayed unwritable meanwhile). Then the victim is
# back and caught up.
quiet_failover() {
  local dir=$1 tag=$2 v owned n survivors=() p0 p1 s0 s1
  stop_posters "$dir"
  wait_rebalanced sync "${members[@]}" || return 1
  wait_quiet "${members[@]}" || return 1
  wait_replicated quiet "${members[@]}" || return 1
  v=$(most_shards a b c)
  owned=$(owned_by a "$v")
  for n in "${members[@]}"; do [[ $n == "$v" ]] || survivors+=("$n"); done
  p0=$(metric_sum sluice_replication_promoted_total "${survivors[@]}")
  s0=$(metric_sum sluice_replication_snapshots_sent_total "${survivors[@]}")
  measure_failover "$dir" "$tag" q "$v" || return 1
  sleep 2 # a snapshot, were one due, would be on its way by now
  p1=$(metric_sum sluice_replication_promoted_total "${survivors[@]}")
  s1=$(metric_sum sluice_replication_snapshots_sent_total "${survivors[@]}")
  check "$scenario: quiet failover: the survivors promoted the $owned shards of $v (promoted: $((p1 - p0)))" \
    test $((p1 - p0)) -eq "$owned"
  check "$scenario: quiet failover: no snapshot sent, the followers went on from the log (snapshots: $((s1 - s0)))" \
    test $((s1 - s0)) -eq 0
  restart_member "$v" || return 1
  wait_members_up a 3 || return 1
  wait_replicated isr a b c
}

replication_1() {
  scenario=OwnerKilledFiveTimes
  echo "== 1. $scenario"
  local dir=$work/r1 tag=r1 i v owned from t0 first late
  repl_start "$dir" "$tag" || { abandon "$dir"; return; }
  # One subscription to score through a follows all six failovers; a
  # second, through b, starts cold after the first (its snapshot taken
  # while the posts go on) and resumes each time b is killed.
  follow_feed "${hook[a]}/v1/feed/score" "$dir/feed.ndjson"
  first=$feed_pid
  start_posters "$dir" "$tag" a
  sleep 1
  v=$(most_shards a b c)
  for i in $(seq 1 "$kills"); do
    owned=$(owned_by a "$v")
    check "$scenario: kill $i: $v owns shards when killed ($owned)" test "$owned" -gt 0
    from=$(wc -l <"${logf[$v]}")
    measure_failover "$dir" "$tag" "$i" "$v" || { abandon "$dir"; return; }
    t0=$(now_ms)
    restart_member "$v" || { abandon "$dir"; return; }
    wait_members_up a 3 || { abandon "$dir"; return; }
    wait_replicated isr a b c || { abandon "$dir"; return; }
    note "$scenario: kill $i: $v restarted, rejoined and caught up in $(secs $(($(now_ms) - t0))) s"
    wait_given_up "$v" "$from"
    if ((i == 1)); then
      follow_feed "${hook[b]}/v1/feed/score" "$dir/feed.late.ndjson"
      late=$feed_pid
    fi
    if [[ $v == b ]]; then v=c; else v=b; fi
  done
  quiet_failover "$dir" "$tag" || { abandon "$dir"; return; }
  verify_replicated "$dir" "$tag" "$dir" || return
  # Each change it saw was held by min_insync members, so every new owner
  # had it: no cursor reset, no change twice (a lost one made again).
  check_feed "$dir/feed.ndjson" "$dir/export/score.tsv" \
    "a subscription through a across six failovers" "$first"
  check_feed "$dir/feed.late.ndjson" "$dir/export/score.tsv" \
    "a subscription through b, started cold under load and resumed after b's kills" "$late"
  stop_nodes "${members[@]}"
}

replication_2() {
  scenario=KilledMemberWipedAndRebuilt
  echo "== 2. $scenario"
  wiped_and_rebuilt "$work/r2" r2 3 2
}

# 5. As 2 with R = 2, and c restored from a backup (`sluice backup` taken
# while it was fed, a few seconds before its kill) instead of starting
# empty: its copies and its log are older than what it had acknowledged,
# and it catches up as a member back from a long absence does. min_insync
# 1, not 2: with min_insync = R a member's
# death leaves every shard it replicated unable to acknowledge until it is
# back and caught up (the isr never shrinks below min_insync), so a cluster
# of R = 2 tolerates one failure only with min_insync = R - 1 = 1, as
# R = 3 does with 2 (Kafka's advice for min.insync.replicas). No
# acknowledged record is lost for it: a follower leaves the isr in etcd
# before its owner stops waiting for it, so every acknowledged record is on
# every member of the isr, and one death leaves one of them.
replication_5() {
  scenario=KilledMemberRestoredFromABackupTwoReplicas
  echo "== 5. $scenario"
  wiped_and_rebuilt "$work/r5" r5 2 1 restore
}

# wiped_and_rebuilt DIR TAG R MIN_INSYNC [restore]: a, b, c with --replicas
# R and --min-insync MIN_INSYNC, fed through a and b; c killed -9 and its
# data directory wiped (with `restore`: replaced by a backup taken while
# fed, 2 s before the kill); its shards fail over and a post through a is
# acknowledged while it is down; c restarts under its name and rebuilds or
# catches up its copies from the owners; then verify_scenario.
wiped_and_rebuilt() {
  local dir=$1 tag=$2 repl_r=$3 repl_min=$4 mode=${5:-wipe} t_kill t0 owned rc=0
  repl_start "$dir" "$tag" || { abandon "$dir"; return; }
  check_replica_count "$repl_r" a b c
  start_posters "$dir" "$tag" a b
  sleep 1
  if [[ $mode == restore ]]; then
    "$sluice" backup --data "${datad[c]}" --out "$dir/c.backup" >"$dir/backup.log" 2>&1 || rc=$?
    check "$scenario: a backup of c taken while fed ($(tail -n 1 "$dir/backup.log"))" test "$rc" -eq 0
    sleep 2 # c acknowledges more than its backup holds
  fi
  t_kill=$(now_ms)
  kill9 c
  rm -rf "${datad[c]}"
  if [[ $mode == restore ]]; then
    "$sluice" restore --from "$dir/c.backup" --data "${datad[c]}" >"$dir/restore.log" 2>&1 || rc=$?
    check "$scenario: c's data directory restored from it ($(tail -n 1 "$dir/restore.log"))" test "$rc" -eq 0
  fi
  while owned=$(owned_by a c); [[ $owned != 0 && $(now_ms) -lt $((t_kill + wait_limit * 1000)) ]]; do sleep 0.1; done
  check "$scenario: c's shards fail over ($(secs $(($(now_ms) - t_kill))) s after its kill; left: $owned)" test "$owned" == 0
  "$py" "$here/webhook_poster.py" --url "${hook[a]}/v1/events" --key-file "$hook_key" \
    --prefix "$tag-down" --out "$dir/acked.down" --once --retry-for "$wait_limit" \
    >"$dir/down.log" 2>&1 || rc=$?
  check "$scenario: a post through a is acknowledged while c is down, $(secs $(($(now_ms) - t_kill))) s after its kill ($(tail -n 1 "$dir/down.log"))" \
    test "$rc" -eq 0
  t0=$(now_ms)
  restart_member c || { abandon "$dir"; return; }
  wait_members_up a 3 || { abandon "$dir"; return; }
  # Rebuilt: its shards back (each moved once c was in sync); as in
  # scenario 3, not every member in sync at one instant while fed.
  wait_rebalanced moves a b c || { abandon "$dir"; return; }
  note "$scenario: c restarted ($mode), caught up its copies and got its shards back in $(secs $(($(now_ms) - t0))) s"
  sleep 1
  verify_scenario "$dir" "$tag"
}

replication_3() {
  scenario=OwnerStoppedBeyondItsLease
  echo "== 3. $scenario"
  local dir=$work/r3 tag=r3
  repl_start "$dir" "$tag" || { abandon "$dir"; return; }
  owner_stopped_past_lease "$dir" "$tag" 0
}

# owner_stopped_past_lease DIR TAG LEAVES: fed through every member, the
# member owning the most shards is SIGSTOPped for stop_ms (with LEAVES=1,
# longer if its shards have not failed over yet, up to the wait limit),
# then continued: its shards failed over, it gives them up (with LEAVES=1,
# after leaving their isr), catches up and gets them back; verify_scenario.
owner_stopped_past_lease() {
  local dir=$1 tag=$2 leaves=$3 v w n t_stop t_cont t_gone='' owned from
  start_posters "$dir" "$tag"
  sleep 1
  v=$(most_shards a a b c)
  for n in "${members[@]}"; do [[ $n != "$v" ]] && { w=$n; break; }; done
  owned=$(owned_by "$w" "$v")
  from=$(wc -l <"${logf[$v]}")
  kill -STOP "${pid[$v]}"
  t_stop=$(now_ms)
  note "$scenario: $(date +%T.%3N) $v (owner of $owned shards) stopped; $w watches"
  while [[ $(now_ms) -lt $((t_stop + stop_ms)) || ( $leaves == 1 && -z $t_gone && $(now_ms) -lt $((t_stop + wait_limit * 1000)) ) ]]; do
    if [[ -z $t_gone && $(owned_by "$w" "$v") == 0 ]]; then t_gone=$(now_ms); fi
    sleep 0.1
  done
  kill -CONT "${pid[$v]}"
  t_cont=$(now_ms)
  note "$scenario: $(date +%T.%3N) $v continued"
  check "$scenario: $v's shards failed over while it was stopped (gone from $w's owner map after $(secs $((${t_gone:-$(now_ms)} - t_stop))) s)" \
    test -n "$t_gone"
  wait_given_up "$v" "$from"
  if [[ $leaves == 1 ]]; then
    check "$scenario: $v left the isr of the shards it lost before dropping its records of them" \
      grep -q "still list this member" <(tail -n +$((from + 1)) "${logf[$v]}")
  fi
  # Caught up: its shards back (each moved once it was in sync). Not "every
  # member in sync at one instant" while three posters feed: the rebalance
  # keeps up to 32 shards in motion for a minute, and then followers flap
  # in and out of the isr on two busy cores (verify_scenario checks it all
  # in sync once the posters stopped).
  wait_rebalanced moves a b c || { abandon "$dir"; return; }
  note "$scenario: $v caught up and got its shards back $(secs $(($(now_ms) - t_cont))) s after SIGCONT"
  sleep 1
  verify_scenario "$dir" "$tag"
}

# 7. R = 2 and min_insync = 2: the member owning the most shards is
# SIGSTOPped beyond its lease. Its shards fail over to their other replica,
# and the failover keeps it in their isr (never below min_insync: it holds
# every acknowledged record, should the new owner lose its disk). Continued,
# it must not drop those records while the isr lists it (a later failover
# to it would find nothing, and every copy would follow the empty one): it
# leaves the isr first, then gives the shards up and catches up; nothing
# acknowledged is lost (verify_scenario).
replication_7() {
  scenario=FormerOwnerLeavesTheIsrBeforeDroppingItsRecords
  echo "== 7. $scenario"
  local dir=$work/r7 tag=r7 repl_r=2 repl_min=2
  # Posts to shards the stopped member follows wait for it: nothing is
  # acknowledged with one copy in sync.
  local poster_retry_for=$((2 * wait_limit))
  repl_start "$dir" "$tag" || { abandon "$dir"; return; }
  check_replica_count 2 a b c
  owner_stopped_past_lease "$dir" "$tag" 1
}

# 4. Scale-out: a and b (R = 3 uses both), a poster feeding through a; c
# starts and joins: the controller adds c to every shard (growth to R),
# then its rebalance moves about a third of the owners to c, at most 32
# shards in motion at once.
replication_4() {
  scenario=ScaleOutRebalancesOwners
  echo "== 4. $scenario"
  local dir=$work/r4 tag=r4 t0 n owned moved motion
  repl_start_pair "$dir" "$tag" || { abandon "$dir"; return; }
  start_posters "$dir" "$tag" a
  sleep 2
  t0=$(now_ms)
  start_member c --join "$(addr a)" || { abandon "$dir"; return; }
  wait_members_up a 3 || { abandon "$dir"; return; }
  wait_rebalanced sync a b c || { abandon "$dir"; return; }
  note "$scenario: c started, every shard at its target and in sync $(secs $(($(now_ms) - t0))) s later (while fed)"
  for n in a b c; do
    owned=$(owned_by a "$n")
    check "$scenario: $n owns about a third of the shards ($owned of $shards_total)" \
      test "$owned" -ge 290 -a "$owned" -le 400
  done
  moved=$(rebalance_of a b c | pyj 'd["owners_moved"]')
  owned=$(owned_by a c)
  check "$scenario: the controller moved at least c's $owned owners ($moved owner moves)" \
    test "$moved" -ge "$owned"
  motion=$(max_in_motion a b c)
  check "$scenario: at most 32 shards were in motion at once (at most $motion logged)" \
    test "$motion" -ge 1 -a "$motion" -le 32
  sleep 1
  verify_scenario "$dir" "$tag"
}

# 6. A damaged record at an owner, fetched again from a replica: a, b, c
# (R = 3) fed through a, then quiet; the state records of one key are
# damaged in its owner's data file while it runs (damage_state.py, in
# place, as a bad sector would); its stages passivate key actors after 1 s
# idle, so the next event of the key reads them again. That event, posted
# through a, meets the damage: the owner gives the key's shard to an
# in-sync replica (no dead letter), which runs it on its whole copy; the
# owner drops its records of the shard, takes a snapshot back and, being
# the preferred owner, gets the shard again; `sluice check` beside it is
# clean again; then verify_scenario (the exports equal a single node's:
# the event ran exactly once).
replication_6() {
  scenario=DamagedRecordAtAnOwnerFetchedFromAReplica
  echo "== 6. $scenario"
  local dir=$work/r6 tag=r6 saved=$pipeline key owner='' n flipped rc=0 from \
    letters0 letters1 repairs0 repairs1 t0 deadline given=''
  mkdir -p "$dir"
  sed 's/^\( *\)stuck_after: 5m$/&\n\1passivate_after: 1s/' "$saved" >"$dir/pipeline.yaml"
  pipeline=$dir/pipeline.yaml
  repl_start "$dir" "$tag" || { pipeline=$saved; abandon "$dir"; return; }
  start_posters "$dir" "$tag" a
  sleep 2
  stop_posters "$dir"
  wait_quiet "${members[@]}" || { pipeline=$saved; abandon "$dir"; return; }
  wait_replicated quiet "${members[@]}" || { pipeline=$saved; abandon "$dir"; return; }
  key=npm/$tag-a-3
  for n in "${members[@]}"; do
    if "$sluice" export --data "${datad[$n]}" --stage score 2>/dev/null | grep -q "^$key	"; then owner=$n; fi
  done
  check "$scenario: $key has an owner (${owner:-none})" test -n "$owner"
  [[ -n $owner ]] || { pipeline=$saved; abandon "$dir"; return; }
  letters0=$(dead_letters "${members[@]}")
  repairs0=$(metric_sum sluice_replication_repairs_total "${members[@]}")
  from=$(wc -l <"${logf[$owner]}")
  flipped=$("$py" "$here/damage_state.py" "${datad[$owner]}/data.mdb" "$key") || rc=$?
  check "$scenario: $key's state records damaged in $owner's data file while it runs ($flipped)" test "$rc" -eq 0
  "$sluice" check --data "${datad[$owner]}" >"$dir/check.before" 2>&1 || rc=$?
  check "$scenario: sluice check beside $owner names the damage (exit $rc)" \
    grep -qF "$key: fails its checksum" "$dir/check.before"
  sleep 2.5 # the key's actors passivate: its next event reads it again
  # The key's next event (a new version, so not skipped as unchanged).
  "$py" - "$key" >"$dir/acked.damaged" <<'PY'
import json, sys
key = sys.argv[1]
print(json.dumps([{"topic": "registry", "key": key,
                   "payload": {"name": key.split("/", 1)[1], "version": "9.9.9",
                               "downloads_a_month": "4242",
                               "summary": "after the damage"},
                   "attributes": {"ecosystem": "npm", "format": "tsv"}}],
                 separators=(",", ":")))
PY
  t0=$(now_ms)
  rc=0
  "$py" "$here/webhook_poster.py" --url "${hook[a]}/v1/events" --key-file "$hook_key" \
    --replay "$dir/acked.damaged" --retry-for "$wait_limit" >"$dir/damaged.log" 2>&1 || rc=$?
  check "$scenario: a post of $key through a is acknowledged ($(tail -n 1 "$dir/damaged.log"))" test "$rc" -eq 0
  deadline=$((t0 + wait_limit * 1000))
  while :; do
    given=$(tail -n +$((from + 1)) "${logf[$owner]}" | grep -m1 'given to an in-sync replica' || true)
    [[ -n $given || $(now_ms) -ge $deadline ]] && break
    sleep 0.2
  done
  check "$scenario: $owner gave $key's shard to an in-sync replica $(secs $(($(now_ms) - t0))) s after the post" \
    test -n "$given"
  [[ -n $given ]] || show_logs "$owner"
  wait_rebalanced sync "${members[@]}" || { pipeline=$saved; abandon "$dir"; return; }
  wait_quiet "${members[@]}" || { pipeline=$saved; abandon "$dir"; return; }
  note "$scenario: the shard went to a replica and came back to $owner, in sync, $(secs $(($(now_ms) - t0))) s after the post"
  letters1=$(dead_letters "${members[@]}")
  repairs1=$(metric_sum sluice_replication_repairs_total "${members[@]}")
  check "$scenario: no dead letter anywhere ($letters0 before, $letters1 after)" test "$letters1" -eq "$letters0"
  check "$scenario: one shard fetched again (sluice_replication_repairs_total +$((repairs1 - repairs0)))" \
    test $((repairs1 - repairs0)) -eq 1
  rc=0
  "$sluice" check --data "${datad[$owner]}" >"$dir/check.after" 2>&1 || rc=$?
  check "$scenario: sluice check beside $owner is clean again ($(tail -n 1 "$dir/check.after"))" test "$rc" -eq 0
  for n in "${members[@]}"; do
    if "$sluice" export --data "${datad[$n]}" --stage parse 2>/dev/null | grep -F "$key	" | grep -q '9\.9\.9'; then
      note "$scenario: $key's new version is in $n's export"
    fi
  done
  verify_scenario "$dir" "$tag"
  pipeline=$saved
}

# dead_letters MEMBER...: the dead letters the members' data directories
# hold, in all (`sluice dlq list` beside the running members).
dead_letters() {
  local n total=0 c
  for n in "$@"; do
    c=$("$sluice" dlq list --data "${datad[$n]}" 2>/dev/null | sed -n 's/^\([0-9][0-9]*\) dead letters\{0,1\}$/\1/p')
    [[ -n $c ]] || c=unreadable
    [[ $c == unreadable ]] && { echo "unreadable"; return; }
    total=$((total + c))
  done
  echo "$total"
}
