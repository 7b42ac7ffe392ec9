#!/usr/bin/env python3
"""The measuring half of bench/replication_bench.sh: waits and clocks.

  drained      polls `nodes` on every member through one console session
               each (every --interval-ms) until the proxy's feed log says
               finished, the proxy's outbox is empty and every member shows
               0 queued, 0 in the outbox, drained; prints `done EPOCH POLLS`.
  replicated   asks `-c shards` of every member in turn until, in one round,
               each answers with a lease, no shard without an owner and
               replication.under_replicated_here == 0 (and, with --owned N,
               N shards owned in all); prints `done EPOCH ROUNDS`.
  latency      sequential signed POSTs of one-event bodies (unique keys)
               through one member for --seconds; prints the count, the
               non-200 answers and p50 / p99 / max in ms.
  probe        one event whose key's shard is in --shards, posted until a
               200 (a new POST after each failure or --post-timeout);
               prints the seconds from --since (epoch) to that 200.

The key -> shard function is the runtime's (XXH3-64 of the key mod 1024,
runtime/src/placement.cpp), through libxxhash. Exit 1 on a timeout.
"""
import argparse
import ctypes
import hashlib
import hmac
import http.client
import json
import os
import re
import select
import subprocess
import sys
import time

SHARDS = 1024


def shard_of(key):
    lib = shard_of.lib
    if lib is None:
        lib = ctypes.CDLL("libxxhash.so.0")
        lib.XXH3_64bits.restype = ctypes.c_uint64
        lib.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        shard_of.lib = lib
    k = key.encode()
    return lib.XXH3_64bits(k, len(k)) % SHARDS


shard_of.lib = None


def body_of(keys, n0):
    return json.dumps([{"topic": "registry", "key": k,
                        "payload": {"name": k.split("/", 1)[1],
                                    "version": "1.0.%d" % (n0 + i),
                                    "downloads_a_month": "1234",
                                    "summary": "replication bench"},
                        "attributes": {"ecosystem": "npm", "format": "tsv"}}
                       for i, k in enumerate(keys)],
                      separators=(",", ":")).encode()


class poster:
    def __init__(self, port, key):
        self.port, self.key, self.conn = port, key, None

    def post(self, body, timeout):
        """The HTTP status, or None when no answer came."""
        sig = "sha256=" + hmac.new(self.key, body, hashlib.sha256).hexdigest()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                       timeout=timeout)
            self.conn.timeout = timeout
            if self.conn.sock is not None:
                self.conn.sock.settimeout(timeout)
            self.conn.request("POST", "/v1/events", body,
                              {"Content-Type": "application/json",
                               "X-Sluice-Signature": sig})
            r = self.conn.getresponse()
            r.read()
            return r.status
        except (OSError, http.client.HTTPException):
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return None


def read_key(path):
    with open(path, "rb") as f:
        return f.read().rstrip(b"\r\n")


class session:
    """One interactive `sluice console ADDRESS` on pipes. Its prompt
    (`sluice ADDRESS> `) precedes the first line of each answer."""

    def __init__(self, sluice, address):
        self.sluice, self.address = sluice, address
        self.proc = None
        self.buf = b""

    def open(self):
        self.proc = subprocess.Popen(
            [self.sluice, "console", self.address, "--history", os.devnull],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, bufsize=0)
        self.buf = b""

    def nodes_summary(self, timeout=10.0):
        """The `member table epoch ...` line of a `nodes` answer, or None
        (an error answer, or none within timeout: the session is then
        started again)."""
        if self.proc is None:
            self.open()
        deadline = time.monotonic() + timeout
        try:
            self.proc.stdin.write(b"nodes\n")
            while True:
                nl = self.buf.find(b"\n")
                if nl < 0:
                    left = deadline - time.monotonic()
                    if left <= 0 or not select.select(
                            [self.proc.stdout], [], [], left)[0]:
                        raise OSError("no answer")
                    chunk = os.read(self.proc.stdout.fileno(), 65536)
                    if not chunk:
                        raise OSError("the console exited")
                    self.buf += chunk
                    continue
                line = self.buf[:nl].decode(errors="replace")
                self.buf = self.buf[nl + 1:]
                line = re.sub(r"^(sluice \S+> )+", "", line)
                if line.startswith("member table epoch"):
                    return line
                if line.startswith("error:"):
                    return None
        except OSError:
            self.close()
            return None

    def close(self):
        if self.proc is None:
            return
        try:
            self.proc.stdin.write(b"quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=2)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def drained(a):
    proxy = session(a.sluice, a.proxy)
    members = [session(a.sluice, m) for m in a.members]
    deadline = time.monotonic() + a.timeout
    polls = 0
    try:
        while time.monotonic() < deadline:
            t = time.monotonic()
            polls += 1
            with open(a.feed_log, errors="replace") as f:
                fed = "finished after" in f.read()
            ok = fed and ", 0 in the outbox" in (proxy.nodes_summary() or "")
            for m in members:
                if not ok:
                    break
                s = m.nodes_summary() or ""
                ok = "here: 0 queued, 0 in the outbox, drained" in s
            if ok:
                print("done %.6f %d" % (time.time(), polls), flush=True)
                return 0
            time.sleep(max(0.0, a.interval_ms / 1000 - (time.monotonic() - t)))
    finally:
        for s in [proxy] + members:
            s.close()
    print("timeout after %d polls" % polls)
    return 1


def shards_json(sluice, address):
    try:
        out = subprocess.run([sluice, "console", address, "-c", "shards"],
                             capture_output=True, timeout=10).stdout
        return json.loads(out)
    except (subprocess.TimeoutExpired, ValueError):
        return None


def replicated(a):
    deadline = time.monotonic() + a.timeout
    rounds = 0
    last = ""
    while time.monotonic() < deadline:
        t = time.monotonic()
        rounds += 1
        ok, owned, why = True, 0, []
        for m in a.members:
            j = shards_json(a.sluice, m)
            r = (j or {}).get("replication")
            if r is None:
                ok = False
                why.append("%s: no answer" % m)
                break
            owned += j.get("owned_here", 0)
            if not r.get("lease") or r.get("without_owner") or \
                    r.get("under_replicated_here"):
                ok = False
                why.append("%s: under %s without_owner %s lease %s" % (
                    m, r.get("under_replicated_here"), r.get("without_owner"),
                    r.get("lease")))
                break
        if ok and a.owned and owned != a.owned:
            ok = False
            why.append("owned %d" % owned)
        if ok:
            print("done %.6f %d" % (time.time(), rounds), flush=True)
            return 0
        last = "; ".join(why)
        time.sleep(max(0.0, a.interval_ms / 1000 - (time.monotonic() - t)))
    print("timeout after %d rounds (last: %s)" % (rounds, last))
    return 1


def latency(a):
    p = poster(a.port, read_key(a.key_file))
    took, bad, n = [], 0, 0
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        body = body_of(["npm/%s-%d" % (a.prefix, n)], n)
        n += 1
        t = time.perf_counter()
        status = p.post(body, 10.0)
        dt = (time.perf_counter() - t) * 1000
        if status == 200:
            took.append(dt)
        else:
            bad += 1
    took.sort()
    if not took:
        print("posts %d non200 %d p50_ms nan p99_ms nan max_ms nan" % (n, bad))
        return 1

    def q(f):
        return took[min(len(took) - 1, int(f * len(took)))]
    print("posts %d non200 %d p50_ms %.1f p99_ms %.1f max_ms %.1f" % (
        n, bad, q(0.50), q(0.99), took[-1]))
    return 0


def probe(a):
    wanted = {int(s) for s in a.shards.split(",") if s}
    i = 0
    while True:
        key = "npm/%s-%d" % (a.prefix, i)
        if shard_of(key) in wanted:
            break
        i += 1
    p = poster(a.port, read_key(a.key_file))
    body = body_of([key], 0)
    statuses = {}
    tries = 0
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        tries += 1
        status = p.post(body, a.post_timeout)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if status == 200:
            print("accepted %.3f tries %d shard %d statuses %s" % (
                time.time() - a.since, tries, shard_of(key),
                json.dumps(statuses, separators=(",", ":"))), flush=True)
            return 0
        time.sleep(0.02)
    print("not accepted within %.0f s: tries %d statuses %s" % (
        a.timeout, tries, json.dumps(statuses, separators=(",", ":"))))
    return 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("drained")
    d.add_argument("--sluice", required=True)
    d.add_argument("--proxy", required=True)
    d.add_argument("--feed-log", required=True)
    d.add_argument("--members", nargs="+", required=True)
    d.add_argument("--interval-ms", type=float, default=100)
    d.add_argument("--timeout", type=float, default=600)
    r = sub.add_parser("replicated")
    r.add_argument("--sluice", required=True)
    r.add_argument("--members", nargs="+", required=True)
    r.add_argument("--owned", type=int, default=0)
    r.add_argument("--interval-ms", type=float, default=200)
    r.add_argument("--timeout", type=float, default=300)
    lat = sub.add_parser("latency")
    lat.add_argument("--port", type=int, required=True)
    lat.add_argument("--key-file", required=True)
    lat.add_argument("--seconds", type=float, required=True)
    lat.add_argument("--prefix", required=True)
    pr = sub.add_parser("probe")
    pr.add_argument("--port", type=int, required=True)
    pr.add_argument("--key-file", required=True)
    pr.add_argument("--shards", required=True)
    pr.add_argument("--prefix", required=True)
    pr.add_argument("--since", type=float, required=True)
    pr.add_argument("--timeout", type=float, default=60)
    pr.add_argument("--post-timeout", type=float, default=10)
    a = ap.parse_args()
    return {"drained": drained, "replicated": replicated, "latency": latency,
            "probe": probe}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
