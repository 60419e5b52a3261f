#!/usr/bin/env python3
"""spreedbench: a load generator for Spreed WebRTC channeling servers (protocol.md section 4).

One scenario per run; the result is one JSON line on stdout (progress goes to stderr).

    python bench/loadgen.py fanout-50x10              # spawns ../server.py on a free loopback port
    python bench/loadgen.py relay-200 --url ws://127.0.0.1:8080/ws --server-pid 1234

The parent process drives the scenario and measures the server (CPU from /proc/<pid>/stat, RSS
from /proc/<pid>/status); the websocket clients live in --workers forked processes, each an
asyncio loop with a minimal websocket client (raw frames, zero mask key, no library), so that
the client side costs as little CPU as possible. Each worker reports its own CPU use and event
loop lag, so the output says whether the client side could have been the bottleneck.

Timeline of a traffic scenario (all times CLOCK_MONOTONIC, which is system-wide on Linux, so the
send stamp written by one worker can be compared with the receive time in another):

    T0 start sending (warm-up) | T1 measuring window | T2 stop sending | T3 end of drain

Every bench message carries `~bm~<sender>.<seq>.<send-ns>~`. A message whose send stamp is in
[T1, T2) belongs to the window: expected = sum of its recipients, received = those that arrived
by T3, loss = expected - received. Server CPU is read at T1 and T2, and deliveries per server
CPU-second = messages received between T1 and T2 / server CPU-seconds used between T1 and T2.
"""
from __future__ import annotations

import argparse
import array
import asyncio
import base64
import datetime
import gc
import heapq
import json
import multiprocessing
import multiprocessing.connection
import os
import random
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

try:
    import orjson

    def jloads(data: bytes | str) -> Any:
        return orjson.loads(data)

    def jdumps(doc: Any) -> bytes:
        return orjson.dumps(doc)
except ImportError:  # pragma: no cover - orjson is a server requirement, but be tolerant
    def jloads(data: bytes | str) -> Any:
        return json.loads(data)

    def jdumps(doc: Any) -> bytes:
        return json.dumps(doc, separators=(",", ":")).encode()

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
mono_ns = time.monotonic_ns
MARK = b"~bm~"

# The five scenarios of issue #7 (and the Go reference figures they are compared with).
SCENARIOS: dict[str, dict[str, Any]] = {
    "fanout-50x10": {"kind": "fanout", "rooms": 50, "size": 10, "rate": 1.0},
    "fanout-10x50": {"kind": "fanout", "rooms": 10, "size": 50, "rate": 0.5},
    "relay-200": {"kind": "relay", "pairs": 200, "rate": 10.0, "sdp_every": 4, "sdp_bytes": 2048},
    "idle-2000": {"kind": "idle", "sessions": 2000, "size": 10},
    "joinstorm-500": {"kind": "storm", "sessions": 500},
}

def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def raise_fd_limit(want: int = 65536) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft


def runqueue_wait(pid: int | str = "self") -> float | None:
    """Seconds the threads of a process spent runnable but waiting for a CPU (/proc/<pid>/task/*/schedstat).

    On a shared machine this is the direct measure of interference: a server that waits for a core
    batches more work per wake-up, which changes its CPU per delivery, and latency grows."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def set_nice(value: int | None, new_session: bool = False) -> None:
    """Lower this process's nice value. With autogroup scheduling (sched_autogroup_enabled, the
    default on desktop-style kernels) nice only ranks processes inside one session, so the process
    first becomes a session of its own and sets that session's autogroup nice."""
    if value is None:
        return
    if new_session:
        try:
            os.setsid()
        except OSError:
            pass
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(value))
    except OSError:
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, 0, value)
    except OSError as exc:
        log(f"cannot set nice {value}: {exc}")


def die_with_parent() -> None:
    """Linux: get SIGTERM when the process that started us dies (so no server is left behind)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def sleep_until(t_ns: int) -> None:
    delay = (t_ns - mono_ns()) / 1e9
    if delay > 0:
        time.sleep(delay)


def percentile(sorted_values: Any, q: float) -> float | None:
    n = len(sorted_values)
    if not n:
        return None
    return float(sorted_values[min(n - 1, max(0, int(round(q * (n - 1)))))])


def rnd(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


# ============================================================================ the websocket client

def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A final, masked client frame. The mask key is zero, so the payload goes out unchanged
    (RFC 6455 only asks browsers for unpredictable keys; servers must accept any key)."""
    n = len(payload)
    first = 0x80 | opcode
    if n < 126:
        header = bytes((first, 0x80 | n))
    elif n < 65536:
        header = struct.pack("!BBH", first, 0xFE, n)
    else:
        header = struct.pack("!BBQ", first, 0xFF, n)
    return header + b"\0\0\0\0" + payload


class WS(asyncio.Protocol):
    """One channeling session: handshake, frame parsing, bench-message accounting."""

    def __init__(self, agent: "Agent", gid: int) -> None:
        self.agent = agent
        self.gid = gid
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.handshaken = False
        self.fragments: list[bytes] | None = None
        self.id = ""
        self.ready: asyncio.Future[None] = agent.loop.create_future()
        self.closed = False
        self.last_seq: dict[int, int] = {}
        # room membership tracking (Hello phase)
        self.roster: frozenset[str] = frozenset()
        self.seen: set[str] = set()
        self.joined_seen: set[str] = set()
        self.welcome_ids: set[str] = set()
        self.need = 0
        self.done_ns = 0
        self.in_hello = False

    # ---- transport callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        ag = self.agent
        transport.write(  # type: ignore[attr-defined]
            f"GET {ag.path} HTTP/1.1\r\nHost: {ag.hostport}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"User-Agent: spreedbench\r\n\r\n".encode())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            self.agent.disconnects += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("connection lost before Self"))

    def send_text(self, payload: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(ws_frame(payload))

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            try:
                self.transport.write(b"\x88\x82\0\0\0\0\x03\xe8")  # Close 1000
            finally:
                self.transport.close()

    def data_received(self, data: bytes) -> None:
        if not self.handshaken:
            data = self.buf + data
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buf = data
                return
            status = data[:data.find(b"\r\n")]
            if not status.startswith(b"HTTP/1.1 101"):
                self.agent.errors.append(f"handshake: {status[:80]!r}")
                self.buf = b""
                self.transport.close()  # type: ignore[union-attr]
                return
            self.handshaken = True
            data = data[end + 4:]
            self.buf = b""
            if not data:
                return
        buf = self.buf + data if self.buf else data
        n = len(buf)
        i = 0
        now = mono_ns()
        ag = self.agent
        t1, t2 = ag.t1, ag.t2
        while n - i >= 2:
            b0 = buf[i]
            length = buf[i + 1] & 0x7F
            head = 2
            if length == 126:
                if n - i < 4:
                    break
                length = (buf[i + 2] << 8) | buf[i + 3]
                head = 4
            elif length == 127:
                if n - i < 10:
                    break
                length = int.from_bytes(buf[i + 2:i + 10], "big")
                head = 10
            if buf[i + 1] & 0x80:
                ag.errors.append("server sent a masked frame")
                head += 4  # (not unmasked: servers must not mask, we only skip it)
            end = i + head + length
            if end > n:
                break
            payload = buf[i + head:end]
            i = end
            opcode = b0 & 0x0F
            if not b0 & 0x80:  # fragmented message
                if opcode:
                    self.fragments = [payload]
                elif self.fragments is not None:
                    self.fragments.append(payload)
                continue
            if opcode == 0 and self.fragments is not None:
                self.fragments.append(payload)
                payload = b"".join(self.fragments)
                self.fragments = None
                opcode = 1
            if opcode == 1:
                k = payload.find(MARK)
                if k >= 0:  # a bench message: the hot path
                    sender, seq, stamp = payload[k + 4:payload.find(b"~", k + 4)].split(b".")
                    sender = int(sender)
                    seq = int(seq)
                    stamp = int(stamp)
                    if seq <= self.last_seq.get(sender, -1):
                        ag.duplicates += 1
                    else:
                        self.last_seq[sender] = seq
                    ag.bench_received += 1
                    if t1 <= stamp < t2:
                        ag.win_received += 1
                        ag.latencies.append((now - stamp) * 1e-6)
                    if t1 <= now < t2:
                        ag.rt_received += 1
                else:
                    self.on_control(payload, now)
            elif opcode == 9:  # ping -> pong
                self.transport.write(ws_frame(payload, 0xA))  # type: ignore[union-attr]
            elif opcode == 8:
                self.closed = True
                ag.disconnects += 1
                ag.errors.append(f"server closed session {self.gid}: {payload[:2].hex()} {payload[2:80]!r}")
                self.transport.close()  # type: ignore[union-attr]
                break
        self.buf = buf[i:] if i < n else b""

    # ---- everything that is not a bench message
    def on_control(self, payload: bytes, now: int) -> None:
        ag = self.agent
        try:
            msg = jloads(payload)
            data = msg.get("Data")
            kind = data.get("Type") if isinstance(data, dict) else None
        except Exception:
            ag.errors.append(f"unparsable message {payload[:80]!r}")
            return
        ag.control[kind] = ag.control.get(kind, 0) + 1
        if kind == "Self":
            if not self.id:
                self.id = data["Id"]
                if not self.ready.done():
                    self.ready.set_result(None)
        elif kind == "Welcome":
            for user in data.get("Users") or ():
                uid = user.get("Id")
                if uid != self.id and uid in self.roster:
                    self.welcome_ids.add(uid)
                    self.seen.add(uid)
            self.check_done(now)
        elif kind == "Joined":
            uid = data.get("Id")
            if uid in self.joined_seen:
                ag.dup_joined += 1
            self.joined_seen.add(uid)
            if uid in self.welcome_ids:
                ag.joined_after_welcome += 1
            if uid != self.id and uid in self.roster:
                self.seen.add(uid)
                self.check_done(now)
        elif kind == "Error":
            ag.server_errors += 1
            ag.errors.append(f"Error from server: {data.get('Code')} {data.get('Message')}")

    def check_done(self, now: int) -> None:
        if self.in_hello and not self.done_ns and len(self.seen) >= self.need:
            self.done_ns = now
            self.agent.hello_pending -= 1
            if self.agent.hello_pending == 0 and self.agent.hello_all_done is not None:
                if not self.agent.hello_all_done.done():
                    self.agent.hello_all_done.set_result(now)


# ============================================================================ the worker side

class Sender:
    __slots__ = ("ws", "make", "fan", "seq", "period")

    def __init__(self, ws: WS, make: Any, fan: int, period: int) -> None:
        self.ws = ws
        self.make = make
        self.fan = fan
        self.seq = 0
        self.period = period


def chat_maker(gid: int, text_bytes: int) -> Any:
    filler = b"x" * max(0, text_bytes - 40)
    template = (b'{"Type":"Chat","Chat":{"To":"","Type":"Chat","Chat":{"Message":"~bm~%d.%%d.%%d~ '
                % gid + filler + b'","NoEcho":true}}}')
    return lambda seq, stamp: template % (seq, stamp)


def fake_sdp(size: int) -> str:
    lines = ["v=0", "o=- @@MARK@@ 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
             "a=msid-semantic: WMS stream", "m=audio 9 UDP/TLS/RTP/SAVPF 111 103 104 9 0 8 106 105 13 110",
             "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0", "a=ice-ufrag:Zq3e", "a=ice-pwd:4b8Cq0S1t2+k7UJd8wJ9fQ",
             "a=fingerprint:sha-256 " + ":".join(f"{b:02X}" for b in range(32)), "a=setup:actpass", "a=mid:0"]
    codec = 96
    while sum(len(line) + 2 for line in lines) < size - 40:
        lines.append(f"a=rtpmap:{codec} VP8/90000")
        lines.append(f"a=rtcp-fb:{codec} goog-remb")
        lines.append(f"a=fmtp:{codec} level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")
        codec += 1
    sdp = "\r\n".join(lines) + "\r\n"
    return sdp[:size - 2] + "\r\n" if len(sdp) > size else sdp


def relay_maker(gid: int, peer_id: str, offerer: bool, sdp_every: int, sdp_bytes: int) -> Any:
    def split(doc: dict[str, Any]) -> tuple[bytes, bytes]:
        before, after = jdumps(doc).split(b"@@MARK@@")
        return before.replace(b"%", b"%%") + b"~bm~%d.%%d.%%d~" % gid + after.replace(b"%", b"%%")

    kind = "Offer" if offerer else "Answer"
    sdp_doc = {"Type": kind, kind: {"To": peer_id, "Type": kind,
                                    kind: {"sdp": fake_sdp(sdp_bytes), "type": kind.lower()}}}
    cand_doc = {"Type": "Candidate", "Candidate": {"To": peer_id, "Type": "Candidate", "Candidate": {
        "candidate": "candidate:@@MARK@@ 1 udp 2122260223 192.168.1.10 54321 typ host generation 0",
        "sdpMid": "0", "sdpMLineIndex": 0}}}
    sdp_t, cand_t = split(sdp_doc), split(cand_doc)
    every = max(1, sdp_every)
    return lambda seq, stamp: (sdp_t if seq % every == 0 else cand_t) % (seq, stamp)


class Agent:
    """The asyncio side of one worker process; obeys commands from the parent over a pipe."""

    def __init__(self, pipe: multiprocessing.connection.Connection, wid: int, url: str) -> None:
        self.pipe = pipe
        self.wid = wid
        parts = urllib.parse.urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.hostport = parts.netloc
        self.path = (parts.path or "/ws") + (f"?{parts.query}" if parts.query else "")
        self.loop = asyncio.get_running_loop()
        self.clients: dict[int, WS] = {}
        self.errors: list[str] = []
        self.control: dict[Any, int] = {}
        self.disconnects = 0
        self.server_errors = 0
        self.duplicates = 0
        self.dup_joined = 0
        self.joined_after_welcome = 0
        self.hello_pending = 0
        self.hello_all_done: asyncio.Future[int] | None = None
        self.stopped = self.loop.create_future()
        self.reset_window(1 << 62, 1 << 62)

    def reset_window(self, t1: int, t2: int) -> None:
        self.t1, self.t2 = t1, t2
        self.bench_received = 0
        self.win_received = 0
        self.rt_received = 0
        self.latencies = array.array("f")

    async def serve(self) -> None:
        self.loop.add_reader(self.pipe.fileno(), self._on_pipe)
        await self.stopped

    def _on_pipe(self) -> None:
        try:
            cmd, args = self.pipe.recv()
        except (EOFError, OSError):  # the parent went away: stop
            self.loop.remove_reader(self.pipe.fileno())
            if not self.stopped.done():
                self.stopped.set_result(None)
            return
        asyncio.ensure_future(self._run(cmd, args))

    def emit(self, kind: str, data: Any) -> None:
        self.pipe.send((kind, data))

    async def _run(self, cmd: str, args: dict[str, Any]) -> None:
        try:
            result = await getattr(self, "cmd_" + cmd)(**args)
            self.emit("reply", result)
        except Exception as exc:  # report, let the parent decide
            import traceback
            self.emit("fail", f"worker {self.wid} {cmd}: {exc!r}\n{traceback.format_exc()}")

    def _take_errors(self) -> list[str]:
        errors, self.errors = self.errors[:20], []
        return errors

    # ---- commands
    async def cmd_connect(self, gids: list[int], concurrency: int, timeout: float) -> dict[str, Any]:
        gate = asyncio.Semaphore(max(1, concurrency))
        failed: list[int] = []
        times: list[float] = []

        async def one(gid: int) -> None:
            async with gate:
                ws = WS(self, gid)
                started = mono_ns()
                try:
                    await self.loop.create_connection(lambda: ws, self.host, self.port)
                    await asyncio.wait_for(ws.ready, timeout)
                except Exception as exc:
                    failed.append(gid)
                    self.errors.append(f"connect {gid}: {exc!r}")
                    return
                times.append((mono_ns() - started) / 1e9)
                self.clients[gid] = ws

        started = mono_ns()
        await asyncio.gather(*(one(g) for g in gids))
        return {"ids": {g: self.clients[g].id for g in gids if g in self.clients}, "failed": failed,
                "elapsed_s": (mono_ns() - started) / 1e9, "max_connect_s": max(times, default=0.0),
                "errors": self._take_errors()}

    async def cmd_hello(self, rooms: dict[int, str], rosters: dict[str, list[str]], at_ns: int,
                        timeout: float, settle: float) -> dict[str, Any]:
        """Send Hello for each client at at_ns; wait until everyone has seen all its room's members."""
        frozen = {name: frozenset(ids) for name, ids in rosters.items()}
        todo = []
        for gid, room in rooms.items():
            ws = self.clients.get(gid)
            if ws is None or ws.closed:
                continue
            ws.roster = frozen[room]
            ws.need = len(ws.roster) - (1 if ws.id in ws.roster else 0)
            ws.seen, ws.joined_seen, ws.welcome_ids = set(), set(), set()
            ws.done_ns = 0
            ws.in_hello = True
            hello = jdumps({"Type": "Hello", "Hello": {"Version": "1.0.0", "Ua": "spreedbench", "Name": room,
                                                       "Type": ""}, "Iid": f"h{gid}"})
            todo.append((ws, hello))
        self.dup_joined = self.joined_after_welcome = 0
        self.hello_pending = len(todo)
        self.hello_all_done = self.loop.create_future()
        if not todo:
            self.hello_all_done.set_result(mono_ns())
        await asyncio.sleep(max(0.0, (at_ns - mono_ns()) / 1e9))
        sent_ns = mono_ns()
        for ws, hello in todo:
            ws.send_text(hello)
        try:
            finished = await asyncio.wait_for(asyncio.shield(self.hello_all_done), timeout)
        except asyncio.TimeoutError:
            finished = 0
        self.emit("event", {"event": "hello_done", "ok": bool(finished), "done_ns": finished})
        await asyncio.sleep(settle)  # late or duplicate Joined show up here
        for ws, _ in todo:
            ws.in_hello = False
        done = [ws.done_ns for ws, _ in todo if ws.done_ns]
        return {"clients": len(todo), "complete": len(done), "sent_ns": sent_ns,
                "last_done_ns": max(done, default=0),
                "done_after_s": [(d - at_ns) / 1e9 for d in done],
                "dup_joined": self.dup_joined, "joined_after_welcome": self.joined_after_welcome,
                "incomplete_missing": sum(ws.need - len(ws.seen) for ws, _ in todo if not ws.done_ns),
                "disconnects": self.disconnects, "server_errors": self.server_errors,
                "errors": self._take_errors()}

    async def cmd_run(self, senders: list[dict[str, Any]], t0: int, t1: int, t2: int, t3: int,
                      text_bytes: int = 64, sdp_every: int = 4, sdp_bytes: int = 2048) -> dict[str, Any]:
        """Send on schedule from t0 to t2, count what arrives until t3, report."""
        self.reset_window(t1, t2)
        self.duplicates = 0
        disconnects_before = self.disconnects
        plan: list[Sender] = []
        heap: list[tuple[int, int]] = []
        for spec in senders:
            ws = self.clients.get(spec["gid"])
            if ws is None or ws.closed:
                continue
            if spec["kind"] == "chat":
                make = chat_maker(spec["gid"], text_bytes)
            else:
                make = relay_maker(spec["gid"], spec["peer"], spec["offerer"], sdp_every, sdp_bytes)
            period = int(1e9 / spec["rate"])
            heap.append((t0 + int(spec["phase"] * period), len(plan)))
            plan.append(Sender(ws, make, spec["fan"], period))
        heapq.heapify(heap)
        counts = {"sent_warmup": 0, "sent_window": 0, "expected": 0, "send_late_ms_max": 0.0}
        lags = array.array("f")
        usage: dict[str, Any] = {}

        async def monitor() -> None:
            """CPU of this process in [t1, t2], and how late a 10 ms timer fires (loop lag)."""
            await asyncio.sleep(max(0.0, (t1 - mono_ns()) / 1e9))
            usage["start"] = resource.getrusage(resource.RUSAGE_SELF)
            usage["wait_start"] = runqueue_wait()
            while True:
                want = mono_ns() + 10_000_000
                if want >= t2:
                    break
                await asyncio.sleep(0.01)
                lags.append(max(0.0, (mono_ns() - want) / 1e6))
            await asyncio.sleep(max(0.0, (t2 - mono_ns()) / 1e9))
            usage["end"] = resource.getrusage(resource.RUSAGE_SELF)
            usage["wait_end"] = runqueue_wait()
            usage["wall"] = (mono_ns() - t1) / 1e9

        watch = asyncio.ensure_future(monitor())
        gc.collect()
        gc.freeze()
        late_max = 0
        while heap:
            now = mono_ns()
            if now >= t2:
                break
            while heap and heap[0][0] <= now:
                due, idx = heapq.heappop(heap)
                sender = plan[idx]
                stamp = mono_ns()
                if stamp >= t2:
                    heap.clear()
                    break
                late_max = max(late_max, stamp - due)
                sender.ws.send_text(sender.make(sender.seq, stamp))
                sender.seq += 1
                if stamp >= t1:
                    counts["sent_window"] += 1
                    counts["expected"] += sender.fan
                else:
                    counts["sent_warmup"] += 1
                heapq.heappush(heap, (due + sender.period, idx))
            if heap:
                await asyncio.sleep(max(0.0, (min(heap[0][0], t2) - mono_ns()) / 1e9))
        counts["send_late_ms_max"] = late_max / 1e6
        await watch
        await asyncio.sleep(max(0.0, (t3 - mono_ns()) / 1e9))
        start, end = usage["start"], usage["end"]
        cpu = (end.ru_utime - start.ru_utime) + (end.ru_stime - start.ru_stime)
        lag_sorted = sorted(lags)
        result = dict(counts)
        result.update({
            "received_window": self.win_received, "received_rt_window": self.rt_received,
            "received_total": self.bench_received, "duplicates": self.duplicates,
            "latencies": self.latencies.tobytes(), "cpu_s": cpu, "wall_s": usage["wall"],
            "wait_s": (usage["wait_end"] or 0.0) - (usage["wait_start"] or 0.0),
            "lag_ms_p99": percentile(lag_sorted, 0.99) or 0.0, "lag_ms_max": lag_sorted[-1] if lag_sorted else 0.0,
            "disconnects": self.disconnects - disconnects_before, "server_errors": self.server_errors,
            "errors": self._take_errors()})
        self.reset_window(1 << 62, 1 << 62)
        gc.unfreeze()
        return result

    async def cmd_usage(self) -> dict[str, Any]:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return {"cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_kb": ru.ru_maxrss, "clients": len(self.clients),
                "open": sum(1 for ws in self.clients.values() if not ws.closed),
                "disconnects": self.disconnects, "server_errors": self.server_errors,
                "control": {str(k): v for k, v in self.control.items()},
                "errors": self._take_errors()}

    async def cmd_close(self) -> dict[str, Any]:
        for ws in self.clients.values():
            ws.close()
        await asyncio.sleep(0.2)
        self.loop.call_later(0.05, lambda: self.stopped.done() or self.stopped.set_result(None))
        return {"closed": len(self.clients)}


def worker_main(pipe: multiprocessing.connection.Connection, wid: int, url: str, nice: int | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and closes our pipe
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent()
    set_nice(nice, new_session=True)
    raise_fd_limit()

    async def main() -> None:
        await Agent(pipe, wid, url).serve()

    asyncio.run(main())


# ============================================================================ the parent side

class Fleet:
    """The client worker processes and the pipes to them."""

    def __init__(self, count: int, url: str, nice: int | None = None) -> None:
        ctx = multiprocessing.get_context("fork")
        self.pipes: list[multiprocessing.connection.Connection] = []
        self.procs: list[Any] = []
        for wid in range(count):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(theirs, wid, url, nice), daemon=True, name=f"bench-w{wid}")
            proc.start()
            theirs.close()
            self.pipes.append(ours)
            self.procs.append(proc)

    def __len__(self) -> int:
        return len(self.pipes)

    def send(self, cmd: str, args: list[dict[str, Any]]) -> None:
        for pipe, arg in zip(self.pipes, args):
            pipe.send((cmd, arg))

    def collect(self, timeout: float, want: str = "reply", on_event: Any = None) -> list[Any]:
        """One `want` message from every worker; events are passed to on_event on the way."""
        results: list[Any] = [None] * len(self.pipes)
        pending = set(range(len(self.pipes)))
        deadline = time.monotonic() + timeout
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"workers {sorted(pending)} did not answer within {timeout:.0f} s")
            ready = multiprocessing.connection.wait([self.pipes[i] for i in pending], left)
            for pipe in ready:
                i = self.pipes.index(pipe)  # type: ignore[arg-type]
                try:
                    kind, data = pipe.recv()  # type: ignore[union-attr]
                except EOFError:
                    raise RuntimeError(f"worker {i} died (exit code {self.procs[i].exitcode})") from None
                if kind == "fail":
                    raise RuntimeError(data)
                if kind == want:
                    results[i] = data
                    pending.discard(i)
                elif on_event is not None:
                    on_event(i, data)
        return results

    def call(self, cmd: str, args: list[dict[str, Any]], timeout: float) -> list[Any]:
        self.send(cmd, args)
        return self.collect(timeout)

    def close(self) -> None:
        try:
            self.send("close", [{} for _ in self.pipes])
            self.collect(5.0)
        except Exception:
            pass
        for pipe in self.pipes:
            pipe.close()
        for proc in self.procs:
            proc.join(2.0)
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)


class Server:
    """The server under test: spawned here (fresh, on a free loopback port) or given by URL and pid."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.tmp: tempfile.TemporaryDirectory[str] | None = None
        self.pid: int | None = args.server_pid
        self.keep_log = args.keep_log
        if args.url:
            self.url = args.url
            self.description = args.url
            self.version = ""
            return
        self.tmp = tempfile.TemporaryDirectory(prefix="spreedbench-")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = Path(self.tmp.name) / "config.yaml"
        config.write_text(
            "# written by bench/loadgen.py --spawn\n"
            f"http:\n  listen: 127.0.0.1:{port}\n  stats: true\n"
            "app:\n  sessionSecret: " + "5e" * 32 + "\n  encryptionSecret: " + "e5" * 32 + "\n"
            "  serverToken: spreedbench\n  defaultRoomEnabled: true\n"
            "log:\n  logfile: ''\n"
            "limits:\n  enabled: false\n  messagesPerSecond: 100000\n"
            + (f"nats:\n  url: {args.nats_url}\n" if args.nats_url else ""))
        server_dir = Path(args.server_dir).resolve()
        self.logfile = Path(self.tmp.name) / "server.log"
        command = [sys.executable, str(server_dir / "server.py"), "-c", str(config)]
        if args.processes > 1:
            command += ["--processes", str(args.processes)]
        if args.server_wrapper:
            command[1:1] = [str(Path(args.server_wrapper).resolve())]
        with open(self.logfile, "wb") as out:
            self.proc = subprocess.Popen(command, cwd=server_dir, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         preexec_fn=lambda: (die_with_parent(), set_nice(args.nice)))
        self.pid = self.proc.pid
        self.url = f"ws://127.0.0.1:{port}/ws"
        self.description = f"spawn: {' '.join(command[1:-2])}"
        self.version = source_version(server_dir)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not listen on {port}:\n{self.log_tail()}") from None
                time.sleep(0.1)
        time.sleep(0.3)  # let start-up work (imports, first GC) finish before the baseline
        if args.processes > 1:  # measure the workers too: CPU and RSS are summed over self.pids
            deadline = time.monotonic() + 20
            while len(self.workers()) < args.processes and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # the workers find each other over NATS

    def workers(self) -> list[int]:
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                return [int(p) for p in f.read().split()]
        except (OSError, TypeError):
            return []

    @property
    def pids(self) -> list[int]:
        return [self.pid, *self.workers()] if self.pid else []

    def log_tail(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def cpu(self) -> float | None:
        if not self.pid:
            return None
        total = 0.0
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                if pid == self.pid:
                    return None
                continue
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
        return total

    def wait(self) -> float | None:
        return runqueue_wait(self.pid) if self.pid else None

    def rss_kb(self) -> int | None:
        if not self.pid:
            return None
        total = 0
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/status") as f:
                    total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
            except OSError:
                if pid == self.pid:
                    return None
        return total

    def alive(self) -> bool:
        return self.proc is None or self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(2)
        if self.tmp is not None:
            if self.keep_log:
                Path(self.keep_log).write_bytes(self.logfile.read_bytes())
            self.tmp.cleanup()
            self.tmp = None


def source_version(directory: Path) -> str:
    """The commit of the spawned server's code (`+dirty` with local changes), or a BENCH_SOURCE file."""
    marker = directory / "BENCH_SOURCE"
    if marker.is_file():
        return marker.read_text().strip()
    try:
        return subprocess.run(["git", "-C", str(directory), "describe", "--always", "--dirty=+dirty"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def host_cpu() -> tuple[int, int, int, int]:
    """(busy, steal, total, softirq) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]] + [0] * 8
    idle = values[3] + values[4]
    steal = values[7]
    total = sum(values[:8])
    return total - idle - steal, steal, total, values[6]


def busy_cores(seconds: float) -> float:
    """How many cores of this machine were busy over the next `seconds`."""
    a = host_cpu()
    time.sleep(seconds)
    b = host_cpu()
    total = b[2] - a[2]
    return (b[0] - a[0]) / total * (os.cpu_count() or 1) if total else 0.0


def wait_quiet(limit_cores: float, max_wait: float) -> float:
    """Wait (up to max_wait s) until the neighbours use at most limit_cores; return the last sample."""
    deadline = time.monotonic() + max_wait
    sample = busy_cores(2.0)
    while sample > limit_cores and time.monotonic() < deadline:
        log(f"machine busy ({sample:.2f} cores in use by others), waiting for it to quiet down")
        sample = busy_cores(5.0)
    return sample


class Bench:
    def __init__(self, args: argparse.Namespace, server: Server, fleet: Fleet) -> None:
        self.args = args
        self.server = server
        self.fleet = fleet
        self.tag = f"bench{os.getpid()}-{random.randrange(1 << 30):x}"
        self.ids: dict[int, str] = {}
        self.rss_start = server.rss_kb()

    def by_worker(self, gids: list[int]) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in range(len(self.fleet))]
        for gid in gids:
            out[gid % len(self.fleet)].append(gid)
        return out

    def connect(self, count: int, concurrency: int) -> dict[str, Any]:
        groups = self.by_worker(list(range(count)))
        cpu0, started = self.server.cpu(), time.monotonic()
        replies = self.fleet.call("connect", [{"gids": g, "concurrency": concurrency, "timeout": 60.0}
                                              for g in groups], timeout=180)
        elapsed = time.monotonic() - started
        cpu1 = self.server.cpu()
        failed = sum(len(r["failed"]) for r in replies)
        for r in replies:
            self.ids.update({int(k): v for k, v in r["ids"].items()})
        errors = [e for r in replies for e in r["errors"]]
        log(f"connected {len(self.ids)}/{count} sessions in {elapsed:.2f} s"
            + (f", {failed} failed: {errors[:3]}" if failed else ""))
        if failed:
            raise RuntimeError(f"{failed} of {count} sessions could not connect: {errors[:5]}")
        return {"sessions": count, "wall_s": rnd(elapsed), "server_cpu_s": rnd(diff(cpu0, cpu1)),
                "slowest_connect_s": rnd(max(r["max_connect_s"] for r in replies))}

    def hello(self, rooms: dict[int, str], timeout: float, settle: float, at_delay: float = 0.5,
              on_done: Any = None) -> dict[str, Any]:
        rosters: dict[str, list[str]] = {}
        for gid, room in rooms.items():
            rosters.setdefault(room, []).append(self.ids[gid])
        groups = self.by_worker(sorted(rooms))
        at_ns = mono_ns() + int(at_delay * 1e9)
        args = []
        for g in groups:
            mine = {gid: rooms[gid] for gid in g}
            args.append({"rooms": mine, "rosters": {r: rosters[r] for r in set(mine.values())},
                         "at_ns": at_ns, "timeout": timeout, "settle": settle})
        self.fleet.send("hello", args)
        done_events: list[Any] = []

        def on_event(i: int, data: dict[str, Any]) -> None:
            done_events.append(data)
            if len(done_events) == len(self.fleet) and on_done is not None:
                on_done(done_events)

        replies = self.fleet.collect(timeout + settle + 30, on_event=on_event)
        complete = sum(r["complete"] for r in replies)
        clients = sum(r["clients"] for r in replies)
        last = max((r["last_done_ns"] for r in replies), default=0)
        done_after = sorted(x for r in replies for x in r["done_after_s"])
        return {"at_ns": at_ns, "clients": clients, "complete": complete,
                "time_to_complete_s": rnd((last - at_ns) / 1e9) if complete == clients and last else None,
                "member_complete_p50_s": rnd(percentile(done_after, 0.5)),
                "dup_joined": sum(r["dup_joined"] for r in replies),
                "joined_after_welcome": sum(r["joined_after_welcome"] for r in replies),
                "missing_views": sum(r["incomplete_missing"] for r in replies),
                "disconnects": sum(r["disconnects"] for r in replies),
                "server_errors": sum(r["server_errors"] for r in replies),
                "errors": [e for r in replies for e in r["errors"]][:10]}

    def usage(self) -> list[dict[str, Any]]:
        return self.fleet.call("usage", [{} for _ in range(len(self.fleet))], timeout=30)

    # ---------------------------------------------------------------- traffic scenarios
    def traffic(self, senders: list[dict[str, Any]], sessions: int) -> dict[str, Any]:
        a = self.args
        t0 = mono_ns() + int(1.0 * 1e9)
        t1 = t0 + int(a.warmup * 1e9)
        t2 = t1 + int(a.duration * 1e9)
        t3 = t2 + int(a.drain * 1e9)
        groups: list[list[dict[str, Any]]] = [[] for _ in range(len(self.fleet))]
        for spec in senders:
            groups[spec["gid"] % len(self.fleet)].append(spec)
        extra = {"text_bytes": a.text_bytes, "sdp_every": a.sdp_every, "sdp_bytes": a.sdp_bytes}
        self.fleet.send("run", [{"senders": g, "t0": t0, "t1": t1, "t2": t2, "t3": t3, **extra} for g in groups])
        log(f"sending: {a.warmup:g} s warm-up, {a.duration:g} s window, {a.drain:g} s drain")
        sleep_until(t1)
        cpu1, host1, rss1, wait1 = self.server.cpu(), host_cpu(), self.server.rss_kb(), self.server.wait()
        profiler = self.start_profiler()
        sleep_until(t2)
        cpu2, host2, rss2, wait2 = self.server.cpu(), host_cpu(), self.server.rss_kb(), self.server.wait()
        if profiler is not None:
            profiler.wait(timeout=30)
        replies = self.fleet.collect(timeout=a.drain + a.duration + 120)
        window = (t2 - t1) / 1e9
        server_cpu = diff(cpu1, cpu2)
        lat = array.array("f")
        for r in replies:
            lat.frombytes(r["latencies"])
        lat_sorted = sorted(lat)
        sent = sum(r["sent_window"] for r in replies)
        expected = sum(r["expected"] for r in replies)
        received = sum(r["received_window"] for r in replies)
        delivered_rt = sum(r["received_rt_window"] for r in replies)
        client_cpu = sum(r["cpu_s"] for r in replies)
        worker_util = [r["cpu_s"] / r["wall_s"] for r in replies]
        busy = host2[0] - host1[0]
        total = host2[2] - host1[2]
        max_util = max(worker_util)
        lag_p99 = max(r["lag_ms_p99"] for r in replies)
        client_limited = max_util > 0.85 or lag_p99 > 20.0
        out = {
            "window_s": rnd(window), "sessions": sessions,
            "sent": sent, "expected": expected, "received": received, "lost": expected - received,
            "loss_ratio": rnd((expected - received) / expected, 6) if expected else None,
            "duplicates": sum(r["duplicates"] for r in replies),
            "disconnects": sum(r["disconnects"] for r in replies),
            "server_errors": sum(r["server_errors"] for r in replies),
            "deliveries_per_s": rnd(delivered_rt / window, 1),
            "latency_ms": {"p50": rnd(percentile(lat_sorted, 0.50)), "p90": rnd(percentile(lat_sorted, 0.90)),
                           "p99": rnd(percentile(lat_sorted, 0.99)), "max": rnd(lat_sorted[-1] if lat_sorted else None)},
            "server_cpu_s": rnd(server_cpu),
            "server_cpu_util": rnd(server_cpu / window) if server_cpu is not None else None,
            "server_runqueue_wait_s": rnd(diff(wait1, wait2)),
            "deliveries_per_server_cpu_s": rnd(delivered_rt / server_cpu, 1) if server_cpu else None,
            "server_rss_kb": rss2,
            "rss_per_session_kb": rnd((rss2 - self.rss_start) / sessions, 2)
            if rss2 is not None and self.rss_start is not None else None,
            "client": {
                "workers": len(self.fleet), "cpu_s": rnd(client_cpu),
                "cpu_us_per_delivery": rnd(client_cpu / delivered_rt * 1e6, 2) if delivered_rt else None,
                "worker_cpu_util": [rnd(u) for u in worker_util], "max_worker_cpu_util": rnd(max_util),
                "max_worker_runqueue_wait_s": rnd(max(r["wait_s"] for r in replies)),
                "loop_lag_ms_p99": rnd(lag_p99), "loop_lag_ms_max": rnd(max(r["lag_ms_max"] for r in replies)),
                "send_late_ms_max": rnd(max(r["send_late_ms_max"] for r in replies)),
                "limited": client_limited},
            "host": {"cores": os.cpu_count(), "cpu_util": rnd(busy / total) if total else None,
                     "softirq": rnd((host2[3] - host1[3]) / total) if total else None,
                     # busy cores not explained by the server and the client workers: neighbours
                     "other_cores": rnd((busy / CLK_TCK - (server_cpu or 0) - client_cpu) / window, 2),
                     "steal": rnd((host2[1] - host1[1]) / total) if total else None},
            "errors": [e for r in replies for e in r["errors"]][:10],
        }
        out["contended"] = is_contended(out, self.args.contended_cores, self.args.contended_wait)
        if rss1 is not None:
            out["server_rss_kb_at_t1"] = rss1
        return out

    def start_profiler(self) -> subprocess.Popen[bytes] | None:
        a = self.args
        if not a.profile or not self.server.pid:
            return None
        fmt = "flamegraph" if a.profile.endswith(".svg") else ("speedscope" if a.profile.endswith(".json") else "raw")
        duration = max(1, int(a.duration) - 1)
        cmd = ["py-spy", "record", "--pid", str(self.server.pid), "--duration", str(duration),
               "--rate", str(a.profile_rate), "--format", fmt, "-o", a.profile]
        if a.profile_nonblocking:
            cmd.append("--nonblocking")
        log(f"profiling: {' '.join(cmd)}")
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=sys.stderr)

    def run_fanout(self, rooms: int, size: int, rate: float) -> dict[str, Any]:
        n = rooms * size
        connect = self.connect(n, self.args.concurrency)
        assign = {gid: f"{self.tag}-r{gid // size}" for gid in range(n)}
        joined = self.hello(assign, timeout=60, settle=0.5)
        check_joined(joined)
        rng = random.Random(self.args.seed)
        senders = [{"gid": g, "kind": "chat", "fan": size - 1, "rate": rate, "phase": rng.random()}
                   for g in range(n)]
        out = self.traffic(senders, n)
        out["setup"] = {"connect": connect, "hello_s": joined["time_to_complete_s"],
                        "hello_server_errors": joined["server_errors"]}
        return out

    def run_relay(self, pairs: int, rate: float) -> dict[str, Any]:
        n = pairs * 2
        connect = self.connect(n, self.args.concurrency)
        rng = random.Random(self.args.seed)
        senders = []
        for g in range(n):
            peer = g ^ 1
            senders.append({"gid": g, "kind": "relay", "peer": self.ids[peer], "offerer": g % 2 == 0,
                            "fan": 1, "rate": rate, "phase": rng.random()})
        out = self.traffic(senders, n)
        out["setup"] = {"connect": connect}
        return out

    def run_idle(self, sessions: int, size: int) -> dict[str, Any]:
        rss0 = self.rss_start
        connect = self.connect(sessions, self.args.concurrency)
        assign = {gid: f"{self.tag}-r{gid // size}" for gid in range(sessions)}
        cpu0 = self.server.cpu()
        joined = self.hello(assign, timeout=120, settle=0.5)
        hello_cpu = diff(cpu0, self.server.cpu())  # includes the 0.5 s settle, when nothing happens
        check_joined(joined)
        join_cpu = (connect["server_cpu_s"] + hello_cpu
                    if connect["server_cpu_s"] is not None and hello_cpu is not None else None)
        log(f"{sessions} sessions in rooms of {size}; idle for {self.args.idle_settle:g} s")
        cpu1, t1 = self.server.cpu(), time.monotonic()
        time.sleep(self.args.idle_settle)
        cpu2, t2 = self.server.cpu(), time.monotonic()
        rss = self.server.rss_kb()
        usage = self.usage()
        open_count = sum(u["open"] for u in usage)
        return {"sessions": sessions, "rooms": (sessions + size - 1) // size, "open_sessions": open_count,
                "server_rss_kb_before": rss0, "server_rss_kb": rss,
                "rss_per_session_kb": rnd((rss - rss0) / sessions, 2) if rss is not None and rss0 is not None else None,
                "idle_server_cpu_util": rnd(diff(cpu1, cpu2) / (t2 - t1)) if cpu1 is not None else None,
                "setup": {"connect": connect, "hello_s": joined["time_to_complete_s"], "hello_server_cpu_s": rnd(hello_cpu)},
                # a join: TCP accept, upgrade, Self, Hello, Welcome (and the Joined/Left of the room)
                "join_wall_s": rnd(connect["wall_s"] + joined["time_to_complete_s"])
                if joined["time_to_complete_s"] is not None else None,
                "join_server_cpu_ms": rnd(1000 * join_cpu / sessions, 3) if join_cpu is not None else None,
                "client": {"workers": len(self.fleet), "cpu_s": rnd(sum(u["cpu_s"] for u in usage)),
                           "maxrss_kb": [u["maxrss_kb"] for u in usage]},
                "disconnects": sum(u["disconnects"] for u in usage),
                "server_errors": sum(u["server_errors"] for u in usage),
                "errors": [e for u in usage for e in u["errors"]][:10]}

    def run_storm(self, sessions: int) -> dict[str, Any]:
        # phase 1: everybody connects at once
        connect = self.connect(sessions, concurrency=sessions)
        # phase 2: everybody says Hello to the same room at the same moment
        time.sleep(0.5)
        usage0 = self.usage()
        host0 = host_cpu()
        cpu0, wait0 = self.server.cpu(), self.server.wait()
        marks: dict[str, Any] = {}

        def on_done(events: list[dict[str, Any]]) -> None:
            marks["cpu_done"] = self.server.cpu()
            marks["wait_done"] = self.server.wait()
            marks["host_done"] = host_cpu()
            marks["t_done"] = mono_ns()

        room = f"{self.tag}-storm"
        result = self.hello({g: room for g in range(sessions)}, timeout=self.args.storm_timeout,
                            settle=self.args.storm_settle, at_delay=0.5, on_done=on_done)
        cpu_settled = self.server.cpu()
        usage = self.usage()
        host_done = marks.get("host_done", host_cpu())
        busy = host_done[0] - host0[0]
        total = host_done[2] - host0[2]
        hello_cpu = diff(cpu0, marks.get("cpu_done"))
        client_cpu = sum(u["cpu_s"] for u in usage) - sum(u["cpu_s"] for u in usage0)
        phase_s = (marks.get("t_done", mono_ns()) - result["at_ns"]) / 1e9 + 0.5
        other = (busy / CLK_TCK - (hello_cpu or 0) - client_cpu) / phase_s if phase_s > 0 else 0.0
        out = {"sessions": sessions,
                "members_complete": result["complete"], "time_to_complete_s": result["time_to_complete_s"],
                "member_complete_p50_s": result["member_complete_p50_s"],
                "server_cpu_s": rnd(hello_cpu), "server_cpu_s_incl_settle": rnd(diff(cpu0, cpu_settled)),
                "server_cpu_s_connect_phase": connect["server_cpu_s"],
                "server_cpu_s_total": rnd(hello_cpu + connect["server_cpu_s"])
                if hello_cpu is not None and connect["server_cpu_s"] is not None else None,
                "connect_wall_s": connect["wall_s"], "dup_joined": result["dup_joined"],
                "joined_after_welcome": result["joined_after_welcome"], "missing_views": result["missing_views"],
                "disconnects": result["disconnects"], "server_errors": result["server_errors"],
                "server_rss_kb": self.server.rss_kb(),
                "rss_per_session_kb": rnd((self.server.rss_kb() - self.rss_start) / sessions, 2)
                if self.rss_start is not None and self.server.pid else None,
                "client": {"workers": len(self.fleet), "cpu_s_hello_phase": rnd(client_cpu)},
                "host": {"cores": os.cpu_count(), "cpu_util": rnd(busy / total) if total else None,
                         "other_cores": rnd(other, 2)},
                "server_runqueue_wait_s": rnd(diff(wait0, marks.get("wait_done"))),
                "hello_phase_s": rnd(phase_s),
                "errors": result["errors"]}
        out["contended"] = is_contended(out, self.args.contended_cores, self.args.contended_wait)
        return out


def is_contended(doc: dict[str, Any], other_cores: float = 0.5, wait_fraction: float = 0.25) -> bool:
    """Were busy neighbours likely to have changed this run's figures? Either they used more than
    `other_cores` cores during the window, or the server waited for a CPU longer than
    `wait_fraction` of it. (Some run-queue wait is normal even on a quiet machine: the server and
    the client workers share two cores and wake each other up; about 10 % of the window here.)"""
    other = (doc.get("host") or {}).get("other_cores")
    wait = doc.get("server_runqueue_wait_s")
    span = doc.get("window_s") or doc.get("hello_phase_s")
    return bool((other is not None and other > other_cores)
                or (wait is not None and span and wait > wait_fraction * span))


def diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def check_joined(result: dict[str, Any]) -> None:
    if result["complete"] != result["clients"]:
        raise RuntimeError(f"only {result['complete']} of {result['clients']} sessions saw their whole room: "
                           f"{result['errors'][:5]}")
    log(f"all {result['clients']} sessions in their rooms after {result['time_to_complete_s']} s")
    if result["server_errors"]:
        log(f"WARNING: the server answered {result['server_errors']} Hellos with an Error: {result['errors'][:2]}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", choices=sorted(SCENARIOS))
    where = p.add_argument_group("server under test")
    where.add_argument("--url", help="channeling websocket URL of a running server, e.g. ws://127.0.0.1:8080/ws "
                                     "(default: spawn our server.py on a free loopback port)")
    where.add_argument("--server-pid", type=int, help="pid of the server at --url (for CPU and RSS figures)")
    where.add_argument("--server-dir", default=str(REPO_ROOT), help="checkout whose server.py is spawned")
    where.add_argument("--processes", type=int, default=1,
                       help="spawn the server with --processes N (needs --nats-url); CPU and RSS cover all")
    where.add_argument("--nats-url", default="", help="nats.url for the spawned server (cluster runs)")
    where.add_argument("--server-wrapper", help="spawn as `python WRAPPER server.py -c ...` (e.g. bench/gcwatch.py)")
    where.add_argument("--signal-at-end", metavar="SIG",
                       help="send this signal (e.g. USR1 for bench/memtrace.py) to the server after measuring")
    where.add_argument("--signal-wait", type=float, default=3.0, help="seconds to wait after --signal-at-end")
    where.add_argument("--keep-log", help="copy the spawned server's log to this file at the end")
    load = p.add_argument_group("load (defaults: the issue #7 scenario)")
    load.add_argument("--rooms", type=int)
    load.add_argument("--size", type=int, help="members per room")
    load.add_argument("--rate", type=float, help="messages per second per sending session")
    load.add_argument("--pairs", type=int)
    load.add_argument("--sessions", type=int)
    load.add_argument("--text-bytes", type=int, default=64, help="chat message text length")
    load.add_argument("--sdp-every", type=int, default=4, help="relay: every n-th message is an Offer/Answer")
    load.add_argument("--sdp-bytes", type=int, default=2048)
    timing = p.add_argument_group("timing")
    timing.add_argument("--warmup", type=float, default=5.0)
    timing.add_argument("--duration", type=float, default=30.0, help="measuring window, seconds")
    timing.add_argument("--drain", type=float, default=3.0)
    timing.add_argument("--idle-settle", type=float, default=5.0)
    timing.add_argument("--storm-timeout", type=float, default=60.0)
    timing.add_argument("--storm-settle", type=float, default=2.0)
    timing.add_argument("--timeout", type=float, default=600.0, help="give up (and clean up) after this long")
    client = p.add_argument_group("client")
    client.add_argument("--workers", type=int, default=3, help="client processes")
    client.add_argument("--concurrency", type=int, default=32, help="connects in flight per worker")
    client.add_argument("--seed", type=int, default=7)
    shared = p.add_argument_group("shared machine")
    shared.add_argument("--quiet-wait", type=float, default=0.0,
                        help="before starting, wait up to this many seconds for the machine to be quiet")
    shared.add_argument("--quiet-cores", type=float, default=0.5, help="'quiet': others use at most this many cores")
    shared.add_argument("--contended-cores", type=float, default=0.5,
                        help="flag the run `contended` when others (neither the server nor the client "
                             "workers) kept more than this many cores busy during the window")
    shared.add_argument("--contended-wait", type=float, default=0.25,
                        help="... or when the server waited for a CPU (run queue) longer than this "
                             "fraction of the window")
    shared.add_argument("--nice", type=int, help="run the spawned server and the client workers at this "
                        "nice value (e.g. -10 as root, to keep busy neighbours from interfering)")
    p.add_argument("--profile", help="py-spy the server during the window into this file "
                                      "(.svg flamegraph, .json speedscope, else raw collapsed stacks)")
    p.add_argument("--profile-rate", type=int, default=100)
    p.add_argument("--profile-nonblocking", action="store_true")
    p.add_argument("--label", default="", help="free text copied into the JSON line")
    p.add_argument("--out", help="also append the JSON line to this file")
    args = p.parse_args(argv)
    if args.server_pid and not args.url:
        p.error("--server-pid needs --url")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    spec = dict(SCENARIOS[args.scenario])
    for key in ("rooms", "size", "rate", "pairs", "sessions"):
        if getattr(args, key) is not None:
            spec[key] = getattr(args, key)
    fds = raise_fd_limit()
    needed = spec.get("sessions", 0) or spec.get("rooms", 0) * spec.get("size", 0) or spec.get("pairs", 0) * 2
    if fds < needed + 100:
        log(f"warning: only {fds} file descriptors allowed for {needed} sessions")

    def on_alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"bench did not finish within {args.timeout:.0f} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.timeout))
    server = fleet = None
    started = datetime.datetime.now(datetime.timezone.utc)
    quiet_before = wait_quiet(args.quiet_cores, args.quiet_wait) if args.quiet_wait > 0 else None

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, on_term)
    try:
        server = Server(args)
        log(f"server: {server.url} pid={server.pid}")
        fleet = Fleet(args.workers, server.url, args.nice)
        bench = Bench(args, server, fleet)
        kind = spec["kind"]
        if kind == "fanout":
            result = bench.run_fanout(spec["rooms"], spec["size"], spec["rate"])
        elif kind == "relay":
            result = bench.run_relay(spec["pairs"], spec["rate"])
        elif kind == "idle":
            result = bench.run_idle(spec["sessions"], spec["size"])
        else:
            result = bench.run_storm(spec["sessions"])
        if args.signal_at_end and server.pid:
            os.kill(server.pid, getattr(signal, "SIG" + args.signal_at_end.upper().removeprefix("SIG")))
            time.sleep(args.signal_wait)
        if not server.alive():
            raise RuntimeError(f"server died during the bench:\n{server.log_tail()}")
    except BaseException:
        if server is not None and server.proc is not None:
            log("server log tail:\n" + server.log_tail())
        raise
    finally:
        signal.alarm(0)
        if fleet is not None:
            fleet.close()
        if server is not None:
            server.stop()
    line = {"scenario": args.scenario, "date": started.isoformat(timespec="seconds"),
            "target": server.description, "version": server.version, "label": args.label,
            "params": {k: v for k, v in spec.items() if k != "kind"} | (
                {"warmup_s": args.warmup, "window_s": args.duration, "drain_s": args.drain}
                if spec["kind"] in ("fanout", "relay") else {}),
            **result, "busy_cores_before": rnd(quiet_before, 2)}
    text = json.dumps(line, separators=(",", ":"))
    print(text, flush=True)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
