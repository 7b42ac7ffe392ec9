#!/usr/bin/env bash
# A topology applied to a running node (console `topology apply` and
# POST /v1/topology) with real processes: while enrich is paused with
# thousands of events queued, removing enrich is refused with the reason;
# adding a stage (audit, fed by the topic score takes) is applied without a
# restart; every queued event is kept and processed: score's export equals
# an uninterrupted run's, and the new stage got every event enrich held.
# Unsigned, bad YAML and unknown behaviours get their exact status.
#
# usage: live_topology_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice="$1" src="$2"
source "$(dirname "$0")/lib.sh"
setup_work live_topology

example="$src/examples/package_trust"
pipeline="$example/pipeline.yaml"
port=$(free_port) console_port=$(free_port)
base="http://127.0.0.1:$port"
export SLUICE_TOKEN="live-$RANDOM"
printf 'topology-key-%s\n' "$RANDOM" > "$work/key"
console() { "$sluice" console "127.0.0.1:$console_port" "$@"; }
queued() { curl -s "$base/metrics" | awk -v s="$1" '$0 ~ "^sluice_stage_queue_depth\\{" && $0 ~ "stage=\"" s "\"" { n += $2 } END { print n + 0 }'; }
post_topology() { # FILE [SIGNATURE|none]: prints the status; body in $work/resp
  local sig="${2:-$(sign "$work/key" "$1")}" hdr=()
  [[ "$sig" != none ]] && hdr=(-H "X-Sluice-Signature: $sig")
  curl -s -o "$work/resp" -w '%{http_code}' -X POST "${hdr[@]}" \
    -H 'Content-Type: application/yaml' --data-binary "@$1" "$base/v1/topology"
}

# The reference: an uninterrupted run.
"$sluice" run "$pipeline" --feed "$example/data/npm.tsv" --data "$work/ref" -q
"$sluice" export --data "$work/ref" --stage score > "$work/ref.score"

# The new topology: the same, plus a stage `audit` on what score takes.
python3 - "$pipeline" "$work/audit.yaml" <<'PY'
import sys
text = open(sys.argv[1]).read()
text += """  - name: audit
    behaviour: package.score
    subscribe: [{ topic: enriched }]
"""
open(sys.argv[2], "w").write(text)
PY
# ... and one without enrich (refused while enrich has events queued).
python3 - "$pipeline" "$work/no_enrich.yaml" <<'PY'
import sys
text = open(sys.argv[1]).read()
start = text.index("  - name: enrich")
end = text.index("  - name: score")
text = text[:start] + text[end:]
text = text.replace("subscribe: [{ topic: enriched }]", "subscribe: [{ topic: parsed }]")
open(sys.argv[2], "w").write(text)
PY

"$sluice" --log-level info run "$pipeline" --feed "$example/data/npm.tsv" \
  --data "$work/data" --http "127.0.0.1:$port" --listen "127.0.0.1:$console_port" \
  --hmac-key-file "$work/key" --serve -q 2>>"$work/node.log" &
node_pid=$!
for _ in $(seq 1 200); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" == 200 ]] && break
  sleep 0.05
done
console -c "pause enrich" >/dev/null
# Wait until parse is done and enrich holds its events.
for _ in $(seq 1 600); do
  [[ $(queued parse) == 0 && $(queued enrich) -gt 1000 ]] && break; sleep 0.05
done
held=$(queued enrich)
check "enrich holds the events while paused ($held)" test "$held" -gt 1000

# -- what is refused --------------------------------------------------------
code=$(post_topology "$work/no_enrich.yaml")
check "removing enrich while it has queued events: 409" test "$code" == 409
check "  saying why" grep -q "stage enrich still has $held queued events" "$work/resp"
check "  and nothing changed" test "$(queued enrich)" == "$held"
code=$(post_topology "$work/audit.yaml" none)
check "an unsigned topology: 401" test "$code" == 401
printf 'stages: [\n' > "$work/bad.yaml"
code=$(post_topology "$work/bad.yaml")
check "malformed YAML: 400" test "$code" == 400
check "  naming the line" grep -q 'POST /v1/topology:2' "$work/resp"
sed 's/behaviour: package.score/behaviour: package.nothing/' "$work/audit.yaml" > "$work/unknown.yaml"
code=$(post_topology "$work/unknown.yaml")
check "an unknown behaviour: 422" test "$code" == 422
check "  naming it" grep -q 'package.nothing' "$work/resp"
console -c "topology apply $work/no_enrich.yaml" > "$work/out" 2>&1; code=$?
check "the console's topology apply is refused too (exit 1)" test "$code" == 1
check "  with the reason" grep -q "still has $held queued events" "$work/out"

# -- diff, then apply, from the console -------------------------------------
console -c "topology diff $work/audit.yaml" > "$work/out"
check "topology diff names the new stage" grep -q '+ stage audit: behaviour package.score, takes enriched' "$work/out"
check "  and applies nothing" test "$(python3 -c "import json; print(json.load(open('$work/out'))['applied'])")" == False
pid_before=$node_pid
console -c "topology apply $work/audit.yaml" > "$work/out"
check "topology apply: applied" test "$(python3 -c "import json; print(json.load(open('$work/out'))['applied'])")" == True
check "  by the same process" kill -0 "$pid_before"
check "  which logs it" grep -q 'topology applied: 1 changes' "$work/node.log"
# The pause was lifted with the restart of the stages; everything drains.
for _ in $(seq 1 1200); do
  [[ $(queued parse) == 0 && $(queued enrich) == 0 && $(queued score) == 0 && $(queued audit) == 0 ]] && break
  sleep 0.05
done
"$sluice" export --data "$work/data" --stage score > "$work/score"
check "every queued event was kept: score equals an uninterrupted run" cmp -s "$work/ref.score" "$work/score"
"$sluice" export --data "$work/data" --stage audit > "$work/audit"
# Events enrich emitted before the apply went to score alone; the ones it
# held, after the apply, to both.
check "the new stage got every event enrich held ($held)" test "$(wc -l < "$work/audit")" == "$held"
check "  and computed what score did for them" test -z "$(comm -23 "$work/audit" "$work/score")"
check "the topology in force is the new one" bash -c "curl -s '$base/metrics' | grep -q 'stage=\"audit\"'"
# The same again: nothing to do.
code=$(post_topology "$work/audit.yaml")
check "the same topology again: 200" test "$code" == 200
check "  with no change" test "$(python3 -c "import json; print(json.load(open('$work/resp'))['applied'])")" == False

kill -TERM "$node_pid"; wait "$node_pid"; code=$?; node_pid=""
check "the node stops cleanly afterwards (exit 0)" test "$code" == 0

finish
