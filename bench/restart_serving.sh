#!/usr/bin/env bash
# Restart to serving (issue 15): how long `sluice run --serve` takes from
# its start to answering with N keys in its data directory, against the
# same command on an empty data directory, in one run.
#
# 1. Fill: N npm records with unique keys (cluster/unique_feed.sh) through
#    examples/package_trust (parse -> enrich -> score: 3N states), with
#    --no-sync (the fill's speed is not measured; its data is the same).
# 2. Per trial, alternating: the empty directory, then the full one, each
#    `sluice run PIPELINE --data DIR --http ADDR --serve --public-read`:
#    the time from the start to the first 200 of /readyz, and to the first
#    answer of GET /v1/keys/score/KEY (the last fed key: 200 from the full
#    directory; from the empty one, which does not have it, 401: asking
#    for an unknown key needs a token), and VmRSS then. Stopped with
#    SIGTERM. Then the full one once more after a kill -9 of a serving node
#    (a restart after a crash).
# Medians over the trials, and the full directory's over the empty one's.
#
# usage: bench/restart_serving.sh [--keys N] [--trials T] [--keep]
#   --keys N    keys in the full data directory, default 1000000
#   --trials T  default 5
#   --keep      keep the scratch directory
# Needs build/bin/sluice (or $SLUICE_BIN), curl.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sluice="${SLUICE_BIN:-$here/../build/bin/sluice}"
pipeline="$here/../examples/package_trust/pipeline.yaml"
npm="$here/../examples/package_trust/data/npm.tsv"
keys=1000000 trials=5 keep=0
while (($#)); do
  case $1 in
    --keys) keys=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
  esac
done
[[ -x $sluice ]] || { echo "missing $sluice: build it first" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is missing" >&2; exit 1; }
work=$(mktemp -d /var/tmp/sluice_restart.XXXXXX)
pid=""
cleanup() {
  if [[ -n $pid ]]; then kill -9 "$pid" 2>/dev/null || true; fi
  if ((keep)); then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

bench_header "restart to serving: $keys keys against an empty data directory"
echo "binary:  $sluice"

bash "$here/cluster/unique_feed.sh" "$keys" "$npm" "$work/npm.tsv"
last=$(tail -n 1 "$work/npm.tsv" | cut -f1)
key="npm/$last"
t0=$(now_ms)
"$sluice" --log-level warn run "$pipeline" --data "$work/full" \
  --feed "$work/npm.tsv" --no-sync >"$work/fill.log" 2>&1
echo "fill: $keys records in $(( ($(now_ms) - t0) / 1000 )) s; data directory $(du -sh "$work/full" | cut -f1)"
mkdir -p "$work/empty"

# serve DIR LOG: starts a serving node (pid) and waits until it answers;
# sets ready (ms), answered (ms), code and rss (kB)
serve() {
  local dir=$1 log=$2 start
  ready="" answered="" code="" rss=""
  start=$(now_ms)
  "$sluice" --log-level warn run "$pipeline" --data "$dir" \
    --http "127.0.0.1:$port" --serve --public-read >"$log" 2>&1 &
  pid=$!
  while [[ -z $answered ]]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "the node exited; its log:" >&2; cat "$log" >&2; exit 1
    fi
    if (( $(now_ms) - start > 600000 )); then
      echo "not serving after 600 s" >&2; exit 1
    fi
    if [[ -z $ready ]]; then
      [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true) == 200 ]] &&
        ready=$(( $(now_ms) - start ))
    else
      code=$(curl -s -o /dev/null -w '%{http_code}' \
        "http://127.0.0.1:$port/v1/keys/score/$key" || true)
      if [[ $code =~ ^[1-4][0-9][0-9]$ ]]; then
        answered=$(( $(now_ms) - start ))
        rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
      fi
    fi
    [[ -n $answered ]] || sleep 0.01
  done
}
stop() { # stop SIGNAL
  kill "-$1" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}

printf '%-6s %-8s %9s %10s %5s %9s\n' trial dir ready_ms answer_ms code rss_mb
for ((i = 1; i <= trials; ++i)); do
  for d in empty full; do
    serve "$work/$d" "$work/$d.$i.log"
    stop TERM
    printf '%-6s %-8s %9s %10s %5s %9s\n' "$i" "$d" "$ready" "$answered" "$code" "$((rss / 1024))"
    echo "$d $ready $answered" >>"$work/results"
  done
done
serve "$work/full" "$work/crash.log"
stop KILL
serve "$work/full" "$work/after_crash.log"
stop TERM
printf '%-6s %-8s %9s %10s %5s %9s\n' crash full "$ready" "$answered" "$code" "$((rss / 1024))"
awk '
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; ++i) for (j = i + 1; j <= n; ++j)
      if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { if ($1 == "empty") { er[++ne] = $2; ea[ne] = $3 } else { fr[++nf] = $2; fa[nf] = $3 } }
  END {
    me = median(ea, ne); mf = median(fa, nf)
    printf "medians: empty ready %d ms, answer %d ms; full ready %d ms, answer %d ms; full/empty (answer) %.2f\n",
      median(er, ne), me, median(fr, nf), mf, mf / me
  }' "$work/results"
