#!/usr/bin/env bash
# Runs one browser test (NAME.mjs beside this script) against the sluice
# binary, in a temporary directory removed afterwards; installs what is
# missing first (setup.sh). The dashboard test writes a screenshot of each
# view into $SHOTS_DIR when it is set (docs/dashboard/ holds the ones
# docs/DASHBOARD.md shows).
#
# usage: run.sh NAME SLUICE_BINARY SOURCE_DIR   (NAME: eventsource_test, dashboard_test)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
name="$1" sluice=$(realpath "$2") src=$(realpath "$3")
[[ -f "$here/$name.mjs" ]] || { echo "FAIL: no test $here/$name.mjs"; exit 2; }
"$here/setup.sh" || { echo "FAIL: cannot install chromium, Node.js or puppeteer-core"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_browser.XXXXXX")
trap 'rm -rf "$work"' EXIT
node "$here/$name.mjs" "$sluice" "$src" "$work"
