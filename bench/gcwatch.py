#!/usr/bin/env python3
"""Run a Python program (normally server.py) and log every garbage collection that takes long.

    python bench/gcwatch.py [--min-ms 2] server.py -c config.yaml

At exit (SIGTERM included) it prints a per-generation summary to stderr: how many collections,
their total and longest pause. Used to see whether the server's latency tail comes from GC pauses.
"""
from __future__ import annotations

import atexit
import gc
import runpy
import signal
import sys
import time
from pathlib import Path


def main() -> None:
    args = sys.argv[1:]
    min_ms = 2.0
    if args[:1] == ["--min-ms"]:
        min_ms, args = float(args[1]), args[2:]
    if not args:
        sys.exit(__doc__)
    stats = {g: [0, 0.0, 0.0] for g in range(3)}  # count, total ms, max ms
    started = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - started[0]) * 1000
        entry = stats[info["generation"]]
        entry[0] += 1
        entry[1] += ms
        entry[2] = max(entry[2], ms)
        if ms >= min_ms:
            print(f"[gcwatch] gen{info['generation']} {ms:.1f} ms collected={info['collected']}",
                  file=sys.stderr, flush=True)

    def report() -> None:
        for gen, (count, total, longest) in stats.items():
            print(f"[gcwatch] gen{gen}: {count} collections, {total:.0f} ms total, longest {longest:.1f} ms",
                  file=sys.stderr, flush=True)

    gc.callbacks.append(on_gc)
    atexit.register(report)
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: object) -> None:
        report()
        signal.signal(signal.SIGTERM, previous if callable(previous) else signal.SIG_DFL)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    sys.argv = args
    sys.path.insert(0, str(Path(args[0]).resolve().parent))
    runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    main()
