#!/usr/bin/env bash
# Backups with real processes: `sluice backup` taken again and again while
# a node runs the example over 20,985 real records (fsync on), one taken
# mid-run restored with `sluice restore`, and the restored directory run to
# the end with the same feeds: every stage's export equals an uninterrupted
# run's (the backup held states, queues and feed offsets of one commit).
# The node that was backed up finishes with the same exports. Bad input:
# a missing data directory, a backup over a backup, a restore over a data
# directory, a backup that is no Sluice data, each exit 2 naming it.
#
# usage: backup_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice=$(realpath "$1") src=$(realpath "$2")
here=$(dirname -- "${BASH_SOURCE[0]}")
# shellcheck source=SCRIPTDIR/lib.sh
source "$here/lib.sh"
setup_work backup
cd "$work" || exit 1
pipeline=$src/examples/package_trust/pipeline.yaml
data=$src/examples/package_trust/data
feeds=(--feed "$data/npm.tsv" --feed "$data/pypi.tsv" --feed "$data/debian.Packages")
stages=(parse enrich score)

exports() { # DIR TAG: each stage's export into TAG.STAGE.tsv
  local s
  for s in "${stages[@]}"; do
    "$sluice" export --data "$1" --stage "$s" >"$2.$s.tsv" 2>"$2.$s.err"
  done
}

# The reference: one uninterrupted run.
"$sluice" run "$pipeline" "${feeds[@]}" --data ref -q 2>ref.err
check "reference run: exit 0" test $? -eq 0
exports ref ref
total=$(wc -l <ref.score.tsv)
check "reference: score has keys ($total)" test "$total" -gt 10000

# The node to back up: small commits, so that it runs for a while.
"$sluice" run "$pipeline" "${feeds[@]}" --data live --commit-batch 64 -q 2>live.err &
node_pid=$!
mid=""
for i in $(seq 1 400); do
  "$sluice" backup --data live --out "b$i" >"b$i.out" 2>"b$i.err" || { sleep 0.05; continue; }
  n=$("$sluice" export --data "b$i" --stage score 2>/dev/null | wc -l)
  if ((n > 0 && n < total)); then
    mid=b$i
    break
  fi
  rm -rf "b$i"
  kill -0 "$node_pid" 2>/dev/null || break
done
check "a backup was taken mid-run (score had $n of $total keys)" test -n "$mid"
check "backup: says where and how to restore" grep -q "restore with: sluice restore --from $mid" "$mid.out"
check "backup: data.mdb is 0600" test "$(stat -c %a "$mid/data.mdb")" == 600
check "backup: its directory is 0700" test "$(stat -c %a "$mid")" == 700
wait "$node_pid"
check "the node backed up finishes: exit 0" test $? -eq 0
node_pid=""
exports live live
for s in "${stages[@]}"; do
  check "the node backed up: $s equals the reference" cmp -s "ref.$s.tsv" "live.$s.tsv"
done

# Restore the mid-run backup and run it to the end.
"$sluice" restore --from "$mid" --data restored >restore.out 2>&1
check "restore: exit 0" test $? -eq 0
check "restore: data.mdb is 0600" test "$(stat -c %a restored/data.mdb)" == 600
check "restore: says it resumes from the backup's point" grep -q "resumes from the backup's point" restore.out
"$sluice" run "$pipeline" "${feeds[@]}" --data restored -q 2>restored.err
check "the restored directory runs to the end: exit 0" test $? -eq 0
exports restored restored
for s in "${stages[@]}"; do
  check "restored and resumed: $s equals the reference" cmp -s "ref.$s.tsv" "restored.$s.tsv"
done

# Bad input: exit 2, the directory named, nothing overwritten.
"$sluice" backup --data nowhere --out b.none >out 2>&1
check "backup of a missing directory: exit 2" test $? -eq 2
check "backup of a missing directory: names it" grep -q "no Sluice data in nowhere (data.mdb is missing)" out
"$sluice" backup --data ref --out "$mid" >out 2>&1
check "backup over a backup: exit 2" test $? -eq 2
check "backup over a backup: says so" grep -q "$mid already holds a data.mdb" out
"$sluice" restore --from "$mid" --data restored >out 2>&1
check "restore over a data directory: exit 2" test $? -eq 2
check "restore over a data directory: says so" grep -q "restored already holds a data directory" out
mkdir -p empty
"$sluice" restore --from empty --data r2 >out 2>&1
check "restore from a directory without data: exit 2" test $? -eq 2
check "restore from a directory without data: names it" grep -q "no Sluice data in empty (data.mdb is missing)" out
mkdir -p junk && head -c 65536 /dev/urandom >junk/data.mdb
"$sluice" restore --from junk --data r3 >out 2>&1
check "restore from bytes that are no LMDB: exit 2" test $? -eq 2
check "restore from bytes that are no LMDB: names it ($(head -c 200 out))" grep -q "junk" out
check "a refused restore makes no data directory" test ! -e r3/data.mdb
finish
