# shellcheck shell=bash
# Sourced by cluster_test.sh: the scenarios scenario_1 to scenario_5, each a
# fresh set of nodes in its own directory under $work, and start_three, the
# three-node start they share.
# shellcheck disable=SC2154,SC2034,SC2004  # the driver's globals; running is associative

# start_three: a (new cluster), b --join a, waits for 2 up at a, then c
# --join a with the feeds; c feeds from its start on. Sets feed_started
# (ms): when c first answers the console, about when it started feeding.
start_three() {
  start_node a
  wait_answers a || return 1
  start_node b --join "127.0.0.1:${port[a]}"
  wait_answers b || return 1
  wait_members_up a 2 || return 1
  start_node c --join "127.0.0.1:${port[a]}" "${feeds[@]}"
  c_launched=$(now_ms)
  wait_answers c || return 1
  feed_started=$(now_ms)
  note "$scenario: c answers $(secs $((feed_started - c_launched))) s after its start"
}

# -- scenarios ----------------------------------------------------------------

scenario_1() {
  scenario=ThreeNodeClusterEqualsSingleNode
  echo "== 1. $scenario"
  setup_nodes "$work/s1" a b c
  local t0
  start_three || { kill_all "${live[@]}"; return; }
  t0=$feed_started
  wait_quiet a b c || { kill_all "${live[@]}"; return; }
  note "$scenario: fed and quiet $(secs $(($(now_ms) - t0))) s after c answered"
  check_shards a b c
  compare_exports "$work/s1/export" a b c
  stop_nodes a b c
}

scenario_2() {
  scenario=FourthNodeJoinsMidRun
  echo "== 2. $scenario"
  setup_nodes "$work/s2" a b c d
  start_three || { kill_all "${live[@]}"; return; }
  sleep_until $((feed_started + 600))
  local at da dc
  at=$(now_ms)
  drained_at_once a c -- start_node d --join "127.0.0.1:${port[b]}"
  da=${drained_at[a]}
  dc=${drained_at[c]}
  note "$scenario: d started $(secs $((at - feed_started))) s after c answered (feeding); drained then: a=$da c=$dc"
  if [[ $da == false || $dc == false ]]; then
    pass "$scenario: d joined while the work was in progress (a or c not drained)"
  else
    note "WARNING: a and c were already drained (a=$da c=$dc) when d joined: not mid-run"
  fi
  wait_answers d || { kill_all "${live[@]}"; return; }
  wait_quiet a b c d || { kill_all "${live[@]}"; return; }
  note "$scenario: quiet $(secs $(($(now_ms) - feed_started))) s after c answered"
  check_shards a b c d
  compare_exports "$work/s2/export" a b c d
  stop_nodes a b c d
}

scenario_3() {
  scenario=KillDashNineAndRestart
  echo "== 3. $scenario"
  setup_nodes "$work/s3" a b c
  start_three || { kill_all "${live[@]}"; return; }
  local dc inc_before killed_at
  inc_before=$(con a nodes | pyj '[m["incarnation"] for m in d["nodes"] if m["name"] == "b"][0]' 2>/dev/null || echo "?")
  sleep_until $((feed_started + 1000))
  killed_at=$(now_ms)
  drained_at_once c -- kill -9 "${pid[b]}"
  dc=${drained_at[c]}
  local rc
  reap "${pid[b]}"
  rc=$reaped
  note "$scenario: b killed (exit $rc) $(secs $((killed_at - feed_started))) s after c answered (feeding); c drained then: $dc"
  if [[ $dc == true ]]; then
    note "WARNING: c was already drained when b was killed: not mid-run"
  fi
  echo "---- $(date +%T.%3N) killed with SIGKILL" >>"${logf[b]}"
  sleep 2
  local status
  status=$(con a nodes | pyj '[m["status"] for m in d["nodes"] if m["name"] == "b"][0]' 2>/dev/null || echo "no answer")
  note "$scenario: 2 s after the kill, a reports b as: $status"
  check "$scenario: a reports the killed b as down or suspect (got $status)" \
    test "$status" == down -o "$status" == suspect
  launch b
  wait_answers b || { kill_all "${live[@]}"; return; }
  wait_quiet a b c || { kill_all "${live[@]}"; return; }
  note "$scenario: quiet $(secs $(($(now_ms) - killed_at))) s after the kill"
  local inc_after
  inc_after=$(con a nodes | pyj '[m["incarnation"] for m in d["nodes"] if m["name"] == "b"][0]' 2>/dev/null || echo "?")
  note "$scenario: b's incarnation at a: $inc_before before the kill, $inc_after after the restart"
  check_shards a b c
  compare_exports "$work/s3/export" a b c
  stop_nodes a b c
}

scenario_4() {
  scenario=WrongSecretIsRefused
  echo "== 4. $scenario"
  setup_nodes "$work/s4" a x y z
  start_node a
  wait_answers a || { kill_all "${live[@]}"; return; }
  # x: the other secret, from the environment.
  local t0 rc deadline
  t0=$(now_ms)
  echo "---- $(date +%T.%3N) start: node x with a wrong secret" >>"${logf[x]}"
  tls_args x # with TLS: a good certificate, still the wrong secret
  SLUICE_CLUSTER_SECRET="not-the-secret-$RANDOM" "$sluice" node --config "$pipeline" \
    --name x --listen "127.0.0.1:${port[x]}" --data "${datad[x]}" \
    --join "127.0.0.1:${port[a]}" "${tls_arg[@]}" >>"${logf[x]}" 2>&1 &
  pid[x]=$!
  running[${pid[x]}]=x
  live+=(x)
  deadline=$((t0 + 20000))
  while is_running "${pid[x]}" && [[ $(now_ms) -lt $deadline ]]; do sleep 0.1; done
  if is_running "${pid[x]}"; then
    fail "$scenario: x (wrong secret) still runs 20 s after it started"
    show_logs x a
    kill_all x
  else
    reap "${pid[x]}"
    rc=$reaped
    pid[x]=
    note "$scenario: x exited $rc after $(secs $(($(now_ms) - t0))) s"
    check "$scenario: x (wrong secret) exits non-zero (got $rc)" test "$rc" -ne 0
    check "$scenario: x's stderr mentions the secret" grep -qi secret "${logf[x]}"
    if ! grep -qi secret "${logf[x]}"; then show_logs x; fi
  fi
  # The refusal reaches a's log shortly after x's proof.
  for _ in $(seq 1 50); do
    grep -q "refused node x" "${logf[a]}" && break
    sleep 0.1
  done
  check "$scenario: a logs 'wrong cluster secret'" grep -q "wrong cluster secret" "${logf[a]}"
  check "$scenario: a logs 'refused node x'" grep -q "refused node x" "${logf[a]}"
  if ! grep -q "refused node x" "${logf[a]}"; then show_logs a; fi
  local seen
  seen=$(con a nodes | pyj '",".join(sorted(m["name"] for m in d["nodes"]))' 2>/dev/null || echo "no answer")
  check "$scenario: a's member table is still just a (got $seen)" test "$seen" == a

  # y: no secret at all (no file, no environment).
  rc=0
  env -u SLUICE_CLUSTER_SECRET timeout 20 "$sluice" node --config "$pipeline" \
    --name y --listen "127.0.0.1:${port[y]}" --data "${datad[y]}" \
    --join "127.0.0.1:${port[a]}" >"$work/s4/y.out" 2>"$work/s4/y.err" || rc=$?
  check "$scenario: no secret exits 2 (got $rc)" test "$rc" -eq 2
  check "$scenario: no secret names SLUICE_CLUSTER_SECRET" grep -q SLUICE_CLUSTER_SECRET "$work/s4/y.err"
  if [[ $rc -ne 2 ]] || ! grep -q SLUICE_CLUSTER_SECRET "$work/s4/y.err"; then
    head -n 5 "$work/s4/y.err" | sed 's/^/       stderr: /'
  fi

  # z: --secret on the command line is no option.
  rc=0
  env -u SLUICE_CLUSTER_SECRET timeout 20 "$sluice" node --config "$pipeline" \
    --name z --listen "127.0.0.1:${port[z]}" --data "${datad[z]}" \
    --join "127.0.0.1:${port[a]}" --secret "$(cat "$secret_file")" \
    >"$work/s4/z.out" 2>"$work/s4/z.err" || rc=$?
  check "$scenario: --secret on the command line is refused (exit $rc)" \
    test "$rc" -ne 0 -a "$rc" -ne 124
  note "$scenario: --secret: $(head -n 1 "$work/s4/z.err" | sed "s/$(cat "$secret_file")/<secret>/" | cut -c1-200)"
  check "$scenario: neither y nor z created a data directory" \
    test ! -e "${datad[y]}/data.mdb" -a ! -e "${datad[z]}/data.mdb"
  stop_nodes a
}

# joined_and_owning NAME: NAME says it is joined and owns some shards.
joined_and_owning() {
  local nodes shards
  nodes=$(con "$1" nodes) || return 1
  shards=$(con "$1" shards) || return 1
  [[ $(echo "$nodes" | jqr .joined) == true && $(echo "$shards" | jqr .owned_here) -gt 0 ]]
}

# refused_at_start NAME WHAT ARGS...: `sluice node NAME ARGS...` exits 2
# at once, and its stderr names WHAT.
refused_at_start() {
  local n=$1 what=$2 rc=0; shift 2
  timeout 20 "$sluice" node --config "$pipeline" --name "$n" \
    --data "$work/s5/$n/data" --secret-file "$secret_file" "$@" \
    >"$work/s5/$n.out" 2>"$work/s5/$n.err" || rc=$?
  check "$scenario: refused with exit 2 (got $rc): $what" test "$rc" -eq 2
  check "$scenario: the refusal says: $what" grep -qF -- "$what" "$work/s5/$n.err"
  if [[ $rc -ne 2 ]] || ! grep -qF -- "$what" "$work/s5/$n.err"; then
    head -n 3 "$work/s5/$n.err" | sed 's/^/       stderr: /'
  fi
}

scenario_5() {
  scenario=SameSeedListEverywhere
  echo "== 5. $scenario"
  setup_nodes "$work/s5" a b c
  local seeds=() n t0 waited deadline
  for n in a b c; do seeds+=(--join "127.0.0.1:${port[$n]}"); done
  # Bad lists: refused at once, naming the value.
  refused_at_start x "127.0.0.1:0" --listen "127.0.0.1:${port[a]}" \
    --join "127.0.0.1:${port[b]}" --join 127.0.0.1:0
  refused_at_start x "'nonsense'" --listen "127.0.0.1:${port[a]}" --join nonsense
  refused_at_start x "only this member's own address" --listen "127.0.0.1:${port[c]}" \
    --no-shards --join "localhost:${port[c]}"
  refused_at_start x "the first --join address" --listen "127.0.0.1:${port[a]}" \
    --no-shards "${seeds[@]}"
  # b and c first, with the list that names a first (and each itself): they
  # wait for a, say so in their logs, and do not start a cluster.
  t0=$(now_ms)
  start_node b "${seeds[@]}"
  start_node c "${seeds[@]}"
  wait_answers b || { kill_all "${live[@]}"; return; }
  wait_answers c || { kill_all "${live[@]}"; return; }
  deadline=$((t0 + 15000))
  while ! grep -q "not in a cluster yet" "${logf[b]}" && [[ $(now_ms) -lt $deadline ]]; do
    sleep 0.2
  done
  waited=$(secs $(($(now_ms) - t0)))
  check "$scenario: b logs what it waits for (after $waited s)" grep -q "not in a cluster yet.*127.0.0.1:${port[a]} has not answered" "${logf[b]}"
  note "$scenario: b: $(grep -m1 "not in a cluster yet" "${logf[b]}" | cut -c1-400)"
  check "$scenario: b and c, not first in the list, have not started a cluster" \
    test "$(con b nodes | jqr .joined)/$(con c nodes | jqr .joined)" == false/false
  # a, first in the list, starts with the feeds and forms the cluster; b
  # and c join it.
  start_node a "${seeds[@]}" "${feeds[@]}"
  wait_answers a || { kill_all "${live[@]}"; return; }
  feed_started=$(now_ms)
  deadline=$((feed_started + 20000))
  while [[ $(now_ms) -lt $deadline ]]; do
    joined_and_owning a && joined_and_owning b && joined_and_owning c && break
    sleep 0.2
  done
  if ! joined_and_owning a || ! joined_and_owning b || ! joined_and_owning c; then
    fail "$scenario: a, b and c are not all joined and owning shards 20 s after a started"
    show_views a b c
    show_logs a b c
    kill_all "${live[@]}"
    return
  fi
  pass "$scenario: a, b and c joined and own shards $(secs $(($(now_ms) - feed_started))) s after a answered"
  check "$scenario: a logs that it started the cluster as the first seed" \
    grep -q "starting a new cluster as the first seed" "${logf[a]}"
  for n in b c; do
    check "$scenario: $n logs that it joined the cluster through a seed" \
      grep -q "joined the cluster through" "${logf[$n]}"
  done
  wait_quiet a b c || { kill_all "${live[@]}"; return; }
  note "$scenario: fed and quiet $(secs $(($(now_ms) - feed_started))) s after a answered"
  check_shards a b c
  compare_exports "$work/s5/export" a b c
  stop_nodes a b c
}

scenario_6() {
  scenario=ChangeFeedThroughAnyMember
  echo "== 6. $scenario"
  setup_nodes "$work/s6" a b c
  local hport out="$work/s6/feed.ndjson" url
  hport=$(free_ports 1)
  url="http://127.0.0.1:$hport/v1/feed/score"
  # 12 rounds of the npm list, each with other versions: every key changes
  # in every round (about 96,000 changes), so the work goes on while
  # members join and restart.
  mkdir -p "$work/s6/rounds" # the file's name says its ecosystem
  "$py" - "$example/data/npm.tsv" >"$work/s6/rounds/npm.tsv" <<'PY'
import sys
rows = open(sys.argv[1]).read().splitlines()
print(rows[0])
for r in range(1, 13):
    for row in rows[1:]:
        f = row.split("\t")
        f[1] = "%s-r%d" % (f[1], r)
        print("\t".join(f))
PY
  start_node a --http "127.0.0.1:$hport" --public-read \
    --feed "$work/s6/rounds/npm.tsv"
  wait_answers a || { kill_all "${live[@]}"; return; }
  follow_feed "$url" "$out"
  start_node b --join "127.0.0.1:${port[a]}"
  wait_answers b || { kill -9 "$feed_pid"; kill_all "${live[@]}"; return; }
  sleep 1
  start_node c --join "127.0.0.1:${port[a]}"
  wait_answers c || { kill -9 "$feed_pid"; kill_all "${live[@]}"; return; }
  sleep 1
  # The subscriber killed: it resumes from the last cursor it wrote.
  kill -9 "$feed_pid"
  reap "$feed_pid"
  follow_feed "$url" "$out"
  local lines_before
  lines_before=$(wc -l <"$out")
  kill -9 "${pid[b]}"
  reap "${pid[b]}"
  echo "---- $(date +%T.%3N) killed with SIGKILL" >>"${logf[b]}"
  sleep 1
  launch b
  wait_answers b || { kill -9 "$feed_pid"; kill_all "${live[@]}"; return; }
  wait_quiet a b c || { kill -9 "$feed_pid"; kill_all "${live[@]}"; return; }
  note "$scenario: $lines_before feed lines when b was killed, $(wc -l <"$out") at the end"
  local n
  : >"$work/s6/score.all"
  for n in a b c; do
    "$sluice" export --data "${datad[$n]}" --stage score >>"$work/s6/score.all" 2>/dev/null
  done
  LC_ALL=C sort "$work/s6/score.all" >"$work/s6/score.tsv"
  # The subscriber catches up with the quiet cluster.
  check_feed "$out" "$work/s6/score.tsv" \
    "one subscription through a across two hand-offs, b's kill -9 and its own restart" \
    || show_logs a b c
  check "$scenario: shards moved to b and c while it followed" \
    grep -q "handed off" "${logf[a]}"
  check "$scenario: changes came after b's kill (the kill was mid-run)" \
    test "$(wc -l <"$out")" -gt "$((lines_before + 1000))"
  stop_nodes a b c
}
