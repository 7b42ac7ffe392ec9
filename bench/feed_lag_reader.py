#!/usr/bin/env python3
"""Follows a Sluice change feed (NDJSON) until N changes came, reconnecting
with its cursor, and prints the commit -> delivery lag of every change
(arrival time minus the change's `ts`): p50, p99, max. Cheap per line (the
client shares the cores with the node): no JSON parse, the ts field cut out
and read by fromisoformat. Used by bench/feed_bench.sh and
bench/cluster_feed.sh.

usage: feed_lag_reader.py URL N
"""
import datetime
import json
import sys
import time
import urllib.request

url, want = sys.argv[1], int(sys.argv[2])
lags, last, seen = [], b"", 0
while seen < want:
    cursor = ""
    if last:
        cursor = json.loads(last).get("cursor", "")
    try:
        sep = "&" if "?" in url else "?"
        full = url + (sep + "cursor=" + cursor if cursor else "")
        with urllib.request.urlopen(full, timeout=30) as r:
            for raw in r:
                if b'"type":"change"' not in raw:
                    continue
                now = time.time()
                i = raw.find(b'"ts":"') + 6
                ts = datetime.datetime.fromisoformat(
                    raw[i:i + 23].decode() + "+00:00").timestamp()
                lags.append((now - ts) * 1000)
                last = raw
                seen += 1
                if seen >= want:
                    break
    except Exception:
        time.sleep(0.05)
lags.sort()
def q(p):
    return lags[min(len(lags) - 1, int(p * len(lags)))]
print("%d changes: lag p50 %.1f ms, p99 %.1f ms, max %.1f ms"
      % (len(lags), q(0.5), q(0.99), lags[-1]))
