"""Drive Debian's firefox-esr headless over WebDriver BiDi, from plain Python (no Playwright).

Why raw BiDi: Playwright's Firefox build cannot be installed here and its hidden BiDi channel fails
on ESR 153, while Firefox speaks BiDi natively. The websocket is used synchronously (websockets'
sync client) with one reader thread, so it works beside Playwright's sync API in the same thread.

Everything is loopback only (issue #12 point 6). Prefs cannot keep Firefox's ICE off other
interfaces (measured on ESR 153: media.peerconnection.ice.force_interface="lo" is ignored, and
default_address_only picks eth0), so Firefox runs in a network namespace of its own that has only
`lo` (`LoopbackNetns`). The test server gets a second listening socket inside that namespace on the
same port (`LoopbackNetns.listener`, used by conftest.expose_in_netns), so page URLs are the same everywhere; the BiDi websocket is
opened from a socket created in the namespace too. `LOOPBACK_PREFS` still switch off every background
service and send any non-local traffic to a dead proxy on 127.0.0.1; `foreign_sockets()` audits the
sockets the Firefox processes hold.
"""
from __future__ import annotations

import base64
import concurrent.futures
import ctypes
import ipaddress
import itertools
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from websockets.sync.client import connect

FIREFOX = os.environ.get("SPREED_TEST_FIREFOX", "/usr/bin/firefox-esr")
DEAD_PROXY_PORT = 9  # "discard": nothing listens there, so proxied requests fail at once on 127.0.0.1

# Media: fake devices without prompts. Without permissions.default.* Firefox does not treat fake
# devices as active capture and gathers no loopback candidates (notes/firefox-automation.md).
MEDIA_PREFS: dict[str, Any] = {
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "permissions.default.camera": 1,
    "permissions.default.microphone": 1,
    # no sound card here: cubeb's mock backend lets AudioContext run (our level meter and talking
    # detection), as Chromium's fake audio output does; without it Web Audio stays "suspended"
    "media.cubeb.force_mock_context": True,
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    "media.peerconnection.ice.default_address_only": False,
    "media.peerconnection.ice.proxy_only": False,
    "media.peerconnection.use_document_iceservers": True,
    "media.getdisplaymedia.enabled": True,
    "media.navigator.video.default_width": 320,
    "media.navigator.video.default_height": 240,
    "full-screen-api.allow-trusted-requests-only": False,
    "full-screen-api.transition-duration.enter": "0 0",
    "full-screen-api.transition-duration.leave": "0 0",
    "full-screen-api.warning.timeout": 0,
    "dom.disable_open_during_load": False,
}

# Only loopback traffic: every proxyable request goes to a dead proxy (localhost is exempt, the
# default of network.proxy.allow_hijacking_localhost=false), no DNS-over-HTTPS, no prefetching,
# and all background services off.
LOOPBACK_PREFS: dict[str, Any] = {
    "network.proxy.type": 1,
    "network.proxy.http": "127.0.0.1",
    "network.proxy.http_port": DEAD_PROXY_PORT,
    "network.proxy.ssl": "127.0.0.1",
    "network.proxy.ssl_port": DEAD_PROXY_PORT,
    "network.proxy.socks": "127.0.0.1",
    "network.proxy.socks_port": DEAD_PROXY_PORT,
    "network.proxy.socks_remote_dns": True,
    "network.proxy.share_proxy_settings": True,
    "network.proxy.no_proxies_on": "localhost, 127.0.0.1, ::1",
    "network.proxy.allow_hijacking_localhost": False,
    "network.proxy.failover_direct": False,
    "network.trr.mode": 5,
    "network.dns.disablePrefetch": True,
    "network.dns.disableIPv6": False,
    "network.prefetch-next": False,
    "network.predictor.enabled": False,
    "network.http.speculative-parallel-limit": 0,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.notify.checkForProxies": False,
    "network.websocket.delay-failed-reconnects": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.downloads.remote.enabled": False,
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "browser.safebrowsing.provider.google4.updateURL": "",
    "browser.safebrowsing.provider.google.updateURL": "",
    "browser.safebrowsing.update.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/v1",
    "services.settings.poll_interval": 86400 * 365,
    "app.update.enabled": False,
    "app.update.auto": False,
    "app.update.url": "",
    "app.normandy.enabled": False,
    "app.normandy.api_url": "",
    "app.shield.optoutstudies.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "nimbus.disabled": True,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.archive.enabled": False,
    "toolkit.telemetry.server": "",
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "browser.ping-centre.telemetry": False,
    "browser.newtabpage.enabled": False,
    "browser.newtabpage.activity-stream.feeds.telemetry": False,
    "browser.newtabpage.activity-stream.telemetry": False,
    "browser.newtabpage.activity-stream.feeds.section.topstories": False,
    "browser.newtabpage.activity-stream.feeds.snippets": False,
    "browser.newtabpage.activity-stream.default.sites": "",
    "browser.startup.homepage": "about:blank",
    "browser.startup.page": 0,
    "startup.homepage_welcome_url": "",
    "browser.aboutwelcome.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.search.update": False,
    "browser.search.geoip.url": "",
    "browser.region.network.url": "",
    "browser.region.update.enabled": False,
    "browser.topsites.contile.enabled": False,
    "browser.urlbar.suggest.quicksuggest.sponsored": False,
    "browser.urlbar.quicksuggest.enabled": False,
    "browser.contentblocking.report.lockwise.enabled": False,
    "browser.discovery.enabled": False,
    "browser.tabs.remote.separatePrivilegedMozillaWebContentProcess": False,
    "captivedetect.canonicalURL": "",
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.blocklist.enabled": False,
    "extensions.systemAddon.update.enabled": False,
    "extensions.systemAddon.update.url": "",
    "extensions.webservice.discoverURL": "",
    "geo.enabled": False,
    "geo.provider.network.url": "",
    "identity.fxaccounts.enabled": False,
    "media.gmp-manager.url": "",
    "media.gmp-gmpopenh264.autoupdate": False,
    "media.gmp-gmpopenh264.enabled": True,
    "media.gmp-widevinecdm.enabled": False,
    "media.eme.enabled": False,
    "security.OCSP.enabled": 0,
    "security.remote_settings.crlite_filters.enabled": False,
    "security.remote_settings.intermediates.enabled": False,
    "services.sync.enabled": False,
    "signon.management.page.breach-alerts.enabled": False,
    "privacy.query_stripping.enabled": False,
    "dom.push.connection.enabled": False,
    "dom.push.serverURL": "",
    "browser.translations.enable": False,
    "browser.ml.enable": False,
}

# A quiet session: downloads go straight into the profile's folder (tests read them from disk),
# notifications are allowed, no crash-restore pages, and the remote agent's recommended prefs.
SESSION_PREFS: dict[str, Any] = {
    "browser.sessionstore.resume_from_crash": False,
    "browser.download.folderList": 2,
    "browser.download.useDownloadDir": True,
    "browser.download.always_ask_before_handling_new_types": False,
    "browser.download.manager.showWhenStarting": False,
    "browser.download.alwaysOpenPanel": False,
    "browser.download.panel.shown": True,
    "browser.helperApps.neverAsk.saveToDisk": "application/octet-stream,text/plain",
    "pdfjs.disabled": True,
    "dom.webnotifications.enabled": True,
    "permissions.default.desktop-notification": 1,
    "remote.prefs.recommended": True,
}


CLONE_NEWNET = 0x40000000


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the test process dies, so no browser outlives a killed run."""
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class NetnsError(RuntimeError):
    """No loopback-only network namespace can be made here (needs root and util-linux)."""


class LoopbackNetns:
    """A network namespace whose only interface is `lo`, held open by a sleeping process."""

    def __init__(self, timeout: float = 10.0) -> None:
        if not shutil.which("unshare") or not shutil.which("nsenter") or not shutil.which("ip"):
            raise NetnsError("unshare, nsenter or ip (util-linux, iproute2) missing")
        self.proc = subprocess.Popen(
            ["unshare", "--net", "--", "sh", "-c", "ip link set lo up && echo ready && exec sleep 86400"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            preexec_fn=_die_with_parent)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            err = b""
            if self.proc.poll() is not None and self.proc.stderr is not None:
                err = self.proc.stderr.read()
            self.close()
            raise NetnsError(f"unshare --net failed: {err.decode(errors='replace').strip() or 'no answer'}")
        self.path = f"/proc/{self.proc.pid}/ns/net"
        self._libc = ctypes.CDLL(None, use_errno=True)

    def interfaces(self) -> list[str]:
        """Interface names as the namespace sees them (/proc/PID/net/dev)."""
        lines = Path(f"/proc/{self.proc.pid}/net/dev").read_text().splitlines()[2:]
        return sorted(line.split(":")[0].strip() for line in lines)

    def socket(self, family: int = socket.AF_INET, type_: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket that lives in the namespace: made by a short-lived thread that entered it
        (a network namespace switch is per thread, and a socket keeps the namespace it was made in)."""
        box: dict[str, Any] = {}

        def make() -> None:
            try:
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    if self._libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns failed")
                finally:
                    os.close(fd)
                box["sock"] = socket.socket(family, type_)
            except Exception as err:  # noqa: BLE001 - handed to the caller
                box["err"] = err

        t = threading.Thread(target=make, name="netns-socket", daemon=True)
        t.start()
        t.join(5)
        if "err" in box or "sock" not in box:
            raise NetnsError(f"cannot make a socket in the namespace: {box.get('err')}")
        return box["sock"]

    def listener(self, port: int) -> socket.socket:
        """A non-blocking listening socket on 127.0.0.1:port inside the namespace."""
        sock = self.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
        sock.setblocking(False)
        return sock

    def connect(self, host: str, port: int, timeout: float = 10.0) -> socket.socket:
        """A TCP connection made inside the namespace (to a browser's debugging port)."""
        last: Exception | None = None
        for family, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            if host not in ("localhost", addr):
                continue
            sock = self.socket(family)
            sock.settimeout(timeout)
            try:
                sock.connect((addr, port))
                sock.settimeout(None)
                return sock
            except OSError as err:
                last = err
                sock.close()
        raise NetnsError(f"cannot connect to {host}:{port} in the namespace: {last}")

    def command(self, args: list[str]) -> list[str]:
        """argv that runs `args` inside the namespace."""
        return ["nsenter", f"--net={self.path}", "--", *args]

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


class BiDiError(RuntimeError):
    """A BiDi command failed or a page script threw."""


class BiDi:
    """One WebDriver BiDi websocket: numbered commands with futures, events to listeners."""

    def __init__(self, url: str, timeout: float = 10.0, sock: socket.socket | None = None) -> None:
        self.ws = connect(url, sock=sock, max_size=None, open_timeout=timeout, close_timeout=2)
        self._ids = itertools.count(1)
        self._pending: dict[int, concurrent.futures.Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.closed = False
        self._reader = threading.Thread(target=self._read, name="bidi-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                msg = json.loads(raw)
                if msg.get("type") == "event":
                    for fn in list(self.listeners):
                        try:
                            fn(msg)
                        except Exception:  # noqa: BLE001 - a listener must not stop the reader
                            pass
                    continue
                fut = self._pending.pop(msg.get("id"), None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
        except Exception:  # noqa: BLE001 - connection closed
            pass
        finally:
            self.closed = True
            for fut in list(self._pending.values()):
                if not fut.done():
                    fut.set_exception(BiDiError("BiDi connection closed"))

    def command(self, method: str, params: dict[str, Any] | None = None, timeout: float = 20.0) -> dict[str, Any]:
        """Send one command and wait for its answer; errors raise BiDiError."""
        if self.closed:
            raise BiDiError("BiDi connection closed")
        fut: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        with self._lock:
            cid = next(self._ids)
            self._pending[cid] = fut
            self.ws.send(json.dumps({"id": cid, "method": method, "params": params or {}}))
        try:
            msg = fut.result(timeout)
        except concurrent.futures.TimeoutError:
            self._pending.pop(cid, None)
            raise BiDiError(f"{method}: no answer within {timeout}s") from None
        if msg.get("type") == "error":
            raise BiDiError(f"{method}: {msg.get('error')}: {msg.get('message')}")
        return msg.get("result", {})

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass


class Firefox:
    """One headless firefox-esr process with its own profile and a BiDi session."""

    def __init__(self, binary: str = FIREFOX, extra_prefs: dict[str, Any] | None = None,
                 start_timeout: float = 30.0, netns: LoopbackNetns | None = None) -> None:
        self.netns = netns
        self.tmp = Path(tempfile.mkdtemp(prefix="spreed-ff-"))
        self.profile = self.tmp / "profile"
        self.downloads = self.tmp / "downloads"
        self.profile.mkdir()
        self.downloads.mkdir()
        prefs = {**MEDIA_PREFS, **LOOPBACK_PREFS, **SESSION_PREFS, "browser.download.dir": str(self.downloads), **(extra_prefs or {})}
        (self.profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items()))
        env = {**os.environ, "MOZ_HEADLESS": "1", "MOZ_CRASHREPORTER_DISABLE": "1", "HOME": str(self.tmp)}
        env.pop("DISPLAY", None)
        argv = [binary, "--headless", "--no-remote", "--profile", str(self.profile), "--remote-debugging-port", "0"]
        self.proc = subprocess.Popen(
            netns.command(argv) if netns else argv,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
            start_new_session=True, preexec_fn=_die_with_parent)
        self.log: list[str] = []
        self.pages: list[FirefoxPage] = []
        try:
            self._connect(start_timeout)
        except BaseException:
            self.close()
            raise

    def _connect(self, start_timeout: float) -> None:
        """Read the BiDi address from stderr, connect (inside the namespace) and open a session."""
        found: concurrent.futures.Future[str] = concurrent.futures.Future()
        threading.Thread(target=self._stderr, args=(found,), name="firefox-stderr", daemon=True).start()
        try:
            url = found.result(start_timeout)
        except concurrent.futures.TimeoutError:
            raise BiDiError("firefox did not announce WebDriver BiDi:\n" + "\n".join(self.log[-20:])) from None
        sock = None
        if self.netns:
            m = re.match(r"ws://([^:/]+|\[[^\]]+\]):(\d+)", url)
            assert m, url
            sock = self.netns.connect(m.group(1).strip("[]"), int(m.group(2)))
        self.bidi = BiDi(url + "/session", sock=sock)
        caps = self.bidi.command("session.new", {"capabilities": {"alwaysMatch": {
            "acceptInsecureCerts": True, "unhandledPromptBehavior": {"default": "accept"}}}}, timeout=60)
        self.version = caps.get("capabilities", {}).get("browserVersion", "")
        self.bidi.command("session.subscribe", {"events": ["log.entryAdded"]})

    def _stderr(self, found: concurrent.futures.Future[str]) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.log.append(line)
            if len(self.log) > 500:
                del self.log[:100]
            m = re.search(r"WebDriver BiDi listening on (ws://\S+)", line)
            if m and not found.done():
                found.set_result(m.group(1))
        if not found.done():
            found.set_exception(BiDiError("firefox exited"))

    def pids(self) -> list[int]:
        """The main process and all its descendants (content, socket, GPU... processes)."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, []))
        return out

    def foreign_sockets(self) -> list[str]:
        """Internet sockets of the Firefox processes with a non-loopback local or remote address.

        Unbound/listening wildcard sockets (0.0.0.0 or :: with no peer) send nothing and are allowed.
        """
        inodes: set[str] = set()
        for pid in self.pids():
            try:
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    try:
                        target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    except OSError:
                        continue
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
            except OSError:
                continue
        bad = []
        for proto in ("tcp", "tcp6", "udp", "udp6"):
            try:  # the tables of Firefox's own network namespace
                lines = Path(f"/proc/{self.proc.pid}/net/{proto}").read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                parts = line.split()
                if len(parts) < 10 or parts[9] not in inodes:
                    continue
                local, remote = _addr(parts[1]), _addr(parts[2])
                if remote.is_unspecified:
                    if local.is_loopback or local.is_unspecified:
                        continue
                elif local.is_loopback and remote.is_loopback:
                    continue
                bad.append(f"{proto} {local} -> {remote}")
        return bad

    def new_page(self, name: str, url: str, viewport: dict[str, int] | None = None,
                 init_script: str | None = None) -> "FirefoxPage":
        page = FirefoxPage(self, name, viewport or {"width": 1024, "height": 640}, init_script)
        self.pages.append(page)
        page.goto(url)
        return page

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        """browser.close, then the process group is killed if it lingers; the profile is removed."""
        bidi = getattr(self, "bidi", None)
        if bidi is not None:
            try:
                if not bidi.closed:
                    bidi.command("browser.close", timeout=5)
            except BiDiError:
                pass
            bidi.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _addr(hexaddr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address from /proc/net/* (little-endian hex words, then ':port')."""
    host = hexaddr.split(":")[0]
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw[::-1])
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    addr = ipaddress.IPv6Address(words)
    return addr.ipv4_mapped or addr


SPECIAL_KEYS = {"Enter": "\ue007", "Escape": "\ue00c", "Tab": "\ue004", "Backspace": "\ue003"}


class FirefoxPage:
    """One simulated user: its own BiDi user context (own storage) in its own window (a background
    tab is "hidden": Firefox holds its getUserMedia back and throttles its timers)."""

    def __init__(self, browser: Firefox, name: str, viewport: dict[str, int], init_script: str | None) -> None:
        self.browser = browser
        self.bidi = browser.bidi
        self.name = name
        self.errors: list[str] = []
        self.user_context = self.bidi.command("browser.createUserContext")["userContext"]
        self.context = self.bidi.command("browsingContext.create",
                                         {"type": "window", "userContext": self.user_context})["context"]
        self.bidi.command("browsingContext.setViewport", {"context": self.context, "viewport": viewport})
        if init_script:
            self.bidi.command("script.addPreloadScript", {
                "functionDeclaration": f"() => {{ {init_script} }}", "contexts": [self.context]})
        self.bidi.listeners.append(self._log)

    def _log(self, msg: dict[str, Any]) -> None:
        if msg.get("method") != "log.entryAdded":
            return
        entry = msg["params"]
        if entry.get("source", {}).get("context") != self.context:
            return
        if entry.get("level") == "error":
            self.errors.append(entry.get("text") or "")

    def goto(self, url: str, timeout: float = 20.0) -> None:
        self.bidi.command("browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"},
                          timeout=timeout)

    def activate(self) -> None:
        """Bring this window to the front (the others lose focus, as when a user switches windows)."""
        self.bidi.command("browsingContext.activate", {"context": self.context})

    def evaluate(self, fn: str, arg: Any = None, timeout: float = 20.0) -> Any:
        """Run `fn` (a JS function source taking one JSON argument) and return its JSON result."""
        wrapper = ("async (json) => { const f = (" + fn + "); const r = await f(JSON.parse(json));"
                   " return JSON.stringify(r === undefined ? null : r); }")
        res = self.bidi.command("script.callFunction", {
            "functionDeclaration": wrapper, "arguments": [{"type": "string", "value": json.dumps(arg)}],
            "target": {"context": self.context}, "awaitPromise": True, "resultOwnership": "none",
        }, timeout=timeout)
        if res.get("type") == "exception":
            details = res.get("exceptionDetails", {})
            raise BiDiError(f"page script failed: {details.get('text')}")
        return json.loads(res["result"]["value"])

    def hook(self, expr: str) -> Any:
        return self.evaluate(f"() => window.__spreedTest.{expr}")

    @property
    def id(self) -> str:
        return self.hook("id")

    def wait(self, js: str, arg: Any = None, timeout: float = 15.0) -> Any:
        """Poll a JS predicate (a function of one argument) until it returns something truthy."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.evaluate(js, arg, timeout=max(1.0, deadline - time.monotonic()))
            except BiDiError as err:
                last = err
            else:
                if last:
                    return last
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: {js} not true within {timeout}s (last {last!r})")

    def wait_for(self, selector: str, text: str | None = None, timeout: float = 15.0, state: str = "visible") -> None:
        """Wait until an element matching selector (and containing text) is visible, or is gone."""
        js = """([sel, text, state]) => {
            const found = [...document.querySelectorAll(sel)].some(el => (!text || (el.textContent || '').includes(text))
                && (state === 'attached' || (el.offsetParent !== null || getComputedStyle(el).position === 'fixed')
                    && getComputedStyle(el).visibility !== 'hidden'));
            return state === 'hidden' ? !found : found; }"""
        self.wait(js, [selector, text, state], timeout)

    def click(self, selector: str, text: str | None = None, timeout: float = 15.0) -> None:
        """A real pointer click (trusted, with user activation) in the middle of the element."""
        js = """([sel, text]) => {
            const el = [...document.querySelectorAll(sel)].find(e => (!text || (e.textContent || '').includes(text))
                && e.offsetParent !== null);
            if (!el) return null;
            el.scrollIntoView({ block: 'center', inline: 'center' });
            const r = el.getBoundingClientRect();
            if (r.width < 1 || r.height < 1) return null;
            return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)]; }"""
        x, y = self.wait(js, [selector, text], timeout)
        # a user's click also brings the window to the front; Firefox answers enumerateDevices (and
        # so our getUserMedia) only in the focused document
        self.activate()
        self.bidi.command("input.performActions", {"context": self.context, "actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
                {"type": "pointerMove", "x": x, "y": y},
                {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}]})

    def type(self, selector: str, text: str) -> None:
        """Focus an element and type text as key events; names in SPECIAL_KEYS are single keys."""
        self.evaluate("(sel) => { document.querySelector(sel).focus(); }", selector)
        keys = [SPECIAL_KEYS[text]] if text in SPECIAL_KEYS else list(text)
        actions: list[dict[str, Any]] = []
        for k in keys:
            actions += [{"type": "keyDown", "value": k}, {"type": "keyUp", "value": k}]
        self.bidi.command("input.performActions", {"context": self.context, "actions": [
            {"type": "key", "id": "keyboard", "actions": actions}]})

    # ---- our client, through its test hooks (the same waits as conftest.Client)
    def wait_ready(self, room: str | None = None) -> None:
        self.wait("() => window.__spreedTest && window.__spreedTest.connected && window.__spreedTest.room")
        if room is not None:
            self.wait("(r) => window.__spreedTest.room && window.__spreedTest.room.Name === r", room)

    def wait_buddies(self, n: int) -> None:
        self.wait("(n) => window.__spreedTest.buddies.length === n", n)

    def wait_connected_calls(self, n: int, timeout: float = 25.0) -> None:
        self.wait("(n) => { const c = window.__spreedTest.calls; return c.length === n"
                  " && c.every(x => x.connectionState === 'connected'); }", n, timeout)

    def set_files(self, selector: str, paths: list[str]) -> None:
        """Put files into an <input type=file> as the user would (input.setFiles)."""
        res = self.bidi.command("script.evaluate", {
            "expression": f"document.querySelector({json.dumps(selector)})", "target": {"context": self.context},
            "awaitPromise": False, "resultOwnership": "root"})
        ref = res["result"]
        self.bidi.command("input.setFiles", {"context": self.context, "element": {"sharedId": ref["sharedId"]},
                                              "files": paths})

    def text(self, selector: str) -> str:
        return self.evaluate("(sel) => { const el = document.querySelector(sel); return el ? el.textContent : null; }",
                             selector)

    def count(self, selector: str) -> int:
        return self.evaluate("(sel) => document.querySelectorAll(sel).length", selector)

    def screenshot(self, path: Path) -> Path:
        data = self.bidi.command("browsingContext.captureScreenshot", {"context": self.context})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def real_errors(self) -> list[str]:
        """Console errors, without the ones a browser logs for expected network events."""
        ignore = re.compile(r"WebSocket connection to .* failed|can.t establish a connection|NS_ERROR_")
        return [e for e in self.errors if not ignore.search(e)]

    def close(self) -> None:
        """Remove the user context (closes its tab and drops its storage)."""
        if self._log in self.bidi.listeners:
            self.bidi.listeners.remove(self._log)
        try:
            self.bidi.command("browser.removeUserContext", {"userContext": self.user_context}, timeout=10)
        except BiDiError:
            pass
        if self in self.browser.pages:
            self.browser.pages.remove(self)


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def ice_problems(stats: dict[str, Any] | None) -> list[str]:
    """Why a call's ICE is not loopback-only (empty when it is): the selected pair must exist with
    both addresses in 127.0.0.0/8 or ::1, and every gathered or received candidate must be loopback."""
    if not stats:
        return ["no stats (call gone?)"]
    pair = stats.get("pair")
    problems = []
    if not pair or not pair.get("local") or not pair.get("remote"):
        problems.append(f"no selected candidate pair: {pair!r}")
    else:
        for side in ("local", "remote"):
            if not is_loopback(pair[side]["address"]):
                problems.append(f"selected {side} candidate {pair[side]} is not loopback")
    candidates = stats.get("candidates") or {}
    if not candidates.get("local"):
        problems.append("no local candidates reported")
    for side in ("local", "remote"):
        problems += [f"{side} candidate {a!r} is not loopback" for a in candidates.get(side, []) if not is_loopback(a)]
    return problems
