#!/usr/bin/env python3
"""Run the scenarios several times each against one server and print the medians.

Figures of the Go server belong only in a side-by-side run (bench/abgo.py): the same machine in
the same minutes. This suite checks our own absolute targets (p99 below 10 ms and no loss for
traffic, at most 15 KB per idle session, a complete join storm without duplicates).

    python bench/suite.py                          # all five scenarios, 3 runs each, spawned server
    python bench/suite.py --runs 5 fanout-50x10 relay-200
    python bench/suite.py --out bench/results/mine.jsonl -- --url ws://127.0.0.1:8080/ws --server-pid 1234

Arguments after `--` go to every bench/loadgen.py run. Every JSON line is appended to --out
(default bench/results/<UTC date-time>.jsonl); the summary is a Markdown table on stdout.
Runs disturbed by busy neighbours on a shared machine (loadgen.is_contended: others kept more
than 0.5 core busy, or the server waited for a CPU more than 25% of the window) are recorded but
left out of the medians, and repeated (at most --max-attempts runs per scenario; when fewer than
--runs clean runs result, the medians are over all runs). `--summarize FILE...` prints the
summary of recorded JSON lines without running anything.
Exit status: 0 when every run completed (whatever the figures), 1 when a run crashed.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from loadgen import SCENARIOS, is_contended  # noqa: E402

ORDER = ["fanout-50x10", "fanout-10x50", "relay-200", "idle-2000", "joinstorm-500"]


def get(line: dict[str, Any], path: str) -> Any:
    value: Any = line
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def median(lines: list[dict[str, Any]], path: str) -> float | None:
    values = [v for v in (get(line, path) for line in lines) if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def summarize(name: str, lines: list[dict[str, Any]]) -> list[str]:
    kind = SCENARIOS[name]["kind"]
    m = lambda path: median(lines, path)  # noqa: E731
    runs = len(lines)
    rows = []
    if kind in ("fanout", "relay"):
        dpc = m("deliveries_per_server_cpu_s")
        p99 = m("latency_ms.p99")
        lost = max((line.get("lost", 0) for line in lines), default=None)
        ok = dpc is not None and lost == 0 and p99 is not None and p99 < 10
        rows.append(
            f"| {name} | {runs} | {fmt(dpc, 0)} | {fmt(m('deliveries_per_s'))} | "
            f"{fmt(m('latency_ms.p50'), 2)} / {fmt(p99, 2)} | max lost {lost} | "
            f"{fmt(m('server_cpu_util'), 2)} | {fmt(100 * (m('server_runqueue_wait_s') or 0) / (m('window_s') or 1), 0)}% | "
            f"{fmt(m('rss_per_session_kb'), 1)} | "
            f"{fmt(m('client.max_worker_cpu_util'), 2)} / {fmt(m('host.cpu_util'), 2)} | {verdict(ok)} |")
    elif kind == "idle":
        kb = m("rss_per_session_kb")
        ok = kb is not None and kb <= 15
        rows.append(f"| {name} | {runs} | RSS per session {fmt(kb, 1)} KB (target <= 15); a join "
                    f"{fmt(m('join_server_cpu_ms'), 3)} ms of server CPU, all joined in {fmt(m('join_wall_s'), 2)} s | "
                    f"server RSS {fmt(m('server_rss_kb'), 0)} KB (before {fmt(m('server_rss_kb_before'), 0)}) | "
                    f"{verdict(ok)} |")
    else:
        cpu = m("server_cpu_s")
        total = m("server_cpu_s_total")
        complete = min((line.get("members_complete", 0) for line in lines), default=0)
        dups = max((line.get("dup_joined", 0) for line in lines), default=0)
        sessions = SCENARIOS[name]["sessions"]
        ok = complete == sessions and dups == 0
        rows.append(f"| {name} | {runs} | Hello phase: {fmt(m('time_to_complete_s'), 2)} s to complete, "
                    f"server CPU {fmt(cpu, 2)} s; with the connect burst {fmt(total, 2)} CPU-s | "
                    f"min complete {complete}/{sessions}, max dup Joined {dups} | {verdict(ok)} |")
    return rows


def report(names: list[str], every: dict[str, list[dict[str, Any]]], runs: int) -> None:
    """The Markdown summary: medians over the uncontended runs if there are `runs` of them, else all."""
    results: dict[str, list[dict[str, Any]]] = {}
    print(f"Medians over the uncontended runs when a scenario has at least {runs}, otherwise over all its runs.")
    for name in names:
        clean = [d for d in every[name] if not is_contended(d)]
        results[name] = clean if len(clean) >= runs else every[name]
        print(f"- {name}: {len(every[name])} runs, {len(every[name]) - len(clean)} contended; "
              f"medians over {'the uncontended' if results[name] is clean else 'all'} {len(results[name])}")
    print()
    print("| scenario | runs | deliveries per server CPU-s (median) | deliveries/s | p50 / p99 ms | loss | "
          "server CPU util | server run-queue wait | RSS KB/session | client max worker util / host util | target |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        if results[name] and SCENARIOS[name]["kind"] in ("fanout", "relay"):
            print("\n".join(summarize(name, results[name])))
    others = [n for n in names if results[n] and SCENARIOS[n]["kind"] not in ("fanout", "relay")]
    if others:
        print("\n| scenario | runs | figures (median) | details | target |\n|---|---|---|---|---|")
        for name in others:
            print("\n".join(summarize(name, results[name])))


def main() -> int:
    argv = sys.argv[1:]
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="*", metavar="scenario", help=f"some of {', '.join(ORDER)} (default all)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out")
    p.add_argument("--max-attempts", type=int, default=5,
                   help="runs per scenario at most, contended ones (busy neighbours) included")
    p.add_argument("--quiet-wait", type=float, default=120.0,
                   help="passed to loadgen: wait up to this long for a quiet machine before each run")
    p.add_argument("--nice", type=int, default=-10 if os.geteuid() == 0 else None,
                   help="passed to loadgen (default -10 when run as root: keeps neighbours' load from "
                        "delaying the server and the clients)")
    p.add_argument("--pause", type=float, default=3.0, help="seconds between runs (let the machine settle)")
    p.add_argument("--summarize", nargs="+", metavar="JSONL",
                   help="run nothing: print the summary of JSON lines recorded earlier")
    args = p.parse_args(argv)
    if args.summarize:
        recorded: dict[str, list[dict[str, Any]]] = {}
        for path in args.summarize:
            for line in Path(path).read_text().splitlines():
                if line.startswith("{"):
                    doc = json.loads(line)
                    recorded.setdefault(doc["scenario"], []).append(doc)
        chosen = [n for n in ORDER if n in recorded and (not args.scenarios or n in args.scenarios)]
        report(chosen, recorded, args.runs)
        return 0
    names = args.scenarios or ORDER
    unknown = sorted(set(names) - set(ORDER))
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(unknown)}")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else BENCH_DIR / "results" / f"{stamp}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}  # the uncontended runs
    every: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    crashed = 0
    if not any(a.startswith("--quiet-wait") for a in extra):
        extra = ["--quiet-wait", str(args.quiet_wait), *extra]
    if args.nice is not None and not any(a.startswith("--nice") for a in extra):
        extra = [f"--nice={args.nice}", *extra]
    for name in names:
        attempts = 0
        while attempts < max(args.runs, args.max_attempts) and len(results[name]) < args.runs:
            attempts += 1
            cmd = [sys.executable, str(BENCH_DIR / "loadgen.py"), name, "--label", f"suite attempt {attempts}", *extra]
            print(f"# {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
            line = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
            if proc.returncode != 0 or not line.startswith("{"):
                crashed += 1
                print(f"# run failed (exit {proc.returncode})", file=sys.stderr, flush=True)
                continue
            print(line, file=sys.stderr, flush=True)
            with open(out, "a") as f:
                f.write(line + "\n")
            doc = json.loads(line)
            every[name].append(doc)
            if is_contended(doc):
                print(f"# contended run (server waited {get(doc, 'server_runqueue_wait_s')} s for a CPU, "
                      f"neighbours used {get(doc, 'host.other_cores')} cores): recorded, left out of the "
                      "medians if enough clean runs follow", file=sys.stderr, flush=True)
            else:
                results[name].append(doc)
            time.sleep(args.pause)
    print(f"JSON lines in {out}")
    report(names, every, args.runs)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
