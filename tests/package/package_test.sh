#!/usr/bin/env bash
# The Debian packages: `cmake --build BUILD --target package` makes sluice
# and sluice-dev; their contents, control fields and conffiles are checked;
# the unit passes `systemd-analyze verify` in the unpacked tree. As root on
# a machine without sluice installed (CI), the package is installed with
# dpkg, its user, data directory and secret checked, the example settings
# pass `sluice node --check` as the sluice user, the example pipeline runs
# from /usr/share/sluice, and the package is purged again.
#
# usage: package_test.sh BUILD_DIR
set -uo pipefail
build="$1"
source "$(dirname "$0")/../cli/lib.sh"
setup_work package

cmake --build "$build" --target package >"$work/package.log" 2>&1
rc=$?
check "the package target builds (exit $rc)" test "$rc" -eq 0
[[ $rc -eq 0 ]] || { tail -30 "$work/package.log"; finish; exit 1; }
server=$(find "$build" -maxdepth 1 -name 'sluice_*_amd64.deb' | head -n 1)
dev=$(find "$build" -maxdepth 1 -name 'sluice-dev_*_amd64.deb' | head -n 1)
check "sluice_VERSION_amd64.deb" test -f "$server"
check "sluice-dev_VERSION_amd64.deb" test -f "$dev"

dpkg-deb -c "$server" | awk '{ print $6 }' >"$work/server.files"
for f in ./usr/bin/sluice ./usr/lib/systemd/system/sluice-node@.service \
         ./etc/sluice/example.yaml ./usr/share/man/man1/sluice.1.gz \
         ./usr/share/man/man1/sluice-node.1.gz ./usr/share/man/man1/sluice-dlq.1.gz \
         ./usr/share/bash-completion/completions/sluice \
         ./usr/share/sluice/examples/package_trust/pipeline.yaml \
         ./usr/share/sluice/examples/package_trust/data/npm.tsv \
         ./usr/share/doc/sluice/OPERATIONS.md ./usr/share/doc/sluice/copyright; do
  check "sluice holds $f" grep -qx "$f" "$work/server.files"
done
check "and no headers (those are sluice-dev's)" bash -c "! grep -q '^./usr/include' '$work/server.files'"
dpkg-deb -c "$dev" | awk '{ print $6 }' >"$work/dev.files"
check "sluice-dev holds the embedder API" grep -q '^./usr/include/sluice/behaviour.hpp$' "$work/dev.files"
check "and the CMake package" grep -q '^./usr/lib/.*cmake/Sluice/SluiceConfig.cmake$' "$work/dev.files"

dpkg-deb -f "$server" Depends >"$work/depends"
check "Depends from dpkg-shlibdeps (libcaf, liblmdb)" grep -q "libcaf.*liblmdb\|liblmdb.*libcaf" "$work/depends"
check "and adduser, for postinst" grep -q "adduser" "$work/depends"
check "sluice-dev brings tcmalloc for embedders' binaries" bash -c "dpkg-deb -f '$dev' Depends | grep -q libgoogle-perftools-dev"
dpkg-deb -e "$server" "$work/control"
check "the example settings are a conffile" grep -qx "/etc/sluice/example.yaml" "$work/control/conffiles"
check "postinst and postrm are there" test -x "$work/control/postinst" -a -x "$work/control/postrm"

dpkg-deb -x "$server" "$work/root"
check "the binary runs from the package (--version)" \
  bash -c "'$work/root/usr/bin/sluice' --version | grep -q '^sluice [0-9]'"
check "the completion is valid bash" bash -n "$work/root/usr/share/bash-completion/completions/sluice"
zcat "$work/root/usr/share/man/man1/sluice-node.1.gz" >"$work/node.1"
check "sluice-node(1) is roff with the node's options" grep -q -- "--settings" "$work/node.1"
# verify UNIT: systemd-analyze's checks of a unit on this machine (its
# commands must exist; man pages are checked only where man is).
verify() {
  local man=no
  command -v man >/dev/null && man -w sluice >/dev/null 2>&1 && man=yes
  SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man="$man" "$1" >"$work/verify.out" 2>&1
}
mkdir -p "$work/units"
sed "s|/usr/bin/sluice|$work/root/usr/bin/sluice|g" \
  "$work/root/usr/lib/systemd/system/sluice-node@.service" >"$work/units/sluice-node@.service"
verify "$work/units/sluice-node@.service"
rc=$?
check "systemd-analyze verify passes on the unit (exit $rc)" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$work/verify.out"

if [[ $(id -u) -ne 0 ]] || dpkg -s sluice >/dev/null 2>&1 || [[ -e /usr/bin/sluice ]]; then
  echo "not root, or sluice is installed here: the install is not tried"
  finish
  exit $?
fi
dpkg -i "$server" >"$work/install.log" 2>&1
rc=$?
check "dpkg -i installs it (exit $rc)" test "$rc" -eq 0
[[ $rc -eq 0 ]] || { cat "$work/install.log"; dpkg --purge sluice >/dev/null 2>&1; finish; exit 1; }
check "postinst made the sluice user" bash -c "getent passwd sluice >/dev/null"
verify /usr/lib/systemd/system/sluice-node@.service
check "the installed unit verifies too" test $? -eq 0
check "its data directory, 0700" test "$(stat -c '%U %a' /var/lib/sluice)" = "sluice 700"
check "a cluster secret only it reads" test "$(stat -c '%U %a' /etc/sluice/cluster.secret)" = "sluice 600"
runuser -u sluice -- sluice node --settings /etc/sluice/example.yaml --check >"$work/check.out" 2>&1
check "the example settings pass --check as the sluice user" grep -q "the check passed" "$work/check.out"
ex=/usr/share/sluice/examples/package_trust
runuser -u sluice -- sluice run "$ex/pipeline.yaml" --data /var/lib/sluice/package-test \
  --feed "$ex/data/npm.tsv" -q >"$work/run.out" 2>&1
check "the example runs from the package as the sluice user" test $? -eq 0
n=$(runuser -u sluice -- sluice export --data /var/lib/sluice/package-test --stage score | wc -l)
check "and scores its records ($n)" test "$n" -gt 1000
rm -rf /var/lib/sluice/package-test
dpkg --purge sluice >"$work/purge.log" 2>&1
check "dpkg --purge removes it" bash -c "! dpkg -s sluice >/dev/null 2>&1 && test ! -e /usr/bin/sluice"
check "and its user" bash -c "! getent passwd sluice >/dev/null"
check "and /etc/sluice" test ! -e /etc/sluice
finish
