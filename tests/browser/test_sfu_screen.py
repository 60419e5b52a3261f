"""Screen sharing in an SFU room: a second stream published through Janus, no peer-to-peer screens.

Three Chromium pages (the loopback-only SFU Chromium of test_sfu.py) in one SFU room; one shares its
screen (Chromium's fake capture, as in test_screenshare.py). The sharer sends it on exactly one
extra PeerConnection, whose remote is Janus (127.0.0.1, a port of Janus's RTP range); nobody opens
a token (peer-to-peer) screen connection; every other page decodes the screen (its inbound-rtp
framesDecoded rises); stopping removes it everywhere within 2 s, and so do the browser's own
"stop sharing" and leaving the room while sharing, also when a track event of an earlier offer
comes late. Every candidate pair in use is on loopback.
"""
from __future__ import annotations

import time
from typing import Any

import pytest

import janus_harness

from .conftest import Client, poll
from .test_sfu import (ROOM, VIDEO_OK, assert_loopback, frames, janus, pcs, sfu_browser,  # noqa: F401 (fixtures)
                       sfu_clients, sfu_server, three_in_sfu, within)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not janus_harness.available(), reason="janus (Debian package) or gcc missing")]

SCREEN_OK = ("(id) => { const v = document.querySelector(`.screen-view[data-peer=\"${id}\"] video`);"
             " return !!v && v.videoWidth > 0; }")
NO_SCREEN = ("(id) => !document.querySelector(`.screen-view[data-peer=\"${id}\"]`)"
             " && !window.__spreedTest.sfu.screens.includes(id)")


def screen_inbound(c: Client, peer: str) -> dict[str, Any]:
    return c.page.evaluate("(p) => window.__spreedTest.sfuScreenInbound(p)", peer)


def token_screens(c: Client) -> list[Any]:
    return [x for x in pcs(c) if x["role"] == "token-screenshare"] + \
        [x for x in c.hook("tokenConnections") if x["kind"] == "screenshare"]


def wait_gone(viewers: list[Client], sharer: Client, what: str, limit: float) -> None:
    t0 = time.monotonic()
    for v in viewers:
        v.wait(NO_SCREEN, arg=sharer.id, timeout=30000)
    within(time.monotonic() - t0, limit, what)
    for v in viewers:
        assert v.hook("screenViews") == [], (v.name, v.hook("screenViews"))


def test_screen_share_is_a_second_stream_through_janus(sfu_server, sfu_clients, janus):  # noqa: F811
    srv = sfu_server(minParticipants=3)
    pages = three_in_sfu(sfu_clients, srv)
    sharer, viewers = pages[0], pages[1:]
    sid = sharer.id  # (read on this thread: the lambdas below run on the server's)
    before = pcs(sharer)
    assert [x["role"] for x in before if x["outboundVideo"]] == ["sfu-pub"], before
    assert not sharer.hook("sfu")["screenPublishing"]
    for v in viewers:  # nothing to decode yet: the counter below starts from nothing
        assert screen_inbound(v, sharer.id) == {"mids": [], "framesDecoded": 0, "bytesReceived": 0, "frameWidth": 0}

    button = sharer.page.locator(".tool-screen")
    button.wait_for()  # offered in an SFU room too (no mesh call is connected there)
    button.click()
    sharer.page.locator(".sharing-bar", has_text="You are sharing your screen").wait_for()
    t0 = time.monotonic()
    for v in viewers:
        v.wait(SCREEN_OK, arg=sharer.id, timeout=60000)
    print(f"screen shown on {len(viewers)} viewers after {time.monotonic() - t0:.1f}s")
    assert sharer.hook("sfu")["screenPublishing"]

    # the sharer: exactly one more PeerConnection, sending video to Janus on loopback
    lo, hi = janus.rtp
    now = pcs(sharer)
    assert sorted(x["role"] for x in now if x["outboundVideo"]) == ["sfu-pub", "sfu-screen"], now
    assert len(now) == len(before) + 1, (before, now)
    screen = [x for x in now if x["role"] == "sfu-screen"][0]
    assert screen["state"] == "connected", screen
    assert screen["local"].startswith("127.") and screen["remote"] == "127.0.0.1", screen
    assert lo <= screen["remotePort"] <= hi, (screen, janus.rtp)
    assert not [x for x in now if x["role"] == "mesh"], now

    # the viewers: the screen arrives on the subscriber connection they already have, on mids of
    # its own, and is decoded (the counters rise); the cameras go on beside it
    for v in viewers:
        assert v.hook("sfu")["screens"] == [sharer.id], v.hook("sfu")
        assert sorted(x["role"] for x in pcs(v)) == ["sfu-pub", "sfu-sub"], (v.name, pcs(v))
        first = screen_inbound(v, sharer.id)
        assert first["mids"], first
        start, cam_start = first["framesDecoded"], frames(v, sharer.id)
        poll(lambda v=v: screen_inbound(v, sharer.id)["framesDecoded"] >= start + 10, timeout=20, page=v.page)
        poll(lambda v=v: frames(v, sharer.id) >= cam_start + 10, timeout=20, page=v.page)
        later = screen_inbound(v, sharer.id)
        assert later["frameWidth"] > 0 and later["bytesReceived"] > first["bytesReceived"], (first, later)
        assert "Screen of A" in v.page.locator(f'.screen-view[data-peer="{sharer.id}"] .screen-name').text_content()
    for p in pages:
        assert token_screens(p) == [], (p.name, token_screens(p))
        assert_loopback(p)
        assert [x for x in pcs(p) if x["role"].startswith("sfu")], p.name  # the check above saw pairs
    room = srv.call(lambda: srv.hub.sfu.rooms[f"Conference:{ROOM}"])
    assert srv.call(lambda: sorted(k for k in room.publishers if k[0] == sid)) == \
        [(sid, "camera"), (sid, "screen")]
    assert srv.janus_bad == []

    # a renegotiation under way when the server drops the screen (Feeds without it) must not bring
    # it back: the third page gets that document, then a late track event of the earlier offer
    late = pages[2].page.evaluate("(d) => window.__spreedTest.sfuLateTrackAfter(d)",
                                  {"Sfu": {"Mode": "sfu", "Feeds": [{"Id": p.id, "Kind": "camera"} for p in pages]}})
    assert sharer.id not in late["screens"] and sharer.id in late["peers"], late

    # stop (our button): the screen goes everywhere within 2 s, the cameras go on
    button.click()
    wait_gone(viewers, sharer, "a stopped screen disappears everywhere", 2.0)
    sharer.page.locator(".sharing-bar").wait_for(state="hidden")
    assert button.get_attribute("aria-pressed") == "false"
    assert [x for x in pcs(sharer) if x["role"] == "sfu-screen"] == []
    poll(lambda: srv.call(lambda: (sid, "screen") not in room.publishers), timeout=5)
    for v in viewers:
        v.wait(VIDEO_OK, arg=[o.id for o in pages if o is not v], timeout=10000)
        cam = frames(v, sharer.id)
        poll(lambda v=v, cam=cam: frames(v, sharer.id) > cam + 5, timeout=10, page=v.page)

    # sharing again, then the browser's own "stop sharing" button
    button.click()
    for v in viewers:
        v.wait(SCREEN_OK, arg=sharer.id, timeout=60000)
        start = screen_inbound(v, sharer.id)["framesDecoded"]
        poll(lambda v=v, start=start: screen_inbound(v, sharer.id)["framesDecoded"] > start + 5, timeout=20, page=v.page)
    assert sharer.hook("endScreenCapture()")
    wait_gone(viewers, sharer, "a screen ended by the browser disappears everywhere", 2.0)
    sharer.wait("() => !window.__spreedTest.sharingScreen && !window.__spreedTest.sfu.screenPublishing")

    # sharing once more, then leaving the room while sharing: the share ends and the screen goes
    button.click()
    for v in viewers:
        v.wait(SCREEN_OK, arg=sharer.id, timeout=60000)
    # (the race CI once hit: the Left, then a late track event of the offer sent before it)
    late = pages[2].page.evaluate("(d) => window.__spreedTest.sfuLateTrackAfter(d)", {"Left": sharer.id})
    assert sharer.id not in late["screens"] and sharer.id not in late["peers"], late
    sharer.page.locator(".room-leave").click()
    wait_gone(viewers, sharer, "the screen of a sharer who left disappears everywhere", 2.0)
    sharer.wait("() => !window.__spreedTest.sharingScreen && !window.__spreedTest.sfu.screenPublishing", timeout=10000)
    assert [x for x in pcs(sharer) if x["role"] == "sfu-screen"] == []
    poll(lambda: srv.call(lambda: not [k for k in room.publishers if k[0] == sid]), timeout=10)
    for p in pages:
        assert token_screens(p) == [], (p.name, token_screens(p))
        assert not p.real_errors(), (p.name, p.real_errors())
