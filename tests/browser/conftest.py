"""Browser tests: a real server in a background thread and headless Debian Chromium via Playwright.

Every simulated user is its own browser context (own storage) with one page. Chromium gets fake
camera and microphone devices; nothing leaves the loopback interface (no STUN/TURN).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import stat
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from helpers import ServerHandle, start_server  # noqa: E402

CHROMIUM = os.environ.get("SPREED_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--disable-extensions", "--mute-audio",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]
# strict enough to catch inline scripts/styles and foreign origins (violations are console errors)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
       "media-src 'self' blob:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")
BASE_CONFIG: dict[str, dict[str, Any]] = {
    "app": {"testHooks": True, "contentSecurityPolicy": CSP},
    "roomtypes": {"^conference/.+": "Conference"},
}
DESKTOP = {"width": 1024, "height": 640}
PHONE = {"width": 360, "height": 640}

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: end-to-end tests in headless Chromium (Playwright)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = None
    if sync_playwright is None:
        skip = pytest.mark.skip(reason="playwright is not installed")
    elif not Path(CHROMIUM).exists():
        skip = pytest.mark.skip(reason=f"{CHROMIUM} not found")
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            if skip:
                item.add_marker(skip)


class ServerThread:
    """An asyncio loop in a daemon thread that runs the Tornado servers of the tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="spreed-test-server", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
        async def wrapper() -> Any:
            return fn()
        return self.run(wrapper(), timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def merge(base: dict[str, dict[str, Any]], extra: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    out = {k: dict(v) for k, v in base.items()}
    for section, options in (extra or {}).items():
        out.setdefault(section, {}).update(options)
    return out


class LiveServer:
    """A started server plus helpers that run server-side code in its thread."""

    def __init__(self, thread: ServerThread, handle: ServerHandle) -> None:
        self.thread = thread
        self.handle = handle
        self.url = handle.url
        self.hub = handle.hub

    def room_url(self, path: str = "") -> str:
        return self.url + path.lstrip("/")

    def call(self, fn: Callable[[], Any]) -> Any:
        return self.thread.call(fn)

    def drop_socket(self, session_id: str) -> None:
        """Close a session's websocket from the server side, as a network failure would."""
        def close() -> None:
            session = self.hub.sessions[session_id]
            session.conn.close()
        self.call(close)


@pytest.fixture(scope="session")
def server_thread():
    thread = ServerThread()
    yield thread
    thread.stop()


@pytest.fixture
def live_server(server_thread):
    """factory(overrides=None) -> LiveServer; the servers stop at teardown."""
    started: list[ServerHandle] = []

    def factory(overrides: dict[str, dict[str, Any]] | None = None) -> LiveServer:
        handle = server_thread.run(start_server(merge(BASE_CONFIG, overrides)))
        started.append(handle)
        return LiveServer(server_thread, handle)

    yield factory
    for handle in started:
        server_thread.call(handle.stop)


@pytest.fixture
def server(live_server) -> LiveServer:
    return live_server()


@pytest.fixture(scope="module")
def browser():
    # Module scope on purpose: while Playwright's sync API is started, its event loop counts as
    # running in this thread, which would break the asyncio/Tornado tests that run after ours.
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Client:
    """One simulated user: a browser context with one page, and helpers to drive our client."""

    def __init__(self, name: str, context: Any, page: Any) -> None:
        self.name = name
        self.context = context
        self.page = page
        self.errors: list[str] = []
        self.frames_sent: list[dict[str, Any]] = []
        self.frames_received: list[dict[str, Any]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("websocket", self._websocket)
        self.sockets: list[Any] = []

    def _console(self, msg: Any) -> None:
        if msg.type == "error":
            self.errors.append(msg.text)

    def _websocket(self, ws: Any) -> None:
        self.sockets.append(ws)

        def parse(payload: Any) -> dict[str, Any] | None:
            try:
                return json.loads(payload)
            except (TypeError, ValueError):
                return None

        ws.on("framesent", lambda payload: self.frames_sent.append(parse(payload) or {}))
        ws.on("framereceived", lambda payload: self.frames_received.append(parse(payload) or {}))

    # ---- state through the test hooks
    def hook(self, expr: str) -> Any:
        return self.page.evaluate(f"() => window.__spreedTest.{expr}")

    @property
    def id(self) -> str:
        return self.hook("id")

    def wait(self, js: str, timeout: float = 15000, arg: Any = None) -> Any:
        """Wait until a JS expression (a function body returning truthy) holds."""
        return self.page.wait_for_function(js, arg=arg, timeout=timeout, polling=100)

    def wait_ready(self, room: str | None = None) -> None:
        self.wait("() => window.__spreedTest && window.__spreedTest.connected && window.__spreedTest.room")
        if room is not None:
            self.wait("(r) => window.__spreedTest.room && window.__spreedTest.room.Name === r", arg=room)

    def wait_buddies(self, n: int) -> None:
        self.wait("(n) => window.__spreedTest.buddies.length === n", arg=n)

    def wait_connected_calls(self, n: int, timeout: float = 25000) -> None:
        self.wait("(n) => { const c = window.__spreedTest.calls; return c.length === n && c.every(x => x.connectionState === 'connected'); }",
                  timeout=timeout, arg=n)

    def buddy(self, other: "Client") -> Any:
        return self.page.locator(f'.buddy[data-id="{other.id}"]')

    def toast(self, text: str) -> Any:
        return self.page.locator(".toast", has_text=text)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def sent(self, type_: str) -> list[dict[str, Any]]:
        return [f for f in self.frames_sent if f.get("Type") == type_]

    def received(self, type_: str) -> list[dict[str, Any]]:
        return [f for f in self.frames_received if isinstance(f.get("Data"), dict) and f["Data"].get("Type") == type_]

    def real_errors(self) -> list[str]:
        """Console errors, without the ones a browser logs for expected network events."""
        ignore = re.compile(r"WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|net::ERR_")
        return [e for e in self.errors if not ignore.search(e)]


@pytest.fixture
def clients(browser):
    """factory(name, url, viewport=DESKTOP, profile=None, init_script=None, permissions=True) -> Client."""
    made: list[Client] = []

    def factory(name: str, url: str, viewport: dict[str, int] | None = None,
                profile: dict[str, Any] | None = None, init_script: str | None = None,
                locale: str = "en-US", seed: bool = True, headers: dict[str, str] | None = None,
                color_scheme: str = "light") -> Client:
        """seed=False starts like a first visit (no stored profile)."""
        context = browser.new_context(viewport=viewport or DESKTOP, locale=locale, extra_http_headers=headers,
                                      color_scheme=color_scheme)
        settings = {"quality": "low", "sounds": True, "name": name}
        settings.update(profile or {})
        if seed:
            context.add_init_script(
                "try { if (!localStorage.getItem('spreed-client-profile') && !sessionStorage.getItem('spreed-client-profile')) "
                f"localStorage.setItem('spreed-client-profile', {json.dumps(json.dumps(settings))}); }} catch (e) {{}}")
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        page.set_default_timeout(15000)
        client = Client(name, context, page)
        made.append(client)
        page.goto(url)
        return client

    yield factory
    close_clients(made)


def open_client(browser: Any, made: list[Client], name: str, url: str, settings: dict[str, Any], *,
                viewport: dict[str, int] | None = None, init_scripts: tuple[str, ...] = (),
                timeout: float = 15000) -> Client:
    """A Client in a fresh context of `browser`, its stored profile (`settings`) in place before the page loads."""
    context = browser.new_context(viewport=viewport or DESKTOP)
    context.add_init_script(
        f"try {{ localStorage.setItem('spreed-client-profile', {json.dumps(json.dumps(settings))}); }} catch (e) {{}}")
    for script in init_scripts:
        context.add_init_script(script)
    page = context.new_page()
    page.set_default_timeout(timeout)
    client = Client(name, context, page)
    made.append(client)
    page.goto(url)
    return client


def close_clients(made: list[Client]) -> None:
    for client in made:
        try:
            client.context.close()
        except Exception:  # noqa: BLE001
            pass


@contextlib.contextmanager
def netns_chromium(netns: "LoopbackNetns", folder: Path):
    """Chromium started inside a loopback-only namespace (a wrapper script execs it through nsenter)."""
    wrapper = folder / "chromium"
    wrapper.write_text("#!/bin/sh\nexec " + " ".join(netns.command([CHROMIUM])) + ' "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(wrapper), headless=True, args=CHROMIUM_ARGS, timeout=30000)
        yield b
        b.close()


def poll(fn: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1, page: Any = None) -> Any:
    """Call fn until it returns something truthy; fail after timeout.

    Playwright's sync API delivers events (websocket frames, console) only while it is called, so
    with a page the wait goes through page.wait_for_timeout instead of time.sleep.
    """
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        if page is not None:
            page.wait_for_timeout(interval * 1000)
        else:
            time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value {last!r})")


UNNAMED_CONTROLS = """() => [...document.querySelectorAll('button, input, select, textarea, a[href], [role=tab]')]
    .filter(el => el.offsetParent !== null && el.type !== 'hidden' && !el.closest('[aria-hidden="true"]'))
    .filter(el => !((el.getAttribute('aria-label') || '').trim() || (el.textContent || '').trim()
                    || (el.labels && el.labels.length) || el.placeholder || el.title))
    .map(el => el.outerHTML.slice(0, 100))"""


def call_between_two(server: "LiveServer", clients: Callable[..., "Client"], room: str) -> tuple["Client", "Client"]:
    """Alice and Bob in `room`, Alice calls, Bob accepts; returns once both calls are connected."""
    a = clients("Alice", server.room_url(room))
    b = clients("Bob", server.room_url(room))
    for x in (a, b):
        x.wait_ready(room)
        x.wait_buddies(1)
    a.buddy(b).locator(".buddy-call").click()
    b.page.locator(".incoming .btn-accept").click()
    a.wait_connected_calls(1)
    b.wait_connected_calls(1)
    return a, b


def unnamed_controls(page: Any) -> list[str]:
    """Visible controls without an accessible name (text, label, aria-label, title or placeholder)."""
    return page.evaluate(UNNAMED_CONTROLS)


# ---------------------------------------------------------------- Firefox (WebDriver BiDi)

try:
    from .firefox_bidi import FIREFOX, Firefox, FirefoxPage, LoopbackNetns, NetnsError
except ImportError:  # pragma: no cover - websockets missing
    Firefox = None  # type: ignore[assignment,misc]
    FIREFOX = "/usr/bin/firefox-esr"


@pytest.fixture(scope="session")
def loopback_netns():
    """A network namespace with only `lo` for Firefox (and the Chromium that calls it): its ICE
    cannot reach any other interface, whatever the prefs say."""
    if Firefox is None:
        pytest.skip("the websockets package is not installed")
    if not Path(FIREFOX).exists():
        pytest.skip(f"{FIREFOX} not found (apt-get install firefox-esr)")
    try:
        ns = LoopbackNetns()
    except NetnsError as err:
        pytest.skip(f"no loopback-only network namespace here (needs root): {err}")
    yield ns
    ns.close()


@pytest.fixture(scope="session")
def firefox(loopback_netns):
    """One headless firefox-esr for the whole run (it costs 2-3 s and ~500 MiB): users are user contexts."""
    ff = Firefox(FIREFOX, netns=loopback_netns)
    yield ff
    ff.close()


def expose_in_netns(server: LiveServer, netns: "LoopbackNetns") -> LiveServer:
    """Let the namespace reach the server: one more listening socket, inside it, on the same port."""
    sock = netns.listener(server.handle.port)
    server.call(lambda: server.handle.server.add_sockets([sock]))
    return server


@pytest.fixture
def ff_live_server(live_server, loopback_netns):
    """factory(overrides=None) -> LiveServer reachable from the host and from the loopback namespace."""
    def factory(overrides: dict[str, dict[str, Any]] | None = None) -> LiveServer:
        return expose_in_netns(live_server(overrides), loopback_netns)
    return factory


@pytest.fixture
def ff_server(ff_live_server) -> LiveServer:
    return ff_live_server()


@pytest.fixture
def ff_clients(firefox):
    """factory(name, url, viewport=DESKTOP, profile=None) -> FirefoxPage in its own user context."""
    made: list[FirefoxPage] = []

    def factory(name: str, url: str, viewport: dict[str, int] | None = None,
                profile: dict[str, Any] | None = None) -> FirefoxPage:
        settings = {"quality": "low", "sounds": True, "name": name}
        settings.update(profile or {})
        seed = ("try { if (!localStorage.getItem('spreed-client-profile')) "
                f"localStorage.setItem('spreed-client-profile', {json.dumps(json.dumps(settings))}); }} catch (e) {{}}")
        page = firefox.new_page(name, url, viewport or DESKTOP, init_script=seed)
        made.append(page)
        return page

    yield factory
    for page in made:
        page.close()
