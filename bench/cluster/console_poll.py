#!/usr/bin/env python3
"""Polls a Sluice node through one console session.

One `sluice console ADDRESS` process is started with its input on a pipe,
and a command is sent to it every INTERVAL ms: one request and answer over
the console's connection per poll, instead of a new process and a new
connection per poll (`sluice console -c nodes` costs about 20 ms of CPU per
call, which would take a core of the 2 away from the nodes being measured).

Prints one line per poll on stdout, `EPOCH_SECONDS VALUE`, where the time
is taken when the answer has arrived (the request went out at most
`sent_to_answer` ms before; the last line gives the mean and max) and VALUE is

  --outbox           the node's outbox depth, exact (`metrics
                     sluice_outbox_depth`; the `nodes` table rounds it);
  --member NAME      the status of member NAME in the node's `nodes` table.

Stops once VALUE equals --until (after --min-polls polls), or after
--timeout seconds (exit 1). Used by bench/cluster_forward.sh and
bench/cluster_detect.sh.
"""
import argparse
import os
import subprocess
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sluice", required=True)
    p.add_argument("--address", required=True)
    p.add_argument("--interval-ms", type=float, default=20.0)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--until", required=True)
    p.add_argument("--min-polls", type=int, default=1)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--outbox", action="store_true")
    g.add_argument("--member")
    a = p.parse_args()

    proc = subprocess.Popen(
        [a.sluice, "console", a.address, "--history", os.devnull],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, bufsize=0)
    out = proc.stdout
    buf = b""

    def read_answer():
        """Lines up to the one that ends the answer: the summary line of a
        `nodes` table, the value line of `metrics sluice_outbox_depth`."""
        nonlocal buf
        lines = []
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                chunk = os.read(out.fileno(), 65536)
                if not chunk:
                    raise SystemExit("console_poll: the console exited")
                buf += chunk
                continue
            line, buf = buf[:nl].decode(errors="replace"), buf[nl + 1:]
            lines.append(line)
            if line.startswith("member table epoch") or \
                    line.startswith("sluice_outbox_depth ") or \
                    line.startswith("error:"):
                return lines

    command = b"metrics sluice_outbox_depth\n" if a.outbox else b"nodes\n"
    polls = 0
    lags = []
    deadline = time.monotonic() + a.timeout
    code = 1
    try:
        while time.monotonic() < deadline:
            t_send = time.monotonic()
            proc.stdin.write(command)
            lines = read_answer()
            t_got = time.monotonic()
            now = time.time()
            lags.append((t_got - t_send) * 1000)
            value = "?"
            if lines[-1].startswith("error:"):
                value = "error"
            elif a.outbox:
                value = str(int(float(lines[-1].split()[1])))
            else:
                for line in lines:
                    f = line.split()
                    # NODE [*]  ADDRESS  STATUS ...
                    if f and f[0] == a.member:
                        value = f[2] if len(f) > 2 and f[1] != "*" else f[3]
                        break
            polls += 1
            print(f"{now:.6f} {value}", flush=True)
            if value == a.until and polls >= a.min_polls:
                code = 0
                break
            left = a.interval_ms / 1000 - (time.monotonic() - t_send)
            if left > 0:
                time.sleep(left)
    finally:
        try:
            proc.stdin.write(b"quit\n")
            proc.stdin.close()
            proc.wait(timeout=2)
        except Exception:
            proc.kill()
    if lags:
        print(f"# polls {polls} sent_to_answer_ms mean "
              f"{sum(lags) / len(lags):.2f} max {max(lags):.2f}", flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
