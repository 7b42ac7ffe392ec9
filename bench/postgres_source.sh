#!/usr/bin/env bash
# PostgreSQL change capture into the example pipeline (parse -> enrich ->
# score), issue 21. A PostgreSQL 15 started here (tests/cli/pg_server.sh),
# table `npm` (name primary key, version, downloads_a_month, summary), the
# bundled npm list's rows as changes; `sluice run --serve --source` reads
# the slot (fsync per commit).
#
# 1. Live burst: every row inserted, then every row's downloads updated,
#    in transactions of 20 rows, as fast as one psql sends them: changes/s
#    from the first commit in PostgreSQL to the score stage having taken
#    them all (bounded by the sender).
# 2. Backlog: the same changes again (other values) committed while the
#    node is stopped, then the node started: changes/s from its start to
#    the score stage having taken them all (Sluice's own rate).
# 3. Paced: 2,000 single-row updates, 200 transactions/s: lag per change
#    from its commit in PostgreSQL to its commit in Sluice
#    (sluice_source_lag_seconds) and from there to the score stage's commit
#    (sluice_stage_latency_seconds{stage="score"}), p50 and p99.
# Medians over REPEATS runs (default 3), each on a new data directory.
#
# usage: bench/postgres_source.sh [REPEATS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/.."
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
# shellcheck source=tests/cli/pg_server.sh
source "$root/tests/cli/pg_server.sh"
repeats=${1:-3}
sluice="$root/build/bin/sluice"
[[ -x $sluice ]] || { echo "build it first: cmake --build build --target sluice" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_pg_bench.XXXXXX")
node_pid=""
trap '[[ -n $node_pid ]] && kill -9 $node_pid 2>/dev/null; pg_stop; rm -rf "$work"' EXIT

pg_install
port=$(free_port)
pg_start "$port" -c fsync=on -c synchronous_commit=on
"${pg_psql[@]}" -c "CREATE ROLE capture LOGIN REPLICATION SUPERUSER"

# SQL files from the bundled npm list: inserts, updates, paced updates.
python3 - "$root/examples/package_trust/data/npm.tsv" "$work" <<'PY'
import sys
rows = open(sys.argv[1], encoding="utf-8").read().splitlines()[1:]
rows = [r.split("\t") + [""] * 4 for r in rows]
rows = [r[:4] for r in rows if r[0]]
q = lambda s: "'" + s.replace("'", "''") + "'"
def write(name, stmts, per_txn, pause=None):
    with open(f"{sys.argv[2]}/{name}", "w") as f:
        for i in range(0, len(stmts), per_txn):
            f.write("BEGIN;\n" + "\n".join(stmts[i:i + per_txn]) + "\nCOMMIT;\n")
            if pause:
                f.write(f"SELECT pg_sleep({pause});\n")
ins = [f"INSERT INTO npm VALUES ({q(n)}, {q(v)}, {q(d)}, {q(s)});" for n, v, d, s in rows]
upd = [f"UPDATE npm SET downloads_a_month = '{i * 7 + 1}' WHERE name = {q(r[0])};"
       for i, r in enumerate(rows)]
write("burst.sql", ins + upd, 20)
upd2 = [f"UPDATE npm SET downloads_a_month = '{i * 5 + 2}', version = version || '.1' WHERE name = {q(r[0])};"
        for i, r in enumerate(rows)]
write("backlog.sql", upd2 + upd2, 20)
paced = [f"UPDATE npm SET downloads_a_month = '{i + 3}' WHERE name = {q(rows[i % len(rows)][0])};"
         for i in range(2000)]
write("paced.sql", paced, 1, 0.005)
print(len(ins) + len(upd), file=open(f"{sys.argv[2]}/burst.count", "w"))
PY
burst_n=$(cat "$work/burst.count")

http=$(free_port)
metrics() { curl -s "127.0.0.1:$http/metrics"; }
stage_total() { # stage_total STAGE: events it finished (done + skipped + failed)
  metrics | awk -v s="stage=\"$1\"" '($1 ~ /^sluice_stage_(done|skipped|failed)_total\{/ && index($1, s)) {t += $2} END {print t + 0}'
}
quantiles() { # quantiles METRIC-SELECTOR: "p50 p99" in ms of a histogram
  metrics | python3 -c '
import sys
sel = sys.argv[1]
b = []
for line in sys.stdin:
    if line.startswith(sel.split("{")[0] + "_bucket") and all(p in line for p in sel.split("{")[1].rstrip("}").split(",") if p):
        le = line.split("le=\"")[1].split("\"")[0]
        b.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
b.sort()
total = b[-1][1] if b else 0
def q(p):
    want, prev_le, prev_n = p * total, 0.0, 0.0
    for le, n in b:
        if n >= want:
            if le == float("inf"): return prev_le * 1000
            return (prev_le + (le - prev_le) * ((want - prev_n) / max(n - prev_n, 1))) * 1000
        prev_le, prev_n = le, n
    return 0
print(f"{q(0.5):.1f} {q(0.99):.1f}")' "$1"
}
start_node() {
  "$sluice" run "$root/examples/package_trust/pipeline.yaml" --serve \
    --data "$1" --http "127.0.0.1:$http" -q \
    --source "postgresql://capture@127.0.0.1:$port/postgres?slot=$2&tables=npm&create_slot=true&topic=registry&attr.ecosystem=npm&batch=1000&poll=10ms" \
    >>"$work/node.log" 2>&1 &
  node_pid=$!
  for _ in $(seq 200); do curl -sf "127.0.0.1:$http/healthz" >/dev/null && return 0; sleep 0.05; done
  echo "the node did not start" >&2; tail "$work/node.log" >&2; exit 1
}
stop_node() { kill -TERM "$node_pid"; wait "$node_pid" 2>/dev/null || true; node_pid=""; }

bench_header "PostgreSQL change capture -> parse -> enrich -> score"
echo "PostgreSQL $("${pg_psql[@]}" -c 'SHOW server_version'), wal2json, fsync on both sides; $burst_n burst changes, 2000 paced"
for r in $(seq "$repeats"); do
  "${pg_psql[@]}" -c "DROP TABLE IF EXISTS npm; CREATE TABLE npm (name text PRIMARY KEY, version text, downloads_a_month text, summary text)"
  start_node "$work/data$r" "bench$r"
  t0=$(now_ms)
  "${pg_psql[@]}" -f "$work/burst.sql" >/dev/null
  sent=$(now_ms)
  until (($(stage_total score) >= burst_n)); do sleep 0.05; done
  t1=$(now_ms)
  echo "burst $r: $burst_n changes in $((t1 - t0)) ms (psql sent them in $((sent - t0)) ms): $((burst_n * 1000 / (t1 - t0))) changes/s" | tee -a "$work/burst"
  stop_node
  "${pg_psql[@]}" -f "$work/backlog.sql" >/dev/null
  t0=$(now_ms)
  start_node "$work/data$r" "bench$r" # also: new histograms
  until (($(stage_total score) >= burst_n)); do sleep 0.05; done
  t1=$(now_ms)
  echo "backlog $r: $burst_n changes in $((t1 - t0)) ms from the node's start: $((burst_n * 1000 / (t1 - t0))) changes/s" | tee -a "$work/backlog"
  stop_node
  start_node "$work/data$r" "bench$r" # new histograms
  "${pg_psql[@]}" -f "$work/paced.sql" >/dev/null
  until (($(stage_total score) >= 2000)); do sleep 0.05; done
  src=$(quantiles 'sluice_source_lag_seconds{source="bench'"$r"'"}')
  score=$(quantiles 'sluice_stage_latency_seconds{stage="score",priority="normal"}')
  echo "paced $r: PostgreSQL commit -> Sluice commit p50/p99 ${src/ //} ms; -> score stage commit p50/p99 ${score/ //} ms" | tee -a "$work/paced"
  echo "$src $score" >>"$work/paced.nums"
  stop_node
  "${pg_psql[@]}" -c "SELECT pg_drop_replication_slot('bench$r')" >/dev/null
done
echo "median live burst changes/s: $(awk '{print $(NF-1)}' "$work/burst" | median)"
echo "median backlog changes/s: $(awk '{print $(NF-1)}' "$work/backlog" | median)"
echo "median source lag p50 $(awk '{print $1}' "$work/paced.nums" | median) ms, p99 $(awk '{print $2}' "$work/paced.nums" | median) ms;" \
  "then to the score stage p50 $(awk '{print $3}' "$work/paced.nums" | median) ms, p99 $(awk '{print $4}' "$work/paced.nums" | median) ms"
