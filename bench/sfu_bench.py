#!/usr/bin/env python3
"""SFU bench (issue #14): upload per page, mesh against SFU, at 4 and 6 pages; Janus's CPU per
forwarded stream and its memory; our server's signalling CPU.

    python3 bench/sfu_bench.py [--pages 4 6] [--seconds 15] [--bring-up 240] [--out bench/results/sfu.json]

Everything runs on this machine, on loopback: a private Janus (tests/janus_harness.py), our server
in a thread of this process, and headless Chromium pages with fake 320x180 cameras (the tests'
"low" quality). Mesh pages use the usual test Chromium; SFU pages the loopback-only one.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import janus_harness  # noqa: E402
from helpers import start_server  # noqa: E402

CHROMIUM = os.environ.get("SPREED_TEST_CHROMIUM", "/usr/bin/chromium")
BASE_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--disable-extensions",
             "--mute-audio", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
             "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required"]
MESH_ARGS = BASE_ARGS + ["--allow-loopback-in-peer-connection"]
SFU_ARGS = BASE_ARGS + ["--webrtc-ip-handling-policy=default_public_interface_only",
                        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
PROFILE = json.dumps(json.dumps({"quality": "low", "sounds": False, "name": "bench"}))
VIDEO_OK = ("(n) => document.querySelectorAll('.tile video').length === n && [...document.querySelectorAll('.tile video')]"
            ".every(v => v.videoWidth > 0)")
class ServerThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.tid = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        while not self.tid:
            time.sleep(0.01)

    def _run(self) -> None:
        self.tid = threading.get_native_id()
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def cpu(self) -> float:
        fields = Path(f"/proc/self/task/{self.tid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def page_sent(page: Any) -> tuple[int, int]:
    """Bytes sent by all PeerConnections of the page (RTP payload + headers), and how many send video."""
    return tuple(page.evaluate("""async () => {
        const pcs = window.__benchPcs || [];
        let bytes = 0, video = 0;
        for (const pc of pcs) {
            if (pc.connectionState === 'closed') continue;
            const r = await pc.getStats(); let v = false;
            r.forEach(s => { if (s.type === 'outbound-rtp') { bytes += (s.bytesSent || 0) + (s.headerBytesSent || 0);
                                                             if (s.kind === 'video' && s.bytesSent) v = true; } });
            if (v) video += 1;
        }
        return [bytes, video];
    }"""))


# every RTCPeerConnection the page makes, so the bench can read its counters
TRACK_PCS = """(() => { const Orig = window.RTCPeerConnection; window.__benchPcs = [];
  window.RTCPeerConnection = function (...a) { const pc = new Orig(...a); window.__benchPcs.push(pc); return pc; };
  window.RTCPeerConnection.prototype = Orig.prototype; Object.setPrototypeOf(window.RTCPeerConnection, Orig); })();"""


def cpu_model() -> str:
    """The CPU's name as /proc/cpuinfo gives it (platform.processor() is empty on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_gb() -> float:
    """MemTotal of /proc/meminfo, in GB (0 when unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) * 1024 / 1e9, 1)
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def summary(results: list[dict]) -> list[str]:
    """One line per page count: upload per page in each mode and the SFU/mesh ratio."""
    lines = []
    by = {(r["mode"], r["pages"]): r for r in results if "error" not in r}
    for n in sorted({r["pages"] for r in results}):
        mesh, sfu = by.get(("mesh", n)), by.get(("sfu", n))
        up = lambda r: f"{r['upload_bytes_per_s_per_page'] / 1000:.1f} KB/s" if r else "failed"  # noqa: E731
        ratio = (f"SFU/mesh = {sfu['upload_bytes_per_s_per_page'] / mesh['upload_bytes_per_s_per_page']:.2f}"
                 f" (mesh is {mesh['upload_bytes_per_s_per_page'] / sfu['upload_bytes_per_s_per_page']:.1f}x)"
                 if mesh and sfu else "no ratio")
        line = f"{n} pages: upload per page mesh {up(mesh)}, SFU {up(sfu)}; {ratio}"
        if sfu:
            line += (f"; Janus {sfu['janus_cpu_percent']} % of a core = {sfu['janus_cpu_percent_per_forwarded_video']} %"
                     f" per forwarded video, RSS {sfu['janus_rss_mb']} MB; our server {sfu['server_cpu_percent']} % (SFU)")
        if mesh:
            line += f", {mesh['server_cpu_percent']} % (mesh)"
        line += "; our server's CPU to bring the room up: " + ", ".join(
            f"{r['mode']} {r['server_cpu_s_bring_up']} s in {r['bring_up_s']} s" for r in (sfu, mesh) if r)
        lines.append(line)
    return lines


def run_case(pw_browser: Any, srv: Any, server: ServerThread, janus: Any, mode: str, n: int, seconds: float,
             bring_up: float = 240) -> dict:
    room = f"conference/bench-{mode}-{n}-{int(time.time())}"
    contexts, pages = [], []
    s_join, t_join = server.cpu(), time.monotonic()
    for i in range(n):
        ctx = pw_browser.new_context(viewport={"width": 1024, "height": 640})
        ctx.add_init_script(f"localStorage.setItem('spreed-client-profile', {PROFILE});")
        ctx.add_init_script(TRACK_PCS)
        if mode == "mesh":
            ctx.add_init_script("globalThis.__spreedNoSfu = true;")
        page = ctx.new_page()
        page.set_default_timeout(120000)
        page.goto(srv.url + room)
        page.wait_for_function("() => window.__spreedTest && window.__spreedTest.room", timeout=120000)
        contexts.append(ctx)
        pages.append(page)
    for page in pages:
        page.wait_for_function(VIDEO_OK, arg=n - 1, timeout=bring_up * 1000, polling=250)
    join_cpu, join_s = server.cpu() - s_join, time.monotonic() - t_join
    pages[0].wait_for_timeout(5000)  # let bandwidth estimation settle
    sent0 = [page_sent(p)[0] for p in pages]
    j0, s0, t0 = janus.cpu_seconds(), server.cpu(), time.monotonic()
    pages[0].wait_for_timeout(seconds * 1000)
    elapsed = time.monotonic() - t0
    sent1 = [page_sent(p) for p in pages]
    j1, s1 = janus.cpu_seconds(), server.cpu()
    upload = [(b - a) / elapsed for a, (b, _) in zip(sent0, sent1)]
    forwarded = n * (n - 1) if mode == "sfu" else 0
    result = {
        "mode": mode, "pages": n, "seconds": round(elapsed, 1),
        "upload_bytes_per_s_per_page": round(sum(upload) / n),
        "upload_min_max": [round(min(upload)), round(max(upload))],
        "video_sending_pcs_per_page": sorted({v for _, v in sent1}),
        "janus_cpu_percent": round(100 * (j1 - j0) / elapsed, 1) if mode == "sfu" else None,
        "janus_cpu_percent_per_forwarded_video": round(100 * (j1 - j0) / elapsed / forwarded, 2) if forwarded else None,
        "janus_rss_mb": round(janus.rss_bytes() / 2**20, 1),
        "server_cpu_percent": round(100 * (s1 - s0) / elapsed, 2),
        # the signalling of bringing the room up (page loads, joins, offers/answers, Janus requests)
        "server_cpu_s_bring_up": round(join_cpu, 2), "bring_up_s": round(join_s, 1),
    }
    for ctx in contexts:
        ctx.close()
    time.sleep(2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, nargs="+", default=[4, 6])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--bring-up", type=float, default=240, help="seconds allowed until every page shows every picture")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "sfu.json"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    janus = janus_harness.Janus(Path(tempfile.mkdtemp(prefix="bench-janus-"))).start()
    server = ServerThread()
    overrides = {"roomtypes": {"^conference/.+": "Conference"}, "limits": {"enabled": False},
                 "app": {"testHooks": True}, "sfu": {"url": janus.url, "minParticipants": 2}}
    srv = server.run(start_server(overrides))
    from spreed.sfu import attach
    server.run(attach(srv.hub))
    while not server.run(asyncio.sleep(0, result=srv.hub.sfu.backends[0].up)):
        time.sleep(0.1)
    idle_rss = janus.rss_bytes()
    load_before = os.getloadavg()
    results = []
    try:
        with sync_playwright() as pw:
            browsers = {"mesh": pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=MESH_ARGS),
                        "sfu": pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=SFU_ARGS)}
            for n in args.pages:
                for mode in ("sfu", "mesh"):
                    try:
                        res = run_case(browsers[mode], srv, server, janus, mode, n, args.seconds, args.bring_up)
                    except Exception as exc:  # noqa: BLE001 - one case that times out is reported, the rest run
                        res = {"mode": mode, "pages": n, "error": str(exc).splitlines()[0][:200]}
                    print(json.dumps(res), flush=True)
                    results.append(res)
            for b in browsers.values():
                b.close()
    finally:
        janus.stop()
    machine = {"cpu": cpu_model(), "cores": os.cpu_count(), "ram_gb": ram_gb(), "load_before": load_before, "load_after": os.getloadavg(),
               "janus": "1.1.2 (Debian)", "janus_idle_rss_mb": round(idle_rss / 2**20, 1),
               "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    lines = summary(results)
    Path(args.out).write_text(json.dumps({"machine": machine, "results": results, "summary": lines}, indent=1))
    print(json.dumps(machine))
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
