#!/usr/bin/env bash
# The runtime's own cost (issue 15): three trivial stages (split a row; a
# tarball URL and its hash; a score upserted per package with a write
# counter) over the first N rows of a real npm list, embedded as a team
# would (bench_trivial: a sluice::node with its own behaviours), in one run:
# 1. flow: the rows fed from the file while the stages run: rows/s, CPU
#    per row (the whole process: runtime, LMDB, behaviours), peak RSS;
#    with an fsync per commit, and with --no-sync.
# 2. urgent: the rows fed, then 100 urgent rows injected 20 ms apart behind
#    the backlog, each timed from publish until done in the last stage
#    (publish_options::on_done); RSS with the backlog.
# 3. kills: SIGKILL at 25%, 50% and 75% of the input, a restart after each,
#    then to the end: rows lost and duplicated (each package's write
#    counter against its rows).
# Medians over the trials; fsync and --no-sync runs alternate.
#
# usage: bench/trivial_stages.sh [--rows-file F] [--rows N] [--trials T] [--keep]
#   --rows-file F  an npm list (TSV: name, version, downloads_a_month,
#                  summary); default: $SLUICE_NPM_TSV, else the bundled
#                  examples/package_trust/data/npm.tsv repeated under new
#                  names ("name~2") up to N rows
#   --rows N       default 200000
#   --trials T     default 3
#   --keep         keep the scratch directory
# Needs build/bin/bench_trivial (or $BENCH_TRIVIAL).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
bench="${BENCH_TRIVIAL:-$here/../build/bin/bench_trivial}"
rows_file="${SLUICE_NPM_TSV:-}" rows=200000 trials=3 keep=0
while (($#)); do
  case $1 in
    --rows-file) rows_file=$2; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
  esac
done
[[ -x $bench ]] || { echo "missing $bench: build it first (ninja bench_trivial)" >&2; exit 1; }
work=$(mktemp -d /var/tmp/sluice_trivial.XXXXXX)
cleanup() { if [[ $keep == 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

# The rows: the header, then the first N data rows.
if [[ -n $rows_file ]]; then
  [[ -r $rows_file ]] || { echo "cannot read $rows_file" >&2; exit 1; }
  head -n "$((rows + 1))" "$rows_file" >"$work/rows.tsv"
  source_name="$rows_file"
else
  awk -F'\t' -v OFS='\t' -v want="$rows" '
    NR == 1 { print; next }
    { base[++n] = $0 }
    END {
      for (i = 0; i < want; ++i) {
        split(base[i % n + 1], f, "\t"); c = int(i / n)
        if (c > 0) f[1] = f[1] "~" (c + 1)
        print f[1], f[2], f[3], f[4]
      }
    }' "$here/../examples/package_trust/data/npm.tsv" >"$work/rows.tsv"
  source_name="examples/package_trust/data/npm.tsv, repeated"
fi
have=$(($(wc -l <"$work/rows.tsv") - 1))

bench_header "three trivial stages, embedded (bench/trivial_stages.sh)"
echo "rows:    $have from $source_name; trials $trials"

field() { sed -E "s/.* $1=([^ ]+).*/\1/"; } # field NAME < line
only() { grep "^$1 " || true; } # the figures line; the node's logs go to the log
: >"$work/flow_sync" && : >"$work/flow_nosync" && : >"$work/urgent"
for t in $(seq 1 "$trials"); do
  for sync in --sync --no-sync; do
    line=$("$bench" --mode flow --rows "$work/rows.tsv" --data "$work/data" "$sync" 2>>"$work/log" | only flow)
    echo "trial $t flow $sync: $line"
    if [[ $sync == --sync ]]; then echo "$line" >>"$work/flow_sync"; else echo "$line" >>"$work/flow_nosync"; fi
  done
  line=$("$bench" --mode urgent --rows "$work/rows.tsv" --data "$work/data" 2>>"$work/log" | only urgent)
  echo "trial $t urgent: $line"
  echo "$line" >>"$work/urgent"
done
line=$("$bench" --mode kills --rows "$work/rows.tsv" --data "$work/data" 2>>"$work/log" | only kills) || {
  echo "$line"; echo "the kills lost or duplicated rows" >&2; exit 1; }
echo "kills: $line"

med() { field "$1" <"$2" | median; } # med FIELD FILE
echo
echo "medians of $trials:"
printf '  %-22s %12s %12s\n' "" "fsync" "--no-sync"
printf '  %-22s %12s %12s\n' "rows/s" "$(med rows_per_s "$work/flow_sync")" "$(med rows_per_s "$work/flow_nosync")"
printf '  %-22s %12s %12s\n' "CPU us per row" "$(med cpu_us_per_row "$work/flow_sync")" "$(med cpu_us_per_row "$work/flow_nosync")"
printf '  %-22s %12s %12s\n' "peak RSS MiB" "$(med peak_rss_mib "$work/flow_sync")" "$(med peak_rss_mib "$work/flow_nosync")"
echo "  urgent (fsync): p50 $(med p50_ms "$work/urgent") ms, p99 $(med p99_ms "$work/urgent") ms, max $(med max_ms "$work/urgent") ms behind a backlog of $(med backlog "$work/urgent"); RSS with the backlog $(med rss_backlog_mib "$work/urgent") MiB"
echo "  kill -9 at 25/50/75%: lost $(field lost <<<"$line"), duplicated $(field duplicated <<<"$line")"
