#!/usr/bin/env bash
# Private data through the real binary: under a permissive umask, `sluice
# run` and `sluice node` create the data directory 0700 and its LMDB files
# 0600; a data directory open to others gets a warning at start (an error,
# exit 2, with --strict-permissions); key, token and secret files others
# can read get a warning naming them. (There is no backup or restore
# command: `mdb_copy` is the documented backup.)
#
# usage: private_files_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice="$1" src="$2"
source "$(dirname "$0")/lib.sh"
setup_work private
unset SLUICE_TOKEN

example="$src/examples/package_trust"
pipeline="$example/pipeline.yaml"
head -50 "$example/data/npm.tsv" > "$work/npm.tsv"
mode() { stat -c '%a' "$1"; }
modes_are_private() { # NAME DIR
  check "$1: the data directory is 0700" test "$(mode "$2")" == 700
  check "$1: data.mdb is 0600" test "$(mode "$2/data.mdb")" == 600
  check "$1: lock.mdb is 0600" test "$(mode "$2/lock.mdb")" == 600
}
umask 000

# -- run ----------------------------------------------------------------------
"$sluice" run "$pipeline" --feed "$work/npm.tsv" --data "$work/run/data" -q 2>"$work/run.log"
check "run exits 0" test $? -eq 0
modes_are_private "run" "$work/run/data"
check "a new private data directory gets no warning" bash -c "! grep -q 'open to other users' '$work/run.log'"

# -- node ---------------------------------------------------------------------
port=$(free_port)
http=$(free_port)
export SLUICE_CLUSTER_SECRET="private-test-secret-$RANDOM"
"$sluice" node --config "$pipeline" --name a --listen "127.0.0.1:$port" \
  --data "$work/node" --http "127.0.0.1:$http" 2>"$work/node.log" &
node_pid=$!
for _ in $(seq 1 400); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http/readyz")" == 200 ]] && break
  sleep 0.05
done
modes_are_private "node" "$work/node"
kill -TERM "$node_pid"; wait "$node_pid" 2>/dev/null; node_pid=""

# -- dlq beside the data leaves the modes alone --------------------------------
"$sluice" dlq drop --data "$work/run/data" --all >/dev/null 2>&1
modes_are_private "after dlq drop" "$work/run/data"

# -- a data directory open to others -------------------------------------------
chmod 755 "$work/run/data"
"$sluice" run "$pipeline" --feed "$work/npm.tsv" --data "$work/run/data" -q 2>"$work/open.log"
check "a data directory open to others: the run still works" test $? -eq 0
check "  with a warning naming it, its mode and the fix" \
  grep -q "the data directory $work/run/data is open to other users (mode 0755).*chmod 700" "$work/open.log"
"$sluice" run "$pipeline" --feed "$work/npm.tsv" --data "$work/run/data" -q \
  --strict-permissions 2>"$work/strict.log"
check "--strict-permissions: exit 2" test $? -eq 2
check "  saying why" grep -q "open to other users.*refused: --strict-permissions" "$work/strict.log"

# -- secret files others can read ---------------------------------------------
printf 'hmac-key-%s\n' "$RANDOM" > "$work/hmac.key"
chmod 644 "$work/hmac.key"
printf 'console-token-%s-%s\n' "$RANDOM" "$RANDOM" > "$work/console.token"
chmod 640 "$work/console.token"
printf 'reader-token-%s-%s\n' "$RANDOM" "$RANDOM" > "$work/reader.token"
chmod 604 "$work/reader.token"
printf 'reader read file:reader.token\n' > "$work/tokens.conf"
chmod 600 "$work/tokens.conf"
chmod 700 "$work/run/data"
"$sluice" run "$pipeline" --feed "$work/npm.tsv" --data "$work/run/data" -q \
  --http "127.0.0.1:$(free_port)" --hmac-key-file "$work/hmac.key" \
  --token-file "$work/console.token" --tokens-file "$work/tokens.conf" 2>"$work/secrets.log"
check "readable secret files: the run still works" test $? -eq 0
check "  --hmac-key-file warned" grep -q -- "--hmac-key-file $work/hmac.key can be read by other users (mode 0644)" "$work/secrets.log"
check "  --token-file warned" grep -q -- "--token-file $work/console.token can be read by other users (mode 0640)" "$work/secrets.log"
check "  a token file of --tokens-file warned" grep -q "token file $work/reader.token can be read by other users (mode 0604)" "$work/secrets.log"
check "  the private tokens file is not named" bash -c "! grep -q 'tokens.conf can be read' '$work/secrets.log'"
check "  the private data directory is not named" bash -c "! grep -q 'open to other users' '$work/secrets.log'"

finish
