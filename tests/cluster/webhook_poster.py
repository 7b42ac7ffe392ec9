#!/usr/bin/env python3
"""Posts signed batches of npm registry records to a Sluice webhook at a steady
pace until a stop file appears, retrying a body until it is acknowledged (the
same body gets the same event ids, so a retry is never a second event); each
acknowledged body is appended as one line to --out. With --replay, posts the
events such files hold instead, 1000 a post. Single-threaded.

usage: webhook_poster.py --url URL --key-file FILE --prefix P --out FILE
         [--stop FILE] [--interval S] [--batch N] [--once] [--retry-for S]
       webhook_poster.py --url URL --key-file FILE --replay FILE...
         [--per-post N] [--rate EVENTS_PER_S]
Exit 0 when every body it started was acknowledged; 1 if one was not within
--retry-for seconds of its first try (an acknowledgement later than that
counts as none). A summary line goes to stdout.
"""
import argparse
import hashlib
import hmac
import http.client
import json
import os
import sys
import time
import urllib.parse


def record(key, n):
    name = key.split("/", 1)[1]
    return {"topic": "registry", "key": key,
            "payload": {"name": name, "version": "1.%d.%d" % (n % 7, n % 13),
                        "downloads_a_month": str(1000 + (n * 7919) % 90000),
                        "summary": "posted through the webhook"},
            "attributes": {"ecosystem": "npm", "format": "tsv"}}


class poster:
    def __init__(self, url, key):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = u.hostname, u.port, u.path
        self.key = key
        self.conn = None

    def post(self, body, timeout):
        """The HTTP status, or None when no answer came."""
        sig = "sha256=" + hmac.new(self.key, body, hashlib.sha256).hexdigest()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port,
                                                       timeout=timeout)
            self.conn.request("POST", self.path, body,
                              {"Content-Type": "application/json",
                               "X-Sluice-Signature": sig})
            r = self.conn.getresponse()
            r.read()
            return r.status
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            return None


def post_until_acknowledged(p, body, retry_for):
    """(seconds until a 200, tries); seconds is None if no 200 came within
    retry_for."""
    first = time.monotonic()
    tries = 0
    while True:
        tries += 1
        status = p.post(body, timeout=2.0)
        took = time.monotonic() - first
        if status == 200 and took <= retry_for:
            return took, tries
        if took > retry_for:
            print("body %s.. not acknowledged within %.0f s (last status %s)"
                  % (body[:80].decode(errors="replace"), retry_for, status))
            return None, tries
        time.sleep(0.1)


def replay(p, files, retry_for, per_post=1000, rate=0.0):
    """Posts the events of every body in files, up to per_post a post (the
    ids change with the body; states do not depend on them); with rate, at
    most that many events a second (a post every per_post / rate s)."""
    events = []
    for name in files:
        with open(name, "rb") as f:
            events += [e for line in f if line.strip() for e in json.loads(line)]
    started = time.monotonic()
    for i in range(0, len(events), per_post):
        if rate > 0:
            time.sleep(max(0.0, started + i / rate - time.monotonic()))
        body = json.dumps(events[i:i + per_post], separators=(",", ":"))
        if post_until_acknowledged(p, body.encode(), retry_for)[0] is None:
            return 1
    print("replayed %d events from %d files" % (len(events), len(files)))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--key-file", required=True)
    ap.add_argument("--prefix", help="keys are npm/PREFIX-N")
    ap.add_argument("--out")
    ap.add_argument("--replay", nargs="+", metavar="FILE")
    ap.add_argument("--stop", help="stop once this file exists")
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--once", action="store_true", help="one body, then exit")
    ap.add_argument("--retry-for", type=float, default=20.0)
    ap.add_argument("--per-post", type=int, default=1000,
                    help="--replay: events a post")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="--replay: at most this many events a second")
    a = ap.parse_args()
    with open(a.key_file, "rb") as f:
        p = poster(a.url, f.read().rstrip(b"\r\n"))
    if a.replay:
        return replay(p, a.replay, a.retry_for, a.per_post, a.rate)
    if not a.prefix or not a.out:
        ap.error("--prefix and --out are needed unless --replay")
    n = 0
    bodies = events = tries = 0
    worst = 0.0
    with open(a.out, "ab") as out:
        while True:
            if a.stop and os.path.exists(a.stop):
                break
            keys = ["npm/%s-%d" % (a.prefix, n + i) for i in range(a.batch)]
            body = json.dumps([record(k, n + i) for i, k in enumerate(keys)],
                              separators=(",", ":")).encode()
            n += a.batch
            took, t = post_until_acknowledged(p, body, a.retry_for)
            tries += t
            if took is None:
                print("%s: %d bodies acknowledged before that" % (a.prefix,
                                                                  bodies))
                return 1
            worst = max(worst, took)
            out.write(body + b"\n")
            out.flush()
            bodies += 1
            events += a.batch
            if a.once:
                break
            time.sleep(max(0.0, a.interval - took))
    print("%s: %d bodies (%d events) acknowledged, %d posts, slowest "
          "acknowledgement %.2f s" % (a.prefix, bodies, events, tries, worst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
