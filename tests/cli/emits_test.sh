#!/usr/bin/env bash
# The topology's emits are a promise: the example with `emits: [parsed]`
# removed from its parse stage runs, but every event parse handles is a
# dead letter naming the stage and the topic, and nothing reaches enrich
# (before, the events went through as if declared). And a behaviour that
# is registered nowhere says that a plugin needs --plugin.
#
# usage: emits_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice="$1" src="$2"
source "$(dirname "$0")/lib.sh"
setup_work emits

pipeline="$src/examples/package_trust/pipeline.yaml"
grep -v '^    emits: \[parsed\]$' "$pipeline" > "$work/pipeline.yaml"
check "the test's edit removed parse's emits (one line)" \
  test "$(($(wc -l <"$pipeline") - $(wc -l <"$work/pipeline.yaml")))" -eq 1
head -n 21 "$src/examples/package_trust/data/npm.tsv" > "$work/npm.tsv"

"$sluice" run "$work/pipeline.yaml" --data "$work/data" --feed "$work/npm.tsv" \
  >"$work/run.out" 2>&1
rc=$?
check "the run ends (exit $rc)" test "$rc" -eq 0
"$sluice" dlq list --data "$work/data" >"$work/dlq.out" 2>&1
check "each of the 20 records is a dead letter at parse" \
  test "$(grep -c 'parse' "$work/dlq.out")" -eq 20
why="stage parse emitted to undeclared topic 'parsed' (it declares no emits; add the topic to the stage's emits in the topology)"
first=$(awk 'NR == 2 { print $1 }' "$work/dlq.out")
"$sluice" dlq show --data "$work/data" "$first" >"$work/show.out" 2>&1
check "a dead letter names the stage and the topic" grep -qF "$why" "$work/show.out"
"$sluice" export --data "$work/data" --stage enrich >"$work/enrich.out" 2>&1
check "nothing reached enrich" test ! -s "$work/enrich.out"

# The same topology with the emit declared again: every record goes through.
"$sluice" run "$pipeline" --data "$work/data-ok" --feed "$work/npm.tsv" >/dev/null 2>&1
"$sluice" export --data "$work/data-ok" --stage enrich >"$work/enrich-ok.out" 2>&1
check "declared, the 20 reach enrich" test "$(wc -l <"$work/enrich-ok.out")" -eq 20

sed 's|behaviour: package.enrich$|behaviour: acme.enrich|' "$pipeline" > "$work/unknown.yaml"
"$sluice" run "$work/unknown.yaml" --data "$work/data-unknown" --feed "$work/npm.tsv" \
  >"$work/unknown.out" 2>&1
rc=$?
check "an unknown behaviour is refused (exit $rc)" test "$rc" -eq 2
check "and the error says a plugin needs --plugin" \
  grep -qF "unknown behaviour 'acme.enrich'" "$work/unknown.out"
check "naming --plugin since none was loaded" \
  grep -qF "no plugin loaded: a behaviour built as a shared library needs --plugin PATH" "$work/unknown.out"
finish
