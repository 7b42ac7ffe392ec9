#!/usr/bin/env bash
# `sluice run --http HOST:PORT --serve` through the real binary, with curl:
# /healthz answers while the store is still opening (another process holds
# LMDB's write lock) and /readyz says 503 with the reason until it opens;
# /metrics after a drained run matches the work done and is valid
# Prometheus text; SIGTERM stops a serving node with exit 0 and frees the
# port; bad --http values exit 2 naming the value; --log-format json writes
# only JSON lines on stderr.
#
# usage: http_test.sh SLUICE_BINARY HOLD_WRITE_LOCK_BINARY SOURCE_DIR
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: $0 SLUICE_BINARY HOLD_WRITE_LOCK_BINARY SOURCE_DIR" >&2; exit 2; }
sluice=$(realpath -- "$1")
holder=$(realpath -- "$2")
ex=$(realpath -- "$3")/examples/package_trust
for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "FAIL: this test needs $tool"; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_http.XXXXXX")
pids=() # every process this script started, stopped by PID at exit
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
passed=0
failed=0
check() { # NAME COMMAND...: the command must succeed
  local name=$1
  shift
  if "$@"; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    failed=$((failed + 1))
  fi
}
equal() { # NAME ACTUAL EXPECTED
  if [[ "$2" == "$3" ]]; then
    echo "ok   $1"
    passed=$((passed + 1))
  else
    echo "FAIL $1: got '$2', expected '$3'"
    failed=$((failed + 1))
  fi
}

# A port nothing listens on now, chosen by the kernel.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# get PATH: the body in body.txt, headers in headers.txt; prints the HTTP
# status, 000 when nothing answers.
get() {
  curl -s --max-time 5 -o body.txt -D headers.txt -w '%{http_code}' \
    "http://127.0.0.1:$port$1" || true
}
# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
answers() { [[ $(get "$1") == "$2" ]]; } # PATH STATUS
# running PID: alive, not a zombie waiting to be reaped.
running() {
  [[ -e /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}
exited() { ! running "$1"; }
# stop PID: SIGTERM, then its exit code in $stopped_rc (SIGKILL and 124 if
# it is still up after 30 s).
stop() {
  kill -TERM "$1"
  stopped_rc=0
  if ! wait_for 30 exited "$1"; then
    kill -KILL "$1"
    wait "$1" || true
    stopped_rc=124
    return
  fi
  wait "$1" || stopped_rc=$?
}
port_free() { # PORT: nothing listens and it can be bound again
  python3 -c 'import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1"
}

pipeline=$ex/pipeline.yaml
npm=$ex/data/npm.tsv
records=$(($(wc -l <"$npm") - 1)) # lines minus the header

# -- readiness while the store is opening ------------------------------------

mkdir d_locked
"$holder" d_locked >holder.out 2>holder.err &
holder_pid=$!
pids+=("$holder_pid")
check "the helper holds the write lock" wait_for 10 grep -qx locked holder.out
port=$(free_port)
"$sluice" run "$pipeline" --feed "$npm" --data d_locked \
  --http "127.0.0.1:$port" --serve -q 2>locked.err &
pid=$!
pids+=("$pid")
check "/healthz answers 200 while the store is opening" wait_for 20 answers /healthz 200
equal "/healthz body" "$(cat body.txt)" '{"status":"alive"}'
equal "/readyz is 503 while the store is opening" "$(get /readyz)" 503
equal "/readyz names the reason" "$(cat body.txt)" \
  '{"ready":false,"reason":"the store is opening"}'
equal "/metrics is 503 while the store is opening" "$(get /metrics)" 503
sleep 1
equal "/readyz is still 503 a second later" "$(get /readyz)" 503
check "the node is still up, waiting for the lock" running "$pid"
kill -TERM "$holder_pid"
wait "$holder_pid" || true
check "/readyz turns 200 once the lock is released" wait_for 30 answers /readyz 200
equal "/readyz body when ready" "$(cat body.txt)" '{"ready":true}'
equal "an unknown path is 404" "$(get /no/such)" 404
equal "an unknown path names itself in JSON" "$(cat body.txt)" \
  '{"error":"no such endpoint: /no/such"}'
stop "$pid"
equal "SIGTERM of the serving node exits 0" "$stopped_rc" 0
check "its port is free after" port_free "$port"
check "nothing answers on it" test "$(get /healthz)" = 000

# -- metrics after a drained run ---------------------------------------------

port=$(free_port)
"$sluice" --log-level info run "$pipeline" --feed "$npm" --data d_metrics \
  --http "127.0.0.1:$port" --serve -q 2>metrics.err &
pid=$!
pids+=("$pid")
check "the serving node drains the feed" \
  wait_for 120 grep -q "drained; serving until SIGINT or SIGTERM" metrics.err
check "the node keeps running once drained" running "$pid"
# The work counters stop changing once drained: two reads a second apart
# agree (others, such as the reconciler's scans, go on).
work_counters() {
  grep -E '^sluice_(stage_(done|skipped|failed)|feed_records)_total' "$1"
}
get /metrics >/dev/null
cp body.txt metrics1.txt
sleep 1
equal "/metrics is 200" "$(get /metrics)" 200
cp body.txt metrics.txt
check "the work counters no longer change" \
  cmp -s <(work_counters metrics1.txt) <(work_counters metrics.txt)
check "/metrics has the Prometheus content type" \
  grep -qi '^Content-Type: text/plain; version=0.0.4' headers.txt
cat >check_metrics.py <<'PY'
import re, sys
records = int(sys.argv[2])
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
sample = re.compile(rf"^({name})(\{{(?:{label}(?:,{label})*)?\}})? "
                    r"([-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf|NaN))$")
comment = re.compile(rf"^# (?:(?:HELP|TYPE) {name}(?: .*)?|[^A-Z].*)?$")
bad, series = [], {}
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
if lines[-1] != "":
    bad.append("the text does not end with a newline")
for line in lines[:-1]:
    m = sample.match(line)
    if m:
        series[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    elif not comment.match(line):
        bad.append(line)
problems = [f"not a Prometheus text line: {l!r}" for l in bad[:5]]
def total(prefix):
    return sum(v for k, v in series.items() if k.startswith(prefix))
fed = total("sluice_feed_records_total{")
if fed != records:
    problems.append(f"sluice_feed_records_total is {fed}, the feed has {records}")
parse = sum(series.get(f'sluice_stage_{c}_total{{stage="parse"}}', -1e9)
            for c in ("done", "skipped", "failed"))
if parse != records:
    problems.append(f"parse done + skipped + failed is {parse}, expected {records}")
score = series.get('sluice_stage_done_total{stage="score"}', 0)
if score <= 0:
    problems.append("score did nothing")
for p in problems:
    print("       " + p)
sys.exit(1 if problems else 0)
PY
check "every line is valid Prometheus text and the counters match the work ($records records)" \
  python3 check_metrics.py metrics.txt "$records"
equal "/readyz is 200 while serving" "$(get /readyz)" 200

# -- bad --http values ---------------------------------------------------------

refused() { # VALUE: exit 2, the value named on stderr
  local rc=0
  "$sluice" run "$pipeline" --feed "$npm" --data d_bad --http "$1" -q \
    >bad.out 2>bad.err || rc=$?
  if [[ $rc -eq 2 ]] && grep -qF -- "'$1'" bad.err; then
    echo "ok   --http '$1' is refused with exit 2, naming it"
    passed=$((passed + 1))
  else
    echo "FAIL --http '$1': exit $rc, expected 2 and the value on stderr"
    sed 's/^/       stderr: /' bad.err
    failed=$((failed + 1))
  fi
}
refused 127.0.0.1           # no port
refused 127.0.0.1:          # empty port
refused 127.0.0.1:65536     # out of range
refused 127.0.0.1:0         # out of range
refused 127.0.0.1:http      # not a number
refused "127.0.0.1:$port"   # in use, by the node above
check "a refused --http says the address is in use" grep -q "in use" bad.err
check "a refused --http opens no store" test ! -e d_bad

stop "$pid"
equal "SIGTERM of the drained serving node exits 0" "$stopped_rc" 0
check "its port is free after" port_free "$port"

# -- --log-format json -----------------------------------------------------------

# A feed whose path needs escaping (quote, backslash, tab): the feed's log
# lines name it. And one malformed line (a warning).
odd=$'q"uo\\te\ttab'
mkdir "$odd"
printf 'name\tversion\tdownloads_a_month\tsummary\nleft-pad\t1.3.0\t100\tpad\nbadrow\tonly\n' \
  >"$odd/npm.tsv"
port=$(free_port)
rc=0
"$sluice" --log-level info --log-format json run "$pipeline" \
  --feed "$odd/npm.tsv" --data d_json --http "127.0.0.1:$port" \
  >json.out 2>json.err || rc=$?
equal "a run with json logs exits 0" "$rc" 0
rc=0
"$sluice" --log-format json run "$pipeline" --data d_json --http 127.0.0.1 \
  >>json.out 2>>json.err || rc=$?
equal "an error with json logs exits 2" "$rc" 2
cat >check_json.py <<'PY'
import json, re, sys
ts = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
raw = open(sys.argv[1], "rb").read()
problems, loggers, msgs = [], set(), []
if not raw.endswith(b"\n"):
    problems.append("stderr does not end with a newline")
for n, line in enumerate(raw.split(b"\n")[:-1], 1):
    try:
        o = json.loads(line.decode("utf-8"))
    except ValueError as e:
        problems.append(f"line {n} is not JSON ({e}): {line[:200]!r}")
        continue
    if not isinstance(o, dict) or sorted(o) != ["level", "logger", "msg", "ts"]:
        problems.append(f"line {n} has not exactly ts/level/logger/msg: {o}")
        continue
    if not ts.match(o["ts"]):
        problems.append(f"line {n}: ts {o['ts']!r} is not ISO-8601 UTC with ms")
    if o["level"] not in ("trace", "debug", "info", "warn", "error", "critical"):
        problems.append(f"line {n}: unknown level {o['level']!r}")
    loggers.add(o["logger"])
    msgs.append((o["level"], o["msg"]))
odd = 'q"uo\\te\ttab'
want = [
    ("info", "http: serving /healthz, /readyz and /metrics on "),
    ("warn", "npm.tsv:3: expected 4 tab-separated fields"),
    ("info", odd + "/npm.tsv: finished after 2 records"),
    ("error", "--http '127.0.0.1': no port"),
]
for level, text in want:
    if not any(l == level and text in m for l, m in msgs):
        problems.append(f"no {level} line containing {text!r}")
if "sluice.feed" not in loggers:
    problems.append(f"no line from a component logger (sluice.feed): {loggers}")
for p in problems:
    print("       " + p)
sys.exit(1 if problems else 0)
PY
check "every stderr line is a JSON object with ts, level, logger and msg" \
  python3 check_json.py json.err
check "json logs leave stdout empty" test ! -s json.out

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
