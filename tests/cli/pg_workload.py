#!/usr/bin/env python3
"""Workload and check for the PostgreSQL source tests and benchmark.

  pg_workload.py schema                  the tables' DDL
  pg_workload.py sql STATE SEED TXNS [BIG]
      SQL of TXNS transactions of inserts, updates and deletes on items and
      owners (and one on a table no source reads), plus, with BIG, one
      transaction of BIG inserts; STATE (JSON, created if missing) keeps the
      model and the number of row changes made so far.
  pg_workload.py count STATE             row changes made so far
  pg_workload.py compare PORT DB SLUICE DATA STAGE
      exit 0 when `sluice export` of STAGE equals the tables' content.
"""
import json
import random
import subprocess
import sys

SCHEMA = """
CREATE TABLE items (id integer PRIMARY KEY, name text, price numeric(20,3),
                    tags text[], meta jsonb, ok boolean);
CREATE TABLE owners (region text, id bigint, name text,
                     PRIMARY KEY (region, id));
CREATE TABLE elsewhere (id integer PRIMARY KEY, note text);
"""


def quote(s):
    return "'" + s.replace("'", "''") + "'"


def make_sql(state_path, seed, txns, big):
    try:
        state = json.load(open(state_path))
    except FileNotFoundError:
        state = {"items": [], "owners": [], "next": 1, "changes": 0}
    rnd = random.Random(seed)
    items = set(state["items"])
    owners = set(tuple(o) for o in state["owners"])
    out = []
    changes = 0

    def item_values(i):
        name = rnd.choice(["a", "b'c", "dé", "e\\f", "g h"]) + str(rnd.randint(0, 999))
        price = f"{rnd.randint(0, 10**12)}.{rnd.randint(0, 999):03d}"
        tags = "ARRAY[" + ",".join(quote(t) for t in rnd.sample(["x", "y", "z,w"], 2)) + "]"
        meta = quote(json.dumps({"n": rnd.randint(0, 9), "l": [1, "two"]}))
        ok = rnd.choice(["true", "false", "NULL"])
        return f"({i}, {quote(name)}, {price}, {tags}, {meta}, {ok})"

    for _ in range(txns):
        out.append("BEGIN;")
        for _ in range(rnd.randint(1, 6)):
            op = rnd.random()
            if op < 0.45 or not items:
                i = state["next"]
                state["next"] += 1
                out.append(f"INSERT INTO items VALUES {item_values(i)};")
                items.add(i)
            elif op < 0.7:
                i = rnd.choice(sorted(items))
                out.append(f"UPDATE items SET name = {quote('u' + str(rnd.randint(0, 99)))}, "
                           f"price = price + 1.5 WHERE id = {i};")
            elif op < 0.8:
                i = rnd.choice(sorted(items))
                out.append(f"DELETE FROM items WHERE id = {i};")
                items.discard(i)
            elif op < 0.9:
                o = (rnd.choice(["eu", "us", "a/b"]), rnd.randint(1, 40))
                if o in owners:
                    out.append(f"UPDATE owners SET name = {quote('n' + str(rnd.randint(0, 99)))} "
                               f"WHERE region = {quote(o[0])} AND id = {o[1]};")
                else:
                    out.append(f"INSERT INTO owners VALUES ({quote(o[0])}, {o[1]}, 'new');")
                    owners.add(o)
            elif owners:
                o = rnd.choice(sorted(owners))
                out.append(f"DELETE FROM owners WHERE region = {quote(o[0])} AND id = {o[1]};")
                owners.discard(o)
            else:
                continue
            changes += 1
        if rnd.random() < 0.2:
            out.append(f"INSERT INTO elsewhere VALUES ({rnd.randint(0, 10**9)}, 'x') "
                       "ON CONFLICT DO NOTHING;")
        out.append("COMMIT;")
    if big:
        rows = []
        for _ in range(big):
            i = state["next"]
            state["next"] += 1
            rows.append(item_values(i))
            items.add(i)
        out.append("BEGIN;")
        out.append("INSERT INTO items VALUES " + ",\n".join(rows) + ";")
        out.append("COMMIT;")
        changes += big
    state["items"] = sorted(items)
    state["owners"] = sorted(owners)
    state["changes"] += changes
    json.dump(state, open(state_path, "w"))
    print("\n".join(out))


def table_content(port, db):
    def rows(sql):
        r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", db,
                            "-X", "-q", "-At", "-c", sql], check=True, capture_output=True,
                           text=True)
        return [line for line in r.stdout.split("\n") if line]
    want = {}
    for line in rows("SELECT json_build_array(id, name, price::text, tags::text, meta::text, ok)"
                     " FROM items"):
        i, name, price, tags, meta, ok = json.loads(line)
        want[f"items/{i}"] = {"id": i, "name": name, "price": price, "tags": tags,
                              "meta": json.loads(meta) if meta is not None else None, "ok": ok}
    for line in rows("SELECT json_build_array(region, id, name) FROM owners"):
        region, i, name = json.loads(line)
        want[f"owners/{region}/{i}"] = {"region": region, "id": i, "name": name}
    return want


def compare(port, db, sluice, data, stage):
    want = table_content(port, db)
    r = subprocess.run([sluice, "export", "--data", data, "--stage", stage],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("export failed:", r.stderr.strip())
        return 1
    got = {}
    for line in r.stdout.split("\n"):
        if line:
            key, value = line.split("\t", 1)
            got[key] = json.loads(value)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    differ = sorted(k for k in set(want) & set(got) if want[k] != got[k])
    if missing or extra or differ:
        print(f"{stage}: {len(want)} rows in the tables, {len(got)} keys exported; "
              f"missing {missing[:3]}, extra {extra[:3]}, differ {differ[:3]}"
              + (f" e.g. {want[differ[0]]} != {got[differ[0]]}" if differ else ""))
        return 1
    print(f"{stage}: the {len(got)} keys equal the tables' rows")
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "schema":
        print(SCHEMA)
    elif cmd == "sql":
        make_sql(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                 int(sys.argv[5]) if len(sys.argv) > 5 else 0)
    elif cmd == "count":
        print(json.load(open(sys.argv[2]))["changes"])
    elif cmd == "compare":
        sys.exit(compare(*sys.argv[2:7]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
