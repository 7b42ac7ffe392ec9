#!/usr/bin/env bash
# Feed formats (issue 21): the same records as a TSV file and as JSON lines
# (key, attributes and the row as payload, as tests/cli/jsonl_test.sh
# writes them) through the example pipeline, `sluice run --no-sync` on a
# new data directory each time, TSV and JSON lines alternating: wall time
# and records/s, medians of REPEATS (default 5), and the ratio per pair.
# The records: the bundled npm list COPIES times (default 10), each copy's
# names suffixed so every record is a new key.
#
# usage: bench/feed_formats.sh [REPEATS] [COPIES]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/.."
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
repeats=${1:-5} copies=${2:-10}
sluice="$root/build/bin/sluice"
[[ -x $sluice ]] || { echo "build it first: cmake --build build --target sluice" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_feed_formats.XXXXXX")
trap 'rm -rf "$work"' EXIT
python3 - "$root/examples/package_trust/data/npm.tsv" "$work" "$copies" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
cols = lines[0].split("\t")
with open(f"{sys.argv[2]}/npm.tsv", "w") as tsv, open(f"{sys.argv[2]}/npm.jsonl", "w") as js:
    tsv.write(lines[0] + "\n")
    for c in range(int(sys.argv[3])):
        for row in lines[1:]:
            f = dict(zip(cols, row.split("\t")))
            f["name"] = f"{f['name']}-c{c}"
            tsv.write("\t".join(f.get(k, "") for k in cols) + "\n")
            js.write(json.dumps({"key": "npm/" + f["name"], "attributes": {"ecosystem": "npm"},
                                 "payload": f}) + "\n")
PY
records=$(($(wc -l <"$work/npm.tsv") - 1))
bench_header "Feed formats: TSV against JSON lines, example pipeline, --no-sync"
echo "records: $records (npm list x $copies); TSV $(du -h "$work/npm.tsv" | cut -f1), JSON lines $(du -h "$work/npm.jsonl" | cut -f1)"
run() { # run FORMAT N: ms of one run
  local start
  rm -rf "$work/data"
  start=$(now_ms)
  "$sluice" run "$root/examples/package_trust/pipeline.yaml" --data "$work/data" \
    --feed "$work/npm.$1" --no-sync -q
  echo $(($(now_ms) - start))
}
for r in $(seq "$repeats"); do
  t=$(run tsv) j=$(run jsonl)
  echo "pair $r: TSV $t ms ($((records * 1000 / t)) records/s), JSON lines $j ms ($((records * 1000 / j)) records/s), JSON/TSV time $(awk -v a="$j" -v b="$t" 'BEGIN{printf "%.2f", a/b}')"
  echo "$t" >>"$work/tsv"; echo "$j" >>"$work/jsonl"
  awk -v a="$j" -v b="$t" 'BEGIN{print a/b}' >>"$work/ratio"
done
t=$(median <"$work/tsv") j=$(median <"$work/jsonl")
echo "median: TSV $t ms ($(awk -v n="$records" -v t="$t" 'BEGIN{printf "%d", n*1000/t}') records/s), JSON lines $j ms ($(awk -v n="$records" -v t="$j" 'BEGIN{printf "%d", n*1000/t}') records/s); median ratio JSON/TSV time $(median <"$work/ratio" | awk '{printf "%.2f", $1}')"
