#!/usr/bin/env python3
"""Run a Python program (normally server.py) under tracemalloc; on SIGUSR1 write where its memory is.

    MEMTRACE_OUT=/tmp/mem.txt python bench/memtrace.py server.py -c config.yaml
    python bench/loadgen.py idle-2000 --server-wrapper bench/memtrace.py --signal-at-end USR1

The report lists the traced total and the top allocation sites by line and by file. tracemalloc
sees only memory allocated through Python's allocators (objects, buffers), not kernel socket
buffers, and it slows the program down: use it for the breakdown, not for figures.
"""
from __future__ import annotations

import os
import runpy
import signal
import sys
import tracemalloc
from pathlib import Path


def report(signum: int, frame: object) -> None:
    snapshot = tracemalloc.take_snapshot().filter_traces(
        (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")))
    out = os.environ.get("MEMTRACE_OUT", "/tmp/memtrace.txt")
    current, peak = tracemalloc.get_traced_memory()
    with open(out, "w") as f:
        f.write(f"traced now {current / 1024:.0f} KB, peak {peak / 1024:.0f} KB\n\nTop 30 lines:\n")
        for stat in snapshot.statistics("lineno")[:30]:
            frame0 = stat.traceback[0]
            f.write(f"{stat.size / 1024:10.0f} KB {stat.count:8d} blocks  {frame0.filename}:{frame0.lineno}\n")
        f.write("\nTop 15 files:\n")
        for stat in snapshot.statistics("filename")[:15]:
            f.write(f"{stat.size / 1024:10.0f} KB {stat.count:8d} blocks  {stat.traceback[0].filename}\n")
        f.write("\nTop 8 call stacks:\n")
        for stat in snapshot.statistics("traceback")[:8]:
            f.write(f"{stat.size / 1024:10.0f} KB {stat.count:8d} blocks\n")
            for line in stat.traceback.format()[-12:]:
                f.write(f"    {line}\n")
    print(f"[memtrace] wrote {out}", file=sys.stderr, flush=True)


def main() -> None:
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    tracemalloc.start(int(os.environ.get("MEMTRACE_FRAMES", "8")))
    signal.signal(signal.SIGUSR1, report)
    sys.argv = args
    sys.path.insert(0, str(Path(args[0]).resolve().parent))
    runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    main()
