"""A private Janus for the SFU tests: own config folder, free ports, loopback only.

Janus never gathers loopback candidates (it skips IFF_LOOPBACK interfaces), so it runs with an
LD_PRELOAD shim around getifaddrs() that shows it `lo` alone, without the loopback flag
(/work/shared/notes/janus-on-loopback.md). Every SDP it sends is checked: a candidate or a
connection address outside 127/8 fails the test instead of being filtered.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

JANUS = shutil.which("janus") or "/usr/bin/janus"
LIBDIR = Path("/usr/lib/x86_64-linux-gnu/janus")
if not LIBDIR.is_dir():  # other architectures
    found = sorted(Path("/usr/lib").glob("*/janus/plugins/libjanus_videoroom.so"))
    LIBDIR = found[0].parent.parent if found else LIBDIR

SHIM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>
/* Show Janus only the loopback interface, and not as loopback, so that it gathers 127.0.0.1. */
int getifaddrs(struct ifaddrs **out) {
    int (*real)(struct ifaddrs **) = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, "getifaddrs");
    int rc = real(out);
    if (rc != 0) return rc;
    struct ifaddrs **link = out;
    while (*link) {
        struct ifaddrs *cur = *link;
        if (cur->ifa_name && strcmp(cur->ifa_name, "lo") == 0) {
            cur->ifa_flags &= ~IFF_LOOPBACK;
            link = &cur->ifa_next;
        } else {
            *link = cur->ifa_next; /* unlinked, never freed: freeifaddrs frees one block anyway */
        }
    }
    return 0;
}
"""

_SHIM_CACHE: dict[str, Path] = {}


def available() -> bool:
    return Path(JANUS).exists() and (LIBDIR / "plugins" / "libjanus_videoroom.so").exists() \
        and shutil.which("gcc") is not None


def build_shim(folder: Path) -> Path:
    if "path" in _SHIM_CACHE and _SHIM_CACHE["path"].exists():
        return _SHIM_CACHE["path"]
    src = folder / "loshim.c"
    lib = folder / "loshim.so"
    src.write_text(SHIM_C)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(lib), str(src), "-ldl"], check=True,
                   capture_output=True, timeout=60)
    _SHIM_CACHE["path"] = lib
    return lib


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_udp_range(size: int = 100) -> tuple[int, int]:
    """A start port whose next `size` UDP ports are free now (random start, checked)."""
    import random
    for _ in range(200):
        start = random.randrange(20000, 59000)
        socks = []
        try:
            for port in range(start, start + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return start, start + size - 1
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port range")


class Janus:
    """One private Janus process; restart() keeps its ports and config."""

    def __init__(self, root: Path | None = None, api_secret: str = "", session_timeout: int = 60,
                 netns: Any = None) -> None:
        """netns: a tests/browser/firefox_bidi.LoopbackNetns to run Janus in (its media ports are then
        reachable only from that namespace); our server reaches its API through a forwarder."""
        self.netns = netns
        self.forward: Forward | None = None
        self.root = Path(root or tempfile.mkdtemp(prefix="janus-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.api_secret = api_secret
        self.session_timeout = session_timeout
        self.port = free_port()
        while self.port == 8188:
            self.port = free_port()
        self.rtp = free_udp_range()
        self.proc: subprocess.Popen | None = None
        self.log_path = self.root / "janus.log"
        self.shim = build_shim(self.root)
        self._configure()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.forward.port if self.forward else self.port}"

    def _connect(self) -> socket.socket:
        if self.netns is not None:
            return self.netns.connect("127.0.0.1", self.port, timeout=0.5)
        return socket.create_connection(("127.0.0.1", self.port), timeout=0.2)

    def _configure(self) -> None:
        cfg, plugins, transports = self.root / "etc", self.root / "plugins", self.root / "transports"
        for d in (cfg, plugins, transports):
            d.mkdir(parents=True, exist_ok=True)
        for src, dst in ((LIBDIR / "plugins" / "libjanus_videoroom.so", plugins / "libjanus_videoroom.so"),
                         (LIBDIR / "transports" / "libjanus_websockets.so", transports / "libjanus_websockets.so")):
            if not dst.exists():
                dst.symlink_to(src)
        secret = f'\tapi_secret = "{self.api_secret}"\n' if self.api_secret else ""
        (cfg / "janus.jcfg").write_text(
            "general: {\n"
            f'\tconfigs_folder = "{cfg}"\n\tplugins_folder = "{plugins}"\n'
            f'\ttransports_folder = "{transports}"\n\tevents_folder = "{self.root / "none"}"\n'
            f'\tloggers_folder = "{self.root / "none"}"\n'
            '\tinterface = "127.0.0.1"\n\tdebug_level = 4\n'
            f"\tsession_timeout = {self.session_timeout}\n" + secret + "}\n"
            "media: {\n\tipv6 = false\n"
            f'\trtp_port_range = "{self.rtp[0]}-{self.rtp[1]}"\n' + "}\n"
            "nat: {\n\tignore_mdns = true\n\tnice_debug = false\n}\n")
        (cfg / "janus.transport.websockets.jcfg").write_text(
            "general: {\n\tjson = \"compact\"\n\tws = true\n"
            f'\tws_port = {self.port}\n\tws_ip = "127.0.0.1"\n\twss = false\n' + "}\n"
            "admin: {\n\tadmin_ws = false\n\tadmin_wss = false\n}\n")
        (cfg / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")

    def start(self, timeout: float = 10.0) -> "Janus":
        env = dict(os.environ, LD_PRELOAD=str(self.shim))
        log = open(self.log_path, "ab")
        argv = [JANUS, "-F", str(self.root / "etc"), "-o"]
        if self.netns is not None:  # nsenter execs Janus: the pid stays Janus's
            argv = self.netns.command(argv)
        self.proc = subprocess.Popen(argv, stdout=log,
                                     stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"janus exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                self._connect().close()
                break
            except (OSError, RuntimeError):
                time.sleep(0.03)
        else:
            raise RuntimeError(f"janus did not listen on {self.port}: {self.log_tail()}")
        maps = Path(f"/proc/{self.proc.pid}/maps").read_text()
        assert str(self.shim) in maps, "the loopback shim is not loaded into Janus"
        if self.netns is not None and self.forward is None:
            self.forward = Forward(self._connect)
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.forward is not None:
            self.forward.close()
            self.forward = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def restart(self) -> None:
        self.kill()
        self.start()

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


class Forward:
    """A TCP forwarder on the host's 127.0.0.1 to a port that only exists inside a network namespace
    (Janus's websocket API there): `dial()` makes the inner connection for each accepted one."""

    def __init__(self, dial: Any) -> None:
        self.dial = dial
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, name="janus-forward", daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                outer, _ = self.sock.accept()
            except OSError:
                return
            try:
                inner = self.dial()
            except Exception:  # noqa: BLE001 - Janus down: the client sees a refused/closed connection
                outer.close()
                continue
            self.conns += [outer, inner]
            for a, b in ((outer, inner), (inner, outer)):
                threading.Thread(target=self._pump, args=(a, b), name="janus-forward-pump", daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.closed = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+", re.M)
CONNECTION = re.compile(r"^c=IN IP[46] (\S+)", re.M)


def non_loopback(sdp: str) -> list[str]:
    """Addresses of an SDP's candidates and c= lines that are not on 127/8."""
    bad = []
    for addr in CANDIDATE.findall(sdp) + CONNECTION.findall(sdp):
        if not addr.startswith("127.") and addr != "0.0.0.0":
            bad.append(addr)
    return bad
