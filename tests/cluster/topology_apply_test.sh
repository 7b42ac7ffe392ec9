#!/usr/bin/env bash
# A running cluster takes a new topology on every member or on none: three
# members (each in its own working directory, with its own copy of the
# file, as on three machines); `topology apply next.yaml` from one member's
# console is refused on all when one member would refuse (an unknown
# behaviour in its copy) and when the copies differ, and then applied on
# all: every member runs the new stage, events posted afterwards through
# any member reach it whichever member owns their key, and nothing queued
# before was lost.
#
# usage: topology_apply_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice=$(realpath "$1") src=$(realpath "$2")
source "$(dirname "$0")/../cli/lib.sh"
setup_work topology_apply
declare -A pid=() http=() listen=()
trap 'for p in "${pid[@]}"; do kill -9 "$p" 2>/dev/null; done; cleanup_work' EXIT

pipeline="$src/examples/package_trust/pipeline.yaml"
export SLUICE_TOKEN="apply-$RANDOM"
printf 'key-%s\n' "$RANDOM" >"$work/key"
head -c 32 /dev/urandom | base64 >"$work/secret"
chmod 600 "$work/secret"
for n in a b c; do listen[$n]=127.0.0.1:$(free_port); http[$n]=$(free_port); done
seeds="${listen[a]},${listen[b]},${listen[c]}"
# next.yaml: the example plus a stage `audit` that scores what enrich emits.
next_yaml() {
  sed -e "s|^topics: \[registry, parsed, enriched\]|topics: [registry, parsed, enriched]|" "$pipeline"
  printf '  - name: audit\n    behaviour: %s\n    subscribe: [{ topic: enriched }]\n' "${1:-package.score}"
}
head -n 61 "$src/examples/package_trust/data/npm.tsv" >"$work/npm.tsv"
for n in a b c; do
  mkdir -p "$work/$n"
  next_yaml >"$work/$n/next.yaml"
  feed=()
  [[ $n == a ]] && feed=(--feed "$work/npm.tsv")
  (cd "$work/$n" && exec "$sluice" --log-level info node --config "$pipeline" --name "$n" \
    --listen "${listen[$n]}" --join "${listen[a]}" --join "${listen[b]}" --join "${listen[c]}" \
    --data "$work/$n/data" --secret-file "$work/secret" --http "127.0.0.1:${http[$n]}" \
    --hmac-key-file "$work/key" "${feed[@]}" >"$work/$n.log" 2>&1) &
  pid[$n]=$!
done
metrics() { curl -s "http://127.0.0.1:${http[$1]}/metrics"; }
for n in a b c; do
  up=""
  for _ in $(seq 300); do
    up=$(metrics "$n" | awk '$1 == "sluice_cluster_members_up" { print $2 }')
    [[ $up == 3 ]] && break
    sleep 0.1
  done
  check "member $n sees three members up ($up)" test "$up" == 3
done
console() { "$sluice" console "${listen[$1]}" -c "$2"; }
quiet() { # every member: nothing queued, nothing in its outbox
  for _ in $(seq 600); do
    local busy=0 n
    for n in a b c; do
      console "$n" nodes 2>"$work/nodes.err" | tee "$work/nodes.out" | python3 -c '
import json, sys
d = json.load(sys.stdin)["local"]
sys.exit(0 if d["queued"] == 0 and d["outbox"] == 0 else 1)' 2>/dev/null || busy=1
    done
    ((busy == 0)) && return 0
    sleep 0.1
  done
  return 1
}
exported() { # exported STAGE: every member's export of STAGE, sorted
  for n in a b c; do "$sluice" export --data "$work/$n/data" --stage "$1"; done | sort
}
has_audit() { [[ $(metrics "$1") == *'stage="audit"'* ]]; }
check "the fed records are processed" quiet || { cat "$work/nodes.out" "$work/nodes.err"; }
check "60 scores before any change" test "$(exported score | wc -l)" -eq 60

# -- one member would refuse: refused on all -----------------------------
next_yaml package.nothing >"$work/c/next.yaml"
console a "topology apply next.yaml" >"$work/out" 2>&1
rc=$?
check "an apply c would refuse: exit 1 ($rc)" test "$rc" -eq 1
check "  naming c and why" grep -q "refused: no member changed its topology: c: .*package.nothing" "$work/out"
grep -q "package.nothing" "$work/out" || cat "$work/out"
for n in a b c; do
  if has_audit "$n"; then echo "FAIL:   $n still runs the old topology"; failed=$((failed + 1)); else passed=$((passed + 1)); fi
done

# -- the copies differ: refused on all -----------------------------------
{ next_yaml; echo "# c's copy has a comment the others lack"; } >"$work/c/next.yaml"
console b "topology apply next.yaml" >"$work/out" 2>&1
rc=$?
check "copies that differ: exit 1 ($rc)" test "$rc" -eq 1
check "  saying the members read different files" grep -q "the members read different files at next.yaml" "$work/out"
grep -q "different files" "$work/out" || cat "$work/out"
check "  and nobody applied it" bash -c "! grep -q 'topology applied' '$work/a.log' '$work/b.log' '$work/c.log'"

# -- the same files: applied on all --------------------------------------
next_yaml >"$work/c/next.yaml"
console b "topology apply next.yaml" >"$work/out" 2>&1
rc=$?
check "the same files: applied (exit $rc)" test "$rc" -eq 0
check "  on a, b and c" python3 -c "
import json; d = json.load(open('$work/out'))
assert d['applied'] and sorted(d['members']) == ['a', 'b', 'c'], d
assert any('+ stage audit' in c for c in d['changes']), d"
for n in a b c; do
  check "  $n runs the new stage" has_audit "$n"
  check "  $n logged it" grep -q "topology applied: 1 changes" "$work/$n.log"
done

# Events posted after the change, through each member, reach the new stage
# on whichever member owns their key.
for i in $(seq 1 30); do
  n=$(printf 'a\nb\nc\n' | sed -n "$((i % 3 + 1))p")
  printf '{"topic":"registry","key":"npm/after-%s","payload":{"name":"after-%s","version":"1.0.%s","downloads_a_month":"%s","summary":"after"},"attributes":{"ecosystem":"npm","format":"tsv"}}' \
    "$i" "$i" "$i" "$((i * 10))" >"$work/ev.json"
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H "X-Sluice-Signature: $(sign "$work/key" "$work/ev.json")" --data-binary "@$work/ev.json" \
    "http://127.0.0.1:${http[$n]}/v1/events")
  [[ $code == 200 ]] || echo "post $i through $n: $code"
done
check "the posted events are processed" quiet
check "the new stage scored the 30 posted keys" test "$(exported audit | wc -l)" -eq 30
check "  exactly as score did" test -z "$(comm -23 <(exported audit) <(exported score))"
check "score has the 60 fed and the 30 posted" test "$(exported score | wc -l)" -eq 90

# The same file again: nothing to change.
console a "topology apply next.yaml" >"$work/out" 2>&1
check "applied again: no change" python3 -c "import json; assert not json.load(open('$work/out'))['applied']"
for n in a b c; do kill -TERM "${pid[$n]}"; done
for n in a b c; do
  wait "${pid[$n]}"; rc=$?
  check "member $n stops cleanly (exit $rc)" test "$rc" -eq 0
done
pid=()
finish
