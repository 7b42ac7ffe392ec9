# shellcheck shell=bash
# shellcheck disable=SC2034,SC2120  # pg_psql is the sourcing script's; pg_restart_server takes options
# Shared by the tests and benchmarks that need a PostgreSQL server:
#   source tests/cli/pg_server.sh; pg_install; pg_start PORT [-c name=value]...
# gives $pg_dir (its data directory, removed by pg_stop) and $pg_psql (psql
# as the superuser on 127.0.0.1:PORT). The server runs as the `postgres`
# user when this runs as root (initdb refuses root) and is stopped by its
# PID.

pg_bin=/usr/lib/postgresql/15/bin

# pg_install: PostgreSQL 15 and wal2json from Debian, if missing. The
# packages' own cluster is not created (nothing else listens on 5432).
pg_install() {
  if [[ -x $pg_bin/initdb && -f /usr/lib/postgresql/15/lib/wal2json.so ]]; then
    return 0
  fi
  local sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  echo "pg_server: installing postgresql-15 and postgresql-15-wal2json"
  "${sudo_cmd[@]}" mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" |
    "${sudo_cmd[@]}" tee /etc/postgresql-common/createcluster.d/sluice-tests.conf >/dev/null
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    postgresql-15 postgresql-15-wal2json postgresql-client-15 >/dev/null
}

# as_pg CMD...: CMD as the server's user.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_start PORT [OPTIONS...]: a new server in a new directory, wal_level
# logical unless OPTIONS say otherwise; waits until it takes connections.
pg_start() {
  pg_port="$1"; shift
  pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice_pg.XXXXXX")
  chmod 755 "$pg_dir"
  if [[ $(id -u) -eq 0 ]]; then chown postgres "$pg_dir"; fi
  as_pg "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres >"$pg_dir/initdb.log" 2>&1 ||
    { cat "$pg_dir/initdb.log"; return 1; }
  pg_options=("$@")
  pg_restart_server
  pg_psql=(psql -h 127.0.0.1 -p "$pg_port" -U postgres -X -q -At -v ON_ERROR_STOP=1)
}

# pg_restart_server [OPTIONS...]: start (again) the server of $pg_dir.
pg_restart_server() {
  if (($#)); then pg_options=("$@"); fi
  local opts="-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1"
  opts+=" -c wal_level=logical -c max_replication_slots=8 -c max_wal_senders=8"
  # Debian's later PostgreSQL 15 releases (15.20) let replication users use
  # only the logical decoding plugins output_plugin_libraries lists; older
  # ones do not know the setting (and would refuse it). From /: the
  # server's user may not enter the caller's directory. Read whole before
  # the match: `grep -q` stops early, postgres dies of SIGPIPE and, under
  # pipefail, the pipeline fails now and then.
  if pg_knows_setting output_plugin_libraries; then
    opts+=" -c output_plugin_libraries=wal2json"
  fi
  local o
  for o in "${pg_options[@]}"; do opts+=" $o"; done
  as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -o "$opts" -l "$pg_dir/server.log" -w start >/dev/null ||
    { tail -20 "$pg_dir/server.log"; return 1; }
}

# pg_knows_setting NAME: whether this server has the setting NAME.
pg_knows_setting() {
  local config
  config=$(cd / && as_pg "$pg_bin/postgres" --describe-config 2>/dev/null)
  [[ $'\n'$config == *$'\n'"$1"$'\t'* ]]
}

# pg_pid: the postmaster's PID.
pg_pid() { head -1 "$pg_dir/data/postmaster.pid" 2>/dev/null; }

# pg_halt: stop the server (fast shutdown), by its PID; waits for it.
pg_halt() {
  local pid
  pid=$(pg_pid)
  [[ -n $pid ]] || return 0
  kill -INT "$pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
}

# pg_stop: stop the server and remove its directory.
pg_stop() {
  [[ -n ${pg_dir:-} ]] || return 0
  pg_halt
  rm -rf "$pg_dir"
  pg_dir=""
}
