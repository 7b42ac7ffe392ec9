#!/usr/bin/env bash
# A browser EventSource follows a change feed and resumes after the server
# restarts (eventsource_test.mjs), in Debian's chromium; installs what is
# missing first (setup.sh).
#
# usage: eventsource_test.sh SLUICE_BINARY SOURCE_DIR
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sluice=$(realpath "$1") src=$(realpath "$2")
"$here/setup.sh" || { echo "FAIL: cannot install chromium, Node.js or puppeteer-core"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_browser.XXXXXX")
trap 'rm -rf "$work"' EXIT
node "$here/eventsource_test.mjs" "$sluice" "$src" "$work"
