#!/usr/bin/env bash
# `sluice topology diff OLD NEW` through the real binary: no change (exit
# 0), a changed filter policy and flow setting, a removed stage and topic
# (exit 1, one line each, and as JSON), a malformed file (exit 2, naming
# file and line).
#
# usage: topology_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice="$1" src="$2"
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_topology.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
check() { local name="$1"; shift; if "$@"; then passed=$((passed + 1)); else echo "FAIL: $name"; failed=$((failed + 1)); fi; }

old="$src/examples/package_trust/pipeline.yaml"
out="$work/out"

"$sluice" topology diff "$old" "$old" > "$out"; code=$?
check "the same topology: exit 0" test "$code" == 0
check "  says no change" test "$(cat "$out")" == "no change"

sed -e 's/filter: { ecosystem: \[npm, pypi, debian\] }/filter: { ecosystem: [npm, pypi] }/' \
    -e 's/max_in_flight: 2048/max_in_flight: 1024/' "$old" > "$work/filter.yaml"
"$sluice" topology diff "$old" "$work/filter.yaml" > "$out"; code=$?
check "a changed filter: exit 1" test "$code" == 1
check "  names the flow setting" grep -qxF '~ stage parse: max_in_flight 2048 -> 1024' "$out"
check "  names the filter policy, before and after" grep -qxF '~ stage parse: subscription to registry: registry where ecosystem in [debian, npm, pypi] -> registry where ecosystem in [npm, pypi]' "$out"
check "  and counts" test "$(tail -1 "$out")" == "2 changes"

# Without score, and without the topic only score took.
python3 - "$old" "$work/two.yaml" <<'PY'
import sys
text = open(sys.argv[1]).read()
text = text[:text.index("  - name: score")]
text = text.replace("topics: [registry, parsed, enriched]", "topics: [registry, parsed]")
text = text.replace("    emits: [enriched]\n", "")
open(sys.argv[2], "w").write(text)
PY
"$sluice" topology diff "$old" "$work/two.yaml" > "$out"; code=$?
check "a removed stage: exit 1" test "$code" == 1
check "  names the topic" grep -qxF -e '- topic enriched' "$out"
check "  names the stage and what it took" grep -qxF -e '- stage score: behaviour package.score, takes enriched' "$out"
check "  names what enrich no longer emits" grep -qxF '~ stage enrich: emits enriched -> (none)' "$out"
"$sluice" topology diff "$old" "$work/two.yaml" --json > "$out"
check "--json: one object per change" python3 -c "
import json, sys
rows = [json.loads(l) for l in open('$out')]
assert len(rows) == 3, rows
assert {'change': 'removed', 'subject': 'stage score', 'detail': 'behaviour package.score, takes enriched'} in rows, rows"

printf 'stages: [\n' > "$work/bad.yaml"
"$sluice" topology diff "$old" "$work/bad.yaml" > "$out" 2> "$work/err"; code=$?
check "a malformed file: exit 2" test "$code" == 2
check "  naming the file and line" grep -q 'bad.yaml:2' "$work/err"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
