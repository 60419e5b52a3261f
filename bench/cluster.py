#!/usr/bin/env python3
"""The cluster scenario: room fan-out against one process, then two processes on one NATS.

    python bench/cluster.py [--scenario fanout-50x10] [--runs 1] [-- extra loadgen options]

Starts its own nats-server (Debian package `nats-server`) on a free loopback port, runs
bench/loadgen.py once per setting and run, and prints one JSON line per run plus a summary line
with the delivery rate of each setting and their ratio. Two processes share the port
(`server.py --processes 2`, SO_REUSEPORT), so the kernel spreads the clients over both and most
rooms span both processes: every broadcast then also crosses NATS.
"""
from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_nats() -> tuple[subprocess.Popen, str]:
    if not shutil.which("nats-server"):
        sys.exit("bench/cluster.py needs nats-server (apt-get install nats-server)")
    port = free_port()
    proc = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            return proc, f"nats://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("nats-server did not start")


def run(scenario: str, extra: list[str]) -> dict:
    out = subprocess.run([sys.executable, str(HERE / "loadgen.py"), scenario, *extra],
                         stdout=subprocess.PIPE, text=True, timeout=600, check=True).stdout
    line = json.loads(out.strip().splitlines()[-1])
    print(json.dumps(line), flush=True)
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="fanout-50x10", choices=["fanout-50x10", "fanout-10x50"])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("extra", nargs="*", help="options passed to loadgen.py (after --)")
    args = parser.parse_args()
    nats, url = start_nats()
    try:
        figures: dict[str, list[dict]] = {"1 process": [], "2 processes": []}
        for _ in range(args.runs):
            figures["1 process"].append(run(args.scenario, ["--label", "cluster-1", *args.extra]))
            figures["2 processes"].append(run(args.scenario, ["--label", "cluster-2", "--processes", "2",
                                                              "--nats-url", url, *args.extra]))
    finally:
        nats.terminate()
        nats.wait(5)
    summary = {}
    for name, lines in figures.items():
        summary[name] = {
            "deliveries_per_server_cpu_s": statistics.median(l["deliveries_per_server_cpu_s"] or 0 for l in lines),
            "deliveries_per_s": statistics.median(l["deliveries_per_s"] for l in lines),
            "lost": sum(l["lost"] or 0 for l in lines),
            "p99_ms": statistics.median(l["latency_ms"]["p99"] for l in lines),
        }
    one, two = summary["1 process"], summary["2 processes"]
    ratio = two["deliveries_per_server_cpu_s"] / one["deliveries_per_server_cpu_s"] if one["deliveries_per_server_cpu_s"] else 0
    print(json.dumps({"cluster": args.scenario, **summary, "ratio_2_to_1_per_cpu_s": round(ratio, 3)}))


if __name__ == "__main__":
    main()
