#!/usr/bin/env bash
# Damage at random offsets of a data file (seeded, many trials), with real
# processes over the example's 8,020 real npm records:
#  - no command crashes: `sluice check` exits 0, 1 or 2, `sluice export`
#    fails cleanly (never by a signal);
#  - no damaged value is served: every line an export prints is a line of
#    the undamaged export;
#  - damage is noticed: when `sluice check` says clean, every export equals
#    the undamaged one; when it says damaged, it names the database (also
#    when LMDB itself crashed on a page, in the isolated walk);
#  - a run over a damaged copy (the feed again) never crashes;
#  - one damaged state: `check` names its key; `export` leaves it out,
#    names it, exports every other key and exits 1.
#
# usage: damage_test.sh SLUICE_BINARY SOURCE_DIR [TRIALS] [SEED]
set -uo pipefail
sluice=$(realpath "$1") src=$(realpath "$2")
trials=${3:-36} seed=${4:-20261206}
here=$(dirname -- "${BASH_SOURCE[0]}")
# shellcheck source=SCRIPTDIR/lib.sh
source "$here/lib.sh"
setup_work damage
cd "$work" || exit 1
pipeline=$src/examples/package_trust/pipeline.yaml
feed=$src/examples/package_trust/data/npm.tsv
stages=(parse enrich score)

exports() { # DIR TAG: each stage's export into TAG.STAGE.tsv; the exit codes
  local s codes=""
  for s in "${stages[@]}"; do
    "$sluice" export --data "$1" --stage "$s" >"$2.$s.tsv" 2>"$2.$s.err"
    codes+="$? "
  done
  echo "$codes"
}

# damage FILE SEED: overwrites bytes of FILE at a seeded random place: a
# few bytes, a run of them, or a whole page.
damage() {
  python3 - "$1" "$2" <<'PY'
import os, random, sys
path, seed = sys.argv[1], int(sys.argv[2])
r = random.Random(seed)
size = os.path.getsize(path)
kind = r.choice(["bytes", "run", "page"])
if kind == "page":
    off = r.randrange(size // 4096) * 4096
    data = bytes(r.randrange(256) for _ in range(4096))
elif kind == "run":
    off = r.randrange(size - 256)
    data = bytes(r.randrange(256) for _ in range(r.randrange(16, 256)))
else:
    off = r.randrange(size - 4)
    data = bytes(r.randrange(256) for _ in range(r.randrange(1, 4)))
with open(path, "r+b") as f:
    f.seek(off)
    f.write(data)
print(f"{kind} of {len(data)} bytes at {off}")
PY
}

"$sluice" run "$pipeline" --feed "$feed" --data ref -q 2>ref.err
check "reference run: exit 0" test $? -eq 0
check "reference exports: exit 0" test "$(exports ref ref)" == "0 0 0 "
check "reference: score has keys" test "$(wc -l <ref.score.tsv)" -gt 5000
"$sluice" export --data ref --stage score 2>pipe.err | head -n 1 >/dev/null
rc=${PIPESTATUS[0]}
check "a reader that goes away (| head) stops export as a pipe does (exit $rc)" test "$rc" -eq 141
check "and is no damage: nothing said" test ! -s pipe.err
"$sluice" check --data ref >check.out 2>&1
check "check of the undamaged directory: exit 0" test $? -eq 0
check "check: says clean, and how much it read" grep -q "ref is clean: .* records in .* databases (format 4, every value checksummed)" check.out

crashed=0 served=0 unnoticed=0 noticed=0 unnamed=0
for i in $(seq 1 "$trials"); do
  d=t$i
  mkdir "$d" && cp ref/data.mdb "$d/"
  what=$(damage "$d/data.mdb" $((seed + i)))
  "$sluice" check --data "$d" >"$d.check" 2>&1
  rc=$?
  codes=$(exports "$d" "$d")
  for c in $rc $codes; do
    if ((c >= 128)); then
      echo "trial $i ($what): a command died (exit $c)"; cat "$d.check"
      crashed=$((crashed + 1))
    fi
  done
  for s in "${stages[@]}"; do
    if [[ -n "$(comm -23 <(sort "$d.$s.tsv") <(sort "ref.$s.tsv"))" ]]; then
      echo "trial $i ($what): export of $s served a line the undamaged one does not have"
      served=$((served + 1))
    fi
  done
  if ((rc == 0)); then
    for s in "${stages[@]}"; do
      if ! cmp -s "$d.$s.tsv" "ref.$s.tsv"; then
        echo "trial $i ($what): check said clean, export of $s differs"
        unnoticed=$((unnoticed + 1))
      fi
    done
  elif ((rc == 1)); then
    noticed=$((noticed + 1))
    grep -q "database '" "$d.check" || { echo "trial $i: check named no database"; cat "$d.check"; unnamed=$((unnamed + 1)); }
  fi
  # Every few trials, the feed again over the damaged copy.
  if ((i % 6 == 0)); then
    "$sluice" run "$pipeline" --feed "$feed" --data "$d" -q >"$d.run" 2>&1
    rc=$?
    if ((rc >= 128)); then
      echo "trial $i ($what): sluice run died (exit $rc)"; tail -5 "$d.run"
      crashed=$((crashed + 1))
    fi
  fi
  rm -rf "$d"
done
echo "$trials trials: damage noticed by check in $noticed"
check "no command crashed on damaged data" test "$crashed" -eq 0
check "no damaged value was served" test "$served" -eq 0
check "check said clean only when every export was whole" test "$unnoticed" -eq 0
check "every damage found was named by database" test "$unnamed" -eq 0
check "some trials damaged live data (noticed $noticed)" test "$noticed" -gt 0

# A damaged state value, found by its bytes: its key's events are
# dead-lettered naming the database and key, the others go on.
mkdir one && cp ref/data.mdb one/
key=$(awk -F'\t' 'NR == 100 { print $1 }' ref.score.tsv)
python3 - one/data.mdb "$key" <<'PY'
import struct, sys
path, key = sys.argv[1], sys.argv[2].encode()
data = bytearray(open(path, "rb").read())
# A state record in an LMDB leaf: a node header (data size u32, flags u16,
# key size u16, little-endian), the key (stage id u32 big-endian, then the
# key), then the value (version u64, KeyState, checksum). Flip one bit in
# the KeyState of each stage's record of the key.
flipped = 0
at = data.find(key)
while at >= 0:
    start = at - 4
    if start >= 8 and data[start:start + 3] == b"\0\0\0":
        size, flags, ksize = struct.unpack_from("<IHH", data, start - 8)
        if ksize == len(key) + 4 and flags == 0 and 16 < size < 4096:
            data[at + len(key) + 12] ^= 0x01
            flipped += 1
    at = data.find(key, at + 1)
assert flipped, "no state record of the key found"
open(path, "wb").write(bytes(data))
print(flipped)
PY
"$sluice" check --data one >one.check 2>&1
check "one damaged key: check exits 1" test $? -eq 1
check "one damaged key: check names the key" grep -qF "$key: fails its checksum" one.check
"$sluice" export --data one --stage score >one.score.tsv 2>one.err
check "export of a damaged key: exit 1" test $? -eq 1
check "export of a damaged key: names it" grep -qF "$key in database 'state' fails its checksum" one.err
check "export of a damaged key: printed nothing of it" bash -c "! grep -qF '$key	' one.score.tsv"
check "export of a damaged key: every other key exported" \
  cmp -s one.score.tsv <(grep -vF "$key	" ref.score.tsv)
check "export of a damaged key: says how many were left out" grep -q "1 damaged key was left out of the export" one.err
finish
