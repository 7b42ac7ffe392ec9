# Shared by the CLI test scripts that run a node in the background:
#   source "$(dirname "$0")/lib.sh"; setup_work NAME
# gives $work (removed on exit), $node_pid (killed on exit), check,
# free_port and sign.

passed=0 failed=0
node_pid=""

# setup_work NAME: a fresh work directory; the node and it go on exit.
setup_work() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/sluice_$1.XXXXXX")
  trap 'cleanup_work' EXIT
}
cleanup_work() {
  [[ -n "$node_pid" ]] && kill -9 "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  rm -rf "$work"
}

# check NAME COMMAND...: pass or fail NAME on the command's exit code.
check() { local name="$1"; shift; if "$@"; then passed=$((passed + 1)); else echo "FAIL: $name"; failed=$((failed + 1)); fi; }

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# sign KEYFILE FILE: the X-Sluice-Signature of FILE's bytes under the key.
sign() {
  python3 - "$1" "$2" <<'PY'
import hashlib, hmac, sys
key = open(sys.argv[1], "rb").read().rstrip(b"\r\n")
print("sha256=" + hmac.new(key, open(sys.argv[2], "rb").read(), hashlib.sha256).hexdigest())
PY
}

# finish: the summary line, and the exit code.
finish() {
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}
