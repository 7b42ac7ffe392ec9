#!/usr/bin/env bash
# On-demand queries with real HTTP (curl) against `sluice run --http
# --catalog --serve` on 127.0.0.1: while a backlog of feed events is queued,
# keys the pipeline never saw are ingested from the catalog as urgent events
# and answered with their final state within the default wait (2 s);
# concurrent queries for one key share one ingestion; ?refresh=1 ingests
# again (skip_unchanged does not skip it); wait=0 gives 202 with a link;
# unknown keys, stages and bad parameters get their exact status; the
# catalog is indexed into LMDB once.
#
# usage: query_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice="$1" src="$2"
source "$(dirname "$0")/lib.sh"
setup_work query

example="$src/examples/package_trust"
pipeline="$example/pipeline.yaml"
port=$(free_port)
base="http://127.0.0.1:$port"

# The backlog: 240,000 npm records (the sample's, renamed per copy), far
# more than the node processes during the test.
awk -F'\t' 'NR == 1 { print; next } { line[n++] = $0 }
  END { for (c = 0; c < 30; ++c) for (i = 0; i < n; ++i) {
          split(line[i], f, "\t"); f[1] = f[1] "~" c
          out = f[1]; for (j = 2; j <= 4; ++j) out = out "\t" f[j]; print out } }' \
  "$example/data/npm.tsv" > "$work/npm.tsv"

start_node() { # start_node ARGS...: sluice run with --http, until ready
  "$sluice" --log-level info run "$pipeline" --data "$work/data" \
    --http "127.0.0.1:$port" --serve -q "$@" 2>>"$work/node.log" &
  node_pid=$!
  for _ in $(seq 1 400); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" == 200 ]] && return 0
    sleep 0.05
  done
  echo "node did not become ready"; cat "$work/node.log"; return 1
}
stop_node() {
  kill -TERM "$node_pid"; wait "$node_pid" 2>/dev/null; node_pid=""
}
# get PATH: prints "status seconds"; the body goes to $work/resp
# (with the console token: GET /v1/keys needs scope read, ingestion query)
get() { curl -s -H "Authorization: Bearer $SLUICE_TOKEN" -o "$work/resp" -w '%{http_code} %{time_total}' "$base$1"; }
json() { python3 -c "import json,sys; d=json.load(open('${2:-$work/resp}')); print($1)"; }
queued() { curl -s "$base/metrics" | awk '/^sluice_stage_queue_depth\{/ { s += $2 } END { print s + 0 }'; }

export SLUICE_TOKEN="query-test-$RANDOM"
console_port=$(free_port)
console() { "$sluice" console "127.0.0.1:$console_port" -c "$1" >/dev/null; }
start_node --feed "$work/npm.tsv" --catalog "$example/data/pypi.tsv" \
  --listen "127.0.0.1:$console_port" || exit 1
check "the catalog is indexed at start" grep -q 'pypi.tsv: 7988 records indexed' "$work/node.log"

# The backlog: parse is paused while the feed queues all of it, then
# resumed, so it drains while the queries run (at some 10,000 events/s).
console "pause parse"
for _ in $(seq 1 1200); do
  [[ $(queued) -gt 200000 ]] && break; sleep 0.05
done
console "resume parse"
backlog=$(queued)
check "a backlog of more than 200,000 events is queued ($backlog)" test "$backlog" -gt 200000

# -- unknown keys, ingested on demand behind the backlog --------------------
keys=$(awk -F'\t' 'NR > 1 && NR <= 41 && NR % 4 == 0 { print $1 }' "$example/data/pypi.tsv")
worst=0
# All queries first, each answer kept; the checks (python starts, slow on a
# busy machine) run afterwards, so the backlog is not drained by them.
for k in $keys; do
  read -r code secs < <(get "/v1/keys/score/pypi/$k")
  cp "$work/resp" "$work/resp.$k"
  echo "$code $secs" >"$work/code.$k"
done
# The backlog as the last answer came.
after=$(queued)
for k in $keys; do
  read -r code secs <"$work/code.$k"
  worst=$(python3 -c "print(max($worst, $secs))")
  check "pypi/$k: 200 within the default wait ($secs s)" test "$code" == 200
  check "  with its final state" test "$(json 'd["state"]["name"]' "$work/resp.$k")" == "$k"
  check "  done in the last stage" test "$(json 'd["status"]["phase"] + "/" + d["status"]["stage"]' "$work/resp.$k")" == "done/score"
  check "  ingested on demand" bash -c "[[ \$(python3 -c \"import json; print(json.load(open('$work/resp.$k'))['on_demand']['ingestion'])\") == ondemand:pypi/$k@* ]]"
done
echo "slowest of $(echo $keys | wc -w) on-demand queries: $worst s"
check "the backlog was still there when the last query was answered ($after)" test "$after" -gt 100000

# -- a known key is answered from its state, nothing ingested ---------------
k=$(echo $keys | cut -d' ' -f1)
read -r code _ < <(get "/v1/keys/score/pypi/$k")
check "a known key: 200" test "$code" == 200
check "  without an ingestion" test "$(json '"on_demand" in d')" == False
check "  processed once" test "$(json 'd["events_processed"]')" == 1

# -- concurrent queries for one key share one ingestion ---------------------
k2=$(awk -F'\t' 'NR == 101 { print $1 }' "$example/data/pypi.tsv")
curls=()
for i in 1 2 3 4 5 6; do
  curl -s -H "Authorization: Bearer $SLUICE_TOKEN" -o "$work/c$i" "$base/v1/keys/parse/pypi/$k2" &
  curls+=($!)
done
wait "${curls[@]}"
ids=$(for i in 1 2 3 4 5 6; do json 'd.get("on_demand", {}).get("ingestion", d.get("ingestion", "-"))' "$work/c$i"; done | sort -u)
check "six concurrent queries got one ingestion ($ids)" test "$(echo "$ids" | grep -c ondemand)" == 1
read -r code _ < <(get "/v1/keys/parse/pypi/$k2")
check "  and the key was processed once in parse" test "$(json 'd["events_processed"]')" == 1

# -- ?refresh=1 ingests again, although the record did not change -----------
read -r code _ < <(get "/v1/keys/parse/pypi/$k?refresh=1")
check "refresh=1: 200" test "$code" == 200
check "  processed again (skip_unchanged does not skip it)" test "$(json 'd["events_processed"]')" == 2

# -- wait=0: 202 with a link; the link answers once done, without a second
#    ingestion -------------------------------------------------------------
k3=$(awk -F'\t' 'NR == 201 { print $1 }' "$example/data/pypi.tsv")
code=$(curl -s -H "Authorization: Bearer $SLUICE_TOKEN" -D "$work/headers" -o "$work/resp" -w '%{http_code}' "$base/v1/keys/score/pypi/$k3?wait=0")
check "wait=0: 202" test "$code" == 202
check "  with a Location header" grep -qi "^location: /v1/keys/score/pypi/$k3" "$work/headers"
check "  and the link in the body" test "$(json 'd["link"]')" == "/v1/keys/score/pypi/$k3"
link=$(json 'd["link"]')
for _ in $(seq 1 100); do
  read -r code _ < <(get "$link")
  [[ "$code" == 200 ]] && break; sleep 0.05
done
check "  the link answers 200" test "$code" == 200
check "  processed once" test "$(json 'd["events_processed"]')" == 1

# -- what is refused --------------------------------------------------------
read -r code _ < <(get "/v1/keys/score/pypi/no-such-package-anywhere")
check "a key in neither the stage nor the catalog: 404" test "$code" == 404
check "  saying so" grep -q 'the catalog has no record of it' "$work/resp"
read -r code _ < <(get "/v1/keys/nostage/pypi/$k")
check "an unknown stage: 404 naming the stages" bash -c "[[ $code == 404 ]] && grep -q 'parse, enrich, score' '$work/resp'"
read -r code _ < <(get "/v1/keys/score/pypi/$k?wait=soon")
check "a bad wait: 400" test "$code" == 400
read -r code _ < <(get "/v1/keys/score/pypi/$k?refresh=maybe")
check "a bad refresh: 400" test "$code" == 400

# -- the catalog is indexed once --------------------------------------------
stop_node
start_node --catalog "$example/data/pypi.tsv" || exit 1
check "a restart with the same catalog does not index it again" grep -q 'pypi.tsv: indexed already' "$work/node.log"
stop_node
start_node || exit 1
read -r code _ < <(get "/v1/keys/score/pypi/no-such-package-anywhere")
check "without --catalog an unknown key's 404 says there is no catalog" bash -c "[[ $code == 404 ]] && grep -q -- '--catalog' '$work/resp'"
stop_node

finish
