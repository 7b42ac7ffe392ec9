#!/usr/bin/env bash
# The debug console against a real node: `sluice run --listen --serve` on
# 127.0.0.1 over 50 real npm records and one bad one; `console -c` answers
# checked field by field (JSON, exit codes); a wrong or missing token is
# refused; and the interactive shell driven in tmux (send-keys,
# capture-pane): stages, inspect of a real key with its state, a dead
# letter listed and redriven, an unknown command, tab completion, history.
#
# usage: console_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice="$1" src="$2"
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_console.XXXXXX")
session="sluice_console_$$"
node_pid=""
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null
  [[ -n "$node_pid" ]] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
passed=0 failed=0
pass() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { local name="$1"; shift; if "$@"; then pass; else fail "$name"; fi; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
addr="127.0.0.1:$port"
export SLUICE_TOKEN="tok-$RANDOM-$RANDOM"
head -n 51 "$src/examples/package_trust/data/npm.tsv" > "$work/npm.tsv"
printf 'leftpad2\t1.0.0\tlots\tdownloads is no number\n' >> "$work/npm.tsv"

"$sluice" run "$src/examples/package_trust/pipeline.yaml" --feed "$work/npm.tsv" \
  --data "$work/data" --listen "$addr" --serve -q 2>"$work/node.log" &
node_pid=$!

c() { "$sluice" console "$addr" -c "$*"; } # one command, JSON on stdout
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# Wait until the node answers and every stage is done.
for _ in $(seq 1 300); do
  out=$(c stages 2>/dev/null) && [[ "$(echo "$out" | json 'sum(s["queued_normal"] + s["in_flight"] for s in d["stages"])')" == 0 ]] \
    && [[ "$(echo "$out" | json 'd["stages"][2]["done"]')" == 50 ]] && break
  sleep 0.1
done

# -- -c: JSON, field by field ---------------------------------------------
stages=$(c stages)
check "stages: three stages in order" test "$(echo "$stages" | json '",".join(s["name"] for s in d["stages"])')" == "parse,enrich,score"
check "stages: parse took 51 events" test "$(echo "$stages" | json 'd["stages"][0]["in"]')" == 51
check "stages: parse did 50" test "$(echo "$stages" | json 'd["stages"][0]["done"]')" == 50
check "stages: parse dead-lettered 1" test "$(echo "$stages" | json 'd["stages"][0]["dead_lettered"]')" == 1
check "stages: score did 50" test "$(echo "$stages" | json 'd["stages"][2]["done"]')" == 50
check "stages: nothing queued" test "$(echo "$stages" | json 'sum(s["queued_urgent"]+s["queued_normal"] for s in d["stages"])')" == 0
check "stages: a latency was measured" test "$(echo "$stages" | json 'd["stages"][2]["latency"]["normal"]["count"]')" == 50

key=npm/1up
inspect=$(c inspect score "$key")
check "inspect: the key" test "$(echo "$inspect" | json 'd["key"]')" == "$key"
check "inspect: the state is the behaviour's JSON" test "$(echo "$inspect" | json 'type(d["state"]).__name__')" == dict
check "inspect: one event processed" test "$(echo "$inspect" | json 'd["events_processed"]')" == 1
check "inspect: done in score" test "$(echo "$inspect" | json 'd["status"]["stage"] + "/" + d["status"]["phase"]')" == "score/done"
check "inspect: an empty mailbox" test "$(echo "$inspect" | json 'd["mailbox"]["urgent"] + d["mailbox"]["normal"]')" == 0
export_line=$("$sluice" export --data "$work/data" --stage score | grep "^$key	" | cut -f2)
check "inspect: the same state as export" test "$(echo "$inspect" | json 'json.dumps(d["state"], sort_keys=True)')" == "$(echo "$export_line" | json 'json.dumps(d, sort_keys=True)')"

trace=$(c trace "$key")
check "trace: parse, enrich, score" test "$(echo "$trace" | json '",".join(p["stage"] for p in d["path"])')" == "parse,enrich,score"
check "trace: in time order" test "$(echo "$trace" | json 'all(d["path"][i]["at"] <= d["path"][i+1]["at"] for i in range(2))')" == True

dlq=$(c dlq list)
check "dlq: one dead letter" test "$(echo "$dlq" | json 'len(d["dead_letters"])')" == 1
check "dlq: the bad record's key" test "$(echo "$dlq" | json 'd["dead_letters"][0]["key"]')" == npm/leftpad2
check "dlq: its error names the field" test "$(echo "$dlq" | json '"is not a number" in d["dead_letters"][0]["last_error"]')" == True
dl_id=$(echo "$dlq" | json 'd["dead_letters"][0]["id"]')

nodes=$(c nodes)
check "nodes: one node, up" test "$(echo "$nodes" | json 'd["nodes"][0]["status"]')" == up
check "metrics: the feed count" bash -c "$(printf '%q ' "$sluice" console "$addr" -c 'metrics sluice_feed_records_total') | grep -q 'sluice_feed_records_total.* 51'"

# -- exit codes and refusals ----------------------------------------------
SLUICE_TOKEN=wrong "$sluice" console "$addr" -c stages >"$work/out" 2>"$work/err"; rc=$?
check "a wrong token exits 4" test "$rc" -eq 4
check "a wrong token is refused in JSON" grep -q '"refused' "$work/out"
check "the node logs the refusal" grep -q "refused console command 'stages'" "$work/node.log"
env -u SLUICE_TOKEN "$sluice" console "$addr" -c stages >"$work/out" 2>"$work/err"; rc=$?
check "no token exits 2" test "$rc" -eq 2
check "no token names the fix" grep -q "SLUICE_TOKEN" "$work/err"
"$sluice" console "$addr" -c "frobnicate" >"$work/out" 2>"$work/err"; rc=$?
check "an unknown command exits 2" test "$rc" -eq 2
"$sluice" console "$addr" -c "inspect score never/seen" >"$work/out" 2>"$work/err"; rc=$?
check "an unknown key exits 1" test "$rc" -eq 1
check "an unknown key is named" grep -q "never/seen" "$work/out"
"$sluice" console 127.0.0.1:1 -c stages >"$work/out" 2>"$work/err"; rc=$?
check "an unreachable node exits 3" test "$rc" -eq 3
"$sluice" console "not-an-address" -c stages >"$work/out" 2>"$work/err"; rc=$?
check "a malformed address exits 2" test "$rc" -eq 2

# -- the interactive shell in tmux ----------------------------------------
screen() { tmux capture-pane -p -t "$session" -S -200; }
wait_for() { # wait_for TEXT: until the pane shows it (10 s)
  for _ in $(seq 1 100); do screen | grep -qF -- "$1" && return 0; sleep 0.1; done
  echo "--- pane:"; screen; return 1
}
type_line() { tmux send-keys -t "$session" -l "$1"; tmux send-keys -t "$session" Enter; }
tmux new-session -d -s "$session" -x 120 -y 60 \
  "SLUICE_TOKEN=$SLUICE_TOKEN SLUICE_HISTORY=$work/history $sluice console $addr; sleep 30"
check "shell: greets" wait_for "help lists the commands"
type_line "stages"
check "shell: stages table" wait_for "P99ms"
check "shell: stages rows" bash -c "$(declare -f screen); session=$session; screen | grep -qE '^score +50 +50 '"
check "shell: tables fit 80 columns" bash -c "$(declare -f screen); session=$session; ! screen | grep -A4 '^STAGE' | awk 'length > 80' | grep -q ."
type_line "inspect score $key"
check "shell: inspect shows the state" wait_for '"verdict"'
check "shell: inspect shows the status" wait_for "done in score since"
type_line "dlq list"
check "shell: dlq list" wait_for "1 dead letters"
type_line "dlq redrive $dl_id"
check "shell: redrive" wait_for "redriven 1"
type_line "frobnicate"
check "shell: an unknown command is one line" wait_for "error: unknown command 'frobnicate'"
# Tab completion: a command, then a stage name, then a node name; each
# completed line is submitted, so the pane shows exactly what it became.
tmux send-keys -t "$session" -l "insp"; tmux send-keys -t "$session" Tab
tmux send-keys -t "$session" -l "enr"; tmux send-keys -t "$session" Tab
tmux send-keys -t "$session" -l "npm/1up"; tmux send-keys -t "$session" Enter
check "shell: tab completes a command and a stage" wait_for "npm/1up  (stage enrich)"
tmux send-keys -t "$session" -l "shards lo"; tmux send-keys -t "$session" Tab
tmux send-keys -t "$session" Enter
check "shell: tab completes a node" wait_for "> shards local"
type_line "help inspect"
check "shell: help CMD" wait_for "inspect STAGE KEY"
type_line "quit"
for _ in $(seq 1 50); do grep -q "^quit" "$work/history" 2>/dev/null && break; sleep 0.1; done
check "shell: history is kept in the file" grep -qx "dlq list" "$work/history"
# The redriven record failed again (its field is still no number): one
# dead letter again, a new one, as the next command sees.
for _ in $(seq 1 50); do
  now_id=$(c dlq list | json 'd["dead_letters"][0]["id"] if d["dead_letters"] else ""')
  [[ -n "$now_id" && "$now_id" != "$dl_id" ]] && break; sleep 0.1
done
check "redriven: it ran again and was dead-lettered anew" test -n "$now_id" -a "$now_id" != "$dl_id"
check "redriven: still one dead letter" test "$(c dlq list | json 'len(d["dead_letters"])')" == 1
check "redriven: parse saw it twice" test "$(c stages | json 'd["stages"][0]["in"]')" == 52

kill -TERM "$node_pid"; wait "$node_pid"; rc=$?; node_pid=""
check "the node stops on SIGTERM with exit 0" test "$rc" -eq 0

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
