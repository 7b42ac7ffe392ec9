#!/usr/bin/env bash
# On-demand query latency over HTTPS against plain HTTP, in one run (issue
# 17): the same idle node (`sluice run examples/package_trust/pipeline.yaml
# --http --catalog pypi.tsv --serve`, fresh data directory, no feed) started
# plain and then with --tls-dir, alternately, trial by trial. Each start
# answers Q catalog keys it has never seen (each an on-demand ingestion:
# the key's record is read from the catalog and runs through the three
# stages as an urgent event, fsync per commit) with a new connection per
# query (the TLS handshake included, as for curl) and Q other keys over one
# keep-alive connection, driven by bench_http_load (bench/http_load.cpp,
# which presents a client certificate over HTTPS). Prints per trial and
# mode p50 and p99 in ms, then the medians and the tls/plain ratios.
#
# usage: bench/tls_query_latency.sh [--queries Q] [--trials T] [--no-sync]
#          [--keep]
#   --queries Q   keys per connection mode and start, default 200
#   --trials T    default 3 (medians reported)
#   --no-sync     no fsync per commit
# Needs build/bin/sluice and build/bin/bench_http_load (cmake --build build
# --target sluice bench_http_load).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bench_args=("$@")
sluice="${SLUICE_BIN:-$here/../build/bin/sluice}"
load="${HTTP_LOAD_BIN:-$here/../build/bin/bench_http_load}"
ex="$here/../examples/package_trust"
queries=200 trials=3 sync=1 keep=0
while (($#)); do
  case $1 in
    --queries) queries=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --no-sync) sync=0; shift ;;
    --keep) keep=1; shift ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
  esac
done
for b in "$sluice" "$load"; do
  [[ -x $b ]] || { echo "missing $b: build it first" >&2; exit 1; }
done
work=$(mktemp -d /var/tmp/sluice_tls_query.XXXXXX)
node_pid=""
cleanup() {
  if [[ -n $node_pid ]]; then kill -KILL "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true; fi
  if ((keep)); then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
export SLUICE_TOKEN="bench-token-$$-$RANDOM"
nosync=(--no-sync)
((sync)) && nosync=()
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
          else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
result_of() { # result_of FILE KEY: a value of the `result` line
  sed -n 's/^result .*/&/p' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

"$sluice" certs init "$work/tls/ca" >/dev/null
for n in node client; do
  "$sluice" certs issue --ca "$work/tls/ca" --name "$n" --host 127.0.0.1 \
    --out "$work/tls/$n" >/dev/null
done
# 2Q keys per start, spread over the catalog; each start has its own (the
# data directory is fresh, but the page cache is not: no start reads a
# catalog page another one warmed for the same key).
awk -F'\t' 'NR > 1 && $1 ~ /^[A-Za-z0-9._-]+$/ { print "pypi/" $1 }' "$ex/data/pypi.tsv" >"$work/all_keys"
starts=$((2 * trials))
total=$((2 * queries * starts))
if (($(wc -l <"$work/all_keys") < total)); then
  echo "the catalog has fewer than $total usable keys: lower --queries or --trials" >&2
  exit 2
fi

commit=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo '?')
echo "== on-demand query latency, HTTPS (mutual TLS certificates from sluice certs) against plain HTTP =="
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC'); commit $commit"
echo "command: $0 ${bench_args[*]:-}"
echo "queries: $queries new-connection + $queries keep-alive per start, one client; fsync per commit: $( ((sync)) && echo on || echo off)"
echo

printf '%5s %5s %10s %10s %10s %10s\n' trial mode new-p50 new-p99 ka-p50 ka-p99
results=$work/results
: >"$results"
start=0
for ((t = 1; t <= trials; t++)); do
  for mode in plain tls; do
    d=$work/t$t.$mode
    mkdir -p "$d"
    port=$(free_port)
    tls=() url=http://127.0.0.1:$port client=() curl_tls=()
    if [[ $mode == tls ]]; then
      tls=(--tls-dir "$work/tls/node")
      url=https://127.0.0.1:$port
      client=(--tls-dir "$work/tls/client")
      curl_tls=(--cacert "$work/tls/ca/ca.pem")
    fi
    "$sluice" run "$ex/pipeline.yaml" --http "127.0.0.1:$port" --data "$d/data" \
      --catalog "$ex/data/pypi.tsv" --serve -q --query-rate 100000 \
      --query-per-client 100000 --query-in-flight 12 "${nosync[@]}" "${tls[@]}" \
      >"$d/node.log" 2>&1 &
    node_pid=$!
    for ((i = 0; i < 1200; i++)); do
      [[ "$(curl -s "${curl_tls[@]}" -o /dev/null -w '%{http_code}' "$url/readyz")" == 200 ]] && break
      sleep 0.05
    done
    # This start's keys: the next 2Q of the catalog's spread.
    awk -v s="$start" -v q="$queries" -v n="$(wc -l <"$work/all_keys")" -v tot="$total" \
      'BEGIN { step = n / tot } { if (NR - 1 >= (s + got) * step && got < 2 * q) { print; got++ } }' \
      "$work/all_keys" >"$d/keys"
    start=$((start + 2 * queries))
    awk 'NR % 2 == 1' "$d/keys" >"$d/keys_new"
    awk 'NR % 2 == 0' "$d/keys" >"$d/keys_ka"
    "$load" query --url "$url" --keys "$d/keys_new" --new-connection "${client[@]}" \
      --label "$mode-new" >"$d/q_new" || true
    "$load" query --url "$url" --keys "$d/keys_ka" "${client[@]}" \
      --label "$mode-ka" >"$d/q_ka" || true
    kill -TERM "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
    node_pid=""
    for f in q_new q_ka; do
      if [[ "$(result_of "$d/$f" ok)" != "$queries" ]]; then
        echo "trial $t $mode $f: $(result_of "$d/$f" ok) of $queries answered right:" >&2
        grep -E 'error|result' "$d/$f" | head -5 >&2
      fi
    done
    row="$t $mode $(result_of "$d/q_new" p50_ms) $(result_of "$d/q_new" p99_ms) $(result_of "$d/q_ka" p50_ms) $(result_of "$d/q_ka" p99_ms)"
    echo "$row" >>"$results"
    # shellcheck disable=SC2086
    printf '%5s %5s %10s %10s %10s %10s\n' $row
  done
done

echo
echo "== medians over $trials trials (ms), and tls/plain =="
printf '%22s %10s %10s %10s\n' "" plain tls tls/plain
col() { awk -v m="$1" -v c="$2" '$2 == m { print $c }' "$results"; }
for c in "3 new connection p50" "4 new connection p99" "5 keep-alive p50" "6 keep-alive p99"; do
  read -r n label <<<"$c"
  # shellcheck disable=SC2046
  p=$(median $(col plain "$n")) q=$(median $(col tls "$n"))
  printf '%22s %10s %10s %10s\n' "$label" "$p" "$q" "$(awk -v p="$p" -v q="$q" 'BEGIN { printf "%.2f", q / p }')"
done
echo "Each query is an on-demand ingestion of a key the node has not seen (read from the catalog, three stages, an fsync per commit), from the call to the complete answer."
