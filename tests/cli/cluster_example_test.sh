#!/usr/bin/env bash
# examples/cluster: the three members' settings files pass --check, start
# (paths and ports moved into a temporary directory), form one cluster
# (each member's /metrics says three members up) and stop cleanly on
# SIGTERM, as systemd stops them.
#
# usage: cluster_example_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
sluice="$1" src="$2"
source "$(dirname "$0")/lib.sh"
setup_work cluster_example

head -c 32 /dev/urandom | base64 >"$work/secret"
chmod 600 "$work/secret"
declare -A http=() pid=()
ports=()
for _ in 1 2 3; do ports+=("$(free_port)"); done
for n in a b c; do
  http[$n]=$(free_port)
  sed -e "s|/usr/share/sluice/examples|$src/examples|" \
      -e "s|/var/lib/sluice|$work|" \
      -e "s|/etc/sluice/cluster.secret|$work/secret|" \
      -e "s|127.0.0.1:7401|127.0.0.1:${ports[0]}|g" \
      -e "s|127.0.0.1:7402|127.0.0.1:${ports[1]}|g" \
      -e "s|127.0.0.1:7403|127.0.0.1:${ports[2]}|g" \
      -e "s|^http: .*|http: 127.0.0.1:${http[$n]}|" \
      "$src/examples/cluster/$n.yaml" >"$work/$n.yaml"
  "$sluice" node --settings "$work/$n.yaml" --check >"$work/$n.check" 2>&1
  check "$n.yaml passes --check" grep -q "the check passed: $n listening" "$work/$n.check"
done
for n in a b c; do
  "$sluice" node --settings "$work/$n.yaml" >"$work/$n.log" 2>&1 &
  pid[$n]=$!
done
up() { curl -s "http://127.0.0.1:${http[$1]}/metrics" | awk '$1 == "sluice_cluster_members_up" { print $2 }'; }
for n in a b c; do
  seen=""
  for _ in $(seq 300); do
    seen=$(up "$n")
    [[ $seen == 3 ]] && break
    sleep 0.1
  done
  check "member $n sees three members up ($seen)" test "$seen" == 3
done
for n in a b c; do kill -TERM "${pid[$n]}"; done
for n in a b c; do
  wait "${pid[$n]}"
  rc=$?
  check "member $n stops cleanly on SIGTERM (exit $rc)" test "$rc" -eq 0
done
finish
