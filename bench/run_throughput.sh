#!/usr/bin/env bash
# Runs bench_throughput's three measurements, (a) runtime, (b) plain loop and
# (c) raw LMDB, each in its own process (so (a)'s memory figures are its
# own), then prints the comparison table. Extra arguments go to every run,
# e.g. bench/run_throughput.sh --events 100000 --keys 10000
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${BENCH_THROUGHPUT:-$here/../build/bin/bench_throughput}"
report="$(mktemp "${TMPDIR:-/tmp}/sluice-throughput.XXXXXX")"
trap 'rm -f "$report"' EXIT
for mode in runtime loop lmdb; do
  "$bin" --only "$mode" --report "$report" "$@"
done
"$bin" --print-table "$report"
