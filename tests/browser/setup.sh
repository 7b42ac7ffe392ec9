#!/usr/bin/env bash
# What the browser tests need, installed when missing: Debian's chromium,
# Node.js and npm, and this folder's pinned npm packages (package-lock.json;
# puppeteer-core drives the system chromium, it downloads no browser).
set -euo pipefail
cd "$(dirname "$0")"
missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "browser tests: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [[ ! -d node_modules/puppeteer-core ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
