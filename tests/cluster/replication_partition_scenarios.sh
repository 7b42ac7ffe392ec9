# shellcheck shell=bash
# Sourced by replication_partition_test.sh: the three cuts of a replicated
# cluster (a bridge, a minority, the majority cut off from etcd), what is
# watched and checked during each, the bodies acknowledged on each side and
# the time from the heal to a new post acknowledged. The members and their
# views are in replication_views.sh, the checks after the heal in
# replication_scenarios.sh (verify_replicated).
# shellcheck disable=SC2154,SC2034,SC2004  # the driver's and the other files' globals; associative arrays

rp_gen=0      # clusters started so far
rp_all=       # every body acknowledged since this cluster started
rp_dir=       # this scenario's posters' files
rp_tag=       # this scenario's key prefix
t_cut=0
t_heal=0
declare -A at_cut=() at_grace=() at_heal=() from_line=()

# rp_ensure: the members running, else (first scenario, or the one before
# could not go on) a new cluster: new data directories, a new name in etcd.
rp_ensure() {
  local n up=1
  for n in "${members[@]}"; do
    if [[ -z ${pid[$n]:-} ]] || ! is_running "${pid[$n]}"; then up=0; fi
  done
  [[ $up == 1 ]] && return 0
  if [[ $rp_gen -gt 0 ]]; then kill_all "${members[@]}"; fi
  rp_gen=$((rp_gen + 1))
  rp_all=$work/all$rp_gen
  mkdir -p "$rp_all"
  place_members "$work/cluster$rp_gen"
  repl_launch "rp$rp_gen"
}

# bodies DIR MEMBER: how many bodies MEMBER's poster had acknowledged.
bodies() {
  if [[ -f $1/acked.$2 ]]; then wc -l <"$1/acked.$2"; else echo 0; fi
}

# mark NAME: the associative array NAME gets each member's bodies now.
mark() {
  local -n into=$1
  local n
  for n in "${members[@]}"; do into[$n]=$(bodies "$rp_dir" "$n"); done
}

# rp_begin TAG: the cluster, posters on every member for a second; then
# marks the bodies before the cut (make it right after, then cut_made).
rp_begin() {
  local n
  rp_tag=$1
  rp_dir=$work/$1
  mkdir -p "$rp_dir"
  rp_ensure || return 1
  start_posters "$rp_dir" "$rp_tag"
  sleep 1
  for n in "${members[@]}"; do from_line[$n]=$(wc -l <"${logf[$n]}"); done
  mark at_cut
}

# cut_made WHAT: the cut (just made) starts now; notes it with its rules.
cut_made() {
  t_cut=$(now_ms)
  note "$scenario: $(date +%T.%3N) $1 ($(netns_cuts))"
}

# during_cut: "a=N b=N c=N", bodies acknowledged from the cut to now.
during_cut() {
  local n out=
  for n in "${members[@]}"; do out+=" $n=$(($(bodies "$rp_dir" "$n") - at_cut[$n]))"; done
  echo "${out# }"
}

# after_grace MEMBER: bodies MEMBER's poster had acknowledged between the
# grace mark and the heal.
after_grace() { echo $((at_heal[$1] - at_grace[$1])); }

# lease_of NAME: NAME's own view of its lease (true/false, ? unanswered).
lease_of() { con "$1" shards | pyj 'd["replication"]["lease"]' 2>/dev/null || echo "?"; }

# readyz NAME: the HTTP status of NAME's /readyz, asked in its namespace.
readyz() {
  in_ns "$1" curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${hook[$1]}/readyz" || true
}

# dups NAME: NAME's sluice_publish_duplicates_total (events of a post seen
# before: a client's retries), read in its namespace.
dups() {
  in_ns "$1" curl -s --max-time 2 "${hook[$1]}/metrics" \
    | awk '/^sluice_publish_duplicates_total/ { s += $2 } END { print s + 0 }'
}

# owners_json NAME: NAME's owner map as sorted JSON.
owners_json() { con "$1" shards | pyj 'json.dumps(d["owners"], sort_keys=True)' 2>/dev/null || echo "?"; }

# wait_owned VIEWER MEMBER WANT UNTIL_MS: until VIEWER's owner map gives
# MEMBER WANT shards (or UNTIL_MS); prints the seconds since the cut, or
# "never (last: N)".
wait_owned() {
  local got
  while got=$(owned_by "$1" "$2"); [[ $got != "$3" && $(now_ms) -lt $4 ]]; do sleep 0.1; done
  if [[ $got == "$3" ]]; then secs $(($(now_ms) - t_cut)); else echo "never (last: $got)"; fi
}

# wait_control UNTIL_MS: until c (alone with etcd) owns every shard but
# those its controller logged as left without owner (no member of their
# in-sync set on its side: a follower that lagged just before the cut), or
# UNTIL_MS; prints the seconds since the cut and that count, or "never".
wait_control() {
  local got left line
  while :; do
    line=$(tail -n +$((from_line[c] + 1)) "${logf[c]}" \
      | grep -oE '[0-9]+ shards without owner \(no member of their isr is live\)' | tail -n 1 || true)
    left=${line%% *}
    got=$(owned_by c c)
    if [[ $got == $((shards_total - ${left:-0})) ]]; then
      echo "$(secs $(($(now_ms) - t_cut))) s; ${left:-0} shards left without owner, their isr only a or b"
      return 0
    fi
    if [[ $(now_ms) -ge $1 ]]; then
      echo "never: c owns $got, ${left:-0} without owner"
      return 0
    fi
    sleep 0.1
  done
}

# rp_heal: marks the bodies, removes every cut, notes the bodies each side
# had acknowledged during the cut, and times a new post through each
# member from the heal to its acknowledgement (each from its namespace,
# retried for up to the wait limit; its body joins the reference).
rp_heal() {
  local n out='' left
  declare -A hp=() took=()
  mark at_heal
  netns_heal
  t_heal=$(now_ms)
  note "$scenario: $(date +%T.%3N) healed after $(secs $((t_heal - t_cut))) s; bodies acknowledged during the cut: $(during_cut)"
  for n in "${members[@]}"; do
    ns_prefix "$n"
    "${ns_pre[@]}" "$py" "$here/webhook_poster.py" --url "${hook[$n]}/v1/events" \
      --key-file "$hook_key" --prefix "$rp_tag-heal-$n" --out "$rp_dir/acked.heal.$n" \
      --once --retry-for "$poster_retry_for" >"$rp_dir/heal.$n.log" 2>&1 &
    hp[$n]=$!
    running[$!]=heal-$n
  done
  left=${#members[@]}
  while [[ $left -gt 0 ]]; do
    for n in "${members[@]}"; do
      if [[ -z ${hp[$n]} ]] || is_running "${hp[$n]}"; then continue; fi
      took[$n]=$(secs $(($(now_ms) - t_heal)))
      reap "${hp[$n]}"
      hp[$n]=
      left=$((left - 1))
      check "$scenario: after the heal, a new post through $n is acknowledged (after ${took[$n]} s; exit $reaped)" \
        test "$reaped" -eq 0
      out+=" $n=${took[$n]} s"
    done
    sleep 0.05
  done
  note "$scenario: from the heal to a new post acknowledged:$out"
}

# -- scenarios ----------------------------------------------------------------

rp_bridge() {
  scenario=BridgeSeesBothHalves
  echo "== bridge. $scenario"
  local cut_ms=10000 before n l leases='' ok=1 after
  rp_begin bridge || { abandon "$work/bridge"; return 1; }
  before=$(owners_json b)
  netns_cut 1 3
  cut_made "a and c cut apart; b reaches both; all reach etcd"
  sleep_until $((t_cut + cut_ms / 2))
  mark at_grace
  sleep_until $((t_cut + cut_ms))
  for n in "${members[@]}"; do
    l=$(lease_of "$n")
    leases+=" $n=$l"
    [[ $l == true ]] || ok=0
  done
  after=$(owners_json b)
  check "$scenario: every member keeps its lease through the cut (${leases# })" test "$ok" -eq 1
  check "$scenario: no shard moved during the cut (b's owner map $after, before $before)" \
    test "$after" == "$before"
  rp_heal
  check "$scenario: b, which sees both halves, kept acknowledging in the cut's second half ($(after_grace b) bodies; a $(after_grace a), c $(after_grace c))" \
    test "$(after_grace b)" -gt 0
  verify_replicated "$rp_dir" "$rp_tag" "$rp_all"
}

rp_minority() {
  scenario=MinorityCutOff
  echo "== minority. $scenario"
  # The cut outlasts what a and b wait for c by about 5 s: its lease (2 s)
  # for c's own shards, and --replica-lag (5 s, the default) for the shards
  # c followed, whose owners acknowledge nothing without it until then
  # (each body touches many shards). With an 8 s cut that window was about
  # 2 s, and on a loaded machine it closed (a 0, b 1 bodies).
  local cut_ms=11000 grace_ms=1000 owned gone lease ready dups0
  rp_begin minority || { abandon "$work/minority"; return 1; }
  owned=$(owned_by a c)
  dups0=$(dups c)
  netns_isolate 3
  cut_made "c cut off from a, b and etcd"
  check "$scenario: c owns shards when cut off ($owned)" test "$owned" -gt 0
  sleep_until $((t_cut + grace_ms))
  mark at_grace
  gone=$(wait_owned a c 0 $((t_cut + cut_ms - 1000)))
  check "$scenario: c's shards fail over to a and b (gone from a's owner map after $gone s)" \
    test "${gone%% *}" != never
  sleep_until $((t_cut + cut_ms))
  lease=$(lease_of c)
  ready=$(readyz c)
  check "$scenario: c knows its lease is gone (lease $lease, /readyz $ready)" \
    test "$lease" == false -a "$ready" == 503
  note "$scenario: events c took as publish-once duplicates during the cut (retries of posts it had accepted): $(($(dups c) - dups0))"
  rp_heal
  check "$scenario: c acknowledged nothing it could not replicate (after the first $(secs "$grace_ms") s: $(after_grace c) bodies)" \
    test "$(after_grace c)" -eq 0
  check "$scenario: a and b kept acknowledging (after the first $(secs "$grace_ms") s: a $(after_grace a), b $(after_grace b) bodies)" \
    test "$(after_grace a)" -gt 0 -a "$(after_grace b)" -gt 0
  local n
  for n in a b; do
    if [[ $(after_grace "$n") -eq 0 ]]; then
      # Why it stalled: what it logged from the cut on, and its poster.
      echo "     --- node $n's log from the cut (at most 80 lines):"
      tail -n +$((from_line[$n] + 1)) "${logf[$n]}" | head -n 80 | cut -c1-300 | sed 's/^/       /'
      echo "     --- its poster: $(tail -n 3 "$rp_dir/poster.$n.log" 2>/dev/null | tr '\n' ' ')"
    fi
  done
  wait_given_up c "${from_line[c]}"
  verify_replicated "$rp_dir" "$rp_tag" "$rp_all"
}

rp_majority() {
  scenario=MajorityCutOffFromEtcd
  echo "== majority. $scenario"
  local cut_ms=8000 grace_ms=$((lease_ms + 500)) n owned='' took l r leases='' ok=1
  rp_begin majority || { abandon "$work/majority"; return 1; }
  for n in "${members[@]}"; do owned+=" $n=$(owned_by c "$n")"; done
  netns_cut "1 2" "3 4"
  cut_made "a and b cut off from etcd and c"
  sleep_until $((t_cut + grace_ms))
  mark at_grace
  took=$(wait_control $((t_cut + cut_ms - 500)))
  check "$scenario: the side holding etcd keeps control: c owns every shard whose in-sync set held it (after $took; before:$owned)" \
    test "${took%% *}" != never
  sleep_until $((t_cut + cut_ms))
  for n in a b; do
    l=$(lease_of "$n")
    r=$(readyz "$n")
    leases+=" $n=$l/$r"
    [[ $l == false && $r == 503 ]] || ok=0
  done
  check "$scenario: a and b know their leases are gone (lease/readyz:$leases)" test "$ok" -eq 1
  rp_heal
  check "$scenario: nothing acknowledged anywhere once the lease is past (after the first $(secs "$grace_ms") s: a $(after_grace a), b $(after_grace b), c $(after_grace c) bodies)" \
    test $(($(after_grace a) + $(after_grace b) + $(after_grace c))) -eq 0
  for n in a b; do
    if [[ $owned == *" $n=0"* ]]; then continue; fi
    wait_given_up "$n" "${from_line[$n]}"
  done
  verify_replicated "$rp_dir" "$rp_tag" "$rp_all"
}

# Not run by default (SLUICE_REPLPART_SCENARIOS=retry, about 60 s): the
# member owning the most shards is cut off from everything, and one body is
# posted through it, retried after each try times out (2 s) as a client
# would: it must not be acknowledged (the member can replicate nothing).
# Then it is killed -9 while still cut off, the cut healed and the member
# restarted: every body acknowledged must still be processed once.
rp_retry() {
  scenario=RetryThroughACutOffMember
  echo "== retry. $scenario"
  local v i rc=0
  rp_tag=retry
  rp_dir=$work/retry
  mkdir -p "$rp_dir"
  rp_ensure || { abandon "$rp_dir"; return 1; }
  v=$(most_shards a a b c)
  i=$(($(printf '%d' "'$v") - 96)) # a, b, c live in namespaces 1, 2, 3
  netns_isolate "$i"
  cut_made "$v (owner of $(owned_by "$v" "$v") shards) cut off from the others and etcd"
  ns_prefix "$v"
  "${ns_pre[@]}" "$py" "$here/webhook_poster.py" --url "${hook[$v]}/v1/events" \
    --key-file "$hook_key" --prefix "retry-$v" --out "$rp_dir/acked.$v" --once \
    --retry-for 5 >"$rp_dir/retry.$v.log" 2>&1 || rc=$?
  check "$scenario: a body posted through $v while it is cut off is not acknowledged within 5 s, retries included ($(tail -n 1 "$rp_dir/retry.$v.log"))" \
    test "$rc" -ne 0
  kill9 "$v"
  netns_heal
  note "$scenario: $(date +%T.%3N) $v killed -9 while cut off, then healed"
  restart_member "$v" || { abandon "$rp_dir"; return 1; }
  wait_members_up a 3 || { abandon "$rp_dir"; return 1; }
  wait_replicated isr a b c || { abandon "$rp_dir"; return 1; }
  verify_replicated "$rp_dir" "$rp_tag" "$rp_all"
}
