#!/usr/bin/env python3
"""Whether a cluster member is quiet, from its console's answers.

quiet_check.py NODES_JSON SHARDS_JSON MEMBERS
    NODES_JSON, SHARDS_JSON: the member's `nodes` and `shards` answers.
    MEMBERS: the names it must see (a JSON list, sorted), or how many.
    Exits 0 when the member has joined, is drained, its outbox is empty,
    it has nothing to hand off and nothing incoming, and it sees exactly
    those members, every one up; 1 otherwise (an answer that does not
    parse included).
"""
import json
import sys


def quiet(nodes, shards, members):
    seen = [m["name"] for m in nodes["nodes"]]
    if isinstance(members, list):
        same = sorted(seen) == members
    else:
        same = len(seen) == members
    return (nodes.get("joined") is True
            and nodes["local"]["drained"] is True
            and nodes["local"]["outbox"] == 0
            and shards["to_hand_off"] == 0 and shards["incoming"] == 0
            and same
            and all(m["status"] == "up" for m in nodes["nodes"]))


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        args = [json.loads(a) for a in sys.argv[1:4]]
        sys.exit(0 if quiet(*args) else 1)
    except (ValueError, KeyError, TypeError):
        sys.exit(1)


if __name__ == "__main__":
    main()
