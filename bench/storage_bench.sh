#!/usr/bin/env bash
# Storage you can trust (issue 20): what checksums cost and what checking
# and backing up a large data directory take, in one run.
#
# 1. Throughput with checksums on and off: R npm records with unique keys
#    (cluster/unique_feed.sh) through examples/package_trust, fsync on, a
#    fresh data directory per run; this build (every value sealed and
#    checked) and a baseline build from before checksums (--baseline BIN),
#    alternating A B A B, the ratio taken pair by pair.
# 2. On a data directory of N records with unique keys (3N states; filled
#    with --no-sync): `sluice check` (records/s) and `sluice backup`
#    (seconds, size), T times each.
# Medians over the trials.
#
# usage: bench/storage_bench.sh --baseline BIN [--rows R] [--keys N] [--trials T] [--keep]
#   --baseline BIN  a sluice built before checksums (e.g. from 8689ba8)
#   --rows R        records per throughput run, default 100000
#   --keys N        records in the large directory, default 1000000
#   --trials T      default 5
#   --keep          keep the scratch directory
# Needs build/bin/sluice (or $SLUICE_BIN).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sluice="${SLUICE_BIN:-$here/../build/bin/sluice}"
pipeline="$here/../examples/package_trust/pipeline.yaml"
npm="$here/../examples/package_trust/data/npm.tsv"
baseline="" rows=100000 keys=1000000 trials=5 keep=0
while (($#)); do
  case $1 in
    --baseline) baseline=$2; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
  esac
done
[[ -x $sluice ]] || { echo "missing $sluice: build it first" >&2; exit 1; }
[[ -n $baseline && -x $baseline ]] || { echo "give --baseline BIN: a sluice from before checksums" >&2; exit 2; }
work=$(mktemp -d /var/tmp/sluice_storage.XXXXXX)
cleanup() { if ((keep)); then echo "kept $work" >&2; else rm -rf "$work"; fi; }
trap cleanup EXIT
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

bench_header "storage: checksums on/off, check and backup"
echo "binary:  $sluice; baseline: $baseline"

mkdir -p "$work/feed" "$work/big"
bash "$here/cluster/unique_feed.sh" "$rows" "$npm" "$work/feed/npm.tsv"

# run BIN DIR: the throughput run; prints its wall seconds.
run() {
  local t0
  t0=$(now_ms)
  "$1" --log-level warn run "$pipeline" --data "$2" --feed "$work/feed/npm.tsv" \
    >"$2.log" 2>&1 || { echo "run failed: $(tail -3 "$2.log")" >&2; exit 1; }
  awk -v ms=$(( $(now_ms) - t0 )) 'BEGIN { printf "%.2f\n", ms / 1000 }'
  rm -rf "$2"
}
echo
echo "-- throughput: $rows records (3 stages, fsync on), on = this build, off = baseline --"
: >"$work/ratios"
: >"$work/on" ; : >"$work/off"
for i in $(seq 1 "$trials"); do
  on=$(run "$sluice" "$work/on$i")
  off=$(run "$baseline" "$work/off$i")
  echo "$on" >>"$work/on"; echo "$off" >>"$work/off"
  ratio=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", b / a }')
  echo "$ratio" >>"$work/ratios"
  printf 'trial %d: on %s s (%d records/s), off %s s (%d records/s), on/off throughput %s\n' \
    "$i" "$on" "$(awk -v s="$on" -v n="$rows" 'BEGIN { print int(n / s) }')" \
    "$off" "$(awk -v s="$off" -v n="$rows" 'BEGIN { print int(n / s) }')" "$ratio"
done
echo "median: on $(median <"$work/on") s, off $(median <"$work/off") s; on/off throughput $(median <"$work/ratios")"

echo
echo "-- a data directory of $keys records with unique keys --"
bash "$here/cluster/unique_feed.sh" "$keys" "$npm" "$work/big/npm.tsv"
t0=$(now_ms)
"$sluice" --log-level warn run "$pipeline" --data "$work/full" \
  --feed "$work/big/npm.tsv" --no-sync >"$work/fill.log" 2>&1
echo "fill: $keys records in $(( ($(now_ms) - t0) / 1000 )) s; data directory $(du -sh "$work/full" | cut -f1)"
: >"$work/check_s"; : >"$work/backup_s"
for i in $(seq 1 "$trials"); do
  t0=$(now_ms)
  "$sluice" check --data "$work/full" >"$work/check.out" 2>&1 || { cat "$work/check.out" >&2; exit 1; }
  s=$(awk -v ms=$(( $(now_ms) - t0 )) 'BEGIN { printf "%.2f\n", ms / 1000 }')
  records=$(sed -n 's/.* is clean: \([0-9,]*\) records.*/\1/p' "$work/check.out" | tr -d ,)
  echo "$s" >>"$work/check_s"
  echo "check $i: $records records in $s s ($(awk -v n="$records" -v s="$s" 'BEGIN { print int(n / s) }') records/s)"
  t0=$(now_ms)
  "$sluice" backup --data "$work/full" --out "$work/backup$i" >"$work/backup.out" 2>&1 || { cat "$work/backup.out" >&2; exit 1; }
  s=$(awk -v ms=$(( $(now_ms) - t0 )) 'BEGIN { printf "%.2f\n", ms / 1000 }')
  echo "$s" >>"$work/backup_s"
  echo "backup $i: $s s, $(du -sh "$work/backup$i" | cut -f1) (compacted; the directory is $(du -sh "$work/full" | cut -f1))"
  rm -rf "$work/backup$i"
done
cs=$(median <"$work/check_s")
echo "median: check $cs s ($(awk -v n="$records" -v s="$cs" 'BEGIN { print int(n / s) }') records/s), backup $(median <"$work/backup_s") s"
