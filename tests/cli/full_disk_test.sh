#!/usr/bin/env bash
# A full disk under `sluice run`: the example's 20,985 real records into a
# data directory on a 16 MiB tmpfs (it needs about 45). The run exits 1 and
# the error names the cause (no space left on the file system that holds
# the data directory, with the space left and what to do) instead of
# LMDB's bare "Input/output error"; the directory, moved to a larger disk,
# resumes and finishes with an uninterrupted run's exports: nothing
# committed was lost. Needs root (mount); without it the test fails saying
# why.
#
# usage: full_disk_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice=$(realpath "$1") src=$(realpath "$2")
here=$(dirname -- "${BASH_SOURCE[0]}")
# shellcheck source=SCRIPTDIR/lib.sh
source "$here/lib.sh"
setup_work full_disk
small=$work/small
mkdir -p "$small"
unmount() { umount "$small" 2>/dev/null; cleanup_work; }
trap unmount EXIT
if ! mount -t tmpfs -o size=16m tmpfs "$small" 2>"$work/mount.err"; then
  echo "FAIL: this test needs to mount a 16 MiB tmpfs (root): $(cat "$work/mount.err")"
  exit 1
fi
cd "$work" || exit 1
pipeline=$src/examples/package_trust/pipeline.yaml
data=$src/examples/package_trust/data
feeds=(--feed "$data/npm.tsv" --feed "$data/pypi.tsv" --feed "$data/debian.Packages")

"$sluice" run "$pipeline" "${feeds[@]}" --data ref -q 2>ref.err
check "reference run: exit 0" test $? -eq 0

"$sluice" run "$pipeline" "${feeds[@]}" --data "$small/d" -q 2>full.err
rc=$?
check "full disk: exit 1 (got $rc)" test "$rc" -eq 1
check "full disk: the cause is named" grep -q "sluice: the node stopped: storage: $small/d: commit: no space left on the file system that holds $small/d (.* KiB free of 16 MiB): free space there or move the data directory to a larger disk, then start again; nothing committed was lost" full.err
if ((failed)); then tail -n 3 full.err; fi

cp -a "$small/d" moved
"$sluice" run "$pipeline" "${feeds[@]}" --data moved -q 2>moved.err
check "moved to a larger disk: resumes, exit 0" test $? -eq 0
for s in parse enrich score; do
  "$sluice" export --data ref --stage "$s" >"ref.$s.tsv"
  "$sluice" export --data moved --stage "$s" >"moved.$s.tsv"
  check "moved and resumed: $s equals an uninterrupted run's" cmp -s "ref.$s.tsv" "moved.$s.tsv"
done
finish
