#!/usr/bin/env bash
# TLS end to end, with real processes on 127.0.0.1:
#   1. `sluice certs init` and `certs issue`: files and modes, nothing
#      overwritten;
#   2. each bad TLS directory refused at start with exit 2 and an error that
#      names the file and the problem (missing, garbage, another key,
#      another CA, expired, encrypted; --http-client-certs without TLS),
#      also from `node --settings` with --check; a key others can read warned;
#   3. a node with --listen, --http and --tls-dir: the console with a
#      certificate works; a plain console (a plain CAF client), one with a
#      certificate from another CA and a TLS client without a certificate are
#      refused, with a log line on both sides; curl over HTTPS with and without a client certificate, plain
#      HTTP refused and logged; a signed webhook post over HTTPS; `sluice
#      subscribe --tls-dir` reads the change feed over HTTPS, and over gRPC
#      with TLS (--grpc), a plain gRPC client refused;
#   4. --http-client-certs required: curl without a certificate is refused,
#      with one it is served;
#   5. a member whose certificate comes from another CA cannot join: both
#      members log why;
#   6. under load: 500,000 events forwarded over TLS from a proxy member to
#      the owner of every key all arrive (CAF 0.17's TLS module can spin or
#      drop links under load); CPU of both members printed.
#
# usage: tls_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice=$(realpath "$1") src=$(realpath "$2")
here=$(dirname -- "${BASH_SOURCE[0]}")
# shellcheck source=SCRIPTDIR/lib.sh
source "$here/lib.sh"
setup_work tls
pids=()
cleanup_all() {
  local p
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  cleanup_work
}
trap cleanup_all EXIT
pipeline=$src/examples/package_trust/pipeline.yaml
npm=$src/examples/package_trust/data/npm.tsv
export SLUICE_TOKEN="tok-$RANDOM-$RANDOM"
export SLUICE_CLUSTER_SECRET="secret-$RANDOM-$RANDOM"
unset SLUICE_TLS_DIR
cd "$work" || exit 1

# wait_for SECONDS COMMAND...: until COMMAND succeeds; false after SECONDS.
wait_for() {
  local end=$((SECONDS + $1))
  shift
  while ((SECONDS < end)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}
# mode FILE: its permission bits, e.g. 600.
mode() { stat -c %a "$1"; }
# json FIELD: a field of the JSON object on stdin (Python syntax on d).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# -- 1. certs init and issue ---------------------------------------------
"$sluice" certs init ca >certs.out 2>&1
check "certs init: exit 0" test $? -eq 0
check "certs init: ca.key 0600" test "$(mode ca/ca.key)" == 600
check "certs init: the directory 0700" test "$(mode ca)" == 700
"$sluice" certs init ca >again.out 2>&1
check "certs init twice: exit 2" test $? -eq 2
check "certs init twice: names the file" grep -q "ca/ca.pem: already exists" again.out
for n in a b console; do
  "$sluice" certs issue --ca ca --name "$n" --host 127.0.0.1 --out "$n" >>certs.out 2>&1
  check "certs issue $n: exit 0" test $? -eq 0
done
check "certs issue: node.key 0600" test "$(mode a/node.key)" == 600
check "certs issue: says the hosts" grep -q "issued 'a' in a (node.pem, node.key 0600, ca.pem); hosts a, 127.0.0.1" certs.out
check "certs issue: openssl verifies it" openssl verify -CAfile ca/ca.pem a/node.pem >/dev/null
"$sluice" certs init other-ca >/dev/null 2>&1
"$sluice" certs issue --ca other-ca --name stranger --host 127.0.0.1 --out stranger >/dev/null 2>&1
"$sluice" certs issue --ca ca --name a --out a >twice.out 2>&1
check "certs issue over an existing one: exit 2" test $? -eq 2
check "certs issue over an existing one: names the file" grep -q "a/node.pem: already exists" twice.out

# -- 2. bad TLS directories: exit 2, the file and the problem named -------
bad() { # NAME DIR EXPECTED: `run --listen --tls-dir DIR` exits 2 saying it
  local out rc
  out=$("$sluice" run "$pipeline" --feed "$npm" --data "$work/bad.data" \
    --listen "127.0.0.1:$(free_port)" --tls-dir "$2" -q 2>&1)
  rc=$?
  check "bad TLS dir ($1): exit 2 (got $rc)" test "$rc" -eq 2
  if ! grep -qF -- "$3" <<<"$out"; then
    echo "FAIL: bad TLS dir ($1): the error does not say '$3': $out"
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
  check "bad TLS dir ($1): no data directory made" test ! -e "$work/bad.data/data.mdb"
}
copy() { rm -rf "$2" && cp -r "$1" "$2"; }
bad "no directory" "$work/nope" "--tls-dir: $work/nope: no such TLS directory"
copy a nokey && rm nokey/node.key
bad "no key" nokey "nokey/node.key: missing"
copy a garbage && echo "not a certificate" >garbage/node.pem
bad "garbage" garbage "garbage/node.pem: holds no PEM data"
copy a swapped && cp b/node.key swapped/node.key
bad "another key" swapped "swapped/node.key: is not the key of the certificate in swapped/node.pem"
copy stranger foreign && cp ca/ca.pem foreign/ca.pem
bad "another CA" foreign "foreign/node.pem: not signed by a CA in foreign/ca.pem"
copy a expired
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout expired/node.key -subj /CN=old -out expired.csr 2>/dev/null
openssl x509 -req -in expired.csr -CA ca/ca.pem -CAkey ca/ca.key -days 0 \
  -out expired/node.pem 2>/dev/null
sleep 1.1
bad "expired" expired "expired/node.pem: the certificate expired on"
copy a locked
openssl pkey -in a/node.key -aes256 -passout pass:x -out locked/node.key 2>/dev/null
bad "encrypted key" locked "locked/node.key: the key is encrypted"
copy a noca && rm noca/ca.pem
bad "no ca.pem" noca "noca/ca.pem: missing"
printf 'name: s\nlisten: 127.0.0.1:%s\ndata: %s\ntls-dir: %s\n' "$(free_port)" "$work/s.data" "$work/swapped" >settings.yaml
out=$("$sluice" node --config "$pipeline" --settings settings.yaml --check 2>&1)
check "node --settings with a bad tls-dir, --check: exit 2" test $? -eq 2
check "node --settings with a bad tls-dir: names the file" grep -q "swapped/node.key: is not the key" <<<"$out"
sed -i "s|$work/swapped|$work/a|" settings.yaml
out=$("$sluice" node --config "$pipeline" --settings settings.yaml --check 2>&1)
check "node --settings with tls-dir a, --check: passes ($out)" test $? -eq 0
copy a exposed && chmod 644 exposed/node.key
out=$("$sluice" node --config "$pipeline" --name e --data "$work/e.data" \
  --listen "127.0.0.1:$(free_port)" --tls-dir exposed --check 2>&1)
check "a key others can read: warned, naming it ($out)" grep -q "exposed/node.key can be read by other users" <<<"$out"
out=$("$sluice" run "$pipeline" --feed "$npm" --data "$work/bad.data" \
  --http "127.0.0.1:$(free_port)" --http-client-certs required -q 2>&1)
check "client certs required without --tls-dir: exit 2" test $? -eq 2
check "client certs required without --tls-dir: says so" grep -q -- "--http-client-certs required: needs --tls-dir and --http" <<<"$out"
out=$("$sluice" run "$pipeline" --feed "$npm" --data "$work/bad.data" --tls-dir a -q 2>&1)
check "--tls-dir with nothing to encrypt: exit 2" test $? -eq 2
check "--tls-dir with nothing to encrypt: says so" grep -q "nothing to encrypt" <<<"$out"

# -- 3. a node with TLS: console, HTTPS, webhook, change feed -------------
lport=$(free_port) hport=$(free_port) gport=$(free_port)
printf 'hook-%s\n' "$RANDOM$RANDOM" >hook.key
chmod 600 hook.key a/node.key
mkdir -p small # the feed reader takes the ecosystem from the file's name
head -n 201 "$npm" >small/npm.tsv
start_tls_node() { # extra args...
  "$sluice" --log-level info run "$pipeline" --feed small/npm.tsv --data node.data \
    --listen "127.0.0.1:$lport" --http "127.0.0.1:$hport" --grpc "127.0.0.1:$gport" --tls-dir a \
    --hmac-key-file hook.key --serve -q "$@" >>node.log 2>&1 &
  node_pid=$!
  pids+=("$node_pid")
}
start_tls_node
con() { timeout 20 "$sluice" console "127.0.0.1:$lport" "$@"; }
# Drained: parse took the 200 records, nothing is queued or in flight.
drained() { [[ $(con --tls-dir console -c stages 2>/dev/null | json 'd["stages"][0]["in"] == 200 and sum(s["queued_normal"] + s["in_flight"] for s in d["stages"]) == 0' 2>/dev/null) == True ]]; }
check "TLS node: the console with a certificate sees the feed drained" wait_for 60 drained
keys=$(con --tls-dir console -c stages 2>/dev/null | json 'd["stages"][2]["done"]')
check "TLS node: the log says mutual TLS" grep -q "console access on 127.0.0.1:$lport (mutual TLS)" node.log
check "TLS node: the log says HTTPS" grep -q "(HTTPS; client certificates optional)" node.log
SLUICE_TLS_DIR=console con -c nodes >env.out 2>&1
check "console: SLUICE_TLS_DIR is read" grep -q '"name":"local"' env.out
con -c nodes >plain.out 2>plain.err
rc=$?
check "plain console: exit 3 (got $rc)" test "$rc" -eq 3
check "plain console: told to give --tls-dir" grep -q "refuses a plain console: give --tls-dir" plain.out
check "plain console: the node logs the refusal" wait_for 5 grep -q "tls: refused a connection from 127.0.0.1:[0-9]*: the peer does not speak TLS" node.log
con --tls-dir stranger -c nodes >stranger.out 2>stranger.err
rc=$?
check "console from another CA: exit 3 (got $rc)" test "$rc" -eq 3
check "console from another CA: it logs why" grep -q "tls: connection to 127.0.0.1:$lport failed: certificate verify failed" stranger.err
check "console from another CA: the node logs the refusal" wait_for 5 grep -q "tls: refused a connection .*: the peer refused this side's certificate or the handshake (tlsv1 alert unknown ca)" node.log
# A TLS client without a certificate, on the console port.
openssl s_client -connect "127.0.0.1:$lport" -CAfile a/ca.pem </dev/null >s_client.out 2>&1
check "a TLS client without a certificate: the node logs the refusal" wait_for 5 grep -q "tls: refused a connection from 127.0.0.1:[0-9]*: peer did not return a certificate" node.log
url=https://127.0.0.1:$hport
check "curl HTTPS, no client certificate: ready" test "$(curl -s --cacert a/ca.pem "$url/readyz")" == '{"ready":true}'
check "curl HTTPS with a client certificate: ready" test "$(curl -s --cacert a/ca.pem --cert console/node.pem --key console/node.key "$url/readyz")" == '{"ready":true}'
curl -s "http://127.0.0.1:$hport/readyz" >/dev/null
check "plain HTTP is refused" test $? -ne 0
check "plain HTTP: the node logs it" wait_for 5 grep -q "the peer does not speak TLS (http request)" node.log
curl -s --cacert a/ca.pem --cert stranger/node.pem --key stranger/node.key "$url/readyz" >/dev/null
check "curl with a certificate from another CA is refused" test $? -ne 0
check "curl from another CA: the node logs it" wait_for 5 grep -q "certificate verify failed: unable to get local issuer certificate" node.log
curl -s --cacert other-ca/ca.pem "$url/readyz" >/dev/null
check "curl trusting another CA refuses the node" test $? -ne 0
body='{"topic":"registry","key":"npm/tls-probe","payload":{"name":"tls-probe","version":"1.2.3","downloads_a_month":"5","summary":"over https"},"attributes":{"ecosystem":"npm","format":"tsv"}}'
printf '%s' "$body" >body.json
code=$(curl -s -o post.out -w '%{http_code}' --cacert a/ca.pem -H "X-Sluice-Signature: $(sign hook.key body.json)" \
  -H 'Content-Type: application/json' --data-binary @body.json "$url/v1/events")
check "webhook over HTTPS: 200 (got $code: $(cat post.out))" test "$code" == 200
probe_scored() { con --tls-dir console -c "inspect score npm/tls-probe" 2>/dev/null | grep -q '"events_processed":1'; }
check "webhook over HTTPS: the event is scored" wait_for 30 probe_scored
# The feed stays open (live): read it for 5 s.
timeout 5 "$sluice" subscribe "127.0.0.1:$hport" score --once --tls-dir console >feed.out 2>feed.err
rc=$?
check "subscribe --tls-dir over HTTPS: still following after 5 s (got $rc)" test "$rc" -eq 124
check "subscribe --tls-dir: every scored key in the snapshot ($keys + the probe)" test "$(grep -c '"key"' feed.out)" -ge $((keys + 1))
check "subscribe --tls-dir: the snapshot's end" grep -q '"snapshot_end"' feed.out
if ((rc != 124)); then tail -n 5 feed.err; fi
timeout 20 "$sluice" subscribe "127.0.0.1:$hport" score --once >plainfeed.out 2>&1
rc=$?
check "subscribe without TLS to an HTTPS node: exit 1 (got $rc)" test "$rc" -eq 1
check "gRPC: the log says TLS" grep -q "grpc: change feeds (sluice.v1.Feeds) on 127.0.0.1:$gport (TLS; client certificates optional)" node.log
timeout 5 "$sluice" subscribe --grpc "127.0.0.1:$gport" score --once --tls-dir console >gfeed.out 2>gfeed.err
rc=$?
check "subscribe --grpc --tls-dir: still following after 5 s (got $rc)" test "$rc" -eq 124
check "subscribe --grpc --tls-dir: every scored key in the snapshot" test "$(grep -c '"key"' gfeed.out)" -ge $((keys + 1))
check "subscribe --grpc --tls-dir: the snapshot's end" grep -q '"snapshot_end"' gfeed.out
timeout 20 "$sluice" subscribe --grpc "127.0.0.1:$gport" score --once >gplain.out 2>&1
rc=$?
check "subscribe --grpc without TLS to a TLS node: exit 1 (got $rc)" test "$rc" -eq 1
timeout 20 "$sluice" subscribe --grpc "127.0.0.1:$gport" score --once --tls-dir stranger >gstranger.out 2>&1
rc=$?
check "subscribe --grpc trusting another CA: exit 1 (got $rc)" test "$rc" -eq 1
kill "$node_pid" && wait "$node_pid"
check "TLS node: SIGTERM, exit 0" test $? -eq 0

# -- 4. client certificates required ------------------------------------
start_tls_node --http-client-certs required
check "required: the log says so" wait_for 30 grep -q "(HTTPS; client certificates required)" node.log
curl -s --cacert a/ca.pem "$url/readyz" >/dev/null
check "required: curl without a certificate is refused" test $? -ne 0
ready_with_cert() { [[ $(curl -s --cacert a/ca.pem --cert console/node.pem --key console/node.key "$url/readyz") == '{"ready":true}' ]]; }
check "required: curl with a certificate is served" wait_for 30 ready_with_cert
check "required: the refusal is logged" grep -q "peer did not return a certificate" node.log
timeout 5 "$sluice" subscribe --grpc "127.0.0.1:$gport" score --once --tls-dir console >greq.out 2>&1
rc=$?
check "required: subscribe --grpc with a certificate follows (got $rc)" bash -c "[[ $rc == 124 ]] && grep -q snapshot_end greq.out"
kill "$node_pid" && wait "$node_pid"

# -- 5. a member with a certificate from another CA cannot join ----------
pa=$(free_port) px=$(free_port)
"$sluice" --log-level info node --config "$pipeline" --name a --listen "127.0.0.1:$pa" \
  --data m.a --tls-dir a >m.a.log 2>&1 &
ma=$!
pids+=("$ma")
"$sluice" --log-level info node --config "$pipeline" --name stranger --listen "127.0.0.1:$px" \
  --join "127.0.0.1:$pa" --data m.x --tls-dir stranger >m.x.log 2>&1 &
mx=$!
pids+=("$mx")
check "foreign member: a logs the refusal" wait_for 20 grep -q "tls: refused a connection from 127.0.0.1:[0-9]*: .*unknown ca" m.a.log
check "foreign member: it logs why it cannot connect" wait_for 20 grep -q "tls: connection to 127.0.0.1:$pa failed: certificate verify failed" m.x.log
members=$(timeout 20 "$sluice" console "127.0.0.1:$pa" --tls-dir console -c nodes 2>/dev/null | json '",".join(n["name"] for n in d["nodes"])' 2>/dev/null)
check "foreign member: a's member table is just a (got $members)" test "$members" == a
kill "$mx" "$ma" 2>/dev/null
wait "$mx" "$ma" 2>/dev/null

# -- 6. 500,000 events forwarded over TLS --------------------------------
events=${SLUICE_TLS_EVENTS:-500000}
bash "$src/bench/cluster/unique_feed.sh" "$events" "$npm" "$work/npm.tsv"
pa=$(free_port) pb=$(free_port)
t0=$SECONDS
"$sluice" --log-level info node --config "$pipeline" --name a --no-shards --listen "127.0.0.1:$pa" \
  --join "127.0.0.1:$pb" --data f.a --no-sync --tls-dir a --feed "$work/npm.tsv" >f.a.log 2>&1 &
fa=$!
pids+=("$fa")
outbox() { timeout 20 "$sluice" console "127.0.0.1:$pa" --tls-dir console -c nodes 2>/dev/null | json 'd["local"]["outbox"]' 2>/dev/null; }
filled() { [[ $(outbox) == "$events" ]] && grep -q "finished after $events records" f.a.log; }
check "load: a's outbox holds $events events" wait_for 600 filled
fill=$((SECONDS - t0))
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ca0=$(cpu "$fa")
t1=$(date +%s.%N)
"$sluice" --log-level info node --config "$pipeline" --name b --listen "127.0.0.1:$pb" \
  --data f.b --no-sync --tls-dir b >f.b.log 2>&1 &
fb=$!
pids+=("$fb")
# b only receives: its stages paused as soon as it answers.
pause_parse() { timeout 20 "$sluice" console "127.0.0.1:$pb" --tls-dir console -c "pause parse" >/dev/null 2>&1; }
wait_for 30 pause_parse
for s in enrich score; do timeout 20 "$sluice" console "127.0.0.1:$pb" --tls-dir console -c "pause $s" >/dev/null; done
empty() { [[ $(outbox) == 0 ]]; }
check "load: a's outbox drains over TLS" wait_for 600 empty
t2=$(date +%s.%N)
ca1=$(cpu "$fa") cb1=$(cpu "$fb")
received=$(timeout 20 "$sluice" console "127.0.0.1:$pb" --tls-dir console -c "metrics sluice_cluster_received_total" 2>/dev/null \
  | python3 -c 'import json,sys
for line in json.load(sys.stdin)["text"].splitlines():
    f = line.split()
    if len(f) == 2 and f[0] == "sluice_cluster_received_total": print(int(float(f[1])))' 2>/dev/null)
check "load: b received all $events (got $received)" test "$received" == "$events"
hz=$(getconf CLK_TCK)
echo "     load: $events events over TLS: outbox filled in ${fill} s; drained in $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }') s from b's start; CPU a $(awk -v x="$ca0" -v y="$ca1" -v h="$hz" 'BEGIN { printf "%.1f", (y - x) / h }') s, b $(awk -v y="$cb1" -v h="$hz" 'BEGIN { printf "%.1f", y / h }') s"
check "load: neither member logged a lost connection" bash -c "! grep -q 'lost the connection' f.a.log f.b.log"
kill "$fb" "$fa" 2>/dev/null
wait "$fb" "$fa" 2>/dev/null
finish
