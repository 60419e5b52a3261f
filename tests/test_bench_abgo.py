"""bench/abgo.py (issue #16 point 5): one tiny A/B pair against the real Go reference server.

Only the mechanics are checked (both servers ran with the same load, lost nothing, and the summary
names both); never the figures, which depend on the machine's neighbours."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import project_root

ABGO = project_root() / "bench" / "abgo.py"
GO = project_root().parent / "shared" / "reference" / "go-server"

pytestmark = pytest.mark.skipif(not (GO / "bin" / "spreed-webrtc-server").exists(),
                                reason="no Go reference server in ../shared/reference/go-server")


def test_one_pair_runs_both_servers_and_summarizes(tmp_path):
    out = tmp_path / "ab.jsonl"
    proc = subprocess.run(
        [sys.executable, str(ABGO), "--go", str(GO), "--pairs", "1", "--pause", "0", "--out", str(out),
         "relay-200", "idle-2000", "--",
         "--pairs", "6", "--sessions", "40", "--warmup", "1", "--duration", "3", "--drain", "1",
         "--idle-settle", "1", "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in out.read_text().splitlines() if line.startswith("{")]
    runs = {(line["scenario"], line["server"]) for line in lines}
    assert runs == {("relay-200", "ours"), ("relay-200", "go"), ("idle-2000", "ours"), ("idle-2000", "go")}
    for line in lines:
        assert "error" not in line, line
        if line["scenario"] == "relay-200":
            assert line["sessions"] == 12 and line["sent"] > 0 and line["lost"] == 0
            assert line["deliveries_per_server_cpu_s"] > 0
        else:
            assert line["open_sessions"] == 40
            assert line["join_server_cpu_ms"] > 0 and line["server_rss_kb_before"] > 0
    table = [row for row in proc.stdout.splitlines() if row.startswith("| relay-200") or row.startswith("| idle-2000")]
    assert any("deliveries per server CPU-s" in row for row in table), proc.stdout
    assert any("server CPU ms per join" in row for row in table), proc.stdout
    assert any("RSS KB before anyone connects" in row for row in table), proc.stdout
