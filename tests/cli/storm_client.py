#!/usr/bin/env python3
"""Two clients of the storm test (storm_test.sh), each its own process.

  storm_client.py legit BASE KEYFILE READER_TOKEN SECONDS RATE PREFIX OUT
    posts one urgent event a time through the signed webhook at RATE/s for
    SECONDS, and measures each one's latency from the post until its key has
    a state in the last stage (score), read with GET ...?ingest=0 (a read
    token); writes {"latencies_ms": [...], "accepted": [...], "lost": [...]}.
  storm_client.py storm BASE TOKEN SECONDS RATE CATALOG OUT
    sends RATE on-demand queries a second (GET /v1/keys/score/KEY?wait=0 for
    catalog keys, over 4 keep-alive connections) for SECONDS; writes
    {"sent": N, "codes": {...}, "admitted": [keys answered 200 or 202]}.
"""
import hashlib
import hmac
import http.client
import json
import sys
import threading
import time
import urllib.parse


def connect(base):
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.connect()
    return c


def request(conn, base, method, path, body=None, headers=None):
    """(status, headers, body); reconnects once on a dropped keep-alive."""
    for attempt in range(2):
        try:
            conn[0].request(method, path, body=body, headers=headers or {})
            r = conn[0].getresponse()
            return r.status, dict(r.getheaders()), r.read()
        except (OSError, http.client.HTTPException):
            if attempt:
                raise
            conn[0].close()
            conn[0] = connect(base)


def legit(base, keyfile, reader, seconds, rate, prefix, out):
    key = open(keyfile, "rb").read().rstrip(b"\r\n")
    post, poll = [connect(base)], [connect(base)]
    auth = {"Authorization": "Bearer " + reader}
    lat, accepted, lost = [], [], []
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < seconds:
        due = t0 + i / rate
        time.sleep(max(0.0, due - time.monotonic()))
        name = "%s-%d" % (prefix, i)
        i += 1
        body = json.dumps({"topic": "registry", "key": "npm/" + name,
                           "priority": "urgent",
                           "payload": {"name": name, "version": "1.0.0",
                                       "downloads_a_month": "1",
                                       "summary": "legit"},
                           "attributes": {"ecosystem": "npm",
                                          "format": "tsv"}}).encode()
        sig = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        start = time.monotonic()
        status, _, text = request(post, base, "POST", "/v1/events", body,
                                  {"Content-Type": "application/json",
                                   "X-Sluice-Signature": sig})
        if status != 200:
            sys.exit("legit post %s: %d %s" % (name, status, text[:200]))
        accepted.append("npm/" + name)
        path = "/v1/keys/score/npm/%s?ingest=0" % name
        while True:
            status, _, _ = request(poll, base, "GET", path, None, auth)
            if status == 200:
                lat.append((time.monotonic() - start) * 1000)
                break
            if status != 404 or time.monotonic() - start > 10:
                lost.append("npm/" + name)
                break
            time.sleep(0.0005)
    json.dump({"latencies_ms": lat, "accepted": accepted, "lost": lost},
              open(out, "w"))


def storm(base, token, seconds, rate, catalog, out):
    keys = [line.split("\t", 1)[0] for line in open(catalog).read().splitlines()[1:]]
    auth = {"Authorization": "Bearer " + token}
    codes, admitted, lock = {}, [], threading.Lock()
    sent = [0]
    threads = 4
    t0 = time.monotonic()

    def run(n):
        conn = [connect(base)]
        j = 0
        while True:
            due = t0 + j * threads / rate
            if due - t0 >= seconds or time.monotonic() - t0 >= seconds + 1:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            k = keys[(j * threads + n) % len(keys)]
            j += 1
            path = "/v1/keys/score/pypi/%s?wait=0" % urllib.parse.quote(k)
            try:
                status, _, _ = request(conn, base, "GET", path, None, auth)
            except (OSError, http.client.HTTPException):
                status = 0
            with lock:
                sent[0] += 1
                codes[str(status)] = codes.get(str(status), 0) + 1
                if status in (200, 202):
                    admitted.append("pypi/" + k)

    ts = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    json.dump({"sent": sent[0], "seconds": time.monotonic() - t0,
               "codes": codes, "admitted": admitted}, open(out, "w"))


if __name__ == "__main__":
    role, args = sys.argv[1], sys.argv[2:]
    if role == "legit":
        legit(args[0], args[1], args[2], float(args[3]), float(args[4]),
              args[5], args[6])
    elif role == "storm":
        storm(args[0], args[1], float(args[2]), float(args[3]), args[4],
              args[5])
    else:
        sys.exit("usage: storm_client.py legit|storm ...")
