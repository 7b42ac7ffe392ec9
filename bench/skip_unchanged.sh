#!/usr/bin/env bash
# Skip-unchanged: feed the example's real records, then feed the same files
# again with --refeed. The parse stage (skip_unchanged: true) acknowledges
# each unchanged record without running its behaviour, so nothing flows
# downstream. Prints the median of 3 runs of each pass, the skip ratio and
# the speed-up.
#
# usage: bench/skip_unchanged.sh [SLUICE_BINARY]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sluice="${1:-$here/../build/bin/sluice}"
ex="$here/../examples/package_trust"
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_skip.XXXXXX")
trap 'rm -rf "$work"' EXIT
feeds=(--feed "$ex/data/npm.tsv" --feed "$ex/data/pypi.tsv" --feed "$ex/data/debian.Packages")
seconds() { sed -n 's/.* stage events in \([0-9.]*\) s .*/\1/p' "$1"; }
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
first=() second=()
for i in 1 2 3; do
  rm -rf "$work/d"
  "$sluice" run "$ex/pipeline.yaml" "${feeds[@]}" --data "$work/d" >"$work/p1" 2>&1
  "$sluice" run "$ex/pipeline.yaml" "${feeds[@]}" --data "$work/d" --refeed >"$work/p2" 2>&1
  first+=("$(seconds "$work/p1")") second+=("$(seconds "$work/p2")")
done
parse=$(grep -E '^  parse ' "$work/p2")
read -r _ in done skipped failed queued <<<"$parse"
m1=$(median "${first[@]}") m2=$(median "${second[@]}")
echo "first pass (seconds):  ${first[*]}  median $m1"
echo "second pass (seconds): ${second[*]}  median $m2"
echo "second pass, parse: in $in, done $done, skipped $skipped"
awk -v s="$skipped" -v n="$in" -v a="$m1" -v b="$m2" 'BEGIN {
  printf "skipped %.2f%% of the second pass; it ran %.1fx faster (median over median)\n",
         100 * s / n, a / b }'
