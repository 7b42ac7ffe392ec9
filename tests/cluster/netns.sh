# shellcheck shell=bash
# Network partitions on one machine, for tests: N member network namespaces
# joined by veth pairs to a bridge that lives in a namespace of its own,
# addresses from 127.0.0.0/8 only, links cut with nftables rules of the
# bridge family inside the bridge's namespace (this kernel has no netem:
# pause a process with SIGSTOP instead). Sourced; needs root.
#
#   netns_require              root, ip, nft (apt-get installs nftables if
#                              missing) and a namespace that can be made;
#                              else prints why to stderr and returns 1
#   netns_create PREFIX N [NET] namespaces PREFIX-sw (the bridge) and
#                              PREFIX-1 .. PREFIX-N; member i gets NET.i/24
#                              on its eth0 (NET default 127.77.0) and lo up.
#                              PREFIX must be unique per run (tests run
#                              concurrently): see netns_prefix
#   netns_prefix               a per-run prefix: slp<pid>x<random>
#   netns_name I / netns_addr I  member i's namespace / address
#   netns_exec I CMD...        runs CMD in member i's namespace
#   netns_spawn I CMD...       the same in the background; its PID (CMD's
#                              own: ip execs it, so kill and SIGSTOP reach
#                              it) in netns_pid. Redirect around the call
#   netns_cut "I..." "J..."    drops every frame between each I and each J,
#                              both ways, in one atomic nft change; cuts
#                              add up until netns_heal
#   netns_isolate I            cuts I from every other member
#   netns_heal                 removes every cut
#   netns_cuts                 the cut rules now in force (for a log)
#   netns_can_reach I J        exit 0 if a TCP connect from member i to
#                              member j succeeds within 0.5 s
#   netns_cleanup              deletes this run's namespaces (idempotent;
#                              call it from an EXIT trap, after stopping the
#                              processes inside)
#   netns_sweep                deletes namespaces a killed earlier run left
#                              (named by netns_prefix, its PID gone)
#
# Partitions of 3: isolate 3 = minority {3} | majority {1,2}; a bridge where
# 1 sees both halves = netns_cut "2" "3". Of 5: netns_cut "1 2" "3 4 5".

netns_prefix_=
netns_count_=0
netns_net_=127.77.0

netns_prefix() { printf 'slp%sx%s\n' "$$" "$RANDOM"; }
netns_name() { printf '%s-%s\n' "$netns_prefix_" "$1"; }
netns_addr() { printf '%s.%s\n' "$netns_net_" "$1"; }
netns_sw_() { printf '%s-sw\n' "$netns_prefix_"; }

netns_require() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "netns: network namespaces need root (running as uid $(id -u))" >&2
    return 1
  fi
  if ! command -v ip >/dev/null; then
    echo "netns: 'ip' (Debian package iproute2) is missing" >&2
    return 1
  fi
  if ! command -v nft >/dev/null; then
    echo "netns: nft is missing: installing the Debian package nftables" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        nftables >&2 && ! { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends nftables >&2; }; then
      echo "netns: could not install nftables (apt-get failed)" >&2
      return 1
    fi
  fi
  local probe err
  probe=$(netns_prefix)-probe
  if ! err=$(ip netns add "$probe" 2>&1); then
    echo "netns: cannot create a network namespace: $err" >&2
    return 1
  fi
  ip netns delete "$probe" 2>/dev/null || true
}

# netns_run_ NS CMD...: CMD in namespace NS; prints CMD and its error and
# returns 1 when it fails.
netns_run_() {
  local ns=$1 err
  shift
  if ! err=$(ip netns exec "$ns" "$@" 2>&1); then
    echo "netns: in $ns: '$*' failed: $err" >&2
    return 1
  fi
}

# netns_add_ NS: a new namespace without IPv6 (no link-local address: only
# 127.0.0.0/8 is used) and with 127.x allowed off lo.
netns_add_() {
  ip netns add "$1" || return 1
  if [[ -e /proc/sys/net/ipv6 ]]; then
    netns_run_ "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
      net.ipv6.conf.default.disable_ipv6=1 || return 1
  fi
  # Without route_localnet a 127.x address is refused (EINVAL) off lo.
  netns_run_ "$1" sysctl -qw net.ipv4.conf.all.route_localnet=1 \
    net.ipv4.conf.default.route_localnet=1 || return 1
}

netns_create() {
  if [[ ! ${3:-127.77.0} =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}$ ]]; then
    echo "netns_create: NET '${3}' is not 127.X.Y: only 127.0.0.0/8 may be used" >&2
    return 1
  fi
  if [[ ! $2 =~ ^[0-9]+$ ]] || (($2 < 1 || $2 > 254)); then
    echo "netns_create: N '$2' is not a member count from 1 to 254" >&2
    return 1
  fi
  netns_prefix_=$1
  netns_count_=$2
  netns_net_=${3:-127.77.0}
  local sw i ns
  sw=$(netns_sw_)
  netns_add_ "$sw" || return 1
  ip -n "$sw" link add br0 type bridge || return 1
  ip -n "$sw" link set br0 up || return 1
  for ((i = 1; i <= netns_count_; i++)); do
    ns=$(netns_name "$i")
    netns_add_ "$ns" || return 1
    ip -n "$sw" link add "p$i" type veth peer name eth0 netns "$ns" || return 1
    ip -n "$sw" link set "p$i" master br0 up || return 1
    ip -n "$ns" link set lo up || return 1
    netns_run_ "$ns" sysctl -qw net.ipv4.conf.eth0.route_localnet=1 || return 1
    ip -n "$ns" addr add "$(netns_addr "$i")/24" dev eth0 || return 1
    ip -n "$ns" link set eth0 up || return 1
  done
  netns_run_ "$sw" nft add table bridge cuts || return 1
  netns_run_ "$sw" nft add chain bridge cuts links \
    '{ type filter hook forward priority 0; policy accept; }' || return 1
}

netns_exec() {
  local ns
  ns=$(netns_name "$1")
  shift
  ip netns exec "$ns" "$@"
}

netns_pid= # set by netns_spawn, read by the caller
# shellcheck disable=SC2034
netns_spawn() {
  local ns
  ns=$(netns_name "$1")
  shift
  ip netns exec "$ns" "$@" &
  netns_pid=$!
}

netns_cut() {
  local a b rules=''
  for a in $1; do
    for b in $2; do
      [[ $a == "$b" ]] && continue
      rules+="add rule bridge cuts links iifname p$a oifname p$b drop"$'\n'
      rules+="add rule bridge cuts links iifname p$b oifname p$a drop"$'\n'
    done
  done
  # One nft run: the cut is atomic (and fast: on a busy machine each run
  # takes up to half a second).
  netns_run_ "$(netns_sw_)" nft -f - <<<"$rules"
}

netns_isolate() {
  local i others=
  for ((i = 1; i <= netns_count_; i++)); do
    [[ $i == "$1" ]] || others+=" $i"
  done
  netns_cut "$1" "$others"
}

netns_heal() {
  netns_run_ "$(netns_sw_)" nft flush chain bridge cuts links
}

netns_cuts() {
  ip netns exec "$(netns_sw_)" nft list chain bridge cuts links 2>&1 \
    | awk '/drop/ { gsub(/^[ \t]+/, ""); printf "%s%s", sep, $0; sep = "; " } END { print "" }'
}

netns_can_reach() {
  python3 - "/run/netns/$(netns_name "$1")" "/run/netns/$(netns_name "$2")" \
    "$(netns_addr "$2")" <<'PY'
import ctypes, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
def enter(path):
    fd = os.open(path, os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
        sys.exit("setns %s: %s" % (path, os.strerror(ctypes.get_errno())))
    os.close(fd)
src, dst, addr = sys.argv[1:4]
enter(dst)
srv = socket.socket(); srv.bind((addr, 0)); srv.listen(1)
enter(src)
cli = socket.socket(); cli.settimeout(0.5)
try:
    cli.connect((addr, srv.getsockname()[1]))
except OSError:
    sys.exit(1)
PY
}

netns_cleanup() {
  [[ -n $netns_prefix_ ]] || return 0
  local i
  for ((i = 1; i <= netns_count_; i++)); do
    ip netns delete "$(netns_name "$i")" 2>/dev/null || true
  done
  ip netns delete "$(netns_sw_)" 2>/dev/null || true
  netns_prefix_=
}

netns_sweep() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
    if [[ $ns =~ ^slp([0-9]+)x[0-9]+-(sw|[0-9]+)$ && ! -e /proc/${BASH_REMATCH[1]} ]]; then
      ip netns delete "$ns" 2>/dev/null || true
    fi
  done
}
