#!/usr/bin/env bash
# Slices of Debian's dependency graph (issue 19): bookworm main amd64 from
# this machine's apt indexes built into slices, then bookworm-updates and
# bookworm-security applied as later batches; each step timed against a
# full recompute of the partition in the same run (medians of 3 runs).
# Fetches the indexes with apt-get update when they are missing.
#
# usage: bench/slices_bench.sh [BENCH_SLICES_BINARY] [--min-in-degree N] [--recommends]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
bin="$here/../build/bin/bench_slices"
if [[ $# -gt 0 && $1 != --* ]]; then bin=$1; shift; fi
# shellcheck source=examples/debian_slices/indexes.sh
source "$here/../examples/debian_slices/indexes.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_slices.XXXXXX")
trap 'rm -rf "$work"' EXIT
files=()
for suite in bookworm bookworm-updates bookworm-security; do
  debian_index_file "$suite" "$work/$suite.Packages"
  files+=("$work/$suite.Packages")
done
bench_header "slices of Debian's dependency graph"
"$bin" "$@" --repeat 3 "${files[@]}"
