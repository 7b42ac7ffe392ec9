#!/usr/bin/env bash
# Bad input at the `sluice` command line, through the real binary: each case
# must exit with the documented code (2 for a bad flag, file, topology or data
# directory) and say on stderr what is wrong and where. Malformed feed lines
# must not stop a run nor vanish: they are named on stderr and kept, with
# their text, in the dead letters.
#
# usage: bad_input_test.sh SLUICE_BINARY SOURCE_DIR
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 SLUICE_BINARY SOURCE_DIR" >&2
  exit 2
fi
sluice=$(realpath -- "$1")
example=$(realpath -- "$2")/examples/package_trust
if [[ ! -x $sluice ]]; then
  echo "FAIL: $sluice is not an executable" >&2
  exit 1
fi
if ! command -v mdb_dump >/dev/null; then
  echo "FAIL: this test needs mdb_dump (from lmdb-utils) to read dead letters" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_bad_input.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
passed=0
failed=0

# expect NAME WANT_RC [-e TEXT]... -- CMD...: runs CMD; passes when it exits
# WANT_RC and its stderr contains every TEXT (fixed strings).
expect() {
  local name=$1 want=$2 rc=0 problems=() t
  shift 2
  local texts=()
  while [[ $1 != -- ]]; do
    texts+=("$2")
    shift 2
  done
  shift
  timeout 120 "$@" >"$work/out" 2>"$work/err" || rc=$?
  if [[ $rc -ne $want ]]; then
    problems+=("exit code $rc, expected $want")
  fi
  for t in "${texts[@]}"; do
    if ! grep -qF -- "$t" "$work/err"; then
      problems+=("stderr does not contain '$t'")
    fi
  done
  if [[ ${#problems[@]} -eq 0 ]]; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    printf '       %s\n' "${problems[@]}"
    echo "       command: $*"
    sed 's/^/       stderr: /' "$work/err" | head -n 10 || true
    failed=$((failed + 1))
  fi
}

# check NAME CONDITION_CMD... : a plain assertion with a message.
check() {
  local name=$1
  shift
  if "$@"; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    failed=$((failed + 1))
  fi
}

pipeline=$example/pipeline.yaml

# -- topologies ----------------------------------------------------------------

# Line 6 is indented one space short: a YAML syntax error on that line.
printf 'pipeline: broken\ntopics: [in]\nstages:\n  - name: s\n    behaviour: package.parse\n   subscribe: [{ topic: in }]\n' \
  >broken.yaml
expect "malformed YAML names the file and line" 2 \
  -e "broken.yaml:6:" -e "YAML syntax error" -- \
  "$sluice" run broken.yaml --data "$work/d_broken"

sed 's/subscribe: \[{ topic: parsed }\]/subscribe: [{ topic: parsd }]/' "$pipeline" \
  >unknown_topic.yaml
grep -q 'topic: parsd' unknown_topic.yaml \
  || { echo "FAIL: could not make unknown_topic.yaml from $pipeline"; exit 1; }
expect "an unknown topic names the field and the topic" 2 \
  -e "unknown_topic.yaml:" -e "stages[1].subscribe[0].topic" -e "unknown topic 'parsd'" -- \
  "$sluice" run unknown_topic.yaml --data "$work/d_topic"

sed 's/behaviour: package.enrich/behaviour: package.enrichment/' "$pipeline" \
  >unknown_behaviour.yaml
grep -q 'package.enrichment' unknown_behaviour.yaml \
  || { echo "FAIL: could not make unknown_behaviour.yaml from $pipeline"; exit 1; }
expect "an unknown behaviour names the stage and the behaviour" 2 \
  -e "unknown_behaviour.yaml:" -e "stages.enrich.behaviour" \
  -e "unknown behaviour 'package.enrichment'" -- \
  "$sluice" run unknown_behaviour.yaml --data "$work/d_behaviour"

# -- flags and files -------------------------------------------------------------

expect "an unknown flag of run is refused" 2 -e "--no-such-flag" -- \
  "$sluice" run "$pipeline" --no-such-flag --data "$work/d_flag"
expect "an unknown flag of export is refused" 2 -e "--no-such-flag" -- \
  "$sluice" export --data "$work/d_flag" --stage score --no-such-flag
expect "a missing feed file is named" 2 -e "$work/no_such_feed.tsv" -- \
  "$sluice" run "$pipeline" --feed "$work/no_such_feed.tsv" --data "$work/d_feed"
expect "a missing pipeline file is named" 2 -e "$work/no_such_pipeline.yaml" -- \
  "$sluice" run "$work/no_such_pipeline.yaml" --data "$work/d_feed"
expect "export of a missing data directory names it" 2 -e "$work/no_such_dir" -- \
  "$sluice" export --data "$work/no_such_dir" --stage score
touch "$work/a_file"
expect "run with a data directory that is a regular file names it" 2 \
  -e "$work/a_file" -e "not a directory" -- \
  "$sluice" run "$pipeline" --feed "$example/data/npm.tsv" --data "$work/a_file" -q
expect "export with a data directory that is a regular file names it" 2 \
  -e "$work/a_file" -e "not a directory" -- \
  "$sluice" export --data "$work/a_file" --stage score
check "a data directory that is a regular file is left untouched" \
  test ! -s "$work/a_file"

# -- a feed with malformed lines among good ones -----------------------------------

# The file must be called npm.tsv: the ecosystem comes from the file name and
# stage parse takes only npm, pypi and debian.
mkdir feed
{
  printf 'name\tversion\tdownloads_a_month\tsummary\n'
  printf 'good-one\t1.2.3\t1000\tA good package\n'
  printf 'bad-short\t1.0\n'
  printf 'good-two\t2.0.0\t50000\tAnother good package\n'
  printf 'bad-long\t1.0\t5\tx\textra\tcells\n'
  printf 'good-three\t0.1.0\t10\tThe third\n'
  printf 'bad-alone\n'
} >feed/npm.tsv
expect "a feed with malformed lines runs to the end and names each FILE:LINE" 0 \
  -e "npm.tsv:3:" -e "npm.tsv:5:" -e "npm.tsv:7:" \
  -e "expected 4 tab-separated fields" -- \
  "$sluice" run "$pipeline" --feed feed/npm.tsv --data "$work/d_mixed" -q
for stage in parse enrich score; do
  rc=0
  "$sluice" export --data "$work/d_mixed" --stage "$stage" >"export_$stage" 2>"$work/err" || rc=$?
  check "export of stage $stage after the mixed feed exits 0" test "$rc" -eq 0
  check "stage $stage holds exactly the three good rows" \
    test "$(cut -f1 "export_$stage" | tr '\n' ' ')" = "npm/good-one npm/good-three npm/good-two "
done
check "stage score carries the good rows' data" \
  grep -qF '"name":"good-two","version":"2.0.0"' export_score
dump=$work/dead_letters.txt
mdb_dump -p -s dead_letters "$work/d_mixed" >"$dump" 2>&1 || true
letters=$(sed -n '/^HEADER=END/,/^DATA=END/p' "$dump" | grep -c '^ ' || true)
check "the dead letters hold exactly the 3 malformed lines (found $((letters / 2)))" \
  test "$letters" -eq 6
# mdb_dump -p prints a tab as \09.
for want in \
  'npm.tsv:3: expected 4 tab-separated fields (name, version, downloads_a_month, summary), got 2' \
  'npm.tsv:5: expected 4 tab-separated fields (name, version, downloads_a_month, summary), got 6' \
  'npm.tsv:7: expected 4 tab-separated fields (name, version, downloads_a_month, summary), got 1' \
  'bad-short\091.0' \
  'bad-long\091.0\095\09x\09extra\09cells' \
  'bad-alone'; do
  check "a dead letter contains: $want" grep -qF -- "$want" "$dump"
done
check "no good row is in the dead letters" \
  bash -c "! grep -qE 'good-(one|two|three)' '$dump'"

expect "export of an unknown stage lists the known ones" 2 \
  -e "no stage 'scores'" -e "enrich, parse, score" -- \
  "$sluice" export --data "$work/d_mixed" --stage scores

# -- cluster settings -----------------------------------------------------------

node_base=(env SLUICE_CLUSTER_SECRET=s "$sluice" node --config "$pipeline"
  --name m1 --listen 127.0.0.1:7999 --data "$work/d_node"
  --controller http://127.0.0.1:9)
expect "node --replace-after that is no duration names the flag" 2 \
  -e "--replace-after: '5x' is not a duration" -- "${node_base[@]}" --replace-after 5x
expect "node --replace-after below 10s is refused, the flag named" 2 \
  -e "--replace-after: 5000 ms" -e "at least 10s" -- "${node_base[@]}" --replace-after 5s
check "nothing was started for them" test ! -e "$work/d_node/data.mdb"

# -- help ------------------------------------------------------------------------

expect "run --help exits 0" 0 -- "$sluice" run --help
check "run --help describes --feed and --data" \
  bash -c "grep -q -- '--feed' '$work/out' && grep -q -- '--data' '$work/out'"
expect "export --help exits 0" 0 -- "$sluice" export --help
check "export --help describes --stage" grep -q -- '--stage' "$work/out"

echo "${passed} passed, ${failed} failed"
[[ $failed -eq 0 ]]
