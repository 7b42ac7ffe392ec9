#!/usr/bin/env python3
"""Prints run.sh's summaries from `sluice export` lines on standard input.

  show.py batch SECONDS TENANT FILE   the slices stage: the tenant's slices,
                                     and the changes since FILE's (updated)
  show.py jobs                   the job stage: counts and the largest slices
"""
import json
import sys


def rows():
    for line in sys.stdin:
        key, _, state = line.rstrip("\n").partition("\t")
        if state:
            yield key, json.loads(state)


def batch(seconds, tenant, before_file):
    """The tenant's slices now, and the changes since `before_file`'s."""
    try:
        with open(before_file) as f:
            before = json.load(f)
    except (OSError, ValueError):
        before = {}
    for key, v in rows():
        if key != tenant:
            continue
        now = v["changes"]
        d = {k: now[k] - before.get(k, 0) for k in now if k != "at_ms"}
        print(f"   {float(seconds):.1f} s: {d['records']} records in, "
              f"{d['upserted'] + d['merged'] + d['split'] + d['removed']} "
              f"slices changed ({d['upserted']} upserted, {d['merged']} "
              f"merged, {d['split']} split, {d['removed']} removed), "
              f"{d['references']} reference packages changed")
        print(f"   now {v['slices']} slices (largest {v['largest']}), "
              f"{v['reference_records']} reference packages of "
              f"{v['records']}; {v['dangling_edges']} dependencies on "
              "packages outside the index")
        with open(before_file, "w") as f:
            json.dump(now, f)


def jobs():
    slices, refs = [], []
    for _, r in rows():
        (slices if "slice" in r else refs).append(r)
    print(f"   {len(slices)} slice results, {len(refs)} reference package "
          "results")
    print("Largest slices (members, installed size, maintainers, unsatisfied "
          "dependencies):")
    for r in sorted(slices, key=lambda r: -r["members"])[:5]:
        print(f"   slice {r['slice']}: {r['members']} packages, "
              f"{r['installed_size_kib'] // 1024} MiB, "
              f"{len(r['maintainers'])} maintainers, "
              f"{len(r['unsatisfied'])} unsatisfied, "
              f"{len(r['references'])} reference packages read")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "batch":
        batch(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 2 and sys.argv[1] == "jobs":
        jobs()
    else:
        sys.exit(__doc__)
