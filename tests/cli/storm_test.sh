#!/usr/bin/env bash
# A storm of on-demand queries must not delay a legitimate urgent event,
# through the real binary: one client sends 1,000 GET /v1/keys?wait=0 a
# second for catalog keys (each an urgent ingestion if admitted) while
# another posts urgent events through the signed webhook and times each
# until its key is done in the last stage. The legitimate p99 during the
# storm stays within 2x of the larger of two baselines measured in the same
# run (before and after the storm, so a machine that is busy for other
# reasons moves both); the storm gets 429s; every accepted event and every
# admitted ingestion is processed.
#
# usage: storm_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice="$1" src="$2"
source "$(dirname "$0")/lib.sh"
setup_work storm
unset SLUICE_TOKEN
here=$(cd "$(dirname "$0")" && pwd)

example="$src/examples/package_trust"
port=$(free_port)
base="http://127.0.0.1:$port"
printf 'storm-hmac-%s\n' "$RANDOM" > "$work/key"
for n in reader storm; do
  printf '%s-token-%s-%s\n' "$n" "$RANDOM" "$RANDOM" > "$work/$n.token"
done
printf 'reader read file:reader.token\nstorm query file:storm.token\n' > "$work/tokens.conf"
chmod 600 "$work"/*.token "$work/tokens.conf" "$work/key"
tok() { cat "$work/$1.token"; }
seconds=${STORM_SECONDS:-6}
# STORM_NODE_ARGS: extra flags for the node (e.g. lifted limits, to see the
# test fail without them).
read -r -a extra <<<"${STORM_NODE_ARGS:-}"

"$sluice" run "$example/pipeline.yaml" --data "$work/data" --http "127.0.0.1:$port" \
  --catalog "$example/data/pypi.tsv" --hmac-key-file "$work/key" \
  --tokens-file "$work/tokens.conf" --serve -q "${extra[@]}" 2>>"$work/node.log" &
node_pid=$!
for _ in $(seq 1 400); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" == 200 ]] && break
  sleep 0.05
done

legit() { # legit PHASE: the legitimate client alone, 20 events/s
  python3 "$here/storm_client.py" legit "$base" "$work/key" "$(tok reader)" \
    "$seconds" 20 "$1" "$work/$1.json"
}
p99() { python3 -c "
import json; v = sorted(json.load(open('$work/$1.json'))['latencies_ms'])
print('%.2f' % v[min(len(v) - 1, int(len(v) * 0.99))])"; }
field() { python3 -c "import json; d = json.load(open('$work/$1.json')); print($2)"; }

legit before || { echo "FAIL: the legitimate client (before)"; tail "$work/node.log"; exit 1; }
python3 "$here/storm_client.py" storm "$base" "$(tok storm)" "$seconds" 1000 \
  "$example/data/pypi.tsv" "$work/storm.json" &
storm_pid=$!
legit during || echo "FAIL: the legitimate client (during)"
wait "$storm_pid"
legit after || echo "FAIL: the legitimate client (after)"

before=$(p99 before) during=$(p99 during) after=$(p99 after)
echo "legitimate p99 (ms): before $before, during the storm $during, after $after"
echo "storm: $(field storm '"%d requests in %.1f s, answers %s" % (d["sent"], d["seconds"], d["codes"])')"
limit=$(python3 -c "print('%.2f' % (2 * max($before, $after)))")
check "the legitimate p99 during the storm ($during ms) is within 2x of the baselines' ($limit ms)" \
  python3 -c "import sys; sys.exit(0 if $during <= $limit else 1)"
check "the storm sent at least 800 requests a second" \
  test "$(field storm 'int(d["sent"] / d["seconds"] >= 800)')" == 1
check "the storm got 429s for most of them" \
  test "$(field storm 'int(d["codes"].get("429", 0) >= 0.9 * d["sent"])')" == 1
for phase in before during after; do
  check "every accepted legitimate event ($phase) was processed" \
    test "$(field "$phase" 'len(d["lost"]) == 0 and len(d["latencies_ms"]) == len(d["accepted"]) > 0')" == True
done
# Every ingestion the storm got admitted is processed too.
field storm '"\n".join(d["admitted"])' | sort -u > "$work/admitted"
admitted=$(grep -c . "$work/admitted")
missing=""
for _ in $(seq 1 200); do
  missing=""
  while read -r k; do
    [[ -z "$k" ]] && continue
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(tok reader)" \
      "$base/v1/keys/score/$k?ingest=0")
    [[ "$code" == 200 ]] || missing+="$k "
  done < "$work/admitted"
  [[ -z "$missing" ]] && break
  sleep 0.1
done
check "every ingestion admitted during the storm ($admitted) was processed (missing: ${missing:-none})" test -z "$missing"
check "the refusals are counted" bash -c "curl -s '$base/metrics' | grep -q '^sluice_http_refused_total{reason=\"rate_limited\"}'"

kill -TERM "$node_pid"; wait "$node_pid" 2>/dev/null; node_pid=""
finish
