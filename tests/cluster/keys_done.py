#!/usr/bin/env python3
"""Waits until each key has a state in a stage at some member, asking every
member's `GET /v1/keys/STAGE/KEY` from inside that member's network namespace
(setns before each connect, so one process reaches every namespace; needs
root when a namespace is given). Prints one JSON line: per key the member
that answered and the seconds it took, and the keys still missing.

usage: keys_done.py --stage S --within SECONDS --keys K1,K2,..
                    NAME=NETNS_PATH=BASE_URL...   (NETNS_PATH may be empty)
Exit 0 when every key was found within SECONDS, else 1.
"""
import argparse
import ctypes
import http.client
import json
import os
import sys
import time
import urllib.parse

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def enter(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            sys.exit("setns %s: %s" % (path, os.strerror(ctypes.get_errno())))
    finally:
        os.close(fd)


class member:
    def __init__(self, spec, home):
        self.name, self.ns, base = spec.split("=", 2)
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.home = home
        self.conn = None

    def get(self, path):
        """The status of GET path, or None without an answer."""
        try:
            if self.conn is None:
                enter(self.ns or self.home)
                self.conn = http.client.HTTPConnection(self.host, self.port,
                                                       timeout=1.0)
                self.conn.connect()  # the socket is made in that namespace
            # GET /v1/keys needs a token with scope read: the console
            # token the members were started with.
            token = os.environ.get("SLUICE_TOKEN", "")
            headers = {"Authorization": "Bearer " + token} if token else {}
            self.conn.request("GET", path, headers=headers)
            r = self.conn.getresponse()
            r.read()
            return r.status
        except (OSError, http.client.HTTPException):
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", required=True)
    ap.add_argument("--within", type=float, required=True)
    ap.add_argument("--keys", required=True)
    ap.add_argument("members", nargs="+")
    a = ap.parse_args()
    home = "/proc/self/ns/net"
    home_fd = os.open(home, os.O_RDONLY)  # keep our own namespace reachable
    home = "/proc/%d/fd/%d" % (os.getpid(), home_fd)
    members = [member(m, home) for m in a.members]
    missing = [k for k in a.keys.split(",") if k]
    found = {}
    t0 = time.monotonic()
    while missing and time.monotonic() - t0 < a.within:
        for k in list(missing):
            for m in members:
                path = "/v1/keys/%s/%s" % (a.stage, urllib.parse.quote(k))
                if m.get(path) == 200:
                    found[k] = [m.name, round(time.monotonic() - t0, 2)]
                    missing.remove(k)
                    break
        if missing:
            time.sleep(0.05)
    print(json.dumps({"found": found, "missing": missing}))
    return 0 if not missing else 1


if __name__ == "__main__":
    sys.exit(main())
