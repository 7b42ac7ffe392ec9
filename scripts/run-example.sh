#!/usr/bin/env bash
# The main job: build, then run the package_trust pipeline on the bundled
# real registry records (npm, PyPI, Debian) with one embedded node, and show
# a few of the results. Run it again to see a finished run resume at once.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh sluice
data="${SLUICE_DATA:-var/package_trust}"
rm -rf "$data"
ex=examples/package_trust
./build/bin/sluice run $ex/pipeline.yaml --data "$data" \
  --feed $ex/data/npm.tsv --feed $ex/data/pypi.tsv --feed $ex/data/debian.Packages
echo
echo "Lowest trust scores (sluice export --data $data --stage score):"
./build/bin/sluice export --data "$data" --stage score \
  | awk -F'\t' '{ match($2, /"score":[0-9]+/); s = substr($2, RSTART + 8, RLENGTH - 8);
                  match($2, /"typosquat_target":"[^"]*"/); t = substr($2, RSTART, RLENGTH);
                  print s "\t" $1 "\t" t }' \
  | sort -n | awk 'NR <= 8'
