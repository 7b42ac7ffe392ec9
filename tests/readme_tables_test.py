#!/usr/bin/env python3
"""Each component README's file table matches its folder, so it cannot go stale.

A component README (README.md in a top-level folder other than docs/, or in
any folder below one) that owns source files needs a table whose header's
first cell is `file`.
Rules, checked over the files git knows (tracked, or untracked and not
ignored) below the README's folder, minus folders with a README of their own:
  - every backticked name in a row's first cell is a path relative to the
    README's folder that exists; `a.{hpp,cpp}` names both, `a.*` (a glob)
    whatever matches;
  - every source file (.cpp .hpp .h .sh .cmake .in .proto .py .yaml) is
    named by a row, where one name covers a C++ concept: `foo.hpp`,
    `foo.cpp` and `foo_test.cpp` are one, and `include/<ns>/x/foo.hpp` (public) or
    `internal/<ns>/x/foo.hpp` (seen in the tree, not installed) is the face
    of `src/x/foo.cpp`. Data files and CMakeLists.txt need no row.
usage: readme_tables_test.py [SOURCE_DIR]
"""
import glob
import os
import re
import subprocess
import sys

SOURCE_EXT = (".cpp", ".hpp", ".h", ".sh", ".cmake", ".in", ".proto", ".py",
              ".yaml")
CXX_EXT = (".cpp.in", ".cpp", ".hpp", ".h")


def tree_files(root):
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root, check=True, capture_output=True, text=True).stdout
    return [f for f in out.splitlines() if os.path.exists(os.path.join(root, f))]


def concept(path):
    """The concept a file belongs to: C++ header, source and unit test share
    one; any other file is its own."""
    for ext in CXX_EXT:
        if path.endswith(ext):
            stem = path[: -len(ext)]
            if stem.endswith("_test"):
                stem = stem[: -len("_test")]
            parts = stem.split("/")
            for face in ("include", "internal"):  # <face>/<ns>/rest -> src/rest
                if face in parts:
                    i = parts.index(face)
                    if i + 2 < len(parts):
                        parts = parts[:i] + ["src"] + parts[i + 2:]
                    break
            return "/".join(parts)
    return path


def expand(name):
    m = re.match(r"^(.*)\{([^}]*)\}(.*)$", name)
    if not m:
        return [name]
    return [x for alt in m.group(2).split(",")
            for x in expand(m.group(1) + alt + m.group(3))]


def table_names(readme):
    """Backticked names of the first cells of every `| file |` table."""
    names, in_table = [], False
    with open(readme, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line.startswith("|"):
                in_table = False
                continue
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not in_table:
                in_table = "header"
                is_file_table = cells[0].lower() in ("file", "files")
                continue
            if in_table == "header":  # the |---| line
                in_table = "body"
                continue
            if is_file_table:
                for n in re.findall(r"`([^`]+)`", cells[0]):
                    names.extend(expand(n))
    return names


def has_file_table(readme):
    with open(readme, encoding="utf-8") as fh:
        return any(re.match(r"^\|\s*files?\s*\|", l, re.I) for l in fh)


def owner_of(path, dirs_with_readme):
    """The folder whose README lists `path`: the nearest one with a README."""
    owner = os.path.dirname(path)
    while owner not in dirs_with_readme:
        owner = os.path.dirname(owner)
    return owner


def check(root):
    files = tree_files(root)
    readmes = sorted(
        f for f in files
        if f.endswith("/README.md") and not f.startswith("docs/")
        and not f.startswith("."))
    dirs_with_readme = {os.path.dirname(r) for r in readmes}
    problems = {}
    for readme in readmes:
        folder = os.path.dirname(readme)
        bad = problems.setdefault(readme, [])
        owned = [os.path.relpath(f, folder) for f in files
                 if f.startswith(folder + "/") and f.endswith(SOURCE_EXT)
                 and owner_of(f, dirs_with_readme) == folder]
        if not has_file_table(os.path.join(root, readme)):
            if owned:
                bad.append("has no `| file | ... |` table")
            continue
        covered = set()
        for n in table_names(os.path.join(root, readme)):
            found = glob.glob(os.path.join(root, folder, n))
            if not found:
                bad.append(f"lists `{n}`, which does not exist")
            for p in found:
                if os.path.isfile(p):
                    covered.add(concept(os.path.relpath(
                        p, os.path.join(root, folder))))
        bad.extend(f"has no row for `{rel}`" for rel in owned
                   if concept(rel) not in covered)
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..")
    problems = check(root)
    failed = [r for r, bad in problems.items() if bad]
    for r in failed:
        for b in problems[r]:
            print(f"{r} {b}")
    print(f"{len(problems) - len(failed)} passed, {len(failed)} failed"
          + (f": {' '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
