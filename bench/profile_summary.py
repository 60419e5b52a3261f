#!/usr/bin/env python3
"""Summarise a py-spy profile in collapsed-stack form (`py-spy record --format raw`).

    python bench/profile_summary.py bench/profile-fanout.txt [--top 15]

Prints the functions with the most samples on top of the stack ("self": where the CPU is spent)
and the ones with the most samples anywhere in the stack ("inclusive": what the time is spent
for). Functions are grouped by name and file; line numbers are dropped.
"""
from __future__ import annotations

import argparse
import collections
import re

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")


def short(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "lib/python3", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "lib/python3":
                path = "stdlib" + path[path.find("/"):]
    return f"{match['func']} ({path})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("profile")
    p.add_argument("--top", type=int, default=15)
    args = p.parse_args()
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    with open(args.profile) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, count_text = line.rpartition(" ")
            try:
                count = int(count_text)
            except ValueError:
                continue
            frames = [short(fr) for fr in stack.split(";") if fr]
            while frames and frames[0].startswith(("process ", "thread ")):  # --threads/--subprocesses
                frames = frames[1:]
            if not frames:
                continue
            total += count
            own[frames[-1]] += count
            for name in set(frames):
                inclusive[name] += count
    print(f"{total} samples (non-idle)\n")
    print(f"Top {args.top} by self samples:")
    for name, count in own.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {name}")
    print(f"\nTop {args.top} by inclusive samples:")
    for name, count in inclusive.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
