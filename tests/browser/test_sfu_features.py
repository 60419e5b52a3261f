"""Every feature keeps working in an SFU room (issue #14 point 4): mute, camera off and on, device
switch, the talking indicator from received audio, the simulcast layer that fits each tile, the
phone layout, and leaving. Chromium pages with a real private Janus, loopback only (the fixtures of
test_sfu.py). Each test checks what the others receive through Janus, not only the sender's UI.
"""
from __future__ import annotations

import time
from typing import Any

import pytest

import janus_harness

from .conftest import Client, close_clients, open_client, poll
from .test_sfu import (VIDEO_OK, assert_loopback, janus, pcs, ready, sfu_browser,  # noqa: F401
                       sfu_server, wait_sfu_everyone, within)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not janus_harness.available(), reason="janus (Debian package) or gcc missing")]

ROOM = "conference/sfu"  # test_sfu.ready() waits for this room
PHONE_TALL = {"width": 390, "height": 844}
BIG = {"width": 1600, "height": 1000}
NARROW = {"width": 390, "height": 500}

# every RTCPeerConnection the page makes (a device switch must not make a new one)
COUNT_PCS = """(() => { const Orig = window.RTCPeerConnection; window.__pcCount = 0;
  window.RTCPeerConnection = function (...a) { window.__pcCount += 1; return new Orig(...a); };
  window.RTCPeerConnection.prototype = Orig.prototype; Object.setPrototypeOf(window.RTCPeerConnection, Orig); })();"""
# every track getUserMedia ever handed out (leaving must stop all of them: camera and microphone released)
KEEP_GUM = """(() => { const md = navigator.mediaDevices; if (!md) return; const orig = md.getUserMedia.bind(md);
  window.__gumTracks = [];
  md.getUserMedia = async (c) => { const s = await orig(c); window.__gumTracks.push(...s.getTracks()); return s; }; })();"""
LIVE_DEVICES = "() => window.__gumTracks.filter(t => t.readyState === 'live').map(t => t.kind + ':' + t.label)"


@pytest.fixture
def pages(sfu_browser):  # noqa: F811
    """factory(name, url, viewport=DESKTOP, quality='low') -> Client in the loopback-only Chromium."""
    made: list[Client] = []

    def factory(name: str, url: str, viewport: dict[str, int] | None = None, quality: str = "low") -> Client:
        settings = {"quality": quality, "sounds": False, "name": name}
        return open_client(sfu_browser, made, name, url, settings, viewport=viewport,
                           init_scripts=(COUNT_PCS, KEEP_GUM), timeout=60000)

    yield factory
    close_clients(made)


def sfu_room(srv, pages, specs: list[tuple[str, dict[str, Any]]]) -> list[Client]:
    """Pages joining one after the other, then everyone sees everyone through Janus."""
    out = []
    for name, opts in specs:
        out.append(pages(name, srv.room_url(ROOM), **opts))
        ready(out[-1])
    for p in out:
        wait_sfu_everyone(p, [o for o in out if o is not p])
        assert [x["role"] for x in pcs(p) if x["outboundVideo"]] == ["sfu-pub"], (p.name, pcs(p))
        # a mesh link dialled before the room switched goes as soon as the SFU carries that peer
        try:
            p.wait("() => window.__spreedTest.peerConnections().then(l => !l.some(x => x.role === 'mesh'))",
                   timeout=15000)
        except Exception:
            print(p.name, p.hook("calls"), p.hook("sfu")["log"][-8:])
            raise
        assert_loopback(p)
    return out


def inbound(c: Client, peer: str) -> dict[str, Any]:
    return c.page.evaluate("(p) => window.__spreedTest.sfuInbound(p)", peer)


def outbound(c: Client) -> dict[str, Any]:
    return c.page.evaluate("() => window.__spreedTest.sfuOutbound()")


def sample(c: Client, peer: str, seconds: float, every: float = 0.2) -> list[dict[str, Any]]:
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        out.append(inbound(c, peer))
        c.page.wait_for_timeout(every * 1000)
    return out


def frames_advance(c: Client, peer: str, by: int = 5, timeout: float = 30) -> None:
    start = inbound(c, peer)["framesDecoded"]
    poll(lambda: inbound(c, peer)["framesDecoded"] > start + by, timeout=timeout, page=c.page)


def tile(c: Client, peer: str) -> Any:
    return c.page.locator(f'.tile[data-peer="{peer}"]')


TILE_STATE = """(p) => { const t = document.querySelector(`.tile[data-peer="${p}"]`); const v = t && t.querySelector('video');
    const s = v && v.srcObject;
    return t && {cls: t.className, w: v.videoWidth, frames: v.getVideoPlaybackQuality().totalVideoFrames,
                 tracks: s ? s.getTracks().map(x => `${x.kind}:${x.readyState}:${x.muted}`) : null}; }"""


def no_errors(*clients: Client) -> None:
    for c in clients:
        assert not c.real_errors(), (c.name, c.real_errors())


# ---------------------------------------------------------------- microphone and talking

def test_talking_indicator_from_received_audio_and_mute(sfu_server, pages):
    srv = sfu_server(minParticipants=3)
    a, b, c = sfu_room(srv, pages, [("A", {}), ("B", {}), ("C", {})])
    # the fake microphone beeps: B and C see A talking, judged from the audio they receive from Janus
    # (there is no mesh link, so no Talking message over a data channel)
    for x in (b, c):
        x.page.locator(f'.tile.talking[data-peer="{a.id}"]').wait_for(timeout=30000)
        levels = [s["audioLevel"] for s in sample(x, a.id, 3)]
        assert max(levels) > 0.04, (x.name, levels)
    energy = inbound(b, a.id)["audioEnergy"]
    # A mutes: the level B and C receive falls to silence and the indicator goes off for good
    a.page.locator(".tool-mic").click()
    assert a.page.locator(".tool-mic").get_attribute("aria-pressed") == "true"
    a.page.locator(".self.mic-off").wait_for()
    for x in (b, c):
        x.page.wait_for_function("(p) => !document.querySelector(`.tile.talking[data-peer=\"${p}\"]`)",
                                 arg=a.id, timeout=15000, polling=100)
    b.page.wait_for_timeout(1000)  # audio already on its way
    for x in (b, c):
        got = sample(x, a.id, 4)
        assert max(s["audioLevel"] for s in got) < 0.01, (x.name, [s["audioLevel"] for s in got])
        assert not any(s["talking"] for s in got), x.name
        assert tile(x, a.id).get_attribute("class").split().count("talking") == 0
        assert got[-1]["audioPackets"] > got[0]["audioPackets"]  # still connected: silence, not a gap
    quiet = inbound(b, a.id)["audioEnergy"]
    b.page.wait_for_timeout(2000)
    assert inbound(b, a.id)["audioEnergy"] - quiet < 0.001
    assert quiet > energy  # it had been rising before the mute
    # unmuted: the beeps and the indicator come back
    a.page.locator(".tool-mic").click()
    for x in (b, c):
        x.page.locator(f'.tile.talking[data-peer="{a.id}"]').wait_for(timeout=30000)
    no_errors(a, b, c)


# ---------------------------------------------------------------- camera off and on

def sfu_events(c: Client) -> list[dict[str, Any]]:
    return [f["Data"]["SfuEvent"] for f in c.received("SfuEvent")]


def test_camera_off_shows_placeholder_and_stops_frames_then_on_again(sfu_server, pages):
    srv = sfu_server(minParticipants=3)
    a, b, c = sfu_room(srv, pages, [("A", {}), ("B", {}), ("C", {})])
    for x in (b, c):
        frames_advance(x, a.id)
    pub = outbound(a)
    assert pub["tracks"].get("video")
    a.page.locator(".tool-cam").click()
    a.page.locator(".self.camera-off").wait_for()
    # A's publisher sends no video any more (the sender has no track; encoding stops)
    poll(lambda: outbound(a)["tracks"].get("video") is None, timeout=10, page=a.page)
    a.page.wait_for_timeout(1000)
    sent = sum(v["frames"] for v in outbound(a)["video"])
    a.page.wait_for_timeout(2000)
    assert sum(v["frames"] for v in outbound(a)["video"]) - sent <= 1
    # B and C: the tile shows the camera-off placeholder, and no more frames are decoded
    for x in (b, c):
        try:
            x.page.locator(f'.tile.novideo[data-peer="{a.id}"]').wait_for(timeout=15000)
        except Exception:
            print(x.name, x.page.evaluate(TILE_STATE, a.id), inbound(x, a.id))
            raise
        got = inbound(x, a.id)["framesDecoded"]
        x.page.wait_for_timeout(2000)
        assert inbound(x, a.id)["framesDecoded"] - got <= 1, x.name
        assert tile(x, a.id).locator(".tile-placeholder").is_visible()
    # Janus noticed its video stopped, and told A so as a document of ours (an SfuEvent)
    poll(lambda: [e for e in sfu_events(a) if e.get("Event") == "media" and e.get("Receiving") is False
                  and e.get("Media") == "video" and e.get("Role") == "publisher"], timeout=10, page=a.page)
    # A's audio still arrives: only the camera is off
    start = inbound(b, a.id)["audioPackets"]
    poll(lambda: inbound(b, a.id)["audioPackets"] > start + 20, timeout=15, page=b.page)
    # camera on again: frames flow and the placeholder goes, on the same connections
    a.page.locator(".tool-cam").click()
    poll(lambda: outbound(a)["tracks"].get("video"), timeout=10, page=a.page)
    assert outbound(a)["pc"] == pub["pc"]
    for x in (b, c):
        x.page.locator(f'.tile[data-peer="{a.id}"]:not(.novideo)').wait_for(timeout=30000)
        frames_advance(x, a.id)
    no_errors(a, b, c)


# ---------------------------------------------------------------- device switch

def same_shape(got: dict[str, Any], size: tuple[int, int]) -> bool:
    """The decoded picture has the aspect ratio of a camera's (width, height)."""
    return got["frameHeight"] > 0 and abs(got["frameWidth"] / got["frameHeight"] - size[0] / size[1]) < 0.05


def test_device_switch_replaces_the_published_tracks_on_the_same_connection(sfu_server, pages):
    srv = sfu_server(minParticipants=3)
    a, b, c = sfu_room(srv, pages, [("A", {}), ("B", {}), ("C", {})])
    before = outbound(a)
    made = a.page.evaluate("() => window.__pcCount")
    publishes = len(a.sent("SfuPublish"))
    local_video = [t["id"] for t in a.hook("local") if t["kind"] == "video"]
    assert before["tracks"]["video"] in local_video
    old_size = next((t["settings"]["width"], t["settings"]["height"]) for t in a.hook("local") if t["kind"] == "video")
    for x in (b, c):  # what B and C decode is A's camera as it is now
        poll(lambda: same_shape(inbound(x, a.id), old_size), timeout=30, page=x.page)
    a.page.locator(".tool-settings").click()
    dialog = a.page.locator("dialog.settings-dialog")
    dialog.wait_for()
    mic = dialog.locator("select[name=mic]")
    assert any("Fake Audio Input 1" in o for o in mic.locator("option").all_text_contents())
    mic.select_option(label="Fake Audio Input 1")
    cams = [o for o in dialog.locator("select[name=camera] option").all_text_contents() if o.strip()]
    camera = dialog.locator("select[name=camera]")
    if len(cams) > 1:  # another camera when the fake devices offer one, else the camera reopened larger
        camera.select_option(label=cams[-1])
    dialog.locator("select[name=quality]").select_option("high")
    dialog.locator("button[type=submit]").click()
    # fresh local tracks, and the SFU publisher sends them (replaceTrack), on the same PeerConnection
    a.wait("(old) => window.__spreedTest.local.some(t => t.kind === 'video' && t.id !== old && t.readyState === 'live')",
           arg=before["tracks"]["video"], timeout=30000)
    a.wait("() => window.__spreedTest.local.some(t => t.kind === 'audio' && t.label === 'Fake Audio Input 1')",
           timeout=30000)
    local = {t["kind"]: t["id"] for t in a.hook("local")}
    new_size = next((t["settings"]["width"], t["settings"]["height"]) for t in a.hook("local") if t["kind"] == "video")
    # (the picture's shape tells the cameras apart even when an encoder scales the picture down)
    assert abs(new_size[0] / new_size[1] - old_size[0] / old_size[1]) > 0.1, (old_size, new_size)
    poll(lambda: outbound(a)["tracks"] == {"audio": local["audio"], "video": local["video"]}, timeout=15, page=a.page)
    after = outbound(a)
    assert after["pc"] == before["pc"] and after["state"] == "connected"
    assert a.page.evaluate("() => window.__pcCount") == made, "a device switch made a new PeerConnection"
    assert len(a.sent("SfuPublish")) == publishes, "a device switch published again"
    # B and C keep decoding A's pictures, now from the new camera (its picture size)
    for x in (b, c):
        frames_advance(x, a.id, by=10)
        poll(lambda: same_shape(inbound(x, a.id), new_size), timeout=30, page=x.page)
        start = inbound(x, a.id)["audioPackets"]
        poll(lambda: inbound(x, a.id)["audioPackets"] > start + 20, timeout=15, page=x.page)
        x.page.locator(f'.tile[data-peer="{a.id}"]:not(.novideo)').wait_for(timeout=15000)
    no_errors(a, b, c)


# ---------------------------------------------------------------- simulcast layer per tile size

def record_layer_requests(srv) -> list[dict[str, Any]]:
    """The `configure` requests with a substream that our server sends to Janus."""
    backend = srv.hub.sfu.backends[0]
    seen: list[dict[str, Any]] = []
    original = backend.message

    async def message(handle: int, body: dict[str, Any], jsep: Any = None, wait_event: bool = False) -> Any:
        if body.get("request") == "configure" and body.get("streams"):
            seen.append({"handle": handle, "streams": [dict(s) for s in body["streams"]]})
        return await original(handle, body, jsep, wait_event)
    srv.call(lambda: setattr(backend, "message", message))
    return seen


def tile_px(c: Client, peer: str) -> float:
    return c.page.evaluate("(p) => { const v = document.querySelector(`.tile[data-peer=\"${p}\"] video`);"
                           " return v ? v.clientWidth * (window.devicePixelRatio || 1) : 0; }", peer)


def layer_asked(c: Client, peer: str) -> int | None:
    asked = [f["SfuLayer"]["Substream"] for f in c.sent("SfuLayer") if f["SfuLayer"].get("Id") == peer]
    return asked[-1] if asked else None


def test_each_tile_asks_for_the_layer_that_fits_its_size(sfu_server, pages):
    srv = sfu_server(minParticipants=3, bitrate=2000000)
    asked_janus = record_layer_requests(srv)
    # A publishes 640x360 in simulcast (Chromium sends two layers of that size: 640 and 320 wide);
    # B has big tiles (layer 2), C a narrow window with middle-sized ones (layer 1)
    a, b, c, d = sfu_room(srv, pages, [("A", {"quality": "high"}), ("B", {"viewport": BIG}),
                                       ("C", {"viewport": NARROW}), ("D", {})])
    poll(lambda: len([v for v in outbound(a)["video"] if v["frames"] > 0]) >= 2, timeout=30, page=a.page)
    layers = outbound(a)["video"]
    print("A sends", layers)
    assert len({v["width"] for v in layers if v["frames"] > 0}) >= 2, layers  # really several layers
    big, middle = tile_px(b, a.id), tile_px(c, a.id)
    print(f"tile widths: B {big:.0f}px, C {middle:.0f}px")
    assert big >= 480 and 200 <= middle < 480, (big, middle)
    poll(lambda: layer_asked(b, a.id) == 2 and layer_asked(c, a.id) == 1, timeout=15, page=b.page)
    # our server passed both wishes on to Janus
    poll(lambda: {s["substream"] for r in asked_janus for s in r["streams"]} >= {1, 2}, timeout=10)
    # and Janus forwards the big picture to the big tile, the half-size one to the middle tile
    poll(lambda: inbound(b, a.id)["frameWidth"] >= 600, timeout=30, page=b.page)
    poll(lambda: 0 < inbound(c, a.id)["frameWidth"] <= 330, timeout=30, page=c.page)
    frames_advance(c, a.id)
    # C's window grows: its tile asks for more, and gets it
    c.page.set_viewport_size(BIG)
    poll(lambda: tile_px(c, a.id) >= 480, timeout=10, page=c.page)
    poll(lambda: layer_asked(c, a.id) == 2, timeout=15, page=c.page)
    poll(lambda: inbound(c, a.id)["frameWidth"] >= 600, timeout=30, page=c.page)
    # B's shrinks: back to the half-size layer
    b.page.set_viewport_size(NARROW)
    poll(lambda: layer_asked(b, a.id) == 1, timeout=15, page=b.page)
    poll(lambda: 0 < inbound(b, a.id)["frameWidth"] <= 330, timeout=30, page=b.page)
    frames_advance(b, a.id)
    # D's window never changed: what it asked for A fits its tile, and was not asked again and again
    px = tile_px(d, a.id)
    assert layer_asked(d, a.id) == (2 if px >= 480 else 1 if px >= 200 else 0), (px, layer_asked(d, a.id))
    assert len([f for f in d.sent("SfuLayer") if f["SfuLayer"].get("Id") == a.id]) <= 3, d.sent("SfuLayer")
    no_errors(a, b, c, d)


# ---------------------------------------------------------------- phone layout

TILE_RECTS = """() => [...document.querySelectorAll('.tile')].map(el => {
    const r = el.getBoundingClientRect(); return {peer: el.dataset.peer, x: r.x, y: r.y, w: r.width, h: r.height}; })"""


def test_phone_layout_in_an_sfu_room(sfu_server, pages):
    srv = sfu_server(minParticipants=3)
    a, b, c, phone = sfu_room(srv, pages, [("A", {}), ("B", {}), ("C", {}), ("P", {"viewport": PHONE_TALL})])
    phone.page.wait_for_timeout(1000)  # layout settles after the last tile arrived
    phone.screenshot("sfu-phone")
    rects = phone.page.evaluate(TILE_RECTS)
    assert sorted(r["peer"] for r in rects) == sorted([a.id, b.id, c.id])
    width = PHONE_TALL["width"]
    for r in rects:  # every tile is on screen, inside the phone's width, big enough to see someone
        assert r["x"] >= 0 and r["x"] + r["w"] <= width + 0.5, r
        assert r["w"] >= 100 and r["h"] >= 60, r
        assert r["y"] + r["h"] > 0
    for i, r in enumerate(rects):  # no two tiles overlap
        for s in rects[i + 1:]:
            overlap_w = min(r["x"] + r["w"], s["x"] + s["w"]) - max(r["x"], s["x"])
            overlap_h = min(r["y"] + r["h"], s["y"] + s["h"]) - max(r["y"], s["y"])
            assert overlap_w <= 1 or overlap_h <= 1, (r, s)
    overflow = phone.page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
                                   " document.body.scrollWidth]")
    assert overflow[0] <= overflow[1] and overflow[2] <= overflow[1], overflow
    phone.wait(VIDEO_OK, arg=[a.id, b.id, c.id])
    for x in (a, b, c):  # small tiles ask for a low layer
        poll(lambda: layer_asked(phone, x.id) is not None and layer_asked(phone, x.id) <= 1, timeout=15, page=phone.page)
    no_errors(a, b, c, phone)


# ---------------------------------------------------------------- leaving

def test_leave_removes_the_tile_everywhere_within_2s(sfu_server, pages):
    srv = sfu_server(minParticipants=3)
    a, b, c, d = sfu_room(srv, pages, [("A", {}), ("B", {}), ("C", {}), ("D", {})])
    gone = d.id
    publishes = len(d.sent("SfuPublish"))
    d.page.locator(".room-leave").click()
    t0 = time.monotonic()
    for x in (a, b, c):
        x.wait("(p) => !document.querySelector(`.tile[data-peer=\"${p}\"]`)", arg=gone, timeout=30000)
    within(time.monotonic() - t0, 2.0, "a page that leaves loses its tile everywhere")
    # the leaver closed both SFU connections and released its devices
    d.wait("() => { const r = window.__spreedTest.room; return r && r.Name === ''; }", timeout=15000)
    d.wait("() => { const s = window.__spreedTest.sfu; return !s.active && !s.publishing && !s.subscribed; }",
           timeout=15000)
    assert d.page.evaluate("() => window.__gumTracks.length") >= 2
    d.wait(f"() => ({LIVE_DEVICES})().length === 0", timeout=15000)
    d.page.wait_for_timeout(2000)  # a late document of the room it left must not bring the camera back
    assert d.page.evaluate(LIVE_DEVICES) == [] and d.hook("local") == []
    assert not d.hook("sfu")["active"] and not d.hook("sfu")["publishing"]
    assert len(d.sent("SfuPublish")) == publishes, d.hook("sfu")["log"]
    assert d.page.locator(".tile").count() == 0
    # the others go on seeing each other through Janus, without the leaver
    for x in (a, b, c):
        others = [o.id for o in (a, b, c) if o is not x]
        x.wait("(ids) => { const s = window.__spreedTest.sfu; return s.active && s.peers.length === 2"
               " && ids.every(i => s.peers.includes(i)); }", arg=others, timeout=30000)
        for o in others:
            frames_advance(x, o)
        assert x.page.locator(".tile").count() == 2
    no_errors(a, b, c, d)
