#!/usr/bin/env bash
# Fetches Debian's source of CAF (package actor-framework, the version of the
# installed libcaf-dev) into DIR (default build-tsan/caf-src) and unpacks it,
# for the ThreadSanitizer build (cmake/SluiceCafTsan.cmake). Idempotent.
#
# The URLs and sha256 sums come from Debian's signed Sources index, read with
# a private deb-src list (the system's apt configuration is not touched).
# Only the .dsc and the upstream tarball are used: Debian's debian.tar.xz for
# this version is gone from the mirror (404), and the build needs none of it.
set -euo pipefail

dir="${1:-build-tsan/caf-src}"
package=actor-framework
version=0.17.6-2.1
upstream=0.17.6
tarball="${package}_${upstream}.orig.tar.gz"
dsc="${package}_${version}.dsc"
# The orig tarball's sha256 as the .dsc of 0.17.6-2.1 gives it: a second
# check that does not depend on the mirror.
tarball_sha256=e2bf5bd243f08bb7d8adde197cfe3e6d71314ed3378fe0692f8932f4c3b3928c
src="$dir/actor-framework-$upstream"

fail() {
  echo "fetch-caf-source: $*" >&2
  exit 1
}

if [ -f "$src/.sluice-verified" ]; then
  exit 0
fi

installed=$(dpkg-query -W -f='${Version}' libcaf-dev 2>/dev/null || true)
case "$installed" in
  "$version" | "$version"+*) ;;
  *) fail "libcaf-dev ${installed:-is not installed}, expected $version: the TSan CAF must match the installed headers" ;;
esac

mkdir -p "$dir/apt/lists/partial" "$dir/apt/sources"
cat >"$dir/apt/sources/debian-src.sources" <<EOF
Types: deb-src
URIs: ${SLUICE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt_opts=(-o Dir::Etc::SourceList=/dev/null
  -o "Dir::Etc::SourceParts=$dir/apt/sources"
  -o "Dir::State::Lists=$dir/apt/lists"
  -o Debug::NoLocking=1)

if ! apt-get "${apt_opts[@]}" -qq update >"$dir/apt/update.log" 2>&1 \
  || grep -q '^[WE]:' "$dir/apt/update.log"; then
  cat "$dir/apt/update.log" >&2
  fail "apt-get update of the deb-src index failed (no network?); log: $dir/apt/update.log"
fi
uris=$(apt-get "${apt_opts[@]}" source --print-uris "$package=$version" 2>&1) \
  || fail "apt-get source --print-uris $package=$version failed: $uris"

# Lines: 'URL' NAME SIZE SHA256:HEX
fetch() {
  local name="$1" line url sha
  line=$(grep -F " $name " <<<"$uris") || fail "the Sources index lists no $name"
  url=$(cut -d"'" -f2 <<<"$line")
  sha=$(awk '{print $4}' <<<"$line")
  sha="${sha#SHA256:}"
  [ ${#sha} -eq 64 ] || fail "no sha256 for $name in: $line"
  if ! echo "$sha  $dir/$name" | sha256sum -c --status 2>/dev/null; then
    curl -fsSL --retry 3 -o "$dir/$name.part" "$url" || fail "download of $url failed (no network?)"
    mv "$dir/$name.part" "$dir/$name"
  fi
  echo "$sha  $dir/$name" | sha256sum -c --status \
    || fail "checksum mismatch: $dir/$name is not the file Debian's Sources index names (sha256 $sha)"
}
fetch "$dsc"
fetch "$tarball"

grep -qF " $tarball_sha256 " "$dir/$dsc" \
  || fail "checksum mismatch: $dsc does not give $tarball sha256 $tarball_sha256"
echo "$tarball_sha256  $dir/$tarball" | sha256sum -c --status \
  || fail "checksum mismatch: $dir/$tarball is not sha256 $tarball_sha256"

rm -rf "$src"
tar -xzf "$dir/$tarball" -C "$dir" || fail "unpacking $dir/$tarball failed"
[ -f "$src/libcaf_core/CMakeLists.txt" ] || fail "$tarball has no libcaf_core"
touch "$src/.sluice-verified"
echo "fetch-caf-source: $src ($package $version, sha256 verified)"
