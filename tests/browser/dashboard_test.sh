#!/usr/bin/env bash
# The web dashboard in Debian's chromium (dashboard_test.mjs); installs what
# is missing first (setup.sh). SHOTS_DIR=DIR also writes a screenshot of
# each view there (docs/dashboard/ holds the ones DASHBOARD.md shows).
#
# usage: dashboard_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sluice=$(realpath "$1") src=$(realpath "$2")
"$here/setup.sh" || { echo "FAIL: cannot install chromium, Node.js or puppeteer-core"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_dashboard.XXXXXX")
trap 'rm -rf "$work"' EXIT
node "$here/dashboard_test.mjs" "$sluice" "$src" "$work"
