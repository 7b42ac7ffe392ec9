#!/usr/bin/env bash
# No duplicates across a failover (issue 14), end to end: three members a,
# b, c with R = 3, min_insync = 2, a 2 s lease and a real etcd 3.4 on free
# 127.0.0.1 ports, running the re-keying pipeline of tests/rekey (loaded as
# a plugin): rekey.route emits each posted package under a bucket key
# (bucket/00 .. bucket/63), so most events cross to another member between
# the stages, forwarded from the package's shard's outbox with its origin;
# rekey.tally counts per bucket the events and the package keys it saw.
#
# A poster feeds through a while the member of b and c owning more shards
# is killed -9, restarted and caught up, then the other, $kills kills in
# all: the promoted replicas of the killed owner's shards forward their
# copies of its outbox again, and the receivers must drop what they had
# queued already (per source shard, not per sender). It feeds on while the
# rebalance moves the owners back (a shard's emits and its consumption
# must not part when one of two shards moves). Then the posters stop
# and replication_scenarios.sh's checks run (rebalanced, quiet and in sync,
# outboxes empty, replica digests equal, a post through every member taken
# within 3 s and processed once, each stage's merged export equal to a
# single node fed every acknowledged body), and per bucket: no package key
# twice, events equal to the distinct keys, and the keys over all buckets
# exactly the acknowledged ones. About 35-90 s on 2 busy cores.
#
# usage: replication_dedupe_test.sh SLUICE_BINARY SOURCE_DIR REKEY_PLUGIN
# env:   SLUICE_DEDUPE_KILLS=N          kills (default 2)
#        SLUICE_DEDUPE_THROUGH_REBALANCE=0  the poster stops before the
#                                       rebalance moves the owners back
#        SLUICE_CLUSTER_WAIT=SECONDS    limit of each wait (default 60)
#        SLUICE_CLUSTER_KEEP=1          keep the work directory
#        SLUICE_ETCD=PATH               the etcd binary (default etcd)
set -euo pipefail

here=$(realpath -- "$(dirname -- "${BASH_SOURCE[0]}")")
if [[ $# -ne 3 ]]; then
  echo "usage: $0 SLUICE_BINARY SOURCE_DIR REKEY_PLUGIN" >&2
  exit 2
fi
plugin=$(realpath -- "$3")
# shellcheck source=SCRIPTDIR/lib.sh
source "$here/lib.sh"
driver_args "$1" "$2"
if [[ ! -f $plugin ]]; then
  echo "FAIL: the re-keying plugin $plugin does not exist" >&2
  exit 1
fi
pipeline=$(realpath -- "$2")/tests/rekey/pipeline.yaml
need_tools python3 timeout curl
use_python

wait_limit=${SLUICE_CLUSTER_WAIT:-60}
kills=${SLUICE_DEDUPE_KILLS:-2}
through_rebalance=${SLUICE_DEDUPE_THROUGH_REBALANCE:-1}
stages=(route tally)
probe_stage=route # tally is keyed by bucket, not by the posted keys
shards_total=1024
lease_ms=2000
if ! [[ $kills =~ ^[1-9][0-9]?$ ]]; then
  echo "FAIL: SLUICE_DEDUPE_KILLS must be 1 to 99, not '$kills'"
  exit 2
fi
need_etcd

# shellcheck source=SCRIPTDIR/checks.sh
source "$here/checks.sh"
# shellcheck source=SCRIPTDIR/partition_feed.sh
source "$here/partition_feed.sh"
# shellcheck source=SCRIPTDIR/replication_views.sh
source "$here/replication_views.sh"
# shellcheck source=SCRIPTDIR/replication_scenarios.sh
source "$here/replication_scenarios.sh"

make_work sluice_dedupe
make_secrets
# Every sluice the scripts run (members, consoles, the reference node,
# exports) loads the plugin: a wrapper that execs, so a member's PID is
# its own.
printf '#!/bin/sh\nexec %q --plugin %q "$@"\n' "$sluice" "$plugin" >"$work/sluice"
chmod +x "$work/sluice"
sluice=$work/sluice

# duplicates_dropped NAME...: sluice_cluster_duplicates_total summed over
# the members' /metrics (their current lives).
duplicates_dropped() {
  local n
  for n in "$@"; do curl -s --max-time 5 "${hook[$n]}/metrics" || true; done \
    | awk '/^sluice_cluster_duplicates_total/ { s += $2 } END { print s + 0 }'
}

# check_tallies DIR: in the merged export of tally (DIR/export/tally.tsv),
# every bucket's events equal its distinct package keys and none was
# repeated, and the keys over all buckets are exactly the acknowledged
# ones (DIR/acked.*), each in its own bucket.
check_tallies() {
  local dir=$1 out rc=0
  out=$("$py" - "$dir" <<'PY'
import glob, json, sys
d = sys.argv[1]
acked = [e["key"] for f in glob.glob(d + "/acked.*")
         for line in open(f) if line.strip() for e in json.loads(line)]
seen, events, bad = {}, 0, []
for line in open(d + "/export/tally.tsv"):
    bucket, state = line.rstrip("\n").split("\t", 1)
    t = json.loads(state)
    n, keys, rep = int(t["events"]), t["keys"], int(t["repeated_keys"])
    events += n
    if n != len(keys) or rep:
        bad.append("%s: %d events, %d keys, %d repeated (%s)"
                   % (bucket, n, len(keys), rep, "; ".join(t.get("repeats", [])[:3])))
    for k in keys:
        if k in seen:
            bad.append("%s in %s and %s" % (k, seen[k], bucket))
        seen[k] = bucket
missing = set(acked) - set(seen)
extra = set(seen) - set(acked)
print("%d buckets, %d events, %d distinct keys, %d acknowledged; %d missing, %d not acknowledged"
      % (len(set(seen.values())), events, len(seen), len(acked), len(missing), len(extra))
      + "".join("\n       " + b for b in bad[:5])
      + "".join("\n       missing: " + k for k in sorted(missing)[:3]))
sys.exit(1 if bad or missing or extra or len(acked) != len(set(acked))
         or events != len(acked) else 0)
PY
) || rc=$?
  check "$scenario: every acknowledged event counted exactly once in its bucket (${out%%$'\n'*})" test "$rc" -eq 0
  if [[ $rc -ne 0 ]]; then echo "$out" | tail -n +2; fi
}

dedupe_scenario() {
  scenario=ForwardedEventsCountedOnceAcrossKilledOwners
  echo "== $scenario"
  local dir=$work/d tag=d i v owned
  repl_start "$dir" "$tag" || { abandon "$dir"; return; }
  start_posters "$dir" "$tag" a
  sleep 1
  v=$(most_shards a b c)
  for i in $(seq 1 "$kills"); do
    owned=$(owned_by a "$v")
    check "$scenario: kill $i: $v owns shards when killed ($owned)" test "$owned" -gt 0
    measure_failover "$dir" "$tag" "$i" "$v" || { abandon "$dir"; return; }
    restart_member "$v" || { abandon "$dir"; return; }
    wait_members_up a 3 || { abandon "$dir"; return; }
    wait_replicated isr a b c || { abandon "$dir"; return; }
    if [[ $v == b ]]; then v=c; else v=b; fi
  done
  # Fed on through the rebalance that gives the restarted members their
  # shards back: owners that lose shards while fed append their
  # unreplicated events again (the epoch history's case), and a shard's
  # emits to another shard must move with its consumption (ARCHITECTURE,
  # "An emit to another shard always leaves through the outbox").
  if [[ $through_rebalance == 1 ]]; then
    wait_rebalanced moves a b c || { abandon "$dir"; return; }
  fi
  verify_replicated "$dir" "$tag" "$dir" || { abandon "$dir"; return; }
  note "$scenario: forwarded events the receivers dropped as received before (the members' current lives): $(duplicates_dropped a b c)"
  check_tallies "$dir"
  stop_nodes "${members[@]}"
}

t0=$(now_ms)
scenario=Etcd
start_etcd "$work/etcd" || exit 1
dedupe_scenario || true
if [[ ${#failover_ms[@]} -gt 0 ]]; then
  note "failover times (kill -9 -> gone from a's owner map and a post through a acknowledged): $(ms_stats "${failover_ms[@]}")"
fi
stop_etcd
echo "${passed} passed, ${failed} failed ($(secs $(($(now_ms) - t0))) s)"
[[ $failed -eq 0 ]]
