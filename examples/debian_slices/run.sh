#!/usr/bin/env bash
# The debian_slices pipeline (README.md): builds, then runs bookworm main
# amd64 into slices, then bookworm-security as a later batch (and
# bookworm-updates with --real), each batch one `sluice run` resuming the
# same data directory, and shows the slices and a few jobs' results.
#
#   examples/debian_slices/run.sh          the bundled sample (2,538 packages)
#   examples/debian_slices/run.sh --real   this machine's apt indexes (63,000)
set -euo pipefail
cd "$(dirname "$0")/../.."
ex=examples/debian_slices
mode=${1:---sample}
case $mode in
  --sample | --real) ;;
  *) echo "usage: $ex/run.sh [--sample | --real]" >&2; exit 2 ;;
esac
./scripts/build.sh sluice debian_slices_chunk
data="${SLUICE_DATA:-var/debian_slices}"
work=$(mktemp -d "${TMPDIR:-/tmp}/debian_slices.XXXXXX")
trap 'rm -rf "$work"' EXIT
tenant=bookworm/amd64
batches=()
if [[ $mode == --sample ]]; then
  cp $ex/data/bookworm_main_sample.Packages "$work/1-bookworm.Packages"
  cp $ex/data/bookworm_security_sample.Packages "$work/2-bookworm-security.Packages"
  batches=(1-bookworm 2-bookworm-security)
else
  # shellcheck source=examples/debian_slices/indexes.sh
  source $ex/indexes.sh
  n=0
  for suite in bookworm bookworm-updates bookworm-security; do
    n=$((n + 1))
    debian_index_file "$suite" "$work/$n-$suite.Packages"
    batches+=("$n-$suite")
  done
fi
rm -rf "$data"
for b in "${batches[@]}"; do
  ./build/bin/debian_slices_chunk --tenant "$tenant" "$work/$b.Packages" >"$work/$b.jsonl"
  echo
  echo "== batch ${b#*-}: $(grep -c '^Package:' "$work/$b.Packages") packages"
  start=$EPOCHREALTIME
  ./build/bin/sluice run $ex/pipeline.yaml --data "$data" --feed "$work/$b.jsonl"
  secs=$(python3 -c "print($EPOCHREALTIME - $start)")
  ./build/bin/sluice export --data "$data" --stage slices \
    | python3 $ex/show.py batch "$secs" "$tenant" "$work/changes.json"
done
echo
echo "The job stage's results:"
./build/bin/sluice export --data "$data" --stage job | python3 $ex/show.py jobs
echo
echo "Inspect: ./build/bin/sluice export --data $data --stage slices   (the controller: slices, largest, last change)"
echo "         ./build/bin/sluice export --data $data --stage job      (one result per slice)"
