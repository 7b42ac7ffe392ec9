#!/usr/bin/env bash
# Runs the etcd client's tests against a real etcd 3.4 (each test starts its
# own on free ports): installs Debian's etcd-server first if etcd is missing.
# usage: etcd_test.sh ETCD_TESTS_BINARY [gtest arguments...]
set -euo pipefail

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 ETCD_TESTS_BINARY [gtest arguments...]" >&2
  exit 2
fi
binary=$1
shift

if ! command -v "${SLUICE_ETCD:-etcd}" >/dev/null 2>&1; then
  echo "etcd_test: etcd not found; installing etcd-server"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo -n); fi
  export DEBIAN_FRONTEND=noninteractive
  if ! { "${sudo_cmd[@]}" apt-get update -qq \
      && "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
        etcd-server; }; then
    echo "etcd_test: FAIL: cannot install etcd-server (run scripts/setup.sh" \
      "as root, or put etcd 3.4 on PATH, or set SLUICE_ETCD)" >&2
    exit 1
  fi
fi
"${SLUICE_ETCD:-etcd}" --version | sed -n 1p

exec "$binary" "$@"
