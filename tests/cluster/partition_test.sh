#!/usr/bin/env bash
# Network partitions of a real three-member cluster (R = 1, today's
# semantics: a member cut off keeps its shards, the others hold its traffic
# in their outboxes). Each member runs in its own network namespace
# (netns.sh: 127.77.0.N on a bridge in a namespace of its own, cuts as
# nftables bridge rules) and is fed through its webhook all along:
#
#   1. c is cut off from a and b for 5 s, then healed;
#   2. a bridge: b and c cannot reach each other, a reaches both, 5 s;
#   3. (only when asked for) c joins through a while b and c cannot reach
#      each other: b's hand-off to c waits for the heal.
#
# After each heal: every member acknowledges new events within 3 s, and
# they reach the last stage within 3 s more; once quiet (outboxes empty,
# all up), the owner maps agree, each stage's merged export equals a single
# node fed the same acknowledged bodies, and the members' done, skipped and
# failed counters per stage add up to the single node's (each acknowledged
# event processed once at every stage).
#
# Needs root (CI runs as root): without network namespaces the test says why
# and FAILS. nftables is installed with apt-get when missing.
#
# usage: partition_test.sh SLUICE_BINARY SOURCE_DIR
# env:   SLUICE_PARTITION_SCENARIOS="1 3"  these scenarios (default 1 2)
#        SLUICE_CLUSTER_WAIT=SECONDS      limit of each wait (default 60)
#        SLUICE_CLUSTER_KEEP=1            keep the work directory
set -euo pipefail

here=$(realpath -- "$(dirname -- "${BASH_SOURCE[0]}")")
# shellcheck source=SCRIPTDIR/lib.sh
source "$here/lib.sh"
driver_args "$@"
need_tools python3 timeout curl
use_python

scenarios=${SLUICE_PARTITION_SCENARIOS:-1 2}
wait_limit=${SLUICE_CLUSTER_WAIT:-60}
stages=(parse enrich score)
shards_total=1024
cut_ms=5000 # how long each partition lasts
for s in $scenarios; do
  case $s in
    1 | 2 | 3) ;;
    *) echo "FAIL: unknown scenario '$s' in SLUICE_PARTITION_SCENARIOS (1 to 3)"; exit 2 ;;
  esac
done

# shellcheck source=SCRIPTDIR/checks.sh
source "$here/checks.sh"
# shellcheck source=SCRIPTDIR/netns.sh
source "$here/netns.sh"
# shellcheck source=SCRIPTDIR/partition_scenarios.sh
source "$here/partition_scenarios.sh"
# shellcheck source=SCRIPTDIR/partition_feed.sh
source "$here/partition_feed.sh"

make_work sluice_partition
t0=$(now_ms)
make_netns 3
make_secrets

check_harness
for s in $scenarios; do
  "partition_$s" || true # its failures are counted; the next one still runs
done

echo "${passed} passed, ${failed} failed ($(secs $(($(now_ms) - t0))) s)"
[[ $failed -eq 0 ]]
