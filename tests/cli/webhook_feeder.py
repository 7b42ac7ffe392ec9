#!/usr/bin/env python3
"""Posts registry records through the signed webhook as a well-behaved
sender does (full_disk_test.sh).

  webhook_feeder.py BASE KEYFILE OUT TSV...

Every row of each TSV file (a header row names the columns) becomes one
event on topic `registry`, keyed and identified ECOSYSTEM/NAME (ECOSYSTEM:
the file's name without .tsv), with the row as its payload. They are posted
in bodies of 200, in order. A 503 is retried after a short pause, the same
body again (its ids make a resend safe); the first 503 body is written to
OUT.paused as it arrives, so a test can act while the sender waits. Any
other status stops with exit 1. On success OUT holds
{"posted": N, "refused": R, "first_refusal": {...}} and the exit is 0.
"""
import csv
import hashlib
import hmac
import http.client
import json
import os
import sys
import time
import urllib.parse

BODY = 200


def rows(path):
    eco = os.path.basename(path).rsplit(".", 1)[0]
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            name = row.get("name") or ""
            if not name:
                continue
            key = "%s/%s" % (eco, name)
            yield {"topic": "registry", "key": key, "id": key,
                   "payload": {k: v or "" for k, v in row.items() if k},
                   "attributes": {"ecosystem": eco, "format": "tsv"}}


def main():
    base, keyfile, out = sys.argv[1:4]
    key = open(keyfile, "rb").read().rstrip(b"\r\n")
    events = [e for path in sys.argv[4:] for e in rows(path)]
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    posted = refused = 0
    first = None
    deadline = time.monotonic() + 300
    i = 0
    while i < len(events):
        body = json.dumps(events[i:i + BODY]).encode()
        sig = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        try:
            conn.request("POST", "/v1/events", body=body, headers={
                "Content-Type": "application/json",
                "X-Sluice-Signature": sig})
            r = conn.getresponse()
            status, text = r.status, r.read().decode()
            retry_after = r.getheader("Retry-After")
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            status, text, retry_after = 0, str(e), None
        if status == 200:
            posted += len(json.loads(text)["ids"])
            i += BODY
            continue
        if status != 503 or time.monotonic() > deadline:
            print("webhook_feeder: body at event %d: HTTP %d: %s"
                  % (i, status, text), file=sys.stderr)
            return 1
        refused += 1
        if first is None:
            first = {"status": status, "body": json.loads(text),
                     "retry_after": retry_after, "at_event": i}
            with open(out + ".paused", "w") as f:
                json.dump(first, f)
        time.sleep(0.2)
    with open(out, "w") as f:
        json.dump({"posted": posted, "refused": refused,
                   "first_refusal": first}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
