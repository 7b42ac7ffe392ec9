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
lists=/var/lib/apt/lists
index() { # suite-part of the list file name
  find "$lists" -maxdepth 1 -name "*_dists_$1_main_binary-amd64_Packages*" ! -name '*.diff_Index' | head -n 1
}
if [[ -z $(index bookworm) ]]; then
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_slices.XXXXXX")
trap 'rm -rf "$work"' EXIT
files=()
for suite in bookworm bookworm-updates bookworm-security; do
  f=$(index "$suite")
  if [[ -z $f ]]; then
    echo "no $suite main amd64 index in $lists (apt sources without $suite?)" >&2
    exit 1
  fi
  /usr/lib/apt/apt-helper cat-file "$f" >"$work/$suite.Packages"
  files+=("$work/$suite.Packages")
done
bench_header "slices of Debian's dependency graph"
"$bin" "$@" --repeat 3 "${files[@]}"
