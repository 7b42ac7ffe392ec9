# shellcheck shell=bash
# Sourced by the replication drivers: the members a, b, c with the
# controller's flags (start, restart, kill, abandon), what is read of their
# replication views (owner maps, lag, shards under-replicated or
# without owner, digests, the controller's rebalance), the waits on them
# and the checks over them.
# shellcheck disable=SC2154,SC2034,SC2004  # the driver's, lib.sh's and partition_feed.sh's globals; associative arrays

members=(a b c)
failover_ms=() # scenario 1's failover times
cluster_args=()

# ms_stats MS...: the values in seconds, their median and their maximum.
ms_stats() {
  "$py" -c '
import statistics, sys
v = [int(x) / 1000 for x in sys.argv[1:]]
print(" ".join("%.1f" % x for x in v), "s; median %.1f s, max %.1f s"
      % (statistics.median(v), max(v)))' "$@"
}

# -- members ------------------------------------------------------------------

# repl_place DIR: fresh data directories, cluster ports and webhooks for
# a, b, c on 127.0.0.1 and free ports in DIR; nothing started.
repl_place() {
  local n ports i=0
  setup_nodes "$1" "${members[@]}"
  read -r -a ports <<<"$(free_ports 6)"
  for n in "${members[@]}"; do
    # six ports taken at once, so none is a member's cluster port
    while [[ " ${port[a]} ${port[b]} ${port[c]} " == *" ${ports[$i]} "* ]]; do i=$((i + 1)); done
    hook[$n]=http://127.0.0.1:${ports[$i]}
    i=$((i + 1))
  done
}

# repl_args CLUSTER: the controller's flags, replicated under
# /sluice/CLUSTER/ in etcd; R and min_insync from repl_r and repl_min
# (default 3 and 2; a scenario may set them as locals). Reads are public:
# a change feed's subscriber reads without a token.
repl_args() {
  cluster_args=(--controller "$controller" --cluster-name "$1"
    --replicas "${repl_r:-3}" --min-insync "${repl_min:-2}"
    --lease-ttl "$lease_ms" --public-read)
}

# repl_start DIR CLUSTER: repl_place DIR, then repl_launch CLUSTER.
repl_start() {
  repl_place "$1"
  repl_launch "$2"
}

# repl_launch CLUSTER: a, b, c placed (setup_nodes, hook) start, b and c
# joining through a, replicated under /sluice/CLUSTER/ in etcd; waits until
# a sees all three up and every shard has an owner and its full in-sync set.
repl_launch() {
  local t0
  t0=$(now_ms)
  repl_args "$1"
  start_member a || return 1
  start_member b --join "$(addr a)" || return 1
  start_member c --join "$(addr a)" || return 1
  wait_members_up a 3 || return 1
  wait_replicated isr a b c || return 1
  note "$scenario: a, b, c up and every shard in sync $(secs $(($(now_ms) - t0))) s after a's start"
}

# repl_start_pair DIR CLUSTER: fresh a and b only (c prepared, not
# started); waits until a sees both up and every shard has an owner and
# both replicas in sync (R = 3 uses the two there are).
repl_start_pair() {
  local t0 deadline n all
  t0=$(now_ms)
  repl_place "$1"
  repl_args "$2"
  start_member a || return 1
  start_member b --join "$(addr a)" || return 1
  wait_members_up a 2 || return 1
  deadline=$((t0 + wait_limit * 1000))
  while :; do
    all=1
    for n in a b; do
      [[ $(con "$n" shards | pyj '(lambda r: r["lease"] is True and r["assigned"] == 1024 and r["without_owner"] == 0 and all(len(o["isr"]) == len(o["replicas"]) == 2 for o in r["owned"]))(d["replication"])' 2>/dev/null) == true ]] || all=0
    done
    [[ $all == 1 ]] && break
    if [[ $(now_ms) -ge $deadline ]]; then
      fail "$scenario: a and b did not hold every shard in sync within ${wait_limit} s"
      note "a: $(repl_summary a)"
      show_logs a b
      return 1
    fi
    sleep 0.3
  done
  note "$scenario: a, b up and every shard in sync on both $(secs $(($(now_ms) - t0))) s after a's start"
}

# start_member NAME [ARGS...]: NAME with its webhook and the controller's
# flags, plus ARGS; waits until it answers the console.
start_member() {
  local n=$1
  shift
  start_node "$n" --http "${hook[$n]#http://}" --hmac-key-file "$hook_key" \
    "${cluster_args[@]}" "$@"
  wait_answers "$n"
}

# restart_member NAME: NAME again with the command line it had (the same
# name and data directory); waits until it answers.
restart_member() {
  launch "$1"
  wait_answers "$1"
}

# kill9 NAME: SIGKILL to NAME, reaped.
kill9() {
  kill -9 "${pid[$1]}" 2>/dev/null || true
  reap "${pid[$1]}"
  pid[$1]=
}

# abandon DIR: a scenario that cannot go on: posters and members killed.
abandon() {
  local n
  touch "$1/stop"
  for n in "${!poster_pid[@]}"; do
    kill -9 "${poster_pid[$n]}" 2>/dev/null || true
    reap "${poster_pid[$n]}"
    unset "poster_pid[$n]"
  done
  kill_all "${members[@]}"
}

# -- views --------------------------------------------------------------------

# owned_by VIEWER MEMBER: MEMBER's shard count in VIEWER's owner map (0 if
# absent, "?" without an answer).
owned_by() {
  con "$1" shards | pyj "d['owners'].get('$2', 0)" 2>/dev/null || echo "?"
}

# most_shards VIEWER CANDIDATE...: the candidate owning the most shards in
# VIEWER's owner map.
most_shards() {
  local v=$1 list
  shift
  list=$(printf "'%s'," "$@")
  con "$v" shards | pyj "max([${list%,}], key=lambda m: d['owners'].get(m, 0))"
}

# repl_summary NAME: NAME's owner map and replication figures, one line.
repl_summary() {
  con "$1" shards | pyj '"owners=%s here=%s " % (json.dumps(d["owners"], sort_keys=True), d["owned_here"]) + " ".join("%s=%s" % (k, v) for k, v in sorted(d["replication"].items()) if k != "owned")' 2>/dev/null \
    || echo "no answer"
}

# in_sync NAME MODE: one poll: NAME holds its lease, every shard has an
# owner, none it owns is under-replicated; MODE quiet: no follower lags.
in_sync() {
  local cond='r["lease"] is True and r["assigned"] == 1024 and r["without_owner"] == 0 and r["under_replicated_here"] == 0'
  if [[ $2 == quiet ]]; then cond+=' and r["max_follower_lag"] == 0'; fi
  [[ $(con "$1" shards | pyj "(lambda r: $cond)(d['replication'])" 2>/dev/null) == true ]]
}

# wait_replicated MODE NAME...: until in_sync holds on every NAME (MODE isr
# or quiet); notes the progress every 10 s.
wait_replicated() {
  local mode=$1 n all t0 deadline next
  shift
  t0=$(now_ms)
  deadline=$((t0 + wait_limit * 1000))
  next=$((t0 + 10000))
  while [[ $(now_ms) -lt $deadline ]]; do
    all=1
    for n in "$@"; do
      if ! in_sync "$n" "$mode"; then all=0; break; fi
    done
    if [[ $all == 1 ]]; then
      note "$scenario: in sync ($mode) after $(secs $(($(now_ms) - t0))) s"
      return 0
    fi
    if [[ $(now_ms) -ge $next ]]; then
      note "$scenario: after $(secs $(($(now_ms) - t0))) s: $(repl_progress "$@")"
      next=$((next + 10000))
    fi
    sleep 0.3
  done
  local what=
  if [[ $mode == quiet ]]; then what=", no follower lag"; fi
  fail "$scenario: $* not in sync (lease held, every shard owned, none under-replicated$what) within ${wait_limit} s"
  for n in "$@"; do
    note "$n: $(repl_summary "$n")"
    note "$n: shards owned here not fully in sync (up to 4): $(lagging_shards "$n")"
  done
  show_logs "$@"
  return 1
}

# repl_progress NAME...: "NAME=under-replicated/max lag" per NAME.
repl_progress() {
  local n out=
  for n in "$@"; do
    out+=" $n=$(con "$n" shards | pyj '"%s/%s" % (d["replication"]["under_replicated_here"], d["replication"]["max_follower_lag"])' 2>/dev/null || echo '?')"
  done
  echo "under-replicated/max lag:$out"
}

# lagging_shards NAME: up to 4 shards NAME owns with an isr short of its
# replicas or a follower behind, as JSON.
lagging_shards() {
  con "$1" shards | pyj '[o for o in d["replication"]["owned"] if len(o["isr"]) < len(o["replicas"]) or any(o["lag"].values())][:4]' 2>/dev/null \
    || echo "no answer"
}

# rebalance_of NAME...: the controller's rebalance figures (console
# `shards`, replication.rebalance) from whichever NAME is the controller,
# as JSON; "{}" when none answers with them.
rebalance_of() {
  local n r
  for n in "$@"; do
    r=$(con "$n" shards | pyj 'd["replication"]["rebalance"]' 2>/dev/null) || continue
    [[ -n $r && $r != null ]] && { echo "$r"; return 0; }
  done
  echo '{}'
}

# wait_rebalanced MODE NAME...: until the controller's rebalance has every
# shard at its target (each owner move needs its new owner in sync) and no
# reason to wait; MODE sync: also none in motion and every NAME in sync
# (in_sync isr) at one instant, MODE moves: the moves only (under three
# posters on two busy cores followers flap in and out of the isr for
# minutes, so that instant may never come while fed). Five times the wait
# limit: each of ~340 owner moves costs two snapshots (which wait behind
# log records: shipping.cpp ship()). Notes the progress every 10 s.
wait_rebalanced() {
  local mode=$1 n all r t0 deadline next cond
  shift
  cond='d.get("not_at_target") == 0 and d.get("waiting") == ""'
  if [[ $mode == sync ]]; then cond+=' and d.get("in_motion") == 0'; fi
  t0=$(now_ms)
  deadline=$((t0 + 5 * wait_limit * 1000))
  next=$((t0 + 10000))
  while [[ $(now_ms) -lt $deadline ]]; do
    r=$(rebalance_of "$@")
    all=0
    if [[ $(echo "$r" | pyj "$cond" 2>/dev/null) == true ]]; then
      all=1
      for n in "$@"; do
        [[ $mode == sync ]] || break
        if ! in_sync "$n" isr; then all=0; break; fi
      done
    fi
    if [[ $all == 1 ]]; then
      note "$scenario: rebalanced after $(secs $(($(now_ms) - t0))) s: $r"
      return 0
    fi
    if [[ $(now_ms) -ge $next ]]; then
      note "$scenario: after $(secs $(($(now_ms) - t0))) s: rebalance $r; $(repl_progress "$@")"
      next=$((next + 10000))
    fi
    sleep 0.5
  done
  fail "$scenario: the rebalance did not finish within $((5 * wait_limit)) s: $(rebalance_of "$@")"
  for n in "$@"; do note "$n: $(repl_summary "$n")"; done
  show_logs "$@"
  return 1
}

# max_in_motion NAME...: the most shards the controllers' logs of NAME said
# were in motion after a rebalance step (0 if none was logged).
max_in_motion() {
  local n
  for n in "$@"; do cat "${logf[$n]}"; done \
    | grep -oE '; [0-9]+ shards in motion' | awk '{ if ($2 > m) m = $2 } END { print m + 0 }'
}

# check_replica_count R NAME...: every shard each NAME owns has R replicas,
# all in sync (after repl_launch, which waited for the isr).
check_replica_count() {
  local r=$1 n bad=
  shift
  for n in "$@"; do
    [[ $(con "$n" shards | pyj "all(len(o['replicas']) == len(o['isr']) == $r for o in d['replication']['owned'])" 2>/dev/null) == true ]] || bad+=" $n"
  done
  check "$scenario: every shard has $r replicas, all in sync${bad:+ (not on$bad)}" test -z "$bad"
}

# check_owners NAME...: every member's owner map is the same, sums to 1024
# and agrees with what each owns.
check_owners() {
  local n j maps=() same=1 agree=1 m sum
  for n in "$@"; do
    j=$(con "$n" shards) || { fail "$scenario: node $n does not answer shards"; return 0; }
    maps+=("$(echo "$j" | pyj 'json.dumps(d["owners"], sort_keys=True)')")
    [[ $(echo "$j" | pyj "d['owned_here'] == d['owners'].get('$n', 0)") == true ]] || agree=0
  done
  for m in "${maps[@]}"; do [[ $m == "${maps[0]}" ]] || same=0; done
  sum=$(echo "${maps[0]}" | pyj 'sum(d.values())')
  check "$scenario: every member has the same owner map ${maps[0]}" test "$same" -eq 1
  check "$scenario: the owner map's shards sum to $shards_total ($sum)" test "$sum" -eq "$shards_total"
  check "$scenario: each member owns what the owner map gives it" test "$agree" -eq 1
}

# wait_given_up NAME FROM: NAME's log, after its line FROM, says it gave up
# shards ("N given up", N > 0) within the wait limit.
wait_given_up() {
  local n=$1 from=$2 deadline lines
  deadline=$(($(now_ms) + wait_limit * 1000))
  while :; do
    lines=$(tail -n +$((from + 1)) "${logf[$n]}" | grep -E ' [1-9][0-9]* given up' || true)
    [[ -n $lines || $(now_ms) -ge $deadline ]] && break
    sleep 0.2
  done
  check "$scenario: $n gave its old shards up ($(echo "$lines" | grep -oE '[0-9]+ given up' | awk '{ s += $1 } END { print s + 0 }') given up)" \
    test -n "$lines"
}

# counters_delta BEFORE AFTER: per stage, AFTER minus BEFORE (member_counters'
# format), in the same format.
counters_delta() {
  "$py" -c '
import sys
def parse(s):
    return {k: [int(x) for x in v.split("/")] for k, v in
            (w.split("=") for w in s.split())}
b, a = parse(sys.argv[1]), parse(sys.argv[2])
print(" ".join("%s=%s" % (s, "/".join(str(x - y) for x, y in
      zip(a[s], b.get(s, [0, 0, 0])))) for s in sorted(a)))' "$1" "$2"
}


# check_digests DIR NAME...: for every shard, each replica's copy is at the
# owner's position (epoch, seq) with the owner's digest (console `digests`
# against the owner named in each member's `shards`).
check_digests() {
  local dir=$1 n out rc=0
  shift
  for n in "$@"; do
    con "$n" shards >"$dir/shards.$n.json" || echo '{}' >"$dir/shards.$n.json"
    con "$n" digests >"$dir/digests.$n.json" || echo '{}' >"$dir/digests.$n.json"
  done
  out=$("$py" - "$dir" "$@" <<'PY'
import json, sys
d, names = sys.argv[1], sys.argv[2:]
load = lambda kind, n: json.load(open("%s/%s.%s.json" % (d, kind, n)))
shards = {n: load("shards", n) for n in names}
dig = {n: load("digests", n) for n in names}
bad, checked = [], 0
for n in names:
    if "copies" not in dig[n]:
        bad.append((False, "%s: no answer to the console's digests" % n))
for n in names:
    for o in shards[n].get("replication", {}).get("owned", []):
        s = str(o["shard"])
        mine = dig[n].get("owned", {}).get(s)
        for r in o["replicas"]:
            if r == n or r not in dig:
                continue
            copy = dig[r].get("copies", {}).get(s) or dig[r].get("owned", {}).get(s)
            checked += 1
            if mine is None or copy != mine:
                data = bool(mine and mine["seq"] > 0)
                bad.append((not data, "shard %s: owner %s %s, %s %s; isr %s, lag %s"
                            % (s, n, mine, r, copy, o["isr"], o["lag"])))
bad.sort()
print("%d copies compared, %d differ, %d of them of shards with records"
      % (checked, len(bad), sum(not b[0] for b in bad))
      + "".join("\n       " + b[1] for b in bad[:5]))
sys.exit(1 if bad or checked == 0 else 0)
PY
) || rc=$?
  check "$scenario: every replica's copy is at its owner's position with its digest (${out%%$'\n'*})" test "$rc" -eq 0
  if [[ $rc -ne 0 ]]; then echo "$out" | tail -n +2; fi
}
