#!/usr/bin/env bash
# Every public item of the installed headers is documented: doxygen, run with
# the build tree's Doxyfile (cmake/SluiceDocs.cmake), must log no warning.
# The HTML and the log go to a temporary folder, not build/docs, so the test
# and the `docs` target never write the same files.
#   docs_test.sh <doxygen> <build>/docs/Doxyfile
set -euo pipefail
doxygen="${1:-doxygen}"
doxyfile="${2:?usage: docs_test.sh <doxygen> <Doxyfile>}"
if ! command -v "$doxygen" >/dev/null; then
  echo "doxygen missing (scripts/setup.sh installs it): 0 passed, 1 failed"
  exit 1
fi
if [ ! -f "$doxyfile" ]; then
  echo "no $doxyfile (configure first): 0 passed, 1 failed"
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log="$tmp/warnings.log"
# Later assignments override the Doxyfile's; `-` reads the config from stdin.
if ! { cat "$doxyfile"
       echo "OUTPUT_DIRECTORY = \"$tmp\""
       echo "WARN_LOGFILE = \"$log\""; } | "$doxygen" - >"$tmp/out" 2>&1; then
  cat "$tmp/out"
  echo "doxygen failed: 0 passed, 1 failed"
  exit 1
fi
if [ -s "$log" ]; then
  cat "$log"
  n=$(grep -cE ': (warning|error): ' "$log" || true)
  echo "$n doxygen warning(s) in the public headers: document them with ///"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "1 passed, 0 failed"
