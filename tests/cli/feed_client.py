#!/usr/bin/env python3
"""A change-feed subscriber for the tests, and the checks of what it got.

follow URL OUT [CURSOR]
    Follows GET URL (format=ndjson) and appends every event line to OUT,
    flushed one by one, each connection after a line {"type": "connect",
    "from": CURSOR}. When the stream ends or the connection fails it
    reconnects with the cursor of the last event (as EventSource does),
    until killed. CURSOR: where to start (else the last cursor in OUT).

check OUT EXPORT [PREFIX]
    Checks OUT, a subscriber's whole log (across reconnects and restarts):
    every key's versions rise by exactly one from the first seen (no change
    delivered twice, none skipped; a new snapshot, after a connection
    without a cursor, starts the view again: on a cluster a snapshot comes
    member by member, each in key order), each shard's change offsets only
    grow, every snapshot ends with snapshot_end, no reset; and the last
    state of every key equals EXPORT (`sluice export` lines, those starting
    with PREFIX).
    Prints what it found; exit 1 on a failure.
"""
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def last_cursor(path):
    cursor = ""
    try:
        with open(path) as f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if e.get("type") == "reset":
                    cursor = ""
                if "cursor" in e:
                    cursor = e["cursor"]
    except FileNotFoundError:
        pass
    return cursor


def follow(url, out_path, cursor):
    cursor = cursor or last_cursor(out_path)
    with open(out_path, "a") as out:
        while True:
            sep = "&" if "?" in url else "?"
            full = url + sep + "format=ndjson"
            if cursor:
                full += "&cursor=" + urllib.parse.quote(cursor)
            out.write(json.dumps({"type": "connect", "from": cursor},
                                 separators=(",", ":")) + "\n")
            out.flush()
            try:
                with urllib.request.urlopen(full, timeout=30) as r:
                    for raw in r:
                        line = raw.decode().rstrip("\n")
                        e = json.loads(line)
                        if e["type"] == "heartbeat":
                            continue
                        if e["type"] == "reset":
                            cursor = ""
                        if "cursor" in e:
                            cursor = e["cursor"]
                        out.write(line + "\n")
                        out.flush()
            except (urllib.error.URLError, ConnectionError, TimeoutError,
                    OSError, ValueError):
                pass
            time.sleep(0.2)


def check(out_path, export_path, prefix):
    problems = []
    version = {}
    view = {}
    last_offset = {}
    in_snapshot = False
    fresh = True  # the next snapshot starts the view again
    counts = {}
    with open(out_path) as f:
        for n, line in enumerate(f, 1):
            e = json.loads(line)
            t = e["type"]
            counts[t] = counts.get(t, 0) + 1
            if t == "reset":
                problems.append("line %d: reset: %s" % (n, e.get("reason")))
                fresh = True
                continue
            if t == "connect":
                # Without a cursor (snapshot events carry none: a
                # subscriber started again before snapshot_end) the server
                # sends a new snapshot, which replaces the view.
                if not e["from"]:
                    fresh = True
                    in_snapshot = False
                continue
            if t == "snapshot":
                if fresh or not in_snapshot:
                    version.clear()
                    view.clear()
                    fresh = False
                in_snapshot = True
            if t == "snapshot_end":
                in_snapshot = False
                continue
            if t in ("progress", "heartbeat"):
                continue
            key = e["key"]
            if not key.startswith(prefix):
                problems.append("line %d: key %s is outside the prefix %r"
                                % (n, key, prefix))
            v = e["version"]
            if key in version and v != version[key] + 1:
                problems.append("line %d: %s: version %d after %d"
                                % (n, key, v, version[key]))
            version[key] = v
            if t in ("change", "removed"):
                shard = e.get("shard", 0)
                if e["offset"] <= last_offset.get(shard, 0):
                    problems.append("line %d: shard %d: offset %d after %d"
                                    % (n, shard, e["offset"],
                                       last_offset[shard]))
                last_offset[shard] = e["offset"]
            if t == "removed":
                view.pop(key, None)
            else:
                view[key] = e["state"]
    if in_snapshot:
        problems.append("the log ends inside a snapshot")
    expected = {}
    with open(export_path) as f:
        for line in f:
            key, state = line.rstrip("\n").split("\t", 1)
            if key.startswith(prefix):
                expected[key] = json.loads(state)
    missing = sorted(set(expected) - set(view))
    extra = sorted(set(view) - set(expected))
    differ = sorted(k for k in set(view) & set(expected)
                    if view[k] != expected[k])
    if missing:
        problems.append("%d keys missing, e.g. %s" % (len(missing), missing[:3]))
    if extra:
        problems.append("%d keys too many, e.g. %s" % (len(extra), extra[:3]))
    if differ:
        problems.append("%d keys differ, e.g. %s" % (len(differ), differ[:3]))
    print("%s: %s; %d keys, %d expected" % (
        out_path, ", ".join("%s %d" % kv for kv in sorted(counts.items())),
        len(view), len(expected)))
    for p in problems[:10]:
        print("  " + p)
    return 1 if problems else 0


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "follow":
        follow(sys.argv[2], sys.argv[3],
               sys.argv[4] if len(sys.argv) > 4 else "")
    elif len(sys.argv) >= 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3],
                       sys.argv[4] if len(sys.argv) > 4 else ""))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
