#!/usr/bin/env python3
"""Capacity: the highest sustained load one server holds with p99 below 50 ms and no loss.

    python bench/capacity.py                      # all four searches, about 15 minutes
    python bench/capacity.py --quick              # smoke check: one tiny step each, about 40 s
    python bench/capacity.py --modes relay --procs 1 -- --nice -10   # after --: extra loadgen options

Two loads, each searched for one server process and for `--processes 2` on NATS (a private
nats-server on a free loopback port, started here and stopped at the end):

* relay: 1:1 call signalling, N pairs, loadgen's `relay` scenario at its default per-session
  rate (10 msg/s, every 4th a ~2 KB Offer/Answer): 20 deliveries/s per pair;
* rooms: rooms of 10, M rooms, loadgen's `fanout` scenario with --size 10 at its default rate
  (every member 1 chat/s to its room): 90 deliveries/s per room.

Every step is one fresh bench/loadgen.py run (a fresh server). The load goes up by --factor from
--start until a step fails (p99 >= --p99-ms, or any loss, duplicate, disconnect or server Error,
or the run itself failed), then the interval between the last good and the first bad step is
bisected --bisect times. If the first step already fails, the load goes down by --factor until a
step holds. The 2-process search starts at the 1-process result.

A failing step that loadgen flags as client-bottlenecked (`client.limited`) is not a server
failure: when a worker was CPU-bound it is run again with more --workers (up to --max-workers);
when only the workers' event loops lagged on a contended machine it is run again --retries times;
if the client is still the limit, the search treats that load as the ceiling it can measure and
the table says so (the result is then a lower bound). A failing step flagged `contended` (busy
neighbours) is run again --retries times before it counts.

Every step's loadgen JSON line, with a "capacity" object added (mode, processes, load, phase,
verdict, reasons), is appended to --out; at the end a Markdown table is printed on stdout.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LOADGEN = HERE / "loadgen.py"

MODES: dict[str, dict[str, Any]] = {
    # scenario: the loadgen scenario whose defaults (rate, message mix) are used; unit: the load knob
    "relay": {"scenario": "relay-200", "knob": "--pairs", "unit": "pairs", "extra": [],
              "sessions_per_unit": 2, "title": "1:1 call signalling"},
    "rooms": {"scenario": "fanout-50x10", "knob": "--rooms", "unit": "rooms of 10", "extra": ["--size", "10"],
              "sessions_per_unit": 10, "title": "rooms of 10"},
}


def log(msg: str) -> None:
    print(f"[capacity {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_nats(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    for candidate in (shutil.which("nats-server"), "/usr/bin/nats-server", "/usr/sbin/nats-server"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class Nats:
    """A private nats-server on a free loopback port."""

    def __init__(self, binary: str) -> None:
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.3).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("nats-server did not listen within 10 s") from None
                time.sleep(0.05)
        log(f"nats-server pid {self.proc.pid} on {self.url}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
        mem = f", {kb / 1024 / 1024:.1f} GB RAM"
    except (OSError, StopIteration):
        pass
    return (f"{os.cpu_count()} cores ({model or platform.processor() or 'unknown CPU'}){mem}, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


def last_error(stderr: str | None) -> str:
    """The exception line at the end of loadgen's stderr (or its last line), shortened."""
    lines = [l.strip() for l in (stderr or "").strip().splitlines() if l.strip()]
    for l in reversed(lines):
        head = l.split(":", 1)[0]
        if head.endswith(("Error", "Exception", "Interrupt", "Expired")) and " " not in head:
            return l[:300]
    return lines[-1][:300] if lines else "(no output)"


def verdict_of(line: dict[str, Any], p99_limit: float) -> tuple[bool, list[str]]:
    """(held, reasons it did not)."""
    reasons = []
    p99 = (line.get("latency_ms") or {}).get("p99")
    if p99 is None:
        reasons.append("no latency samples")
    elif p99 >= p99_limit:
        reasons.append(f"p99 {p99:g} ms")
    for key in ("lost", "duplicates", "disconnects", "server_errors"):
        if line.get(key):
            reasons.append(f"{key} {line[key]}")
    if not line.get("received"):
        reasons.append("nothing received")
    return not reasons, reasons


class Search:
    """One capacity search: a mode (relay or rooms) on a number of server processes."""

    def __init__(self, args: argparse.Namespace, mode: str, processes: int, nats_url: str,
                 start: int, passthrough: list[str], out: Path | None) -> None:
        self.args = args
        self.mode = mode
        self.spec = MODES[mode]
        self.processes = processes
        self.nats_url = nats_url
        self.start = max(1, start)
        self.passthrough = passthrough
        self.out = out
        self.workers = args.workers
        self.steps: list[dict[str, Any]] = []  # every run, retries included
        self.results: dict[int, tuple[str, dict[str, Any]]] = {}  # load -> final verdict, line
        self.client_limit_at: int | None = None
        self.started = time.monotonic()

    # ---- one loadgen run
    def loadgen(self, load: int, phase: str) -> dict[str, Any]:
        a = self.args
        command = [sys.executable, str(LOADGEN), self.spec["scenario"], self.spec["knob"], str(load),
                   *self.spec["extra"], "--warmup", f"{a.warmup:g}", "--duration", f"{a.duration:g}",
                   "--drain", f"{a.drain:g}", "--workers", str(self.workers),
                   "--label", f"capacity {self.mode} p{self.processes} {load} {phase}"]
        if self.processes > 1:
            command += ["--processes", str(self.processes), "--nats-url", self.nats_url]
        command += self.passthrough
        timeout = a.warmup + a.duration + a.drain + a.step_timeout
        began = time.monotonic()
        try:
            proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=None if a.verbose else subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, text=True, timeout=timeout)
            text = proc.stdout.strip().splitlines()
            line = json.loads(text[-1]) if proc.returncode == 0 and text else None
            error = None if line else f"loadgen exited with {proc.returncode}: {last_error(proc.stderr)}"
        except subprocess.TimeoutExpired:
            line, error = None, f"loadgen did not finish within {timeout:.0f} s"
        except json.JSONDecodeError as exc:
            line, error = None, f"loadgen printed no JSON line: {exc}"
        if line is None:
            line = {"scenario": self.spec["scenario"], "error": error,
                    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        line["capacity"] = {"mode": self.mode, "processes": self.processes, "load": load,
                            "unit": self.spec["unit"], "phase": phase, "workers": self.workers,
                            "p99_limit_ms": a.p99_ms, "step_s": round(time.monotonic() - began, 1)}
        return line

    def record(self, line: dict[str, Any], verdict: str, reasons: list[str]) -> None:
        line["capacity"].update(verdict=verdict, reasons=reasons)
        self.steps.append(line)
        if self.out is not None:
            with open(self.out, "a") as f:
                f.write(json.dumps(line, separators=(",", ":")) + "\n")
        c = line["capacity"]
        lat = (line.get("latency_ms") or {}).get("p99")
        flags = [k for k, v in (("client-limited", (line.get("client") or {}).get("limited")),
                                ("contended", line.get("contended"))) if v]
        log(f"{self.mode} p{self.processes} {c['load']} {self.spec['unit']} ({c['phase']}): {verdict.upper()}"
            f"  p99 {lat if lat is not None else '-'} ms, lost {line.get('lost', '-')}, "
            f"{line.get('deliveries_per_s', '-')} deliveries/s, server CPU {line.get('server_cpu_util', '-')}"
            + (f"  [{', '.join(flags)}]" if flags else "") + (f"  ({'; '.join(reasons)})" if reasons else "")
            + f"  {c['step_s']} s")

    def step(self, load: int, phase: str) -> str:
        """Run one load level (with the retries it needs); returns 'good', 'bad' or 'client'."""
        a = self.args
        if load in self.results:
            return self.results[load][0]
        retries_contended = a.retries
        while True:
            line = self.loadgen(load, phase)
            if "error" in line:
                self.record(line, "bad", [line["error"]])
                self.results[load] = ("bad", line)
                return "bad"
            held, reasons = verdict_of(line, a.p99_ms)
            if held:
                self.record(line, "good", [])
                self.results[load] = ("good", line)
                return "good"
            client = line.get("client") or {}
            if client.get("limited"):
                # busy workers: more of them help; a lagging loop on a contended machine: a re-run may
                if (client.get("max_worker_cpu_util") or 0) > 0.85 and self.workers < a.max_workers:
                    self.record(line, "retry", reasons + ["client limited: more workers"])
                    self.workers = min(a.max_workers, self.workers + a.workers_step)
                    phase = "retry"
                    continue
                if line.get("contended") and retries_contended > 0:
                    retries_contended -= 1
                    self.record(line, "retry", reasons + ["client limited, contended: run again"])
                    phase = "retry"
                    continue
                self.record(line, "client", reasons + ["client limited"])
                self.results[load] = ("client", line)
                return "client"
            if line.get("contended") and retries_contended > 0:
                retries_contended -= 1
                self.record(line, "retry", reasons + ["contended: run again"])
                phase = "retry"
                continue
            self.record(line, "bad", reasons)
            self.results[load] = ("bad", line)
            return "bad"

    # ---- the search
    def run(self) -> dict[str, Any]:
        a = self.args
        good: int | None = None
        bad: int | None = None  # first failing load, or where the client became the limit
        load = self.start
        count = 0

        def over_budget() -> bool:
            return count >= a.max_steps

        # 1. geometric ramp: up while it holds, down while it fails
        verdict = self.step(load, "ramp")
        count += 1
        if verdict == "good":
            good = load
            while not over_budget():
                load = max(load + 1, math.ceil(load * a.factor))
                if a.max_load and load > a.max_load:
                    break
                verdict = self.step(load, "ramp")
                count += 1
                if verdict == "good":
                    good = load
                else:
                    bad = load
                    break
        else:
            bad = load
            while not over_budget() and load > 1:
                load = max(1, min(load - 1, math.floor(load / a.factor)))
                verdict = self.step(load, "down")
                count += 1
                if verdict == "good":
                    good = load
                    break
                bad = load
        # 2. bisect between the last good and the first bad step
        for _ in range(a.bisect):
            if bad is None or over_budget():
                break
            lo = good or 0
            if bad - lo <= 1:
                break
            mid = (lo + bad) // 2 if lo else max(1, bad // 2)
            if mid in (lo, bad):
                break
            verdict = self.step(mid, "bisect")
            count += 1
            if verdict == "good":
                good = mid
            else:
                bad = mid
        if bad is not None and self.results.get(bad, ("",))[0] == "client":
            self.client_limit_at = bad
        # the client may also have been the limit at a load that held or an earlier failure
        for load_, (v, _) in sorted(self.results.items()):
            if v == "client" and self.client_limit_at is None:
                self.client_limit_at = load_
        return self.summary(good, bad)

    def summary(self, good: int | None, bad: int | None) -> dict[str, Any]:
        line = self.results[good][1] if good is not None else None
        bad_line = self.results[bad][1] if bad is not None else None
        return {"mode": self.mode, "processes": self.processes, "good": good, "bad": bad,
                "bad_verdict": self.results[bad][0] if bad is not None else None,
                "bad_reasons": (bad_line or {}).get("capacity", {}).get("reasons", []),
                "line": line, "client_limit_at": self.client_limit_at,
                "steps": len(self.steps), "seconds": round(time.monotonic() - self.started),
                "workers": self.workers}


def fmt_load(mode: str, load: int | None) -> str:
    if load is None:
        return "—"
    return f"{load} {MODES[mode]['unit']}"


def table(summaries: list[dict[str, Any]], args: argparse.Namespace) -> str:
    rows = ["| mode | processes | highest good load | sessions | deliveries/s | p99 | server CPU | "
            "client the limit? | first failing step |",
            "|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        mode = s["mode"]
        line = s["line"] or {}
        client = line.get("client") or {}
        if s.get("skipped"):
            rows.append(f"| {MODES[mode]['title']} | {s['processes']} | skipped: {s['skipped']} | | | | | | |")
            continue
        good = fmt_load(mode, s["good"]) if s["good"] is not None else "none (no step held)"
        sessions = str(line.get("sessions", "")) if line else ""
        dps = f"{line['deliveries_per_s']:,.0f}" if line.get("deliveries_per_s") is not None else ""
        p99 = f"{line['latency_ms']['p99']:.1f} ms" if (line.get("latency_ms") or {}).get("p99") is not None else ""
        cpu = line.get("server_cpu_util")
        cpu_s = f"{cpu:.2f} cores" if cpu is not None else ""
        if s["client_limit_at"] is not None:
            limit = f"yes, at {fmt_load(mode, s['client_limit_at'])} (result is a lower bound)" \
                if s["bad_verdict"] == "client" else f"no (only above the first failing step, at " \
                f"{fmt_load(mode, s['client_limit_at'])})"
        elif client.get("limited"):
            limit = "flagged at the good step (held anyway)"
        else:
            limit = "no"
        if s["bad"] is None:
            first_bad = "none (search stopped by --max-steps / --max-load)" if not args.quick else "— (quick)"
        else:
            first_bad = f"{fmt_load(mode, s['bad'])}: {'; '.join(s['bad_reasons'])[:120]}"
        if line.get("contended"):
            limit += " (run contended)"
        rows.append(f"| {MODES[mode]['title']} | {s['processes']} | {good} | {sessions} | {dps} | {p99} | "
                    f"{cpu_s} | {limit} | {first_bad} |")
    return "\n".join(rows)


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    passthrough: list[str] = []
    if "--" in argv:
        k = argv.index("--")
        argv, passthrough = argv[:k], argv[k + 1:]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke check: one tiny step per search (5 pairs, 2 rooms, 2 s window)")
    p.add_argument("--modes", default="relay,rooms", help="comma-separated: relay, rooms")
    p.add_argument("--procs", default="1,2", help="comma-separated numbers of server processes (>1 uses NATS)")
    p.add_argument("--p99-ms", type=float, default=50.0, help="a step holds when p99 is below this (and no loss)")
    p.add_argument("--start-pairs", type=int, default=50, help="first relay step")
    p.add_argument("--start-rooms", type=int, default=20, help="first rooms step")
    p.add_argument("--start-multi", choices=["previous", "same"], default="previous",
                   help="where searches with more processes start: at the 1-process result (previous) "
                        "or at --start-* (same)")
    p.add_argument("--factor", type=float, default=1.5, help="geometric step of the ramp")
    p.add_argument("--bisect", type=int, default=2, help="bisection steps between last good and first bad")
    p.add_argument("--max-steps", type=int, default=12, help="at most this many load levels per search")
    p.add_argument("--max-load", type=int, default=0, help="stop the ramp above this load (0: no cap)")
    p.add_argument("--retries", type=int, default=1,
                   help="run a failing step flagged `contended` again this many times")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--duration", type=float, default=15.0, help="measuring window per step, seconds")
    p.add_argument("--drain", type=float, default=2.0)
    p.add_argument("--workers", type=int, default=3, help="client processes (loadgen --workers)")
    p.add_argument("--max-workers", type=int, default=6,
                   help="a client-limited failing step is retried with more workers, up to this many")
    p.add_argument("--workers-step", type=int, default=2)
    p.add_argument("--step-timeout", type=float, default=240.0,
                   help="seconds a step may take beyond warm-up + window + drain")
    p.add_argument("--nats-server", help="nats-server binary (default: from PATH, /usr/bin, /usr/sbin)")
    p.add_argument("--out", help="append every step's JSON line here "
                                 "(default: bench/results/capacity-<UTC date-time>.jsonl; none with --quick)")
    p.add_argument("--verbose", action="store_true", help="show loadgen's progress output")
    args = p.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in args.modes:
        if m not in MODES:
            p.error(f"unknown mode {m!r} (relay, rooms)")
    try:
        args.procs = [int(x) for x in args.procs.split(",") if x.strip()]
    except ValueError:
        p.error("--procs takes numbers, e.g. 1,2")
    if args.quick:
        args.start_pairs, args.start_rooms, args.start_multi = 5, 2, "same"
        args.max_steps, args.bisect, args.retries = 1, 0, 0
        args.warmup, args.duration, args.drain = 1.0, 2.0, 0.5
        args.workers = min(args.workers, 2)
        args.max_workers = args.workers
    return args, passthrough


def main(argv: list[str] | None = None) -> int:
    args, passthrough = parse_args(sys.argv[1:] if argv is None else argv)
    out: Path | None = None
    if args.out:
        out = Path(args.out)
    elif not args.quick:
        out = HERE / "results" / f"capacity-{datetime.datetime.now(datetime.timezone.utc):%Y%m%d-%H%M%S}.jsonl"
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        log(f"every step's JSON line goes to {out}")
    began = time.monotonic()
    nats: Nats | None = None
    nats_binary = find_nats(args.nats_server)
    summaries: list[dict[str, Any]] = []
    try:
        for mode in args.modes:
            previous: int | None = None
            for procs in args.procs:
                start = args.start_pairs if mode == "relay" else args.start_rooms
                if procs > 1 and args.start_multi == "previous" and previous:
                    start = previous
                url = ""
                if procs > 1:
                    if nats_binary is None:
                        log(f"no nats-server: skipping {mode} with {procs} processes")
                        summaries.append({"mode": mode, "processes": procs, "line": None,
                                          "skipped": "no nats-server (apt-get install nats-server)"})
                        continue
                    if nats is None:
                        nats = Nats(nats_binary)
                    url = nats.url
                log(f"{mode}, {procs} process{'es' if procs > 1 else ''}: starting at {start} {MODES[mode]['unit']}")
                summary = Search(args, mode, procs, url, start, passthrough, out).run()
                log(f"{mode}, {procs} process{'es' if procs > 1 else ''}: highest good "
                    f"{fmt_load(mode, summary['good'])}, first bad {fmt_load(mode, summary['bad'])} "
                    f"({summary['steps']} runs, {summary['seconds']} s)")
                summaries.append(summary)
                if procs == 1 and summary["good"]:
                    previous = summary["good"]
    finally:
        if nats is not None:
            nats.stop()
    elapsed = time.monotonic() - began
    print(f"Capacity: highest load held with p99 < {args.p99_ms:g} ms and no loss "
          f"({args.duration:g} s window after {args.warmup:g} s warm-up per step, fresh server each step)\n")
    print(f"Machine: {machine()}\n")
    print(table(summaries, args))
    print(f"\n{sum(s.get('steps', 0) for s in summaries)} runs in {elapsed / 60:.1f} min"
          + (f"; every run in {out}" if out else ""))
    print("Relay: each pair is two sessions sending 10 msg/s each (20 deliveries/s per pair); rooms: every "
          "member sends 1 chat/s to its 9 room mates (90 deliveries/s per room). p99 is client to client.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
