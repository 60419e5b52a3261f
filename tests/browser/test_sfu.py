"""SFU conferences in Chromium with a real private Janus (tests/janus_harness.py), loopback only.

The SFU pages run in a Chromium that offers no host candidates and whose checks toward Janus's
127.0.0.1 leave from 127.0.0.1 (the proven flags of the Janus-on-loopback notes); every candidate
pair in use is checked to be on 127/8, and so is every SDP Janus sends.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable

import pytest

import janus_harness

from .conftest import CHROMIUM, CHROMIUM_ARGS, Client, close_clients, open_client, poll

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not janus_harness.available(), reason="janus (Debian package) or gcc missing")]

ROOM = "conference/sfu"
VIDEO_OK = ("(ids) => ids.every(id => { const v = document.querySelector(`.tile[data-peer=\"${id}\"] video`);"
            " return v && v.videoWidth > 0; })")
NO_MESH = "() => window.__spreedTest.meshPeers.length === 0"
SFU_ARGS = [a for a in CHROMIUM_ARGS if a != "--allow-loopback-in-peer-connection"] + [
    "--webrtc-ip-handling-policy=default_public_interface_only",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


SERVER_LOG: list[str] = []


class _Keep(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        SERVER_LOG.append(f"{record.created:.2f} {record.name} {record.getMessage()}"[:300])
        del SERVER_LOG[:-500]


_handler = _Keep(logging.DEBUG)
logging.getLogger("spreed.sfu").addHandler(_handler)
logging.getLogger("spreed.sfu").setLevel(logging.DEBUG)


@pytest.fixture(scope="module")
def janus(tmp_path_factory):
    instance = janus_harness.Janus(tmp_path_factory.mktemp("janus-browser")).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def sfu_browser(browser):
    """A second Chromium from the same Playwright (one sync Playwright per thread)."""
    b = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=SFU_ARGS)
    yield b
    b.close()


def start_sfu_server(live_server: Any, server_thread: Any, janus_url: str, closers: list, options: dict[str, Any],
                     expose: Any = None) -> Any:
    """A LiveServer for Conference rooms with the SFU attached once Janus answers (its SDPs checked)."""
    from spreed.sfu import attach
    srv = live_server({"roomtypes": {"^conference/.+": "Conference"}, "limits": {"enabled": False},
                       "sfu": {"url": janus_url, **options}})
    if expose is not None:
        expose(srv)
    closers.extend(server_thread.run(attach(srv.hub)))
    poll(lambda: srv.call(lambda: srv.hub.sfu.backends[0].up), timeout=10)
    watch_janus_sdps(srv)
    return srv


def stop_sfu(server_thread: Any, closers: list) -> None:
    for close in closers:
        try:
            server_thread.run(close())
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture
def sfu_server(live_server, server_thread, janus):
    """factory(**sfu_options) -> LiveServer with the SFU attached (and its Janus SDPs checked)."""
    closers: list = []

    def factory(**options: Any):
        srv = start_sfu_server(live_server, server_thread, janus.url, closers, options)
        srv.hub.sfu.mesh_grace = 20.0
        return srv

    yield factory
    stop_sfu(server_thread, closers)


def watch_janus_sdps(srv) -> None:
    """Fail (never filter) when Janus puts an address outside 127/8 into any SDP it sends."""
    client = srv.hub.sfu.backends[0].client
    bad: list[str] = []
    srv.janus_bad = bad
    original = client._dispatch

    def dispatch(msg: dict[str, Any]) -> None:
        sdp = (msg.get("jsep") or {}).get("sdp")
        if sdp:
            bad.extend(janus_harness.non_loopback(sdp))
            srv.janus_sdps = getattr(srv, "janus_sdps", 0) + 1
        original(msg)
    client._dispatch = dispatch


@pytest.fixture
def sfu_clients(sfu_browser):
    made: list[Client] = []

    def factory(name: str, url: str, no_sfu: bool = False) -> Client:
        settings = {"quality": "low", "sounds": False, "name": name}
        scripts = ("globalThis.__spreedNoSfu = true;",) if no_sfu else ()
        return open_client(sfu_browser, made, name, url, settings, init_scripts=scripts, timeout=60000)

    yield factory
    close_clients(made)


def within(seconds: float, limit: float, what: str) -> None:
    """A timing bound of the issue, as strict in CI as anywhere (the load is printed beside it)."""
    print(f"{what}: {seconds:.2f}s (limit {limit}s, load {os.getloadavg()[0]:.0f})")
    assert seconds < limit, f"{what}: {seconds:.2f}s (limit {limit}s)"


def ready(c: Client) -> None:
    c.wait("(r) => window.__spreedTest && window.__spreedTest.connected && window.__spreedTest.room"
           " && window.__spreedTest.room.Name === r", timeout=60000, arg=ROOM)


def pcs(c: Client) -> list[dict[str, Any]]:
    return c.page.evaluate("() => window.__spreedTest.peerConnections()")


def assert_loopback(c: Client) -> None:
    for pc in pcs(c):
        if pc["role"].startswith("sfu") and pc["state"] == "connected":
            assert pc["local"].startswith("127.") and pc["remote"].startswith("127."), (c.name, pc)


def wait_sfu_everyone(c: Client, others: list[Client], timeout: float = 60000) -> None:
    ids = [o.id for o in others]
    c.wait("(ids) => { const s = window.__spreedTest.sfu; return s.active && ids.every(i => s.peers.includes(i)); }",
           timeout=timeout, arg=ids)
    c.wait(NO_MESH, timeout=timeout)  # the SFU view is shown once it flows; the mesh link goes a moment later
    try:
        c.wait(VIDEO_OK, timeout=timeout, arg=ids)
    except Exception:
        print("NO VIDEO on", c.name, c.page.evaluate("""(ids) => ids.map(id => {
            const v = document.querySelector(`.tile[data-peer="${id}"] video`);
            const s = v && v.srcObject;
            return [id.slice(0, 6), !!v, v && v.videoWidth, s && s.getTracks().map(t => t.kind + ':' + t.muted + ':' + t.readyState)];
        })""", ids), c.hook("sfu"), c.page.evaluate("() => window.__spreedTest.peerConnections()"), c.errors[-5:])
        raise


def three_in_sfu(open_page: Callable[[str, str], Client], srv: Any) -> list[Client]:
    """Pages A, B and C opened one after the other in ROOM, each then receiving the others through
    the SFU (and holding no mesh link)."""
    pages: list[Client] = []
    for n in ("A", "B", "C"):
        pages.append(open_page(n, srv.room_url(ROOM)))
        ready(pages[-1])
    for p in pages:
        wait_sfu_everyone(p, [o for o in pages if o is not p])
    return pages


def frames(c: Client, peer: str) -> int:
    return c.page.evaluate("(p) => window.__spreedTest.sfuStats(p).then(s => s.framesDecoded)", peer)


TILE_GONE_WATCH = """(id) => {
    window.__tileGoneAt = 0;
    const gone = () => !document.querySelector(`.tile[data-peer="${CSS.escape(id)}"]`);
    if (gone()) throw new Error('no tile to watch');
    const watch = new MutationObserver(() => {
        if (gone()) { window.__tileGoneAt = Date.now(); watch.disconnect(); }
    });
    watch.observe(document.body, {childList: true, subtree: true, attributes: true, attributeFilter: ['data-peer']});
}"""


def frames_of(c: Client, peers: list[str]) -> list[int]:
    """Frames decoded of each peer, in one round trip (six loaded pages make each one slow)."""
    return c.page.evaluate("(ps) => Promise.all(ps.map(p => window.__spreedTest.sfuStats(p)"
                           ".then(s => s.framesDecoded)))", peers)


def test_six_pages_each_send_once_leave_and_late_join(sfu_server, sfu_clients):
    srv = sfu_server()
    names = ["A", "B", "C", "D", "E", "F"][:int(os.environ.get("SFU_TEST_PAGES", "6"))]
    pages = []
    for n in names:  # one after the other: six page loads at once starve two cores
        pages.append(sfu_clients(n, srv.room_url(ROOM)))
        ready(pages[-1])
    t0 = time.monotonic()
    for p in pages:
        wait_sfu_everyone(p, [o for o in pages if o is not p])
    print(f"six pages: every picture after {time.monotonic() - t0:.1f}s")
    ids = {p.name: p.id for p in pages}
    for p in pages:
        # exactly one PeerConnection sends video (mesh would have five), and it goes to Janus
        now = pcs(p)
        sending = [x for x in now if x["outboundVideo"]]
        assert [x["role"] for x in sending] == ["sfu-pub"], (p.name, now)
        assert not [x for x in now if x["role"] == "mesh"], (p.name, now)
        assert_loopback(p)
        # the five others are decoded, and keep being decoded
        others = [ids[o.name] for o in pages if o is not p]
        start = frames_of(p, others)
        assert len(start) == len(pages) - 1
        poll(lambda p=p, others=others, start=start: all(n > s + 3 for n, s in zip(frames_of(p, others), start)),
             timeout=20, page=p.page)
    assert p.page.locator(".tile").count() == len(pages) - 1
    assert srv.janus_bad == [] and srv.janus_sdps >= 12
    # a page that leaves disappears everywhere within 2 s (each page notes when its tile went, so
    # that the time is not the test's own round trips to five loaded pages)
    gone = pages.pop()
    gone_id = gone.id
    for p in pages:
        p.page.evaluate(TILE_GONE_WATCH, gone_id)
    gone.context.close()  # (the page is gone when this returns: from then on, the time counts)
    t0 = time.time() * 1000
    for p in pages:
        p.wait("() => window.__tileGoneAt > 0", timeout=30000)
    went = [p.page.evaluate("() => window.__tileGoneAt") for p in pages]
    within((max(went) - t0) / 1000, 2.0, "a leaving page disappears everywhere")
    # a seventh page joining late sees and is seen by everyone
    late = sfu_clients("G", srv.room_url(ROOM))
    ready(late)
    t0 = time.monotonic()
    wait_sfu_everyone(late, pages)
    for p in pages:
        p.wait(VIDEO_OK, timeout=30000, arg=[late.id])
    print(f"late joiner: seen and seeing after {time.monotonic() - t0:.1f}s")
    assert [x["role"] for x in pcs(late) if x["outboundVideo"]] == ["sfu-pub"]
    assert_loopback(late)
    for p in pages + [late]:
        assert not p.real_errors(), (p.name, p.real_errors())


# ---------------------------------------------------------------- faults (the switches: test_sfu_switch.py)

GAP_MONITOR = """() => {
    if (window.__gaps) return;
    const gaps = window.__gaps = {};
    const switches = window.__switchGaps = {};
    const last = {};
    setInterval(() => {
        const now = performance.now();
        for (const tile of document.querySelectorAll('.tile')) {
            const id = tile.dataset.peer;
            const v = tile.querySelector('video');
            const q = v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : 0;
            const ok = v && v.videoWidth > 0 && !tile.classList.contains('novideo');
            const entry = last[id] || (last[id] = {t: now, frames: -1, src: null});
            if (ok && (q !== entry.frames || v.srcObject !== entry.src)) {
                gaps[id] = Math.max(gaps[id] || 0, now - entry.t);
                if (v.srcObject !== entry.src && entry.src) {  // the picture moved to another connection
                    switches[id] = Math.max(switches[id] || 0, now - entry.t);
                }
                entry.t = now;
                entry.src = v.srcObject;
            }
            entry.frames = q;
        }
    }, 100);
}"""


def max_gap(c: Client, peer: str) -> float:
    """The longest time without a new frame of `peer` (any cause, load spikes included)."""
    return c.page.evaluate("(p) => (window.__gaps || {})[p] || 0", peer)


def test_janus_killed_everyone_back_within_10s(sfu_server, sfu_clients, janus):
    srv = sfu_server(minParticipants=3)
    pages = three_in_sfu(sfu_clients, srv)
    first_session = srv.call(lambda: srv.hub.sfu.backends[0].client.session_id)
    janus.kill()
    t0 = time.monotonic()
    for x in pages:
        x.wait("() => !window.__spreedTest.sfu.active", timeout=10000)
    janus.start()  # restarted under the same server: it is picked up, the rooms return to the SFU
    for x in pages:
        wait_sfu_everyone(x, [o for o in pages if o is not x], timeout=60000)
    back = time.monotonic() - t0
    print(f"Janus killed: everyone back in {back:.1f}s")
    within(back, 10.0, "back in contact after Janus was killed")
    assert srv.call(lambda: srv.hub.sfu.backends[0].client.session_id) != first_session
    for x in pages:
        assert_loopback(x)
        # no frozen tiles: every tile shows a picture whose frames advance
        x.page.evaluate(GAP_MONITOR)
    pages[0].page.wait_for_timeout(1500)
    for x in pages:
        for o in pages:
            if o is not x:
                assert max_gap(x, o.id) < 1000, (x.name, o.name)


def test_room_across_two_processes_shares_one_janus_room(live_server, server_thread, janus, sfu_clients, tmp_path):
    """nats.url: members on two server processes (here two hubs) meet in the same Janus room."""
    from cluster_harness import Nats
    from spreed.cluster import attach as attach_cluster
    from spreed.sfu import attach
    nats = Nats(tmp_path)  # started by its constructor
    closers: list = []
    try:
        servers = []
        for _ in range(2):
            srv = live_server({"roomtypes": {"^conference/.+": "Conference"}, "limits": {"enabled": False},
                               "nats": {"url": nats.url}, "sfu": {"url": janus.url}})
            closers.extend(server_thread.run(attach_cluster(srv.hub)))
            closers.extend(server_thread.run(attach(srv.hub)))
            poll(lambda: srv.call(lambda: srv.hub.sfu.backends[0].up), timeout=10)
            servers.append(srv)
        pages = []
        for name, srv in (("A", servers[0]), ("B", servers[1]), ("C", servers[0])):
            pages.append(sfu_clients(name, srv.room_url(ROOM)))
            ready(pages[-1])
        for p in pages:
            wait_sfu_everyone(p, [o for o in pages if o is not p])
            assert [x["role"] for x in pcs(p) if x["outboundVideo"]] == ["sfu-pub"]
            assert_loopback(p)
        rooms = [srv.call(lambda s=srv: s.hub.sfu.rooms[f"Conference:{ROOM}"].janus_id) for srv in servers]
        assert rooms[0] == rooms[1]
    finally:
        for close in reversed(closers):
            try:
                server_thread.run(close())
            except Exception:  # noqa: BLE001
                pass
        nats.stop()


# ---------------------------------------------------------------- moderation on the SFU

def audio_packets(c: Client, peer: str) -> int:
    return c.page.evaluate("(p) => window.__spreedTest.sfuStats(p).then(s => s.audioPackets)", peer)


def test_moderator_mutes_a_stream_at_janus(sfu_server, sfu_clients):
    """In an SFU room a moderator's mute holds at Janus: the others stop receiving that microphone."""
    srv = sfu_server(minParticipants=3)
    a, b, c = pages = three_in_sfu(sfu_clients, srv)  # A opened the room: its moderator
    start = audio_packets(c, b.id)
    poll(lambda: audio_packets(c, b.id) > start + 20, timeout=20, page=c.page)

    panel = a.page.locator("#moderation-panel")
    if not panel.is_visible():
        a.page.locator(".tool-moderation").click()
    row = panel.locator(f'.mod-people .mod-item[data-id="{b.id}"]')
    row.locator(".mod-mute-stream").click()
    b.toast("A moderator muted your microphone for everyone.").wait_for()
    assert b.page.locator(".tool-mic").get_attribute("aria-pressed") == "true"  # shown muted on B's page too
    b.page.locator(".tool-mic").click()  # B turns its microphone on: the server's mute still holds
    assert b.page.locator(".tool-mic").get_attribute("aria-pressed") == "false"
    time.sleep(1.0)  # packets already on their way
    held = audio_packets(c, b.id)
    time.sleep(2.0)
    assert audio_packets(c, b.id) - held < 5, "Janus still forwards the muted microphone"
    row.locator(".mod-mute-stream").click()  # now "Unmute B for everyone"
    resumed = audio_packets(c, b.id)
    poll(lambda: audio_packets(c, b.id) > resumed + 20, timeout=20, page=c.page)
    for p in pages:
        assert not p.real_errors(), (p.name, p.real_errors())
