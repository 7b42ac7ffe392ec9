#!/usr/bin/env bash
# Replicated shards (issue 14): three real members a, b, c with R = 3,
# min_insync = 2, a 2 s lease and a real etcd 3.4 that this test starts on
# free 127.0.0.1 ports, fed through their webhooks by posters that log every
# acknowledged body (replication_scenarios.sh):
#
#   1. while a poster feeds through a, the one of b and c that owns more
#      shards is killed -9, then the other, five kills in a row: each
#      failover timed (its shards gone from a's owner map and a new post
#      through a acknowledged), then it restarts on its data directory,
#      gives its old shards up and catches up; a subscriber follows the
#      score stage's change feed through a all along, a second through b
#      starts cold after the first kill (a snapshot under load) and
#      resumes after each of b's kills; at the end each has had no reset,
#      no change twice or skipped, and the merged export's view (every
#      change and state they got was held by min_insync members);
#   2. c killed -9 and its data directory wiped while a and b are fed; c
#      restarts under its name and rebuilds its copies from the owners;
#   3. the member owning the most shards SIGSTOPped for 5 s (beyond the
#      lease) while every member is fed, then SIGCONT: its shards fail over
#      meanwhile, it gives them up and catches up;
#   4. scale-out: c joins a and b; the rebalance gives it its shards;
#   5. as 2 with R = 2 and min_insync 1 (replication_scenarios.sh says
#      why 1);
#   6. a key's state records damaged in its owner's data file while it
#      runs: its next event makes the owner give the shard to an in-sync
#      replica (no dead letter), drop its copy and take a snapshot back;
#   7. as 3 with R = 2 and min_insync 2: the failover keeps the stopped
#      owner in its shards' isr; continued, it leaves the isr before it
#      drops its records (a later failover to it would find nothing).
#
# After each: the posters stop (each had every body acknowledged); the
# cluster goes quiet and in sync (outboxes empty, no lag, no shard under-
# replicated or without owner, one owner map, every copy at its owner's
# position with its digest); a new post is acknowledged within 3 s through
# every member, and the members' counters grow by exactly a single node's
# for those posts; each stage's merged export equals a single node fed
# every acknowledged body; the members stop on SIGTERM with exit 0.
# Counters over the whole run are only printed: a process killed -9 takes
# its counters with it, and work redone after a failover counts again.
# etcd-server is installed with apt-get when etcd is missing.
#
# usage: replication_test.sh SLUICE_BINARY SOURCE_DIR
# env:   SLUICE_REPLICATION_SCENARIOS="1 3"  these scenarios (default 1 to 7)
#        SLUICE_CLUSTER_WAIT=SECONDS          limit of each wait (default 60)
#        SLUICE_CLUSTER_KEEP=1                keep the work directory
#        SLUICE_ETCD=PATH                     the etcd binary (default etcd)
set -euo pipefail

here=$(realpath -- "$(dirname -- "${BASH_SOURCE[0]}")")
# shellcheck source=SCRIPTDIR/lib.sh
source "$here/lib.sh"
driver_args "$@"
need_tools python3 timeout curl
use_python

scenarios=${SLUICE_REPLICATION_SCENARIOS:-1 2 3 4 5 6 7}
wait_limit=${SLUICE_CLUSTER_WAIT:-60}
stages=(parse enrich score)
shards_total=1024
kills=5        # scenario 1's kills
stop_ms=5000   # scenario 3's SIGSTOP
lease_ms=2000  # --lease-ttl
for s in $scenarios; do
  case $s in
    1 | 2 | 3 | 4 | 5 | 6 | 7) ;;
    *) echo "FAIL: unknown scenario '$s' in SLUICE_REPLICATION_SCENARIOS (1 to 7)"; exit 2 ;;
  esac
done
need_etcd

# shellcheck source=SCRIPTDIR/checks.sh
source "$here/checks.sh"
# shellcheck source=SCRIPTDIR/partition_feed.sh
source "$here/partition_feed.sh"
# shellcheck source=SCRIPTDIR/replication_views.sh
source "$here/replication_views.sh"
# shellcheck source=SCRIPTDIR/replication_scenarios.sh
source "$here/replication_scenarios.sh"

make_work sluice_replication
make_secrets

t0=$(now_ms)
scenario=Etcd
"$etcd_bin" --version | sed -n 1p | sed 's/^/     /'
start_etcd "$work/etcd" || exit 1
note "etcd on $controller: $(secs $(($(now_ms) - t0))) s"
for s in $scenarios; do
  "replication_$s" || true # its failures are counted; the next one still runs
done
if [[ ${#failover_ms[@]} -gt 0 ]]; then
  note "failover times (kill -9 -> gone from a's owner map and a post through a acknowledged): $(ms_stats "${failover_ms[@]}")"
fi
stop_etcd

echo "${passed} passed, ${failed} failed ($(secs $(($(now_ms) - t0))) s)"
[[ $failed -eq 0 ]]
