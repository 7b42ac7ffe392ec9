#!/usr/bin/env python3
"""Samples CPU time every INTERVAL seconds until killed, for the cluster
benchmarks: the whole machine's user and system ticks (/proc/stat) and the
user and system ticks (all threads) of every process whose PID is listed
in PIDS_FILE (one a line; read again at each sample, so processes started
later are picked up).

Machine user is user + nice; machine system is system, without irq and
softirq time, which the kernel charges to whichever task it interrupted, or
to none (loopback TCP's receive path runs in softirqs, often on the other
core). So "other load" is measured in user time: the machine's minus our
processes'; builds and tests of others are mostly user time.

One line per sample on stdout:
  EPOCH_SECONDS USER_TICKS SYSTEM_TICKS PID:UTIME:STIME ...
`cpu_window` in common.sh turns two samples around a window into cores.
"""
import os
import sys
import time


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: cpu_sampler.py PIDS_FILE INTERVAL_SECONDS")
    pids_file, interval = sys.argv[1], float(sys.argv[2])
    while True:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        user, system = v[0] + v[1], v[2]
        parts = []
        try:
            with open(pids_file) as f:
                pids = [p.strip() for p in f if p.strip()]
        except FileNotFoundError:
            pids = []
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    s = f.read()
                fields = s[s.rindex(")") + 2:].split()
                parts.append(f"{pid}:{fields[11]}:{fields[12]}")
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
        print(f"{time.time():.3f} {user} {system} {' '.join(parts)}",
              flush=True)
        time.sleep(interval)


if __name__ == "__main__":
    main()
