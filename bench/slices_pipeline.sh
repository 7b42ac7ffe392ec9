#!/usr/bin/env bash
# The debian_slices pipeline (index -> sluice.slices -> job) on this
# machine's real indexes (issue 19): bookworm main, then bookworm-updates,
# then bookworm-security, each a `sluice run` on the same data directory;
# against, in the same run, the whole tenant from scratch (all three
# indexes in one run on a fresh directory: every slice's job again).
# Medians of 3 per step: wall time, events the job stage took (one per
# changed slice or reference package), LMDB commits.
#
# usage: bench/slices_pipeline.sh [REPEATS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/.."
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
# shellcheck source=examples/debian_slices/indexes.sh
source "$root/examples/debian_slices/indexes.sh"
repeats=${1:-3}
sluice="$root/build/bin/sluice"
chunk="$root/build/bin/debian_slices_chunk"
pipeline="$root/examples/debian_slices/pipeline.yaml"
for b in "$sluice" "$chunk"; do
  [[ -x $b ]] || { echo "build it first: cmake --build build --target sluice debian_slices_chunk" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_slices_pipeline.XXXXXX")
trap 'rm -rf "$work"' EXIT
steps=(bookworm bookworm-updates bookworm-security)
for s in "${steps[@]}"; do
  debian_index_file "$s" "$work/$s.Packages"
  "$chunk" --tenant bookworm/amd64 "$work/$s.Packages" >"$work/$s.jsonl" 2>/dev/null
done
cat "$work/bookworm.jsonl" "$work/bookworm-updates.jsonl" "$work/bookworm-security.jsonl" >"$work/all.jsonl"

# run NAME DATA FEED: one `sluice run`; appends "ms jobs commits" to $work/NAME.
run() {
  local start out
  start=$(now_ms)
  out=$("$sluice" run "$pipeline" --data "$2" --feed "$3" 2>&1)
  local ms=$(($(now_ms) - start))
  local jobs commits
  jobs=$(awk '$1 == "job" { print $2 }' <<<"$out")
  commits=$(sed -n 's/.* \([0-9]*\) commits$/\1/p' <<<"$out")
  # Any failed event (the summary's fifth column) spoils the figures.
  if ! awk '($1 == "index" || $1 == "slices" || $1 == "job") && $5 != 0 { bad = 1 }
            END { exit bad }' <<<"$out"; then
    echo "$out" >&2
    exit 1
  fi
  echo "$ms $jobs $commits" >>"$work/$1"
}

for ((i = 1; i <= repeats; i++)); do
  rm -rf "$work/data" "$work/full.data"
  for s in "${steps[@]}"; do
    run "$s" "$work/data" "$work/$s.jsonl"
  done
  run full "$work/full.data" "$work/all.jsonl"
done

bench_header "the debian_slices pipeline on this machine's indexes"
echo "medians of $repeats; 'full' = the three indexes from scratch in one run"
printf '%-20s %10s %12s %10s\n' step ms job_events commits
for s in "${steps[@]}" full; do
  printf '%-20s %10s %12s %10s\n' "$s" \
    "$(cut -d' ' -f1 "$work/$s" | median)" \
    "$(cut -d' ' -f2 "$work/$s" | median)" \
    "$(cut -d' ' -f3 "$work/$s" | median)"
done
