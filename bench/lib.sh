# shellcheck shell=bash
# Helpers the single-node benchmark scripts share; sourced, not run.
# (bench/cluster/common.sh has the cluster's.)

# Milliseconds since the epoch.
now_ms() { date +%s%3N; }

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The median of the numbers on standard input, one per line (the mean of
# the middle two for an even count).
median() {
  sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_header TITLE: the lines every figure is quoted with (title,
# machine, date and commit), so a result in docs/BENCHMARKS.md says where
# and when it was measured.
bench_header() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  echo "== $1 =="
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB RAM"
  echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC'); commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
}
