#!/usr/bin/env bash
# Kills `sluice run` on the package_trust example with SIGKILL at several
# points of the run, resumes it with the same command, and checks that every
# stage's export (and the stored per-key versions, feed offsets, queues and
# dead letters) equals that of an uninterrupted run: a crash loses nothing
# and applies nothing twice.
#
# usage: kill_resume_test.sh SLUICE_BINARY SOURCE_DIR
# shellcheck disable=SC2154,SC2004  # lib.sh's work and running (associative)
set -euo pipefail

# lib.sh: the arguments, tools, work directory and trap shared with the
# cluster drivers; the tally.
# shellcheck source=SCRIPTDIR/../cluster/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../cluster/lib.sh"
driver_args "$@"
need_tools --hint "mdb_* come from lmdb-utils" mdb_dump mdb_stat timeout
make_work sluice_kill_resume
run_pid=

run_args=(run "$example/pipeline.yaml"
          --feed "$example/data/npm.tsv"
          --feed "$example/data/pypi.tsv"
          --feed "$example/data/debian.Packages" -q)
stages=(parse enrich score)
run_limit=300 # seconds any single foreground run may take

# Number of key states stored so far, for the report ("-" before the store
# exists).
states_stored() {
  if [[ -f $1/data.mdb ]]; then
    mdb_stat -s state "$1" 2>/dev/null | awk '/Entries:/ {print $2; f=1} END {if (!f) print "-"}'
  else
    echo "-"
  fi
}

# Number of records in one named database of data dir $1.
entries() {
  mdb_stat -s "$2" "$1" | awk '/Entries:/ {print $2}'
}

# snapshot DATA_DIR OUT_DIR: everything a correct resume must reproduce.
# Returns non-zero (with a message) when something cannot be read.
snapshot() {
  local dir=$1 out=$2 s
  mkdir -p "$out"
  for s in "${stages[@]}"; do
    if ! "$sluice" export --data "$dir" --stage "$s" >"$out/$s.tsv" 2>"$out/$s.err"; then
      echo "    export of stage $s failed: $(cat "$out/$s.err")"
      return 1
    fi
  done
  # (stage, key) -> version: the number of events each key took in each
  # stage, counting skipped ones; a replayed event would raise it.
  mdb_dump -s state "$dir" \
    | awk '/^HEADER=END/ {h=1; next} /^DATA=END/ {h=0}
           h { if (k == "") k = $1; else { print k, substr($1, 1, 16); k = "" } }' \
      >"$out/versions" || return 1
  mdb_dump -p -s offsets "$dir" | sed -n '/^HEADER=END/,$p' >"$out/offsets" || return 1
  {
    for s in "${stages[@]}"; do echo "queue.$s $(entries "$dir" "queue.$s")"; done
    echo "dead_letters $(entries "$dir" dead_letters)"
  } >"$out/counts" || return 1
}

# compare REF_DIR GOT_DIR: prints the first differing lines of each file.
compare() {
  local ref=$1 got=$2 f same=0
  for f in "${stages[@]/%/.tsv}" versions offsets counts; do
    if ! cmp -s "$ref/$f" "$got/$f"; then
      echo "    $f differs from the uninterrupted run (first differing lines):"
      diff "$ref/$f" "$got/$f" | head -n 10 | cut -c1-200 | sed 's/^/      /' || true
      same=1
    fi
  done
  return $same
}

# run_to_end DATA_DIR LOG: the same command, in the foreground, to the end.
run_to_end() {
  local rc=0
  timeout "$run_limit" "$sluice" "${run_args[@]}" --data "$1" 2>>"$2" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "    sluice run --data $1 exited $rc; its stderr:"
    tail -n 20 "$2" | sed 's/^/      /'
    return 1
  fi
}

# kill_mid_run DATA_DIR DELAY_MS LOG: starts the run in the background and
# kills it with SIGKILL after DELAY_MS. Returns 0 when the kill hit a running
# process, 1 when the run had already finished (exit 0), 2 on any other
# outcome.
kill_mid_run() {
  local dir=$1 delay_ms=$2 log=$3 rc=0 state
  "$sluice" "${run_args[@]}" --data "$dir" 2>>"$log" &
  run_pid=$!
  running[$run_pid]=run
  sleep "$(awk -v ms="$delay_ms" 'BEGIN {printf "%.3f", ms / 1000}')"
  # A finished but unreaped child is a zombie (state Z): not running.
  state=$(sed 's/^.*) //' "/proc/$run_pid/stat" 2>/dev/null | cut -d' ' -f1 || true)
  if [[ -n $state && $state != Z ]]; then
    kill -9 "$run_pid" 2>/dev/null || true
  fi
  wait "$run_pid" 2>/dev/null || rc=$? # (no "Killed" job notice)
  unset "running[$run_pid]"
  run_pid=
  case $rc in
    137) return 0 ;;   # 128 + SIGKILL: killed mid-run
    0) return 1 ;;     # finished before the kill
    *)
      echo "    sluice run exited $rc before it could be killed; its stderr:"
      tail -n 20 "$log" | sed 's/^/      /'
      return 2
      ;;
  esac
}

# kill_point LABEL DELAY_MS [SECOND_DELAY_MS]: kill a fresh run after
# DELAY_MS (and, with SECOND_DELAY_MS, kill the resumed run once more after
# that long), resume to the end, compare with the reference. When a run
# finished before its kill, retries on a fresh directory with shorter delays.
kill_point() {
  local label=$1 delay=$2 second=${3:-} attempt dir log r at_first at_second
  for attempt in 1 2 3 4 5; do
    dir=$work/point_${label}_$attempt/data
    log=$work/point_${label}_$attempt/stderr.log
    mkdir -p "$(dirname "$dir")"
    r=0
    kill_mid_run "$dir" "$delay" "$log" || r=$?
    if [[ $r -eq 2 ]]; then
      echo "FAIL $label: the run failed before the kill at ${delay} ms"
      failed=$((failed + 1))
      return
    fi
    if [[ $r -eq 0 ]]; then
      at_first=$(states_stored "$dir")
      at_second=
      if [[ -n $second ]]; then
        kill_mid_run "$dir" "$second" "$log" || r=$?
        if [[ $r -eq 2 ]]; then
          echo "FAIL $label: the resumed run failed before its kill at ${second} ms"
          failed=$((failed + 1))
          return
        fi
        at_second=$(states_stored "$dir")
      fi
      if [[ $r -eq 0 ]]; then
        if ! run_to_end "$dir" "$log"; then
          echo "FAIL $label: the resume after the kill did not finish cleanly"
          failed=$((failed + 1))
          return
        fi
        local what="killed at ${delay} ms (${at_first}/${total_states} states stored)"
        if [[ -n $second ]]; then
          what+=", resumed run killed at ${second} ms (${at_second} states)"
        fi
        local details
        if details=$(snapshot "$dir" "$work/point_${label}_$attempt/snap" \
             && compare "$work/ref/snap" "$work/point_${label}_$attempt/snap"); then
          echo "ok   $label: $what, resumed: identical to the uninterrupted run"
          passed=$((passed + 1))
        else
          echo "FAIL $label: $what, resumed: differs from the uninterrupted run"
          echo "$details"
          failed=$((failed + 1))
        fi
        rm -rf "$work/point_${label}_$attempt"
        return
      fi
    fi
    echo "     $label: the run finished before the kill at ${delay} ms${second:+ / ${second} ms}; retrying earlier"
    delay=$((delay * 2 / 3))
    if [[ -n $second ]]; then second=$((second * 2 / 3)); fi
  done
  echo "FAIL $label: no mid-run kill could be made (every run finished first)"
  failed=$((failed + 1))
}

# -- the uninterrupted reference run ------------------------------------------

mkdir -p "$work/ref"
t0=$(now_ms)
if ! run_to_end "$work/ref/data" "$work/ref/stderr.log"; then
  echo "FAIL: the uninterrupted reference run failed"
  exit 1
fi
duration=$(($(now_ms) - t0))
if ! snapshot "$work/ref/data" "$work/ref/snap"; then
  echo "FAIL: cannot read the reference run's store"
  exit 1
fi
total_states=$(states_stored "$work/ref/data")
records=$(wc -l <"$work/ref/snap/score.tsv")
echo "reference run: ${duration} ms, ${records} keys in stage score, ${total_states} states"
if [[ $records -ne 20985 ]]; then
  echo "FAIL: the reference run exported ${records} keys from stage score, expected 20985"
  exit 1
fi
for s in "${stages[@]}"; do
  if ! cmp -s <(cut -f1 "$work/ref/snap/$s.tsv") <(cut -f1 "$work/ref/snap/score.tsv"); then
    echo "FAIL: stage $s of the reference run does not hold the same keys as stage score"
    exit 1
  fi
done
if [[ $duration -lt 500 ]]; then
  echo "FAIL: the reference run took ${duration} ms: too short to kill anything mid-run"
  exit 1
fi

# -- a finished run, started again, does nothing -----------------------------

mdb_dump -a "$work/ref/data" >"$work/ref/dump_before"
t0=$(now_ms)
if run_to_end "$work/ref/data" "$work/ref/stderr.log"; then
  rerun=$(($(now_ms) - t0))
  mdb_dump -a "$work/ref/data" >"$work/ref/dump_after"
  limit=$((duration / 2 > 1000 ? duration / 2 : 1000))
  if [[ $rerun -gt $limit ]]; then
    echo "FAIL rerun: starting a finished run again took ${rerun} ms (limit ${limit} ms): did it redo work?"
    failed=$((failed + 1))
  elif ! cmp -s "$work/ref/dump_before" "$work/ref/dump_after"; then
    echo "FAIL rerun: starting a finished run again changed the store:"
    diff "$work/ref/dump_before" "$work/ref/dump_after" | head -n 10 | cut -c1-200 | sed 's/^/      /' || true
    failed=$((failed + 1))
  elif ! details=$(snapshot "$work/ref/data" "$work/ref/snap_rerun" \
         && compare "$work/ref/snap" "$work/ref/snap_rerun"); then
    echo "FAIL rerun: the exports changed after starting a finished run again"
    echo "$details"
    failed=$((failed + 1))
  else
    echo "ok   rerun: a finished run started again exits 0 in ${rerun} ms and changes nothing"
    passed=$((passed + 1))
  fi
else
  echo "FAIL rerun: starting a finished run again did not exit 0"
  failed=$((failed + 1))
fi
rm -f "$work/ref/dump_before" "$work/ref/dump_after"

# -- kill points --------------------------------------------------------------

kill_point "50ms" 50
for pct in 10 25 65 85; do
  kill_point "${pct}%" $((duration * pct / 100))
done
# Killed twice: once in the first run, once in the resumed one.
kill_point "45%+20%" $((duration * 45 / 100)) $((duration * 20 / 100))

echo "${passed} passed, ${failed} failed"
[[ $failed -eq 0 ]]
