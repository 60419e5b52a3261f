"""bench/capacity.py (issue #16 point 4): the --quick smoke check against spawned servers.

The figures themselves are not checked (the machine may be busy): only that every search runs,
the Markdown table comes out, every step lands in --out, and a failing step is recognised."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import project_root

CAPACITY = project_root() / "bench" / "capacity.py"
HEADER = "| mode | processes | highest good load |"


def run_capacity(out: Path, *options: str) -> str:
    proc = subprocess.run([sys.executable, str(CAPACITY), "--quick", "--out", str(out), *options],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def steps(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def table_rows(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(HEADER))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_quick_covers_both_loads_on_one_and_two_processes(tmp_path):
    out = tmp_path / "capacity.jsonl"
    stdout = run_capacity(out)
    assert HEADER in stdout and "Machine:" in stdout
    rows = table_rows(stdout)
    assert len(rows) == 4, stdout
    assert [r.split("|")[1].strip() for r in rows] == ["1:1 call signalling"] * 2 + ["rooms of 10"] * 2
    assert [r.split("|")[2].strip() for r in rows] == ["1", "2", "1", "2"]
    lines = steps(out)
    ran = {(l["capacity"]["mode"], l["capacity"]["processes"]) for l in lines}
    skipped = [r for r in rows if "skipped" in r]  # no nats-server on this machine: 2-process rows say so
    assert len(ran) + len(skipped) == 4
    for line in lines:
        assert "error" not in line, line["error"]  # every step reached the measuring window
        assert line["capacity"]["verdict"] in ("good", "bad", "client", "retry")
        assert line["sent"] > 0 and line["latency_ms"]["p99"] is not None
        if line["capacity"]["verdict"] == "good":
            assert line["lost"] == 0 and line["latency_ms"]["p99"] < 50
        expected_sessions = 10 if line["capacity"]["mode"] == "relay" else 20
        assert line["sessions"] == expected_sessions


def test_a_failing_step_is_detected(tmp_path):
    out = tmp_path / "capacity.jsonl"
    stdout = run_capacity(out, "--modes", "relay", "--procs", "1", "--p99-ms", "0.001")
    rows = table_rows(stdout)
    assert len(rows) == 1
    assert "none (no step held)" in rows[0] and "p99" in rows[0], rows[0]
    [line] = steps(out)
    assert line["capacity"]["verdict"] in ("bad", "client")  # client: the bench box was the limit
    assert any(r.startswith("p99 ") for r in line["capacity"]["reasons"]), line["capacity"]
    assert line["capacity"]["load"] == 5 and line["lost"] == 0
