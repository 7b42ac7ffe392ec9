#!/usr/bin/env bash
# Failure detection time (issue 4, benchmark 3): two members with the
# default detection settings (heartbeat 200 ms, suspect after 800 ms of
# silence, down after 1500 ms); one of them, the victim, fails, and the
# survivor's `nodes` table is polled through one console session every
# --interval-ms until it shows the victim down.
#
#   kill  the victim gets SIGKILL: its process is gone, the kernel resets
#         its connections.
#   stop  the victim gets SIGSTOP: a frozen peer, its sockets stay open and
#         nothing tells the survivor; only the silence does. (Then SIGCONT
#         and SIGKILL, to clean up.)
#
# Each trial starts both members afresh (the victim joins the survivor;
# the example's pipeline, no input) and waits until the shard map has
# settled. Time to suspect / down: from just before the kill(1) call to the
# answer of the first poll that shows the victim suspect / down (the change
# happened after the previous poll's answer, --interval-ms plus about 2 ms
# earlier at most). Each trial waits for an idle machine, and is discarded
# and repeated when other processes used more than 0.3 cores of user time
# (cluster/common.sh).
#
# usage: bench/cluster_detect.sh [--trials T] [--interval-ms MS] [--keep]
#   --trials T        per mode, default 5
#   --interval-ms MS  default 10
# Needs build/bin/sluice (or $SLUICE_BIN: e.g. a copy, so that a rebuild cannot swap it mid-run).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bench_args=("$@")
sluice="${SLUICE_BIN:-$here/../build/bin/sluice}"
pipeline="$here/../examples/package_trust/pipeline.yaml"
trials=5 interval=10 keep=0
while (($#)); do
  case $1 in
    --trials) trials=$2; shift 2 ;;
    --interval-ms) interval=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
  esac
done
[[ -x $sluice ]] || { echo "missing $sluice: build it first" >&2; exit 1; }
# shellcheck source=bench/cluster/common.sh
source "$here/cluster/common.sh"
bench_scratch detect
poller=""
bench_on_exit() {
  if [[ -n $poller ]]; then kill "$poller" 2>/dev/null || true; fi
}
# bash reports each victim killed by a signal on stderr ("... Killed ...");
# that is the point here, so leave those reports out.
exec 2> >(grep --line-buffered -v -E 'line [0-9]+: +[0-9]+ (Killed|Stopped)' >&2)

echo "== cluster failure detection: default settings (heartbeat 200 ms, suspect 800 ms, down 1500 ms) =="
print_machine
echo "poll: the survivor's \`nodes\` table through one console session every ${interval} ms"
echo

both_up() { # SURVIVOR-ADDRESS VICTIM-ADDRESS
  local j
  for addr in "$1" "$2"; do
    j=$(console "$addr" nodes) || return 1
    python3 -c 'import json, sys
j = json.load(sys.stdin)
ok = len(j["nodes"]) == 2 and all(n["status"] == "up" and n.get("connected", True) for n in j["nodes"])
sys.exit(0 if ok else 1)' <<<"$j" || return 1
    j=$(console "$addr" shards) || return 1
    [[ "$(json_get .to_hand_off <<<"$j")" == 0 && "$(json_get .incoming <<<"$j")" == 0 ]] || return 1
  done
}

results="$work/results"
: >"$results"
printf '%-5s %5s %12s %9s %12s %9s\n' mode trial suspect-ms '(prev)' down-ms '(prev)'
start_cpu_sampler
for mode in kill stop; do
  for ((t = 1, try = 0; t <= trials; try++)); do
    d="$work/$mode.$t.$try"
    mkdir -p "$d"
    wait_idle
    ps=$(free_port) pv=$(free_port)
    start_node "$d/s.log" --config "$pipeline" --name s --listen "127.0.0.1:$ps" --data "$d/s"
    s=$started
    wait_for 30 console "127.0.0.1:$ps" nodes >/dev/null
    start_node "$d/v.log" --config "$pipeline" --name v --listen "127.0.0.1:$pv" \
      --join "127.0.0.1:$ps" --data "$d/v"
    v=$started
    wait_for 60 both_up "127.0.0.1:$ps" "127.0.0.1:$pv"
    sleep 0.5
    python3 "$here/cluster/console_poll.py" --sluice "$sluice" --address "127.0.0.1:$ps" \
      --member v --until down --interval-ms "$interval" --timeout 30 >"$d/poll.txt" &
    poller=$!
    bench_pids+=("$poller")
    wait_for 10 grep -qs ' up$' "$d/poll.txt"
    sleep 0.3
    t_kill=$(date +%s.%N)
    if [[ $mode == kill ]]; then kill -KILL "$v"; else kill -STOP "$v"; fi
    wait "$poller" || echo "trial $mode $t: the survivor did not show v down within 30 s" >&2
    poller=""
    line=$(awk -v k="$t_kill" '
      /^#/ { next }
      $1 >= k && $2 == "suspect" && s == "" { s = $1; sp = last }
      $1 >= k && $2 == "down" && dn == "" { dn = $1; dp = last }
      { last = $1 }
      END {
        f = "%.0f"
        printf f " " f " " f " " f "\n", (s - k) * 1000, (sp - k) * 1000, (dn - k) * 1000, (dp - k) * 1000
      }' "$d/poll.txt")
    read -r sus sus_prev down down_prev <<<"$line"
    if ((sus_prev < 0)); then sus_prev=0; fi
    t_down=$(awk -v k="$t_kill" -v d="$down" 'BEGIN { printf "%.3f", k + d / 1000 }')
    sleep 0.25 # a CPU sample after the window
    other=$(other_load "$t_kill" "$t_down" "$s")
    mark=""
    if awk -v o="$other" -v l="$other_limit" 'BEGIN { exit !(o != "nan" && o + 0 > l) }'; then
      mark="  DISCARDED: other load $other cores"
    fi
    printf '%-5s %5s %12s %9s %12s %9s%s\n' "$mode" "$t" "$sus" "($sus_prev)" "$down" "($down_prev)" "$mark"
    # The survivor's log until now (the victim is still down or frozen).
    grep -h "lost the connection\|suspect\|down\|member v" "$d/s.log" | sed 's/^/      survivor log: /' | head -4 || true
    if [[ -z $mark ]]; then
      echo "$mode $t $sus $down" >>"$results"
      t=$((t + 1)) try=-1
    elif ((try >= max_retries)); then
      echo "trial $mode $t: other load in $((try + 1)) attempts; no figure" >&2
      t=$((t + 1)) try=-1
    fi
    if [[ $mode == stop ]]; then
      kill -CONT "$v" 2>/dev/null || true
    fi
    kill -KILL "$v" 2>/dev/null || true
    wait "$v" 2>/dev/null || true
    stop_node "$s"
    ((keep)) || rm -rf "$d/s" "$d/v"
  done
done

echo
echo "== over $trials trials per mode (ms from the kill call to the first poll showing the status) =="
printf '%-5s %14s %14s %12s %12s\n' mode suspect-median suspect-max down-median down-max
for mode in kill stop; do
  mapfile -t sus < <(awk -v m="$mode" '$1 == m { print $3 }' "$results")
  mapfile -t dwn < <(awk -v m="$mode" '$1 == m { print $4 }' "$results")
  printf '%-5s %14.0f %14.0f %12.0f %12.0f\n' "$mode" "$(median "${sus[@]}")" \
    "$(printf '%s\n' "${sus[@]}" | sort -g | tail -1)" "$(median "${dwn[@]}")" \
    "$(printf '%s\n' "${dwn[@]}" | sort -g | tail -1)"
done
echo "(prev): the previous poll's answer, the earliest the change can have happened. Target: detection within 2000 ms."
echo "Each trial waits until the machine has been idle for 3 s; a trial in which other processes used more than $other_limit cores of user time between the kill and the down status is DISCARDED and run again, at most $max_retries times."
