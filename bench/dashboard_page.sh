#!/usr/bin/env bash
# The web dashboard on a pipeline of 100 stages (dashboard_page.mjs): the
# time each view takes to draw a sample in Debian's chromium, the size of
# a sample, and the node's CPU with and without a page open. Installs
# chromium and puppeteer-core when missing (tests/browser/setup.sh).
#
# usage: bench/dashboard_page.sh [SLUICE_BINARY]   (SECONDS_PER_PHASE=20)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/bench/lib.sh"
sluice=$(realpath "${1:-$root/build/bin/sluice}")
"$root/tests/browser/setup.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_dashboard_bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
bench_header "dashboard: 100 stages in chromium"
node "$root/bench/dashboard_page.mjs" "$sluice" "$root" "$work"
