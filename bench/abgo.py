#!/usr/bin/env python3
"""Side by side with the original Go server: A B A B in the same minutes, medians per server.

    python bench/abgo.py --go ../shared/reference/go-server                 # the three traffic scenarios
    python bench/abgo.py --go ../shared/reference/go-server --pairs 3 relay-200 joinstorm-500 idle-2000
    python bench/abgo.py --summarize bench/results/abgo-*.jsonl

Each pair runs our server (spawned by bench/loadgen.py, as in every other bench) and then a fresh
Go server from the reference folder (its `server.conf` copied with a free loopback port, so the
same room types), with the same loadgen arguments. Every JSON line is appended to --out (default
bench/results/abgo-<UTC date-time>.jsonl) with `"server": "ours"` or `"go"`; the summary is a
Markdown table of medians and ratios (ours / Go) on stdout. A run whose client side was the
bottleneck (`client.limited`) or whose machine was busy (loadgen.is_contended) is flagged in the
table, never silently dropped. Exit status 1 when a run crashed.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from loadgen import SCENARIOS, is_contended  # noqa: E402

TRAFFIC = ["relay-200", "fanout-50x10", "fanout-10x50"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GoServer:
    """A fresh original server on a free loopback port, from the reference folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.binary = folder / "bin" / "spreed-webrtc-server"
        if not self.binary.exists():
            raise SystemExit(f"no Go server at {self.binary}")
        self.port = free_port()
        self.scratch = Path(tempfile.mkdtemp(prefix="abgo-"))
        config = (folder / "server.conf").read_text()
        lines = [f"listen = 127.0.0.1:{self.port}" if line.startswith("listen") else line
                 for line in config.splitlines()]
        (self.scratch / "go.conf").write_text("\n".join(lines) + "\n")
        self.log = open(self.scratch / "go.log", "w")
        self.proc = subprocess.Popen([str(self.binary), "-c", str(self.scratch / "go.conf")], cwd=folder,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.3):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SystemExit("the Go server did not start; see its log")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def run(name: str, server: str, go_dir: Path | None, extra: list[str], out: Path, pair: int) -> dict[str, Any] | None:
    cmd = [sys.executable, str(BENCH_DIR / "loadgen.py"), name, "--label", f"abgo pair {pair} {server}", *extra]
    go = GoServer(go_dir) if server == "go" and go_dir else None
    if go is not None:
        cmd += ["--url", go.url, "--server-pid", str(go.proc.pid)]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=900)
    finally:
        if go is not None:
            go.stop()
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(f"{name} {server}: loadgen failed (exit {proc.returncode})", file=sys.stderr)
        return None
    line = json.loads(lines[-1])
    line["server"], line["pair"] = server, pair
    with out.open("a") as f:
        f.write(json.dumps(line) + "\n")
    return line


def med(lines: list[dict[str, Any]], *path: str) -> float | None:
    values = []
    for line in lines:
        value: Any = line
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, (int, float)):
            values.append(value)
    return statistics.median(values) if values else None


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "n/a"


def num(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


# per kind of scenario: the figures compared, as (path in the JSON line, label, higher is better, digits)
METRICS: dict[str, list[tuple[tuple[str, ...], str, bool, int]]] = {
    "fanout": [(("deliveries_per_server_cpu_s",), "deliveries per server CPU-s", True, 0)],
    "relay": [(("deliveries_per_server_cpu_s",), "deliveries per server CPU-s", True, 0)],
    "idle": [(("rss_per_session_kb",), "KB per idle session", False, 2),
             (("join_server_cpu_ms",), "server CPU ms per join (connect, upgrade, Self, Hello, Welcome)", False, 3),
             (("join_wall_s",), "s until all connected and joined", False, 2),
             (("server_rss_kb_before",), "server RSS KB before anyone connects", False, 0)],
    "storm": [(("server_cpu_s_total",), "server CPU-s for the storm", False, 2)],
}


def summarize(lines: list[dict[str, Any]]) -> None:
    names = [n for n in SCENARIOS if any(line.get("scenario") == n for line in lines)]
    print("| scenario | pairs | ours (median) | Go (median) | ours/Go | p99 ms ours / Go | lost ours / Go | "
          "every pair (ours : Go) | flags |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        ours = [l for l in lines if l.get("scenario") == name and l.get("server") == "ours"]
        go = [l for l in lines if l.get("scenario") == name and l.get("server") == "go"]
        flags = []
        if any(l.get("client", {}).get("limited") for l in ours + go):
            flags.append("client-limited run")
        if any(is_contended(l) for l in ours + go):
            flags.append("contended run")
        lost = f"{max((l.get('lost', 0) for l in ours), default=0)} / {max((l.get('lost', 0) for l in go), default=0)}"
        p99 = f"{num(med(ours, 'latency_ms', 'p99'), 2)} / {num(med(go, 'latency_ms', 'p99'), 2)}"
        for metric, label, better_high, digits in METRICS.get(SCENARIOS[name]["kind"], METRICS["storm"]):
            a, b = med(ours, *metric), med(go, *metric)
            pairs = ", ".join(f"{num(pick(x, metric), digits)} : {num(pick(y, metric), digits)}"
                              for x, y in zip(sorted(ours, key=lambda l: l["pair"]), sorted(go, key=lambda l: l["pair"])))
            note = "" if better_high else " (lower is better)"
            print(f"| {name} | {min(len(ours), len(go))} | {num(a, digits)} | {num(b, digits)} | {ratio(a, b)}{note} "
                  f"| {p99} | {lost} | {label}: {pairs} | {', '.join(flags) or '-'} |")


def pick(line: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = line
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, (int, float)) else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="*", help=f"default: {' '.join(TRAFFIC)}")
    p.add_argument("--go", type=Path, help="the reference folder of the original Go server")
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--out", type=Path)
    p.add_argument("--summarize", nargs="+", type=Path, metavar="JSONL")
    p.add_argument("--pause", type=float, default=2.0, help="seconds between runs")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args, extra = p.parse_args(argv[:split]), argv[split + 1:]  # after `--`: loadgen's own options
    if args.summarize:
        summarize([json.loads(l) for f in args.summarize for l in f.read_text().splitlines() if l.startswith("{")])
        return 0
    if args.go is None:
        p.error("--go is required (e.g. ../shared/reference/go-server)")
    names = args.scenarios or TRAFFIC
    for name in names:
        if name not in SCENARIOS:
            p.error(f"unknown scenario {name}")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M")
    out = args.out or BENCH_DIR / "results" / f"abgo-{stamp}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    lines, failed = [], False
    for pair in range(1, args.pairs + 1):
        for name in names:
            for server in ("ours", "go"):
                line = run(name, server, args.go.resolve(), extra, out, pair)
                failed |= line is None
                if line is not None:
                    lines.append(line)
                time.sleep(args.pause)
    print(f"machine: {os.cpu_count()} cores; results in {out}\n")
    summarize(lines)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
