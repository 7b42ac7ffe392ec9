#!/usr/bin/env bash
# PostgreSQL change capture against a real PostgreSQL 15 started here:
# each misconfiguration refused at start with its fix; then two tables'
# inserts, updates and deletes (a snapshot of what was there first, a
# transaction larger than a batch, transactions of a table no source reads)
# flow through a two-stage pipeline while Sluice is killed with -9
# mid-stream and PostgreSQL is restarted under it; both stages' exports
# then equal the tables, and the source committed exactly as many changes
# as were made (none lost, none repeated).
#
# usage: postgres_source_test.sh SLUICE_BINARY
set -uo pipefail
sluice="$1"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
source "$here/pg_server.sh"
setup_work pgsource
trap 'pg_stop; cleanup_work' EXIT
workload="$here/pg_workload.py"

pg_install || { echo "FAIL: cannot install PostgreSQL 15"; exit 1; }
port=$(free_port)
pg_start "$port" || { echo "FAIL: PostgreSQL did not start"; exit 1; }
psql_db=("${pg_psql[@]}" -d shop)
"${pg_psql[@]}" -c "CREATE DATABASE shop" &&
  python3 "$workload" schema | "${psql_db[@]}" &&
  "${psql_db[@]}" -c "CREATE TABLE nokey (x integer)" &&
  "${pg_psql[@]}" -c "CREATE ROLE capture LOGIN REPLICATION; CREATE ROLE plain LOGIN" &&
  "${psql_db[@]}" -c "GRANT SELECT ON ALL TABLES IN SCHEMA public TO capture, plain" ||
  { echo "FAIL: schema"; exit 1; }

conn="host=127.0.0.1 port=$port dbname=shop user=capture"
pipeline() { # pipeline FILE SOURCE-LINES...
  local f="$1"; shift
  {
    echo "pipeline: pgsource"
    echo "topics: [rows, changed]"
    if (($#)); then echo "sources:"; printf '%s\n' "$@"; fi
    cat <<'YAML'
stages:
  - name: mirror
    behaviour: sluice.table
    subscribe: [{topic: rows}]
    settings: {topic: changed}
    emits: [changed]
  - name: copy
    behaviour: sluice.table
    subscribe: [{topic: changed}]
YAML
  } >"$f"
}
# refused NAME EXPECTED-TEXT ARGS...: sluice run --serve exits 2, saying it.
refused() {
  local name="$1" text="$2"; shift 2
  timeout 30 "$sluice" run "$@" --serve --data "$work/refused" -q >"$work/refused.out" 2>&1
  local rc=$?
  check "$name: refused at start (exit $rc)" test "$rc" -eq 2
  check "$name: says '$text'" grep -qF -- "$text" "$work/refused.out"
  grep -qF -- "$text" "$work/refused.out" || cat "$work/refused.out"
}

# --- Misconfigurations, each with its error ------------------------------
pipeline "$work/plain.yaml"
url="postgresql://capture@127.0.0.1:$port/shop"
refused "a missing slot" "replication slot 'nothere' does not exist (create it" \
  "$work/plain.yaml" --source "$url?slot=nothere&tables=items"
refused "a table without a primary key" "table public.nokey has no primary key" \
  "$work/plain.yaml" --source "$url?slot=s1&tables=items,nokey&create_slot=true"
refused "an unknown table" "table public.ghost does not exist" \
  "$work/plain.yaml" --source "$url?slot=s1&tables=ghost&create_slot=true"
refused "a role without REPLICATION" "role 'plain' may not use replication slots (ALTER ROLE plain REPLICATION;)" \
  "$work/plain.yaml" --source "postgresql://plain@127.0.0.1:$port/shop?slot=s1&tables=items&create_slot=true"
refused "a malformed --source" "--source: snapshot: expected true or false, got 'maybe'" \
  "$work/plain.yaml" --source "$url?slot=s1&tables=items&snapshot=maybe"
timeout 30 "$sluice" run "$work/plain.yaml" --data "$work/refused" -q \
  --source "$url?slot=s1&tables=items" >"$work/bare.out" 2>&1
rc=$?
check "without --serve: exit 2 ($rc)" test "$rc" -eq 2
check "without --serve: says why" grep -q "use sluice node, or sluice run --serve" "$work/bare.out"
# `sluice node --check` asks the server too (a member takes --source).
head -c 32 /dev/urandom | base64 >"$work/secret"
chmod 600 "$work/secret"
node_check() {
  SLUICE_TOKEN=t "$sluice" node --config "$work/plain.yaml" --name a \
    --listen "127.0.0.1:$(free_port)" --data "$work/member" \
    --secret-file "$work/secret" --source "$1" --check >"$work/check.out" 2>&1
}
node_check "$url?slot=nothere&tables=items"
rc=$?
check "node --check with a missing slot: exit 2 ($rc)" test "$rc" -eq 2
check "  naming it" grep -q "replication slot 'nothere' does not exist" "$work/check.out"
node_check "$url?slot=fresh&tables=items,owners&create_slot=true"
rc=$?
check "node --check with a good source passes (exit $rc)" test "$rc" -eq 0
check "  and says what it found" grep -q "source fresh: slot fresh on 127.0.0.1:$port/shop, to be created" "$work/check.out"
grep -q "to be created" "$work/check.out" || cat "$work/check.out"
# A server that lets roles other than superusers decode only with listed
# plugins (PostgreSQL 15.20 on Debian) and does not list wal2json.
if pg_knows_setting output_plugin_libraries; then
  pg_halt
  pg_restart_server -c output_plugin_libraries=pgoutput
  refused "wal2json not in output_plugin_libraries, a new slot" \
    'library "wal2json" may not be used as an output plugin' \
    "$work/plain.yaml" --source "$url?slot=s1&tables=items&create_slot=true"
  "${psql_db[@]}" -c "SET output_plugin_libraries = wal2json" -c "SELECT pg_create_logical_replication_slot('made', 'wal2json')" >/dev/null
  refused "wal2json not in output_plugin_libraries, a slot a superuser made" \
    'library "wal2json" may not be used as an output plugin' \
    "$work/plain.yaml" --source "$url?slot=made&tables=items"
  "${psql_db[@]}" -c "SELECT pg_drop_replication_slot('made')" >/dev/null
fi
pg_halt
pg_restart_server -c wal_level=replica
refused "wal_level replica" "wal_level is 'replica'; change capture needs 'logical'" \
  "$work/plain.yaml" --source "$url?slot=s1&tables=items&create_slot=true"
pg_halt
pg_restart_server -c wal_level=logical
slots=$("${pg_psql[@]}" -c "SELECT count(*) FROM pg_replication_slots")
check "no refused start left a slot behind ($slots)" test "$slots" -eq 0

# --- Capture through kill -9 and a PostgreSQL restart --------------------
state="$work/model.json"
python3 "$workload" sql "$state" 1 40 | "${psql_db[@]}" >/dev/null ||
  { echo "FAIL: preload"; exit 1; }
before=$(python3 "$workload" count "$state")
pipeline "$work/pipeline.yaml" \
  "  - name: shop" "    postgres: \"$conn\"" "    slot: sluice_shop" \
  "    tables: [items, owners]" "    create_slot: true" "    snapshot: true" \
  "    batch: 50" "    poll: 20ms"
http=$(free_port)
start_node() {
  "$sluice" --log-level info run "$work/pipeline.yaml" --serve --data "$work/data" \
    --http "127.0.0.1:$http" -q >>"$work/node.log" 2>&1 &
  node_pid=$!
  for _ in $(seq 100); do
    curl -sf "127.0.0.1:$http/healthz" >/dev/null && return 0
    sleep 0.1
  done
  return 1
}
metric() { curl -s "127.0.0.1:$http/metrics" | awk -v m="$1" '$1 ~ "^"m"[{ ]" {print $2; exit}'; }
converged() { # converged SECONDS: both stages equal the tables within
  for _ in $(seq $(($1 * 4))); do
    python3 "$workload" compare "$port" shop "$sluice" "$work/data" mirror >/dev/null &&
      python3 "$workload" compare "$port" shop "$sluice" "$work/data" copy >/dev/null && return 0
    sleep 0.25
  done
  python3 "$workload" compare "$port" shop "$sluice" "$work/data" mirror
  python3 "$workload" compare "$port" shop "$sluice" "$work/data" copy
  return 1
}

check "the node starts with the source" start_node
check "the snapshot of the preloaded rows arrives" converged 30
grep -q "snapshot read" "$work/node.log"
check "the log says the snapshot was read" test $? -eq 0

# Many changes, one transaction larger than a batch (50), made while the
# node is stopped; kill -9 while it commits them.
kill -TERM "$node_pid"; wait "$node_pid" 2>/dev/null; node_pid=""
python3 "$workload" sql "$state" 2 400 1200 >"$work/phase2.sql"
"${psql_db[@]}" -f "$work/phase2.sql" >/dev/null || echo "FAIL: phase 2 SQL"
made=$(( $(python3 "$workload" count "$state") - before ))
check "the node starts again" start_node
for _ in $(seq 500); do
  seen=$(metric sluice_source_committed_changes)
  [[ -n $seen && $seen -gt 0 ]] && break
  sleep 0.01
done
kill -9 "$node_pid"; wait "$node_pid" 2>/dev/null; node_pid=""
echo "killed with -9 after ${seen:-0} of $made changes were committed"
check "killed mid-stream (${seen:-0} of $made committed)" test "${seen:-0}" -lt "$made"
check "the node starts again after kill -9" start_node
check "after kill -9: both stages equal the tables" converged 60

# PostgreSQL restarts under the running node; changes before and after.
python3 "$workload" sql "$state" 3 100 | "${psql_db[@]}" >/dev/null
pg_halt
sleep 1.5
pg_restart_server
python3 "$workload" sql "$state" 4 100 | "${psql_db[@]}" >/dev/null
check "after a PostgreSQL restart: both stages equal the tables" converged 60
grep -q "connected to .* again" "$work/node.log"
check "the source said it reconnected" test $? -eq 0
made=$(( $(python3 "$workload" count "$state") - before ))
committed=$(metric sluice_source_committed_changes)
check "exactly the $made changes made were committed, none repeated ($committed)" \
  test "${committed:-0}" -eq "$made"
"$sluice" dlq list --data "$work/data" >"$work/dlq.out" 2>&1
check "no dead letter" grep -q "^0 dead letters" "$work/dlq.out"
confirmed=$("${pg_psql[@]}" -c "SELECT confirmed_flush_lsn >= pg_current_wal_lsn() - 100000 FROM pg_replication_slots WHERE slot_name = 'sluice_shop'")
check "the slot was confirmed up to the end ($confirmed)" test "$confirmed" = t
kill -TERM "$node_pid"; wait "$node_pid" 2>/dev/null; node_pid=""
finish
