#!/usr/bin/env bash
# A real cluster of `sluice node` processes on 127.0.0.1 over the
# package_trust example (20,985 records): each stage's export, merged over
# the members, must equal a single-node `sluice run`'s.
#
#   1. three nodes (the third feeds) equal one node; every node owns shards,
#      the owned counts sum to 1024;
#   2. a fourth node joins while the work is in progress;
#   3. a member is killed with SIGKILL mid-run, the others see it suspect or
#      down, it is restarted with the same command line;
#   4. a node with a wrong secret is refused (both sides log it), a node
#      without a secret exits 2 naming SLUICE_CLUSTER_SECRET, and --secret
#      on the command line is not accepted.
#
# Every node stops on SIGTERM with exit 0 at the end of its scenario. A
# cluster is quiet when every node is drained with an empty outbox, has no
# hand-off under way either way, and sees exactly the expected members up,
# in 3 polls in a row over at least 1 s. Nodes log at info level to
# NAME.log in the work directory; a failure prints their tails.
#
# usage: cluster_test.sh SLUICE_BINARY SOURCE_DIR
# env:   SLUICE_CLUSTER_SCENARIOS="1 4"  only these scenarios (default all)
#        SLUICE_CLUSTER_WAIT=SECONDS     limit of each wait (default 120)
#        SLUICE_CLUSTER_KEEP=1           keep the work directory
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 SLUICE_BINARY SOURCE_DIR" >&2
  exit 2
fi
sluice=$(realpath -- "$1")
example=$(realpath -- "$2")/examples/package_trust
pipeline=$example/pipeline.yaml
feeds=(--feed "$example/data/npm.tsv" --feed "$example/data/pypi.tsv"
       --feed "$example/data/debian.Packages")
if [[ ! -x $sluice ]]; then
  echo "FAIL: $sluice is not an executable" >&2
  exit 1
fi
for tool in python3 timeout; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: this test needs $tool" >&2
    exit 1
  fi
done
have_jq=0
if command -v jq >/dev/null; then have_jq=1; fi

scenarios=${SLUICE_CLUSTER_SCENARIOS:-1 2 3 4}
wait_limit=${SLUICE_CLUSTER_WAIT:-120} # seconds any single wait may take
stages=(parse enrich score)
records=20985
shards_total=1024

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_cluster.XXXXXX")
declare -A running=() # pid -> name of every process started and not reaped
cleanup() {
  local p
  for p in "${!running[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [[ ${SLUICE_CLUSTER_KEEP:-0} == 1 ]]; then
    echo "work directory kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# The console token (node and console) and the cluster secret: never
# inherited from the caller's environment.
export SLUICE_TOKEN="tok-$RANDOM-$RANDOM-$RANDOM"
unset SLUICE_CLUSTER_SECRET
secret_file=$work/secret
printf 'secret-%s-%s\n' "$RANDOM$RANDOM" "$RANDOM$RANDOM" >"$secret_file"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
note() { echo "     $*"; }
# check NAME COMMAND...: pass or fail NAME on the command's exit code.
check() {
  local name=$1; shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

now_ms() { date +%s%3N; }
secs() { awk -v ms="$1" 'BEGIN {printf "%.1f", ms / 1000}'; }

# jqr FILTER: a jq filter over stdin, raw output (python3 when jq is
# missing; only the filters this script uses are translated).
jqr() {
  if [[ $have_jq == 1 ]]; then
    jq -r "$1"
  else
    python3 -c '
import json, sys
f, d = sys.argv[1], json.load(sys.stdin)
def out(v):
    print(json.dumps(v) if isinstance(v, (dict, list)) else
          ("true" if v is True else "false" if v is False else
           "null" if v is None else v))
if f.startswith(".") and all(c.isalnum() or c in "._" for c in f):
    for part in f[1:].split("."):
        d = d.get(part) if isinstance(d, dict) else None
    out(d)
else:
    sys.exit("jqr: no python3 translation for " + f)
' "$1"
  fi
}
# pyj EXPR: a python3 expression over the JSON on stdin (bound to d).
pyj() {
  python3 -c 'import json, sys; d = json.load(sys.stdin); v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1"
}

# free_ports N: N distinct free TCP ports on 127.0.0.1.
free_ports() {
  python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
' "$1"
}

# -- nodes --------------------------------------------------------------------

declare -A pid=() port=() logf=() datad=() extra=()
live=() # the current scenario's nodes, in start order

# setup_nodes DIR NAME...: fresh data directories, logs and ports.
setup_nodes() {
  local dir=$1; shift
  local ports i=0 n
  read -r -a ports <<<"$(free_ports $#)"
  mkdir -p "$dir"
  for n in "$@"; do
    port[$n]=${ports[$i]}
    logf[$n]=$dir/$n.log
    datad[$n]=$dir/$n/data
    pid[$n]=
    : >"${logf[$n]}"
    i=$((i + 1))
  done
  live=()
}

# start_node NAME [ARGS...]: `sluice node` in the background with NAME's
# address, data directory and the secret file, plus ARGS (--join, --feed).
start_node() {
  local n=$1; shift
  extra[$n]=
  if [[ $# -gt 0 ]]; then extra[$n]=$(printf '%q ' "$@"); fi
  launch "$n"
  live+=("$n")
}

# launch NAME: (re)starts NAME with the command line start_node recorded.
launch() {
  local n=$1 args
  eval "args=(${extra[$n]})"
  echo "---- $(date +%T.%3N) start: node $n ${args[*]}" >>"${logf[$n]}"
  "$sluice" --log-level info node --config "$pipeline" --name "$n" \
    --listen "127.0.0.1:${port[$n]}" --data "${datad[$n]}" \
    --secret-file "$secret_file" "${args[@]}" >>"${logf[$n]}" 2>&1 &
  pid[$n]=$!
  running[${pid[$n]}]=$n
}

# is_running PID: the process exists and is not a zombie.
is_running() {
  local state
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1 || true)
  [[ -n $state && $state != Z ]]
}

# reap PID: waits for an exited child; its exit code in $reaped (not in
# a subshell: only this shell can wait for its children).
reaped=
reap() {
  reaped=0
  wait "$1" 2>/dev/null || reaped=$?
  unset "running[$1]"
}

# con NAME COMMAND: `sluice console ... -c COMMAND` against NAME (10 s).
con() {
  timeout 10 "$sluice" console "127.0.0.1:${port[$1]}" -c "$2" 2>/dev/null
}

# show_logs NAME...: the tail of each node's log, for a failure.
show_logs() {
  local n
  for n in "$@"; do
    echo "     --- log of node $n (${logf[$n]}), last 25 lines:"
    tail -n 25 "${logf[$n]}" | cut -c1-300 | sed 's/^/       /'
  done
}

# show_views NAME...: what each running node answers to nodes and shards.
show_views() {
  local n
  for n in "$@"; do
    echo "     --- node $n: nodes: $(con "$n" nodes || echo unreachable)"
    echo "     --- node $n: shards: $(con "$n" shards || echo unreachable)"
  done
}

# wait_answers NAME: until NAME answers the console; fails at once if the
# process exits.
wait_answers() {
  local n=$1 deadline=$(($(now_ms) + wait_limit * 1000)) rc
  while [[ $(now_ms) -lt $deadline ]]; do
    if ! is_running "${pid[$n]}"; then
      reap "${pid[$n]}"
      fail "$scenario: node $n exited ($reaped) before it answered the console"
      show_logs "$n"
      return 1
    fi
    if con "$n" nodes >/dev/null; then return 0; fi
    sleep 0.1
  done
  fail "$scenario: node $n did not answer the console within ${wait_limit} s"
  show_logs "$n"
  return 1
}

# wait_members_up NAME COUNT: until NAME sees COUNT members up.
wait_members_up() {
  local n=$1 want=$2 deadline=$(($(now_ms) + wait_limit * 1000)) got=
  while [[ $(now_ms) -lt $deadline ]]; do
    got=$(con "$n" nodes | pyj 'sum(m["status"] == "up" for m in d["nodes"])' 2>/dev/null || true)
    [[ $got == "$want" ]] && return 0
    sleep 0.2
  done
  fail "$scenario: node $n did not see $want members up within ${wait_limit} s (last: ${got:-no answer})"
  show_views "${live[@]}"
  show_logs "${live[@]}"
  return 1
}

# node_quiet NAME EXPECTED_JSON: one poll of one node: drained, nothing in
# its outbox, no hand-off in either direction, and exactly the expected
# members, all up.
node_quiet() {
  local n=$1 expected=$2 nodes shards
  nodes=$(con "$n" nodes) || return 1
  shards=$(con "$n" shards) || return 1
  python3 -c '
import json, sys
nodes, shards, exp = (json.loads(a) for a in sys.argv[1:4])
ok = (nodes.get("joined") is True
      and nodes["local"]["drained"] is True
      and nodes["local"]["outbox"] == 0
      and shards["to_hand_off"] == 0 and shards["incoming"] == 0
      and sorted(m["name"] for m in nodes["nodes"]) == exp
      and all(m["status"] == "up" for m in nodes["nodes"]))
sys.exit(0 if ok else 1)
' "$nodes" "$shards" "$expected" 2>/dev/null
}

# wait_quiet NAME...: until every node is quiet (node_quiet) in three
# consecutive polls 300 ms apart, the last at least 1 s after the first.
wait_quiet() {
  local expected n all first=0 streak=0 t0 deadline
  expected=$(printf '%s\n' "$@" | sort | python3 -c 'import json, sys; print(json.dumps(sys.stdin.read().split()))')
  t0=$(now_ms)
  deadline=$((t0 + wait_limit * 1000))
  while [[ $(now_ms) -lt $deadline ]]; do
    for n in "$@"; do
      if ! is_running "${pid[$n]}"; then
        reap "${pid[$n]}"
        fail "$scenario: node $n exited ($reaped) while waiting for a quiet cluster"
        show_logs "$@"
        return 1
      fi
    done
    all=1
    for n in "$@"; do
      if ! node_quiet "$n" "$expected"; then all=0; break; fi
    done
    if [[ $all == 1 ]]; then
      if [[ $streak == 0 ]]; then first=$(now_ms); fi
      streak=$((streak + 1))
      if [[ $streak -ge 3 && $(($(now_ms) - first)) -ge 1000 ]]; then
        note "$scenario: quiet after $(secs $(($(now_ms) - t0))) s"
        return 0
      fi
    else
      streak=0
    fi
    sleep 0.3
  done
  fail "$scenario: the cluster $* was not quiet within ${wait_limit} s"
  show_views "$@"
  show_logs "$@"
  return 1
}

# stop_nodes NAME...: SIGTERM to each running node; each must exit 0
# within 30 s (or is killed).
stop_nodes() {
  local n p rc deadline
  for n in "$@"; do
    p=${pid[$n]}
    if [[ -n $p ]] && is_running "$p"; then kill -TERM "$p" 2>/dev/null || true; fi
  done
  for n in "$@"; do
    p=${pid[$n]}
    [[ -z $p || -z ${running[$p]:-} ]] && continue
    deadline=$(($(now_ms) + 30000))
    while is_running "$p" && [[ $(now_ms) -lt $deadline ]]; do sleep 0.1; done
    if is_running "$p"; then
      kill -9 "$p" 2>/dev/null || true
      reap "$p"
      fail "$scenario: node $n did not exit within 30 s of SIGTERM (killed)"
      show_logs "$n"
    else
      reap "$p"
      rc=$reaped
      if [[ $rc == 0 ]]; then
        pass "$scenario: node $n stops on SIGTERM with exit 0"
      else
        fail "$scenario: node $n exited $rc on SIGTERM, expected 0"
        show_logs "$n"
      fi
    fi
    pid[$n]=
  done
}

# kill_all NAME...: SIGKILL, for a scenario that cannot go on.
kill_all() {
  local n
  for n in "$@"; do
    if [[ -n ${pid[$n]} && -n ${running[${pid[$n]}]:-} ]]; then
      kill -9 "${pid[$n]}" 2>/dev/null || true
      reap "${pid[$n]}"
    fi
    pid[$n]=
  done
}

# -- checks after quiet -------------------------------------------------------

# check_shards NAME...: every node owns shards, the owned counts sum to
# 1024, every node's owner map is the same and agrees with what each owns.
check_shards() {
  local n j sum=0 owned maps=() desc=
  for n in "$@"; do
    j=$(con "$n" shards) || { fail "$scenario: node $n does not answer shards"; return 0; }
    owned=$(echo "$j" | jqr .owned_here)
    desc+=" $n=$owned"
    sum=$((sum + owned))
    maps+=("$(echo "$j" | pyj 'json.dumps(d["owners"], sort_keys=True)')")
    check "$scenario: node $n owns some shards ($owned)" test "$owned" -gt 0
  done
  check "$scenario: the owned shards sum to $shards_total (${desc# })" test "$sum" -eq "$shards_total"
  local same=1 m
  for m in "${maps[@]}"; do [[ $m == "${maps[0]}" ]] || same=0; done
  check "$scenario: every node has the same owner map ${maps[0]}" test "$same" -eq 1
  local agree=1
  for n in "$@"; do
    owned=$(con "$n" shards | jqr .owned_here || echo "?")
    [[ $(echo "${maps[0]}" | pyj "d.get('$n')") == "$owned" ]] || agree=0
  done
  check "$scenario: each node owns what the owner map gives it" test "$agree" -eq 1
}

# compare_exports DIR NAME...: per stage, the sorted union of the nodes'
# exports equals the reference run's.
compare_exports() {
  local dir=$1; shift
  local s n
  mkdir -p "$dir"
  for s in "${stages[@]}"; do
    : >"$dir/$s.all"
    for n in "$@"; do
      if ! "$sluice" export --data "${datad[$n]}" --stage "$s" >"$dir/$s.$n" 2>"$dir/$s.$n.err"; then
        fail "$scenario: export of stage $s from node $n failed: $(head -c 300 "$dir/$s.$n.err")"
        continue 2
      fi
      cat "$dir/$s.$n" >>"$dir/$s.all"
    done
    LC_ALL=C sort "$dir/$s.all" >"$dir/$s.tsv"
    local counts=
    for n in "$@"; do counts+=" $n=$(wc -l <"$dir/$s.$n")"; done
    if cmp -s "$work/ref/$s.tsv" "$dir/$s.tsv"; then
      pass "$scenario: stage $s: the merged export equals the single node's ($(wc -l <"$dir/$s.tsv") keys:$counts)"
    else
      fail "$scenario: stage $s: the merged export differs from the single node's"
      explain_diff "$work/ref/$s.tsv" "$dir/$s.tsv" "$counts"
      if [[ $s == "${stages[0]}" ]]; then show_logs "$@"; fi
    fi
  done
}

# explain_diff REF GOT COUNTS: line and key counts, duplicates, missing and
# extra keys, and keys whose state differs, with examples.
explain_diff() {
  local ref=$1 got=$2 d=$2.diff
  mkdir -p "$d"
  cut -f1 "$ref" | LC_ALL=C sort -u >"$d/ref_keys"
  cut -f1 "$got" | LC_ALL=C sort >"$d/got_keys_all"
  LC_ALL=C sort -u "$d/got_keys_all" >"$d/got_keys"
  LC_ALL=C uniq -d "$d/got_keys_all" >"$d/dup_keys"
  LC_ALL=C comm -23 "$d/ref_keys" "$d/got_keys" >"$d/missing"
  LC_ALL=C comm -13 "$d/ref_keys" "$d/got_keys" >"$d/extra"
  LC_ALL=C comm -13 "$ref" "$got" | cut -f1 | LC_ALL=C sort -u \
    | LC_ALL=C comm -12 - "$d/ref_keys" >"$d/changed"
  echo "     reference: $(wc -l <"$ref") lines; merged: $(wc -l <"$got") lines (per node:$3)"
  echo "     keys exported by more than one node: $(wc -l <"$d/dup_keys")"
  echo "     keys missing from the cluster: $(wc -l <"$d/missing")"
  echo "     keys only in the cluster: $(wc -l <"$d/extra")"
  echo "     keys present in both whose state differs (or is duplicated differently): $(wc -l <"$d/changed")"
  local k
  for k in $(head -n 3 "$d/dup_keys"); do echo "       duplicated: $k"; done
  for k in $(head -n 3 "$d/missing"); do echo "       missing: $k"; done
  for k in $(head -n 3 "$d/extra"); do echo "       extra: $k"; done
  while IFS= read -r k; do
    echo "       differs: $k"
    awk -F'\t' -v k="$k" '$1 == k' "$ref" | head -n 1 | cut -c1-250 | sed 's/^/         ref: /'
    awk -F'\t' -v k="$k" '$1 == k' "$got" | head -n 2 | cut -c1-250 | sed 's/^/         got: /'
  done < <(head -n 3 "$d/changed")
}

# drained_now NAME: NAME's .local.drained (or "unknown").
drained_now() {
  con "$1" nodes | jqr .local.drained 2>/dev/null || echo unknown
}

# drained_at_once NAME... -- COMMAND...: asks each NAME for its
# .local.drained while COMMAND runs, so the answers describe the moment of
# COMMAND (a join, a kill) without delaying it; sets drained_at[NAME].
declare -A drained_at=()
drained_at_once() {
  local names=() n qpids=()
  while [[ $1 != -- ]]; do names+=("$1"); shift; done
  shift
  for n in "${names[@]}"; do
    drained_now "$n" >"$work/drained.$n" &
    qpids+=($!)
  done
  "$@" || true
  for n in "${qpids[@]}"; do wait "$n" || true; done
  for n in "${names[@]}"; do drained_at[$n]=$(cat "$work/drained.$n"); done
}

# sleep_until MS: sleeps until now_ms reaches MS (not at all if past).
sleep_until() {
  local left=$(($1 - $(now_ms)))
  if [[ $left -gt 0 ]]; then sleep "$(awk -v ms="$left" 'BEGIN {printf "%.3f", ms / 1000}')"; fi
}

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
  SLUICE_CLUSTER_SECRET="not-the-secret-$RANDOM" "$sluice" node --config "$pipeline" \
    --name x --listen "127.0.0.1:${port[x]}" --data "${datad[x]}" \
    --join "127.0.0.1:${port[a]}" >>"${logf[x]}" 2>&1 &
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

# -- the single-node reference ------------------------------------------------

needs_ref=0
for s in $scenarios; do
  case $s in
    1 | 2 | 3) needs_ref=1 ;;
    4) ;;
    *) echo "FAIL: unknown scenario '$s' in SLUICE_CLUSTER_SCENARIOS (1 to 4)"; exit 2 ;;
  esac
done
if [[ $needs_ref == 1 ]]; then
  mkdir -p "$work/ref"
  t0=$(now_ms)
  rc=0
  timeout 600 "$sluice" run "$pipeline" "${feeds[@]}" --data "$work/ref/data" -q \
    2>"$work/ref/stderr.log" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "FAIL: the single-node reference run exited $rc; its stderr:"
    tail -n 20 "$work/ref/stderr.log" | sed 's/^/      /'
    exit 1
  fi
  for s in "${stages[@]}"; do
    if ! "$sluice" export --data "$work/ref/data" --stage "$s" 2>"$work/ref/$s.err" \
        | LC_ALL=C sort >"$work/ref/$s.tsv"; then
      echo "FAIL: export of stage $s from the reference run failed: $(cat "$work/ref/$s.err")"
      exit 1
    fi
  done
  n=$(wc -l <"$work/ref/score.tsv")
  echo "reference run: $(secs $(($(now_ms) - t0))) s, $n keys in stage score"
  if [[ $n -ne $records ]]; then
    echo "FAIL: the reference run exported $n keys from stage score, expected $records"
    exit 1
  fi
fi

for s in $scenarios; do
  "scenario_$s"
done

echo "${passed} passed, ${failed} failed"
[[ $failed -eq 0 ]]
