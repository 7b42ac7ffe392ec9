#!/usr/bin/env bash
# A real cluster of `sluice node` processes on 127.0.0.1 over the
# package_trust example (20,985 records): each stage's export, merged over
# the members, must equal a single-node `sluice run`'s.
#
#   1. three nodes (the third feeds) equal one node; every node owns shards,
#      the owned counts sum to 1024;
#   2. a fourth node joins while the work is in progress;
#   3. a member is killed with SIGKILL mid-run, the others see it suspect or
#      down, it is restarted with the same command line;
#   4. a node with a wrong secret is refused (both sides log it), a node
#      without a secret exits 2 naming SLUICE_CLUSTER_SECRET, and --secret
#      on the command line is not accepted;
#   5. every member gets the same --join list, its own address included:
#      bad lists are refused at once; b and c (not first in the list) wait
#      and log why; a (first) starts with the feeds and forms the cluster,
#      b and c join it, and the export equals one node's;
#   6. a change feed (GET /v1/feed/score) through a follows every shard
#      while b and c join (hand-offs), b is killed and restarted and the
#      subscriber itself is killed and resumes from its cursor: no gap, no
#      duplicate, and its view equals the members' merged export.
#
# Every node stops on SIGTERM with exit 0 at the end of its scenario. A
# cluster is quiet when every node is drained with an empty outbox, has no
# hand-off under way either way, and sees exactly the expected members up,
# in 3 polls in a row over at least 1 s. Nodes log at info level to
# NAME.log in the work directory; a failure prints their tails.
#
# usage: cluster_test.sh SLUICE_BINARY SOURCE_DIR
# env:   SLUICE_CLUSTER_SCENARIOS="1 5"  only these scenarios (default all)
#        SLUICE_CLUSTER_WAIT=SECONDS     limit of each wait (default 120)
#        SLUICE_CLUSTER_KEEP=1           keep the work directory
#        SLUICE_CLUSTER_TLS=1            members and consoles over mutual TLS
#                                        (a CA made in the work directory)
#
# The helpers live beside this driver: lib.sh (tally, JSON, the nodes and
# the waits), checks.sh (shards, exports), scenarios.sh (the scenarios).
set -euo pipefail

here=$(dirname -- "${BASH_SOURCE[0]}")
# shellcheck source=SCRIPTDIR/lib.sh
source "$here/lib.sh"
driver_args "$@"
feeds=(--feed "$example/data/npm.tsv" --feed "$example/data/pypi.tsv"
       --feed "$example/data/debian.Packages")
need_tools python3 timeout
use_python

scenarios=${SLUICE_CLUSTER_SCENARIOS:-1 2 3 4 5 6}
wait_limit=${SLUICE_CLUSTER_WAIT:-120} # seconds any single wait may take
stages=(parse enrich score)
records=20985
shards_total=1024

# shellcheck source=SCRIPTDIR/checks.sh
source "$here/checks.sh"
# shellcheck source=SCRIPTDIR/scenarios.sh
source "$here/scenarios.sh"

make_work sluice_cluster
make_secrets
make_tls

# -- the single-node reference ------------------------------------------------

needs_ref=0
for s in $scenarios; do
  case $s in
    1 | 2 | 3 | 5) needs_ref=1 ;;
    6) ;;
    4) ;;
    *) echo "FAIL: unknown scenario '$s' in SLUICE_CLUSTER_SCENARIOS (1 to 6)"; exit 2 ;;
  esac
done
if [[ $needs_ref == 1 ]]; then
  mkdir -p "$work/ref"
  t0=$(now_ms)
  rc=0
  timeout 600 "$sluice" run "$pipeline" "${feeds[@]}" --data "$work/ref/data" -q \
    2>"$work/ref/stderr.log" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "FAIL: the single-node reference run exited $rc; its stderr:"
    tail -n 20 "$work/ref/stderr.log" | sed 's/^/      /'
    exit 1
  fi
  for s in "${stages[@]}"; do
    if ! "$sluice" export --data "$work/ref/data" --stage "$s" 2>"$work/ref/$s.err" \
        | LC_ALL=C sort >"$work/ref/$s.tsv"; then
      echo "FAIL: export of stage $s from the reference run failed: $(cat "$work/ref/$s.err")"
      exit 1
    fi
  done
  n=$(wc -l <"$work/ref/score.tsv")
  echo "reference run: $(secs $(($(now_ms) - t0))) s, $n keys in stage score"
  if [[ $n -ne $records ]]; then
    echo "FAIL: the reference run exported $n keys from stage score, expected $records"
    exit 1
  fi
fi

for s in $scenarios; do
  "scenario_$s"
done

echo "${passed} passed, ${failed} failed"
[[ $failed -eq 0 ]]
