#!/usr/bin/env bash
# `sluice node --settings FILE`: a member's options in one YAML file, the
# command line winning; `--check` validates them and exits; a mistake in
# the file names its line; and a member started from the file serves.
#
# usage: settings_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice="$1" src="$2"
source "$(dirname "$0")/lib.sh"
setup_work settings

listen=127.0.0.1:$(free_port)
http=127.0.0.1:$(free_port)
printf 'settings-test-secret-%s\n' "$RANDOM" > "$work/secret"
chmod 600 "$work/secret"
cat > "$work/node.yaml" <<YAML
# one member of a test cluster
config: $src/examples/package_trust/pipeline.yaml
name: a
listen: $listen
data: $work/a
secret_file: $work/secret
http: $http
no-sync: true
commit-window: 5
commit-budget: 8
YAML

"$sluice" node --settings "$work/node.yaml" --check >"$work/check.out" 2>&1
rc=$?
check "--check passes on good settings (exit $rc)" test "$rc" -eq 0
check "and says what the member would run with" \
  grep -q "the check passed: a listening on $listen" "$work/check.out"
check "its data directory, to be created" grep -q "data $work/a (to be created)" "$work/check.out"
check "--check started nothing (no data directory)" test ! -e "$work/a"

"$sluice" node --settings "$work/node.yaml" --name b --check >"$work/over.out" 2>&1
check "the command line wins over the file" grep -q "the check passed: b listening" "$work/over.out"

sed 's/^listen:/lisen:/' "$work/node.yaml" > "$work/typo.yaml"
"$sluice" node --settings "$work/typo.yaml" --check >"$work/typo.out" 2>&1
rc=$?
check "a misspelt setting is refused (exit $rc)" test "$rc" -eq 2
check "naming the file, the line and the setting it may be" \
  grep -q "typo.yaml:4: unknown setting 'lisen' (did you mean listen?)" "$work/typo.out"

sed 's/^commit-budget: 8/commit-budget: soon/' "$work/node.yaml" > "$work/budget.yaml"
"$sluice" node --settings "$work/budget.yaml" --check >"$work/budget.out" 2>&1
rc=$?
check "a commit budget that is no number of milliseconds is refused (exit $rc)" test "$rc" -eq 2
check "naming the setting" grep -q "commit-budget" "$work/budget.out"

sed "s|^data: .*|data: $work/secret/a|" "$work/node.yaml" > "$work/nodata.yaml"
"$sluice" node --settings "$work/nodata.yaml" --check >"$work/nodata.out" 2>&1
rc=$?
check "a data directory that cannot be made fails the check (exit $rc)" test "$rc" -eq 2
check "saying so" grep -q "does not exist and cannot be created ($work/secret is not a directory)" "$work/nodata.out"

grep -v '^secret_file' "$work/node.yaml" > "$work/nosecret.yaml"
SLUICE_CLUSTER_SECRET= "$sluice" node --settings "$work/nosecret.yaml" --check >"$work/nosecret.out" 2>&1
rc=$?
check "no secret fails the check (exit $rc)" test "$rc" -eq 2
check "saying how to give one" grep -q "no cluster secret" "$work/nosecret.out"

# Started from the file, the member serves.
"$sluice" node --settings "$work/node.yaml" 2>"$work/node.log" &
node_pid=$!
ready=""
for _ in $(seq 1 200); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$http/readyz")" == 200 ]] && { ready=yes; break; }
  sleep 0.05
done
check "a member started with --settings becomes ready" test "$ready" == yes
check "with its data where the file says" test -d "$work/a"
kill -TERM "$node_pid"; wait "$node_pid"; rc=$?; node_pid=""
check "and stops on SIGTERM with exit 0 (exit $rc)" test "$rc" -eq 0
finish
