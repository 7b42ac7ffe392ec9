# shellcheck shell=bash
# Sourced by lib.sh: what every test driver does before its scenarios: its
# two arguments, the tools it needs, the work directory with the EXIT trap
# that kills what it started, fresh secrets, and (for the partition and
# replication drivers) the network namespaces, the harness check and etcd.
# shellcheck disable=SC2154,SC2034  # the driver's and lib.sh's globals

# driver_args "$@": the driver's arguments SLUICE_BINARY SOURCE_DIR; sets
# sluice, example (examples/package_trust) and pipeline. Exits 2 on a wrong
# count, 1 when the binary is not executable.
driver_args() {
  if [[ $# -ne 2 ]]; then
    echo "usage: $0 SLUICE_BINARY SOURCE_DIR" >&2
    exit 2
  fi
  sluice=$(realpath -- "$1")
  example=$(realpath -- "$2")/examples/package_trust
  pipeline=$example/pipeline.yaml
  if [[ ! -x $sluice ]]; then
    echo "FAIL: $sluice is not an executable" >&2
    exit 1
  fi
}

# need_tools [--hint TEXT] TOOL...: exits 1 naming the first TOOL missing
# from PATH (and TEXT, e.g. which package has it).
need_tools() {
  local hint='' t
  if [[ $1 == --hint ]]; then hint=" ($2)"; shift 2; fi
  for t in "$@"; do
    if ! command -v "$t" >/dev/null; then
      echo "FAIL: this test needs $t$hint" >&2
      exit 1
    fi
  done
}

# use_python: py = the interpreter itself and python3 a function calling
# it, not a version manager's shim (pyenv's costs a second a call on a busy
# machine); have_jq = 1 when jq is on PATH.
use_python() {
  py=$(command python3 -c 'import sys; print(sys.executable)')
  # shellcheck disable=SC2317  # called by every python3 after this
  python3() { "$py" "$@"; }
  have_jq=0
  if command -v jq >/dev/null; then have_jq=1; fi
}

declare -A running=() # pid -> name of every process started and not reaped

# make_work NAME: work = a new directory $TMPDIR/NAME.XXXXXX; at exit every
# process still in running is killed (continued first, in case it was
# stopped), the network namespaces deleted (when netns.sh is sourced) and
# the directory removed unless SLUICE_CLUSTER_KEEP=1.
make_work() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  trap driver_cleanup EXIT
}

driver_cleanup() {
  local p
  for p in "${!running[@]}"; do
    kill -CONT "$p" 2>/dev/null || true
    kill -9 "$p" 2>/dev/null || true
  done
  if declare -F netns_cleanup >/dev/null; then netns_cleanup; fi
  if [[ ${SLUICE_CLUSTER_KEEP:-0} == 1 ]]; then
    echo "work directory kept: $work"
  else
    rm -rf "$work"
  fi
}

# make_secrets: the console token (exported as SLUICE_TOKEN), the cluster
# secret ($secret_file) and the webhook key ($hook_key), fresh in $work:
# never inherited from the caller's environment.
make_secrets() {
  export SLUICE_TOKEN="tok-$RANDOM-$RANDOM-$RANDOM"
  unset SLUICE_CLUSTER_SECRET
  secret_file=$work/secret
  printf 'secret-%s-%s\n' "$RANDOM$RANDOM" "$RANDOM$RANDOM" >"$secret_file"
  hook_key=$work/hook.key
  printf 'hook-%s-%s\n' "$RANDOM$RANDOM" "$RANDOM$RANDOM" >"$hook_key"
}

# make_tls: with SLUICE_CLUSTER_TLS=1, a cluster CA in $work/tls/ca and a
# console's TLS directory (exported as SLUICE_TLS_DIR, which consoles
# read); launch issues each member's own directory when it first starts it
# and gives it --tls-dir. Without it, nothing (plain links).
tls_root=
make_tls() {
  [[ ${SLUICE_CLUSTER_TLS:-0} == 1 ]] || return 0
  tls_root=$work/tls
  "$sluice" certs init "$tls_root/ca" >/dev/null
  "$sluice" certs issue --ca "$tls_root/ca" --name console \
    --out "$tls_root/console" >/dev/null
  export SLUICE_TLS_DIR=$tls_root/console
}

# make_netns N: N member namespaces and the bridge's (netns.sh, which the
# driver sources), after deleting those a killed earlier run left. Without
# root, ip, nft or namespaces it says why and exits 1: such a test fails.
make_netns() {
  local t0
  if ! netns_require 2>"$work/netns.err"; then
    echo "FAIL: this test needs network namespaces and cannot make them:"
    sed 's/^/      /' "$work/netns.err"
    exit 1
  fi
  netns_sweep
  t0=$(now_ms)
  if ! netns_create "$(netns_prefix)" "$1" 2>"$work/netns.err"; then
    echo "FAIL: creating the network namespaces failed:"
    sed 's/^/      /' "$work/netns.err"
    exit 1
  fi
  note "namespaces $(netns_name 1) .. $(netns_name "$1") and the bridge's: $(secs $(($(now_ms) - t0))) s"
}

# check_harness: the member namespaces reach each other, a cut and a heal
# work, and no address outside 127.0.0.0/8 exists in any of them.
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
  for ((i = 1; i <= netns_count_; i++)); do
    others+=$(netns_exec "$i" ip -o addr show | awk '$3 ~ /^inet/ && $4 !~ /^127\./ { print " " $4 }')
  done
  check "$scenario: no address outside 127.0.0.0/8 in the namespaces${others}" test -z "$others"
}

# -- etcd ---------------------------------------------------------------------

controller= # etcd's client URL
etcd_pid=

# need_etcd: etcd_bin = $SLUICE_ETCD or etcd; installs the Debian package
# etcd-server with apt-get when it is missing, else exits 1 saying how to
# get it.
need_etcd() {
  etcd_bin=${SLUICE_ETCD:-etcd}
  command -v "$etcd_bin" >/dev/null 2>&1 && return 0
  echo "$(basename "$0"): etcd not found; installing etcd-server"
  local sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo -n); fi
  if ! { "${sudo_cmd[@]}" apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
      --no-install-recommends etcd-server; }; then
    echo "FAIL: cannot install etcd-server (run scripts/setup.sh as root, or put" \
      "etcd 3.4 on PATH, or set SLUICE_ETCD)" >&2
    exit 1
  fi
}

# start_etcd DIR [HOST [PREFIX...]]: one etcd on HOST (default 127.0.0.1)
# and two free ports, run under PREFIX (e.g. ip netns exec NS: it execs,
# so etcd_pid is etcd's), its data and log in DIR; controller = its client
# URL. Waits until it reports itself healthy, asked under PREFIX too.
start_etcd() {
  local dir=$1 h=${2:-127.0.0.1} cport pport deadline
  shift $(($# < 2 ? $# : 2))
  read -r cport pport <<<"$(free_ports 2)"
  mkdir -p "$dir"
  controller=http://$h:$cport
  "$@" "$etcd_bin" --name e --data-dir "$dir/data" \
    --listen-client-urls "$controller" --advertise-client-urls "$controller" \
    --listen-peer-urls "http://$h:$pport" \
    --initial-advertise-peer-urls "http://$h:$pport" \
    --initial-cluster "e=http://$h:$pport" >"$dir/etcd.log" 2>&1 &
  etcd_pid=$!
  running[$etcd_pid]=etcd
  deadline=$(($(now_ms) + wait_limit * 1000))
  while [[ $(now_ms) -lt $deadline ]]; do
    if ! is_running "$etcd_pid"; then
      reap "$etcd_pid"
      fail "etcd exited ($reaped) at its start; its log ends:"
      tail -n 10 "$dir/etcd.log" | sed 's/^/       /'
      return 1
    fi
    if "$@" curl -s --max-time 1 "$controller/health" | grep -q '"health":"true"'; then return 0; fi
    sleep 0.1
  done
  fail "etcd was not healthy within ${wait_limit} s"
  return 1
}

stop_etcd() {
  kill -TERM "$etcd_pid" 2>/dev/null || true
  reap "$etcd_pid"
}
