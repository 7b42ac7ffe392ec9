#!/usr/bin/env bash
# Access control of the HTTP API through the real binary, with curl: every
# endpoint with no token, a wrong token, a token without the scope and the
# right one (401, 401, 403, 200; the body names what is missing); the open
# endpoints; --public-read (never ingestion) and --private-metrics; no
# token configured at all; a malformed tokens file; the on-demand rate
# limit (429 + Retry-After); the audit trail names who and from where, and
# no token ever reaches the log.
#
# usage: access_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice="$1" src="$2"
source "$(dirname "$0")/lib.sh"
setup_work access
unset SLUICE_TOKEN

example="$src/examples/package_trust"
pipeline="$example/pipeline.yaml"
port=$(free_port)
base="http://127.0.0.1:$port"
printf 'access-hmac-%s\n' "$RANDOM" > "$work/key"
chmod 600 "$work/key"
# Four named tokens, two as files and two as SHA-256 hashes.
for n in reader querier publisher admin; do
  printf '%s-token-%s-%s\n' "$n" "$RANDOM" "$RANDOM" > "$work/$n.token"
  chmod 600 "$work/$n.token"
done
hash() { printf '%s' "$(cat "$work/$1.token")" | sha256sum | cut -d' ' -f1; }
cat > "$work/tokens.conf" <<CONF
# name      scopes   secret
reader      read     file:reader.token
querier     query    sha256:$(hash querier)
publisher   publish  file:publisher.token
admin       admin    sha256:$(hash admin)
CONF
chmod 600 "$work/tokens.conf"
tok() { cat "$work/$1.token"; }

start_node() { # start_node ARGS...
  "$sluice" run "$pipeline" --data "$work/data" --http "127.0.0.1:$port" \
    --catalog "$example/data/pypi.tsv" --hmac-key-file "$work/key" --serve -q \
    "$@" 2>>"$work/node.log" &
  node_pid=$!
  for _ in $(seq 1 400); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" == 200 ]] && return 0
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "node did not become ready"; cat "$work/node.log"; return 1
}
stop_node() { kill -TERM "$node_pid"; wait "$node_pid" 2>/dev/null; node_pid=""; }
# call AUTH METHOD PATH [BODY]: the status; the body in $work/resp, the
# headers in $work/hdr. AUTH: none, a token's name, or "raw:VALUE".
call() {
  local auth=$1 method=$2 path=$3 body=${4:-}
  local args=(-s -o "$work/resp" -D "$work/hdr" -w '%{http_code}' -X "$method")
  case "$auth" in
    none) ;;
    raw:*) args+=(-H "Authorization: ${auth#raw:}") ;;
    wrong) args+=(-H "Authorization: Bearer not-a-token-of-this-node") ;;
    *) args+=(-H "Authorization: Bearer $(tok "$auth")") ;;
  esac
  [[ -n "$body" ]] && args+=(-H 'Content-Type: application/json' --data-binary "@$body")
  curl "${args[@]}" "$base$path"
}
missing() { python3 -c "import json; print(json.load(open('$work/resp')).get('missing', '-'))"; }
# matrix NAME METHOD PATH BODY WITHOUT-SCOPE RIGHT [RIGHT-STATUS]
matrix() {
  local name=$1 method=$2 path=$3 body=$4 without=$5 right=$6 ok=${7:-200}
  check "$name: no token 401" test "$(call none "$method" "$path" "$body")" == 401
  check "$name:   the body says a token is missing" grep -q '"missing":"[a-z]*' "$work/resp"
  check "$name: a wrong token 401" test "$(call wrong "$method" "$path" "$body")" == 401
  check "$name:   WWW-Authenticate: Bearer" grep -qi '^www-authenticate: Bearer' "$work/hdr"
  check "$name: token '$without' lacks the scope: 403" test "$(call "$without" "$method" "$path" "$body")" == 403
  check "$name:   the body names the scope ($(missing))" bash -c "[[ '$(missing)' == 'scope '* ]]"
  check "$name: token '$right': $ok" test "$(call "$right" "$method" "$path" "$body")" == "$ok"
}

start_node --tokens-file "$work/tokens.conf" || exit 1

# -- the webhook: HMAC as before, or a bearer token with `publish` ----------
printf '{"topic":"registry","key":"npm/acl-pkg","payload":{"name":"acl-pkg","version":"1.0.0","downloads_a_month":"7","summary":"a"},"attributes":{"ecosystem":"npm","format":"tsv"}}' > "$work/ev.json"
matrix "POST /v1/events" POST /v1/events "$work/ev.json" reader publisher
check "  a signed body still needs no token" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
  -H 'Content-Type: application/json' -H "X-Sluice-Signature: $(sign "$work/key" "$work/ev.json")" \
  --data-binary "@$work/ev.json" "$base/v1/events")" == 200
for _ in $(seq 1 100); do
  [[ "$(call reader GET /v1/keys/score/npm/acl-pkg)" == 200 ]] && break; sleep 0.05
done

# -- reads, ingestion on demand, refresh -------------------------------------
matrix "GET /v1/keys (a known key)" GET /v1/keys/score/npm/acl-pkg "" publisher reader
k1=$(awk -F'\t' 'NR == 50 { print $1 }' "$example/data/pypi.tsv")
matrix "GET /v1/keys (on-demand ingestion)" GET "/v1/keys/score/pypi/$k1" "" reader querier
k1b=$(awk -F'\t' 'NR == 51 { print $1 }' "$example/data/pypi.tsv")
check "a reader asking for a key the node lacks: 403" test "$(call reader GET "/v1/keys/score/pypi/$k1b")" == 403
check "  saying ingestion needs scope query" grep -q "(on-demand ingestion) needs scope 'query'; token 'reader' has read" "$work/resp"
check "  ?ingest=0 reads without ingesting: 404" test "$(call reader GET "/v1/keys/score/pypi/$k1b?ingest=0")" == 404
check "  saying so" grep -q "ingest=0 asked not to ingest it" "$work/resp"
matrix "GET /v1/keys?refresh=1" GET "/v1/keys/score/pypi/$k1?refresh=1" "" reader querier
check "the admin token may read" test "$(call admin GET /v1/keys/score/npm/acl-pkg)" == 200
check "a malformed Authorization header: 401" test "$(call "raw:Basic dXNlcjpwdw==" GET /v1/keys/score/npm/acl-pkg)" == 401
check "  saying what it must be" grep -q "must be 'Bearer TOKEN'" "$work/resp"

# -- topology: HMAC or `admin` ----------------------------------------------
cp "$pipeline" "$work/topo.yaml"
matrix "POST /v1/topology" POST /v1/topology "$work/topo.yaml" publisher admin

# -- open by default ---------------------------------------------------------
for p in /healthz /readyz /metrics; do
  check "GET $p needs no token" test "$(call none GET $p)" == 200
done
check "refusals are counted" bash -c "curl -s '$base/metrics' | grep -q '^sluice_http_refused_total{reason=\"forbidden\"}'"

# -- the audit trail, and no token in the log --------------------------------
check "refusals are audited with the token's name and address" \
  grep -q "sluice.audit.*refused GET /v1/keys/score/pypi/$k1 (on-demand ingestion) by reader from 127.0.0.1" "$work/node.log"
check "anonymous refusals too" grep -q "sluice.audit.*refused POST /v1/events by anonymous from 127.0.0.1" "$work/node.log"
check "the topology change is audited as done by admin" \
  grep -q "sluice.audit.*POST /v1/topology by admin from 127.0.0.1" "$work/node.log"
for n in reader querier publisher admin; do
  check "the $n token is not in the log" bash -c "! grep -qF '$(tok "$n")' '$work/node.log'"
done
stop_node

# -- the on-demand rate limit: 429 with Retry-After --------------------------
start_node --tokens-file "$work/tokens.conf" --query-rate 1 || exit 1
codes=""
for i in 1 2 3 4; do
  k=$(awk -F'\t' -v n=$((300 + i)) 'NR == n { print $1 }' "$example/data/pypi.tsv")
  codes+="$(call querier GET "/v1/keys/score/pypi/$k?wait=0") "
done
check "a burst of 2 at 1/s, then 429 ($codes)" test "$codes" == "202 202 429 429 "
check "  with Retry-After" grep -qi '^retry-after: [1-9]' "$work/hdr"
check "  counted" bash -c "curl -s '$base/metrics' | grep -q '^sluice_http_refused_total{reason=\"rate_limited\"} 2'"
check "reads of known keys are not rate limited" test "$(call reader GET /v1/keys/score/npm/acl-pkg)" == 200
stop_node

# -- --public-read (never ingestion) and --private-metrics -------------------
start_node --tokens-file "$work/tokens.conf" --public-read --private-metrics || exit 1
check "--public-read: a known key without a token: 200" test "$(call none GET /v1/keys/score/npm/acl-pkg)" == 200
k2=$(awk -F'\t' 'NR == 60 { print $1 }' "$example/data/pypi.tsv")
check "--public-read: ingestion without a token: 401" test "$(call none GET "/v1/keys/score/pypi/$k2")" == 401
check "  naming scope query" grep -q "scope 'query'" "$work/resp"
check "--private-metrics: /metrics without a token: 401" test "$(call none GET /metrics)" == 401
check "--private-metrics: /metrics with a reader: 200" test "$(call reader GET /metrics)" == 200
check "  /healthz stays open" test "$(call none GET /healthz)" == 200
stop_node

# -- no token configured at all: reads are closed ----------------------------
start_node || exit 1
check "no token configured: GET /v1/keys 401" test "$(call none GET /v1/keys/score/npm/acl-pkg)" == 401
check "  saying how to configure one" grep -q -- "--tokens-file" "$work/resp"
check "  a token it does not know: 401" test "$(call reader GET /v1/keys/score/npm/acl-pkg)" == 401
stop_node
export SLUICE_TOKEN="console-token-$RANDOM-$RANDOM"
console_port=$(free_port)
start_node --listen "127.0.0.1:$console_port" || exit 1
check "the console token (SLUICE_TOKEN) reads" test "$(curl -s -o /dev/null -w '%{http_code}' \
  -H "Authorization: Bearer $SLUICE_TOKEN" "$base/v1/keys/score/npm/acl-pkg")" == 200
"$sluice" console "127.0.0.1:$console_port" -c "pause enrich" >/dev/null
"$sluice" console "127.0.0.1:$console_port" -c "resume enrich" >/dev/null
"$sluice" console "127.0.0.1:$console_port" -c "log-level warn" >/dev/null
SLUICE_TOKEN=wrong-console-token "$sluice" console "127.0.0.1:$console_port" -c "pause enrich" >/dev/null 2>&1
check "the console's pause is audited" grep -q "sluice.audit.*console command 'pause enrich' by console from the console on CAF node .*: done" "$work/node.log"
check "  and its resume" grep -q "sluice.audit.*console command 'resume enrich' by console" "$work/node.log"
check "  and a log-level change" grep -q "sluice.audit.*console command 'log-level warn' by console" "$work/node.log"
check "  and a refused console command" grep -q "sluice.audit.*refused console command 'pause' by anonymous from the console on CAF node .*: wrong token" "$work/node.log"
check "the console token is not in the log" bash -c "! grep -qF '$SLUICE_TOKEN' '$work/node.log'"
stop_node
unset SLUICE_TOKEN

# -- a malformed tokens file is refused, naming file and line ----------------
printf 'reader read file:reader.token\nbroken read,write file:reader.token\n' > "$work/bad.conf"
"$sluice" run "$pipeline" --data "$work/data2" --http "127.0.0.1:$port" \
  --tokens-file "$work/bad.conf" -q 2>"$work/bad.log"
rc=$?
check "a malformed tokens file: exit 2" test "$rc" -eq 2
check "  naming file and line" grep -q "bad.conf:2: unknown scope 'write'" "$work/bad.log"

finish
