# shellcheck shell=bash
# Sourced by the cluster drivers (cluster_test.sh, partition_test.sh and
# the replication drivers) and by ../crash/kill_resume_test.sh: the pass/fail
# tally, time and JSON helpers, the drivers' common start (driver_start.sh,
# sourced here: arguments, tools, work directory and EXIT trap, secrets,
# namespaces, etcd), and the nodes: start, restart, console queries, waits
# for an answer, for members up and for a quiet cluster, and stop. A node
# listens on host[NAME]:port[NAME] (default 127.0.0.1 and a free port) and
# runs, with its consoles, in network namespace netns_of[NAME] when that is
# set. Uses the driver's globals ($sluice, $pipeline, $secret_file,
# $wait_limit, $have_jq, $scenario).
# shellcheck disable=SC2154,SC2034  # the driver's globals; hook is read by the drivers

# shellcheck source=SCRIPTDIR/driver_start.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/driver_start.sh"

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

declare -A pid=() port=() host=() netns_of=() logf=() datad=() extra=()
declare -A hook=() # member -> its webhook's base URL (place_members)
live=() # the current scenario's nodes, in start order

# setup_nodes DIR NAME...: fresh data directories, logs and ports, on
# 127.0.0.1 in this namespace (change host and netns_of after it).
setup_nodes() {
  local dir=$1; shift
  local ports i=0 n
  read -r -a ports <<<"$(free_ports $#)"
  mkdir -p "$dir"
  for n in "$@"; do
    port[$n]=${ports[$i]}
    host[$n]=127.0.0.1
    netns_of[$n]=
    logf[$n]=$dir/$n.log
    datad[$n]=$dir/$n/data
    pid[$n]=
    : >"${logf[$n]}"
    i=$((i + 1))
  done
  live=()
}

# place_members DIR: fresh directories for the members (a, b, c: the
# driver's members), member i in network namespace i (netns.sh) on NET.i,
# port 7400 (cluster) and 7480 (webhook, in hook[]).
place_members() {
  local i=1 n
  setup_nodes "$1" "${members[@]}"
  for n in "${members[@]}"; do
    host[$n]=$(netns_addr "$i")
    netns_of[$n]=$(netns_name "$i")
    port[$n]=7400
    hook[$n]=http://${host[$n]}:7480
    i=$((i + 1))
  done
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

# addr NAME: NAME's HOST:PORT, for --join.
addr() { echo "${host[$1]}:${port[$1]}"; }

# in_ns NAME COMMAND...: COMMAND in NAME's network namespace (if it has
# one); ip execs COMMAND, so a command started with & keeps its PID.
in_ns() {
  local n=$1
  shift
  if [[ -n ${netns_of[$n]} ]]; then
    ip netns exec "${netns_of[$n]}" "$@"
  else
    "$@"
  fi
}

# tls_args NAME: tls_arg=(--tls-dir DIR) with NAME's own certificate
# (issued the first time) when make_tls made a CA; else tls_arg=().
tls_arg=()
tls_args() {
  tls_arg=()
  [[ -n $tls_root ]] || return 0
  [[ -d $tls_root/$1 ]] || "$sluice" certs issue --ca "$tls_root/ca" \
    --name "$1" --host "${host[$1]:-127.0.0.1}" --out "$tls_root/$1" >/dev/null
  tls_arg=(--tls-dir "$tls_root/$1")
}

# launch NAME: (re)starts NAME with the command line start_node recorded.
launch() {
  local n=$1 args pre=()
  eval "args=(${extra[$n]})"
  if [[ -n ${netns_of[$n]} ]]; then pre=(ip netns exec "${netns_of[$n]}"); fi
  tls_args "$n"
  args+=("${tls_arg[@]}")
  echo "---- $(date +%T.%3N) start: node $n ${args[*]}" >>"${logf[$n]}"
  "${pre[@]}" "$sluice" --log-level info node --config "$pipeline" --name "$n" \
    --listen "$(addr "$n")" --data "${datad[$n]}" \
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
  in_ns "$1" timeout 10 "$sluice" console "$(addr "$1")" -c "$2" 2>/dev/null
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
  python3 "$here/quiet_check.py" "$nodes" "$shards" "$expected" 2>/dev/null
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

