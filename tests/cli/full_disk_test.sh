#!/usr/bin/env bash
# A full disk, on a 16 MiB tmpfs (the example needs about 45).
#
# Under `sluice run` (the example's 20,985 real records): the run exits 1
# and the error names the cause (no space left on the file system that
# holds the data directory, with the space left and what to do) instead of
# LMDB's bare "Input/output error"; the directory, moved to a larger disk,
# resumes and finishes with an uninterrupted run's exports: nothing
# committed was lost.
#
# A serving node (`run --serve --http`) fed 16,008 real npm and PyPI
# records through the signed webhook: it does not stop. Input pauses:
# /readyz says why, sluice_input_paused is 1, a post gets 503 with
# Retry-After and the reason, while reads (GET /v1/keys, export) are
# served. The file system grown (remount), it resumes by itself: the
# refused post is accepted when sent again, everything drains, and every
# stage's export equals that of a node fed the same on a large disk.
#
# Needs root (mount); without it the test fails saying why.
#
# usage: full_disk_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice=$(realpath "$1") src=$(realpath "$2")
here=$(cd "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
source "$here/lib.sh"
setup_work full_disk
small=$work/small
mkdir -p "$small"
serve_pid=""
stop_serving() {
  if [[ -n "$serve_pid" ]]; then
    kill "$serve_pid" 2>/dev/null
    wait "$serve_pid" 2>/dev/null
    serve_pid=""
  fi
}
unmount() { stop_serving; umount "$small" 2>/dev/null; cleanup_work; }
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
check "full disk: the cause is named" grep -q "sluice: the node stopped: no space: $small/d: commit: no space left on the file system that holds $small/d (.* KiB free of 16 MiB): free space there (a serving node resumes by itself) or move the data directory to a larger disk and start again; nothing committed was lost" full.err
if ((failed)); then tail -n 3 full.err; fi

cp -a "$small/d" moved
"$sluice" run "$pipeline" "${feeds[@]}" --data moved -q 2>moved.err
check "moved to a larger disk: resumes, exit 0" test $? -eq 0
for s in parse enrich score; do
  "$sluice" export --data ref --stage "$s" >"ref.$s.tsv"
  "$sluice" export --data moved --stage "$s" >"moved.$s.tsv"
  check "moved and resumed: $s equals an uninterrupted run's" cmp -s "ref.$s.tsv" "moved.$s.tsv"
done

# -- a serving node fed through the webhook --------------------------------
printf 'full-disk-%s\n' "$RANDOM" >key
export SLUICE_TOKEN="full-disk-token-$RANDOM"
chmod 600 key
late() { # one more record, posted after the feed
  printf '{"topic":"registry","key":"npm/late-pkg","id":"npm/late-pkg","payload":{"name":"late-pkg","version":"1.0.0","downloads_a_month":"77","summary":"late"},"attributes":{"ecosystem":"npm","format":"tsv"}}' >late.json
  curl -s -o late.out -D late.hdr -w '%{http_code}' -X POST \
    -H "Content-Type: application/json" \
    -H "X-Sluice-Signature: $(sign key late.json)" \
    --data-binary @late.json "$base/v1/events"
}
serve() { # serve DIR LOG: a node on a new port; $base is its URL
  port=$(free_port) base="http://127.0.0.1:$port"
  "$sluice" run "$pipeline" --data "$1" --http "127.0.0.1:$port" \
    --hmac-key-file key --serve -q 2>>"$2" &
  serve_pid=$!
  for _ in $(seq 1 200); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" == 200 ]] && return 0
    sleep 0.05
  done
  echo "FAIL: the node on $1 did not become ready"; cat "$2"; exit 1
}
metric() { curl -s "$base/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2 } END { print s + 0 }'; }
drained() { # everything posted went through every stage
  for _ in $(seq 1 600); do
    [[ "$(metric sluice_stage_queue_depth)" == 0 ]] && return 0
    sleep 0.1
  done
  return 1
}
records=("$data/npm.tsv" "$data/pypi.tsv")
export_all() { # export_all DIR PREFIX
  for s in parse enrich score; do
    "$sluice" export --data "$1" --stage "$s" >"$2.$s.tsv"
  done
}

serve served_ref served_ref.log
python3 "$here/webhook_feeder.py" "$base" key ref.feed "${records[@]}"
check "reference node: the feeder posted everything" test $? -eq 0
check "reference node: the late post gets 200" test "$(late)" == 200
check "reference node: drains" drained
stop_serving
export_all served_ref served_ref

rm -rf "${small:?}"/*
serve "$small/s" served_small.log # the log on a disk with room
python3 "$here/webhook_feeder.py" "$base" key small.feed "${records[@]}" &
feeder=$!
for _ in $(seq 1 1200); do
  [[ "$(metric sluice_input_paused)" == 1 ]] && break
  sleep 0.1
done
check "full disk: input paused (sluice_input_paused 1)" test "$(metric sluice_input_paused)" == 1
check "full disk: the node still runs" kill -0 "$serve_pid"
code=$(curl -s -o readyz.out -w '%{http_code}' "$base/readyz")
check "full disk: /readyz is 503 (got $code)" test "$code" == 503
check "full disk: /readyz names the cause" grep -q "\"ready\":false,\"reason\":\"input paused: $small/s: commit: no space left on the file system that holds $small/s" readyz.out
code=$(late)
check "full disk: a post gets 503 (got $code)" test "$code" == 503
check "full disk: with Retry-After: 5" grep -qi '^Retry-After: 5' late.hdr
check "full disk: and the reason" grep -q '"error":"input paused: .*no space left' late.out
check "full disk: the log says input paused" grep -q "input paused (new events refused, reads served)" served_small.log
"$sluice" export --data "$small/s" --stage score >paused.score.tsv
check "full disk: export beside the paused node works" test $? -eq 0
known=$(awk -F'\t' 'NR == 2 { print $1 }' paused.score.tsv)
code=$(curl -s -o key.out -w '%{http_code}' -H "Authorization: Bearer $SLUICE_TOKEN" "$base/v1/keys/score/$known")
check "full disk: GET /v1/keys/score/$known is served (got $code)" test "$code" == 200

mount -o remount,size=256m "$small"
wait "$feeder"
check "space returned: the feeder posted everything" test $? -eq 0
for _ in $(seq 1 100); do
  code=$(late)
  [[ "$code" == 503 ]] || break
  sleep 0.1
done
check "space returned: the late post sent again gets 200 (got $code)" test "$code" == 200
check "space returned: drains" drained
check "space returned: sluice_input_paused 0" test "$(metric sluice_input_paused)" == 0
check "space returned: /readyz 200" test "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" == 200
check "space returned: the log says input resumed" grep -q "input resumed: the commit succeeded after" served_small.log
stop_serving
export_all "$small/s" served_small
for s in parse enrich score; do
  check "paused and resumed: $s equals the reference node's" cmp -s "served_ref.$s.tsv" "served_small.$s.tsv"
done
finish
