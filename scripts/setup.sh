#!/usr/bin/env bash
# Installs the Debian packages Sluice needs, only those that are missing,
# then configures the build tree (CMake + Ninja + ccache). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libcaf-dev libssl-dev libprotobuf-dev protobuf-compiler liblmdb-dev lmdb-utils
  libpq-dev libjs-chart.js libgrpc++-dev protobuf-compiler-grpc
  libspdlog-dev libgtest-dev libgmock-dev libbenchmark-dev libyaml-cpp-dev
  libcli11-dev libcpp-httplib-dev libxxhash-dev libreadline-dev
  nlohmann-json3-dev libgoogle-perftools-dev clang-format lmdb-utils
  clang libclang-rt-14-dev doxygen curl python3 etcd-server iproute2 nftables
  dpkg-dev file systemd adduser
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build_type="${SLUICE_BUILD_TYPE:-RelWithDebInfo}"
# A unity build (CAF's headers parsed once per 16 sources) halves a build
# from scratch, as CI's always is; one changed source then recompiles its
# 16, so a developer's build/ stays one object per source unless asked.
unity="${SLUICE_UNITY:-}"
if [ -z "$unity" ]; then
  if [ "${CI:-}" = "true" ]; then unity=ON; else unity=OFF; fi
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
  -DCMAKE_UNITY_BUILD="$unity" -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 >/dev/null
