#!/usr/bin/env python3
"""The two clients of the storm test (storm_test.sh), each its own process.

  storm_client.py legit BASE KEYFILE READER_TOKEN SECONDS RATE OUT
    posts one urgent event a time through the signed webhook at RATE/s for
    SECONDS, and times each from the post until its key has a state in the
    last stage (score), read with GET ...?ingest=0 (a read token); writes
    {"samples": [[start, ms], ...], "accepted": [...], "lost": [...]}.
  storm_client.py storm BASE TOKEN SECONDS RATE CATALOG OUT
    alternates 2 s of storm and 2 s of quiet for SECONDS: in a storm, RATE
    on-demand queries a second (GET /v1/keys/score/KEY?wait=0 for catalog
    keys) over 4 keep-alive connections, written as raw bytes so that the
    client costs little CPU; writes {"windows": [[from, to], ...], "sent":
    N, "storm_seconds": S, "codes": {...}, "admitted": [keys given 200/202]}.

Times are time.monotonic() (CLOCK_MONOTONIC: one clock for both processes).
"""
import hashlib
import hmac
import http.client
import json
import socket
import sys
import threading
import time
import urllib.parse


def connect(base):
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.connect()
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c


def request(conn, base, method, path, body=None, headers=None):
    """(status, body); reconnects once on a dropped keep-alive."""
    for attempt in range(2):
        try:
            conn[0].request(method, path, body=body, headers=headers or {})
            r = conn[0].getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException):
            if attempt:
                raise
            conn[0].close()
            conn[0] = connect(base)


def legit(base, keyfile, reader, seconds, rate, out):
    key = open(keyfile, "rb").read().rstrip(b"\r\n")
    post, poll = [connect(base)], [connect(base)]
    auth = {"Authorization": "Bearer " + reader}
    samples, accepted, lost = [], [], []
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < seconds:
        time.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        name = "legit-%d" % i
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
        status, text = request(post, base, "POST", "/v1/events", body,
                               {"Content-Type": "application/json",
                                "X-Sluice-Signature": sig})
        if status != 200:
            sys.exit("legit post %s: %d %s" % (name, status, text[:200]))
        accepted.append("npm/" + name)
        path = "/v1/keys/score/npm/%s?ingest=0" % name
        while True:
            status, _ = request(poll, base, "GET", path, None, auth)
            if status == 200:
                samples.append([start, (time.monotonic() - start) * 1000])
                break
            if status != 404 or time.monotonic() - start > 10:
                lost.append("npm/" + name)
                break
            time.sleep(0.0005)
    json.dump({"samples": samples, "accepted": accepted, "lost": lost},
              open(out, "w"))


class raw_client:
    """GETs as pre-built bytes on one keep-alive socket; just the status."""

    def __init__(self, host, port):
        self.addr = (host, port)
        self.sock, self.buf = None, b""

    def get(self, req):
        for attempt in range(2):
            try:
                if self.sock is None:
                    self.sock = socket.create_connection(self.addr, timeout=10)
                    self.sock.setsockopt(socket.IPPROTO_TCP,
                                         socket.TCP_NODELAY, 1)
                    self.buf = b""
                self.sock.sendall(req)
                while b"\r\n\r\n" not in self.buf:
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        raise OSError("closed")
                    self.buf += chunk
                head, self.buf = self.buf.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(self.buf) < length:
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        raise OSError("closed")
                    self.buf += chunk
                self.buf = self.buf[length:]
                return int(head.split(b" ", 2)[1])
            except (OSError, ValueError, IndexError):
                if self.sock is not None:
                    self.sock.close()
                self.sock = None
                if attempt:
                    return 0


def storm(base, token, seconds, rate, catalog, out):
    u = urllib.parse.urlsplit(base)
    keys = [l.split("\t", 1)[0] for l in open(catalog).read().splitlines()[1:]]
    reqs = [("GET /v1/keys/score/pypi/%s?wait=0 HTTP/1.1\r\nHost: %s\r\n"
             "Authorization: Bearer %s\r\n\r\n"
             % (urllib.parse.quote(k), u.netloc, token)).encode() for k in keys]
    on, off = 2.0, 2.0
    t0 = time.monotonic()
    windows = []
    t = t0
    while t + on <= t0 + seconds:
        windows.append([t, t + on])
        t += on + off
    codes, admitted, lock, sent = {}, [], threading.Lock(), [0]
    threads = 4

    def run(n):
        c = raw_client(u.hostname, u.port)
        j = 0
        for w0, w1 in windows:
            time.sleep(max(0.0, w0 - time.monotonic()))
            k = 0
            while True:
                due = w0 + k * threads / rate
                if due >= w1 or time.monotonic() >= w1 + 0.5:
                    break
                k += 1
                time.sleep(max(0.0, due - time.monotonic()))
                i = (j * threads + n) % len(keys)
                j += 1
                status = c.get(reqs[i])
                with lock:
                    sent[0] += 1
                    codes[str(status)] = codes.get(str(status), 0) + 1
                    if status in (200, 202):
                        admitted.append("pypi/" + keys[i])

    ts = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    json.dump({"windows": windows, "sent": sent[0],
               "storm_seconds": on * len(windows), "codes": codes,
               "admitted": admitted}, open(out, "w"))


if __name__ == "__main__":
    role, args = sys.argv[1], sys.argv[2:]
    if role == "legit":
        legit(args[0], args[1], args[2], float(args[3]), float(args[4]),
              args[5])
    elif role == "storm":
        storm(args[0], args[1], float(args[2]), float(args[3]), args[4],
              args[5])
    else:
        sys.exit("usage: storm_client.py legit|storm ...")
