#!/usr/bin/env python3
"""Man pages and bash completion for `sluice`, made from its --help.

  make_docs.py SLUICE_BINARY VERSION OUT_DIR

Writes OUT_DIR/man/sluice.1.gz, one sluice-COMMAND.1.gz per command (its
subcommands' help included), and OUT_DIR/completion/sluice. Exit 1 naming
the command whose help could not be read.
"""
import gzip
import re
import subprocess
import sys
from pathlib import Path


def help_of(binary, *words):
    r = subprocess.run([binary, *words, "--help"], capture_output=True,
                       text=True, check=False)
    if r.returncode != 0 or not r.stdout:
        sys.exit(f"make_docs.py: `sluice {' '.join(words)} --help` failed "
                 f"(exit {r.returncode}): {r.stderr.strip()}")
    return r.stdout.replace(binary, "sluice")


def subcommands(text):
    """(name, summary) of the 'Subcommands:' section of a help text."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("Subcommands:"):
            inside = True
            continue
        if inside:
            m = re.match(r"^  (\S+)\s+(.*)$", line)
            if m:
                out.append((m.group(1), m.group(2).strip()))
            elif line and not line.startswith(" "):
                inside = False
    return out


def options(text):
    return sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text)))


def roff(text):
    lines = []
    for line in text.splitlines():
        line = line.replace("\\", "\\e")
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def page(name, version, summary, sections):
    body = [f'.TH {name.upper()} 1 "" "sluice {version}" "Sluice"',
            ".SH NAME", f"{name} \\- {summary}"]
    for title, text in sections:
        body += [f".SH {title}", ".nf", roff(text), ".fi"]
    body += [".SH SEE ALSO", "sluice(1); /usr/share/doc/sluice (OPERATIONS.md,"
             " CONSOLE.md, EMBEDDING.md)"]
    return "\n".join(body) + "\n"


def write_gz(path, text):
    # mtime=0: the same bytes every build (a reproducible package).
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
            f.write(text.encode())


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, version, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    (out / "man").mkdir(parents=True, exist_ok=True)
    (out / "completion").mkdir(parents=True, exist_ok=True)
    top = help_of(binary)
    commands = subcommands(top)
    see = "\n".join(f"sluice-{c}(1)  {s}" for c, s in commands)
    write_gz(out / "man" / "sluice.1.gz",
             page("sluice", version, "an actor runtime for event-driven data "
                  "pipelines", [("SYNOPSIS AND OPTIONS", top),
                                ("COMMANDS", see)]))
    words = {"": options(top) + [c for c, _ in commands]}
    for c, summary in commands:
        text = help_of(binary, c)
        sections = [("SYNOPSIS AND OPTIONS", text)]
        subs = subcommands(text)
        words[c] = options(text) + [s for s, _ in subs]
        for s, _ in subs:
            sub_text = help_of(binary, c, s)
            sections.append((f"{c.upper()} {s.upper()}", sub_text))
            words[f"{c} {s}"] = options(sub_text)
        write_gz(out / "man" / f"sluice-{c}.1.gz",
                 page(f"sluice-{c}", version, summary, sections))
    cases = "\n".join(f'    "{k}") words="{" ".join(v)}" ;;'
                      for k, v in words.items())
    (out / "completion" / "sluice").write_text(f"""# bash completion for sluice {version} (made from its --help)
_sluice() {{
  local cur=${{COMP_WORDS[COMP_CWORD]}} path="" i w words
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${{COMP_WORDS[i]}}
    case $w in
      -*) ;;
      *) case "$path" in
           "") path=$w ;;
           *" "*) ;;
           *) [[ " ${{_sluice_subs[$path]:-}} " == *" $w "* ]] && path="$path $w" ;;
         esac ;;
    esac
  done
  case "$path" in
{cases}
    *) words="" ;;
  esac
  if [[ $cur == -* || -z $path || -n ${{_sluice_subs[$path]:-}} ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
  fi
  [[ ${{#COMPREPLY[@]}} -gt 0 ]] || mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}}
declare -A _sluice_subs=({" ".join(f'[{c}]="{" ".join(s for s, _ in subcommands(help_of(binary, c)))}"' for c, _ in commands)})
complete -F _sluice sluice
""")


if __name__ == "__main__":
    main()
