# shellcheck shell=bash disable=SC2154
# Shared by bench/cluster_*.sh (sourced, not run): the machine header, free
# ports, an etcd, starting and stopping `sluice node` processes, console calls, CPU
# per thread from /proc, the CPU sampler and what it tells (cores per
# process over a window, other load), waiting for an idle machine. The
# sourcing script sets `set -euo pipefail`, `here` (bench/), `sluice` (the
# binary) and `work` (its scratch directory) first.

bench_pids=()

# bench_scratch NAME: $work, a new directory /var/tmp/sluice_NAME.XXXXXX,
# and the EXIT trap (bench_cleanup); the cluster secret and the console
# token, for the members and the console.
bench_scratch() {
  work=$(mktemp -d "/var/tmp/sluice_$1.XXXXXX")
  trap bench_cleanup EXIT
  export SLUICE_CLUSTER_SECRET="bench-$$-$RANDOM" SLUICE_TOKEN="bench-token-$$"
}

# bench_cleanup: bench_on_exit first (if the script has one), then every
# node stopped, and $work removed unless $keep is 1.
bench_cleanup() {
  if declare -F bench_on_exit >/dev/null; then bench_on_exit; fi
  stop_all_nodes
  if ((${keep:-0})); then echo "kept $work" >&2; else rm -rf "$work"; fi
}

# Prints the machine and the date, for the "machine, date, exact command"
# rule of docs/BENCHMARKS.md.
print_machine() {
  local model commit
  model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  commit=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo '?')
  if [[ -n "$(git -C "$here/.." status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    commit="$commit (+ uncommitted changes)"
  fi
  echo "machine: $(nproc) cores, ${model:-unknown CPU}, $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)"
  echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC'); commit $commit"
  echo "command: $0 ${bench_args[*]:-}"
  echo "binary:  $sluice (built $(date -u -r "$sluice" '+%Y-%m-%d %H:%M UTC'))"
  echo "scratch: $work ($(df -PT "$work" | awk 'NR == 2 {print $2}'))"
}

# start_etcd: a one-member etcd (Debian's etcd-server) on free ports, its
# data in $work/etcd; sets `ec` to its client port once it answers.
start_etcd() {
  command -v etcd >/dev/null || { echo "etcd is not on PATH (Debian etcd-server)" >&2; exit 1; }
  local ep
  ec=$(free_port) ep=$(free_port)
  etcd --name bench --data-dir "$work/etcd" \
    --listen-client-urls "http://127.0.0.1:$ec" --advertise-client-urls "http://127.0.0.1:$ec" \
    --listen-peer-urls "http://127.0.0.1:$ep" --initial-advertise-peer-urls "http://127.0.0.1:$ep" \
    --initial-cluster "bench=http://127.0.0.1:$ep" >"$work/etcd.log" 2>&1 &
  bench_pids+=("$!")
  wait_for 30 etcd_up
}
etcd_up() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "http://127.0.0.1:$ec/health" 2>/dev/null; }

# A TCP port nobody listens on now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_node LOG ARGS...: starts `sluice --log-level info node ARGS...` in
# the background with its output in LOG; sets `started` to its PID (also
# listed in $work/pids for the CPU sampler).
start_node() {
  local log=$1
  shift
  "$sluice" --log-level info node "$@" >"$log" 2>&1 &
  started=$!
  bench_pids+=("$started")
  echo "$started" >>"$work/pids"
}

# Starts cpu_sampler.py (every 100 ms, into $work/cpu.samples) for
# cpu_window.
start_cpu_sampler() {
  : >>"$work/pids"
  python3 "$here/cluster/cpu_sampler.py" "$work/pids" 0.1 >"$work/cpu.samples" &
  bench_pids+=("$!")
}

# wait_idle: before a trial, waits until the machine has been idle (under
# 0.25 cores busy) for 3 s running, at most 15 minutes (then goes on with a
# warning). The machine is shared: builds of others must not land in a
# trial.
wait_idle() {
  local end=$((SECONDS + 900)) a b busy
  while ((SECONDS < end)); do
    a=$(head -1 /proc/stat)
    sleep 3
    b=$(head -1 /proc/stat)
    busy=$(awk -v hz="$(getconf CLK_TCK)" '
      NR == 1 { for (i = 2; i <= 9; i++) t0 += $i; i0 = $5 + $6 }
      NR == 2 { for (i = 2; i <= 9; i++) t1 += $i; i1 = $5 + $6 }
      END { printf "%.2f", ((t1 - t0) - (i1 - i0)) / hz / 3 }' <(echo "$a") <(echo "$b"))
    if awk -v b="$busy" 'BEGIN { exit !(b < 0.25) }'; then return 0; fi
  done
  echo "warning: the machine was never idle for 3 s in 15 minutes; going on" >&2
}

# other_load T0 T1 PID... [-- CPU_SECONDS]: the user time (in cores) the
# machine spent between T0 and T1 beyond the PIDs' (and beyond CPU_SECONDS
# of user time of a process that has exited since, e.g. from its own
# getrusage). Builds and tests of others are mostly user time.
other_load() {
  local t0=$1 t1=$2 sum=0 v m extra=0
  shift 2
  while (($#)); do
    if [[ $1 == -- ]]; then
      extra=$2
      break
    fi
    v=$(cpu_window "$t0" "$t1" "$1" user)
    sum=$(awk -v a="$sum" -v b="$v" 'BEGIN { print a + b }')
    shift
  done
  m=$(cpu_window "$t0" "$t1" "" user)
  awk -v m="$m" -v s="$sum" -v e="$extra" -v t0="$t0" -v t1="$t1" 'BEGIN {
    if (m == "nan" || s ~ /nan/) print "nan"
    else printf "%.2f\n", m - s - e / (t1 - t0) }'
}

# Trials during which other processes used more than this many cores of
# user time are discarded and run again (at most max_retries times per
# trial). The polls of a trial use well under 0.1; one compiler, a whole
# core.
other_limit=0.3
max_retries=3

# cpu_window T0 T1 [PID] [user]: cores used between epoch seconds T0 and
# T1 (from the samples just outside the window) by PID, or by the whole
# machine with an empty PID (every process: ours and any other load; irq
# and softirq time left out, see cpu_sampler.py); user time only with
# `user`. A PID must still run at T1's sample.
cpu_window() {
  awk -v t0="$1" -v t1="$2" -v pid="${3:-}" -v only="${4:-}" -v hz="$(getconf CLK_TCK)" '
    function ticks(   i, f) {
      if (pid == "") return only == "user" ? $2 : $2 + $3
      for (i = 4; i <= NF; i++) {
        split($i, f, ":")
        if (f[1] == pid) return only == "user" ? f[2] : f[2] + f[3]
      }
      return 0
    }
    $1 <= t0 { a = $1; va = ticks() }
    $1 >= t1 { b = $1; vb = ticks(); exit }
    END {
      if (a == "" || b == "" || b <= a) { print "nan"; exit }
      printf "%.2f\n", (vb - va) / hz / (b - a)
    }' "$work/cpu.samples"
}

# stop_node PID: SIGTERM, then SIGKILL after 10 s.
stop_node() {
  local pid=$1 i
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Kills every process this script started in the background: nodes,
# polls, the sampler (the EXIT trap).
stop_all_nodes() {
  local pid
  for pid in "${bench_pids[@]}"; do
    kill -CONT "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  done
  for pid in "${bench_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}

# console ADDRESS COMMAND: the JSON answer (fails when the node does not
# answer).
console() {
  "$sluice" console "$1" -c "$2" 2>/dev/null
}

# json_get FIELD-PATH: reads JSON on stdin, prints e.g. .local.outbox.
json_get() {
  python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].strip(".").split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$1"
}

# metric ADDRESS NAME: one series' value from `metrics NAME`.
metric() {
  console "$1" "metrics $2" | python3 -c 'import json, sys
name = sys.argv[1]
for line in json.load(sys.stdin)["text"].splitlines():
    f = line.split()
    if len(f) == 2 and f[0] == name:
        v = float(f[1]); print(int(v) if v.is_integer() else v); break
else:
    print("0")' "$2"
}

# wait_for SECONDS CMD...: runs CMD every 50 ms until it succeeds.
wait_for() {
  local limit=$1
  shift
  local end=$((SECONDS + limit))
  until "$@"; do
    if ((SECONDS >= end)); then
      echo "timed out after ${limit}s waiting for: $*" >&2
      return 1
    fi
    sleep 0.05
  done
}

# log_epoch LOGFILE PATTERN: the time of the first log line matching
# PATTERN, as epoch seconds (the log's timestamps are local time, ms).
log_epoch() {
  local ts
  ts=$(grep -m1 -- "$2" "$1" | sed -n 's/^\[\([0-9-]* [0-9:.]*\)\].*/\1/p')
  [[ -n "$ts" ]] || return 1
  date -d "$ts" '+%s.%N'
}

# cpu_snapshot PID: "tid name ticks" per thread (user + system).
cpu_snapshot() {
  awk '{ gsub(/[()]/, "", $2); print $1, $2, $14 + $15 }' \
    /proc/"$1"/task/*/stat 2>/dev/null || true
}

# cpu_report BEFORE AFTER SECONDS [EVENTS]: the process's CPU over the
# window in cores (CPU seconds / wall seconds), then its three busiest
# threads; with EVENTS, also in CPU microseconds per event.
cpu_report() {
  local hz
  hz=$(getconf CLK_TCK)
  awk -v hz="$hz" -v secs="$3" -v events="${4:-0}" '
    FILENAME == ARGV[1] { before[$1] = $3; next }
    { d = $3 - before[$1]; if (d < 0) d = 0; total += d;
      name[$1] = $2; used[$1] = d }
    END {
      printf "%.2f cores", total / hz / secs
      if (events > 0) printf " = %.2f us/event", total / hz / events * 1e6
      n = 0
      for (t in used) order[++n] = t
      for (i = 1; i <= n; i++)
        for (j = i + 1; j <= n; j++)
          if (used[order[j]] > used[order[i]]) { x = order[i]; order[i] = order[j]; order[j] = x }
      printf " (busiest threads:"
      for (i = 1; i <= n && i <= 3; i++)
        if (used[order[i]] > 0)
          printf " %s %.2f%s", name[order[i]], used[order[i]] / hz / secs,
                 (events > 0 ? sprintf(" (%.2f us/event)", used[order[i]] / hz / events * 1e6) : "")
      printf ")"
    }' "$1" "$2"
}

# median NUMBERS...: the median (the mean of the middle two for an even
# count).
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
          else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
