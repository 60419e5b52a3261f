"""1:1 calls: ringing, accept with real media, hang-up, reject, busy, abort, pickup timeout, mute."""
from __future__ import annotations

import pytest

from .conftest import PHONE, poll

pytestmark = pytest.mark.browser

FRAMES = "(p) => window.__spreedTest.getStats(p).then(s => s ? s.framesDecoded : 0)"


def frames(client, peer_id):
    return client.page.evaluate(FRAMES, peer_id)


def two_in_room(server, clients, room="call-room", **kw):
    a = clients("Alice", server.room_url(room), **kw)
    b = clients("Bob", server.room_url(room))
    a.wait_ready(room)
    b.wait_ready(room)
    a.wait_buddies(1)
    b.wait_buddies(1)
    return a, b


def test_call_accept_media_and_hangup(server, clients):
    a, b = two_in_room(server, clients)
    a.buddy(b).locator(".buddy-call").click()
    # caller: "Calling"; callee: ringing card with Accept/Reject and the ring sound
    a.page.locator("#status-text", has_text="Calling Bob").wait_for()
    b.page.locator(".incoming-card", has_text="Alice").wait_for()
    b.page.locator("#status-text", has_text="Incoming call from Alice").wait_for()
    assert b.hook("sounds").get("ring", 0) >= 1
    b.page.locator(".incoming .btn-accept").click()
    a.wait_connected_calls(1)
    b.wait_connected_calls(1)
    a.page.locator("#status-text", has_text="In call with Bob").wait_for()
    b.page.locator("#status-text", has_text="In call with Alice").wait_for()
    for me, other in ((a, b), (b, a)):
        me.wait("(id) => { const v = document.querySelector(`.tile[data-peer=\"${id}\"] video`); return v && v.videoWidth > 0; }",
                arg=other.id)
        first = frames(me, other.id)
        poll(lambda: frames(me, other.id) > first + 5)
        assert me.page.locator(f'.tile[data-peer="{other.id}"]').get_attribute("class").find("novideo") < 0
    assert a.hook("sounds").get("connect", 0) >= 1
    # the callee's offer handling: exactly one Offer from A, one Answer from B
    assert len(a.sent("Offer")) == 1 and len(b.sent("Answer")) == 1
    a.screenshot("call-desktop")
    # own level meter and local tracks
    assert all(t["readyState"] == "live" for t in a.hook("local"))
    widths = [t["settings"].get("width", 0) for t in a.hook("local") if t["kind"] == "video"]
    assert widths and widths[0] <= 320
    # mute microphone and camera off, then on again
    a.page.locator(".tool-mic").click()
    assert [t["enabled"] for t in a.hook("local") if t["kind"] == "audio"] == [False]
    a.page.locator(".tool-cam").click()
    assert [t["enabled"] for t in a.hook("local") if t["kind"] == "video"] == [False]
    a.page.locator(".self.camera-off").wait_for()
    # B's tile for A falls back to the placeholder once frames stop
    b.page.locator(f'.tile.novideo[data-peer="{a.id}"]').wait_for(timeout=20000)
    a.page.locator(".tool-cam").click()
    a.page.locator(".tool-mic").click()
    assert all(t["enabled"] for t in a.hook("local"))
    b.page.locator(f'.tile[data-peer="{a.id}"]:not(.novideo)').wait_for(timeout=20000)
    # hang up ends the call on both sides with a message on each
    a.page.locator('.status [data-action="hangup"]').click()
    b.toast("Alice hung up").wait_for()
    a.toast("Call with Bob ended").wait_for()
    b.wait("() => window.__spreedTest.calls.length === 0")
    assert a.hook("calls") == []
    b.page.locator("#status-text", has_text="Online").wait_for()
    bye = [f["Bye"] for f in a.sent("Bye")]
    assert bye and "Reason" not in bye[-1]["Bye"]
    assert a.hook("local") == []  # camera released after the call
    assert not a.real_errors() and not b.real_errors()


def test_reject_shows_message(server, clients):
    a, b = two_in_room(server, clients, room="reject-room")
    a.buddy(b).locator(".buddy-call").click()
    b.page.locator(".incoming .btn-reject").click()
    a.toast("Bob rejected your call").wait_for()
    b.toast("You rejected the call from Alice").wait_for()
    assert a.sent("Bye") == [] and b.sent("Bye")[-1]["Bye"]["Bye"] == {"Reason": "reject"}
    a.wait("() => window.__spreedTest.calls.length === 0")
    assert a.hook("local") == []


def test_abort_while_ringing(server, clients):
    a, b = two_in_room(server, clients, room="abort-room")
    a.buddy(b).locator(".buddy-call").click()
    b.page.locator(".incoming-card").wait_for()
    a.page.locator('.status [data-action="hangup"]').click()
    assert a.sent("Bye")[-1]["Bye"]["Bye"] == {"Reason": "abort"}
    b.toast("Alice called you").wait_for()
    a.toast("Call to Bob cancelled").wait_for()
    b.page.locator(".incoming").wait_for(state="hidden")


def test_busy(server, clients):
    a, b = two_in_room(server, clients, room="busy-room")
    c = clients("Carol", server.room_url("busy-room"))
    c.wait_ready("busy-room")
    c.wait_buddies(2)
    a.buddy(b).locator(".buddy-call").click()
    b.page.locator(".incoming .btn-accept").click()
    a.wait_connected_calls(1)
    c.buddy(a).locator(".buddy-call").click()
    c.toast("Alice is busy").wait_for()
    a.toast("Carol tried to call you").wait_for()
    assert a.sent("Bye")[-1]["Bye"] == {"To": c.id, "Type": "Bye", "Bye": {"Reason": "busy"}}
    assert len(a.hook("calls")) == 1


def test_pickup_timeout(server, clients):
    a, b = two_in_room(server, clients, room="timeout-room")
    b.page.evaluate("() => window.__spreedTest.setCallTimeouts(1500, 30000)")
    a.buddy(b).locator(".buddy-call").click()
    a.toast("Bob does not pick up").wait_for()
    b.toast("You missed a call from Alice").wait_for()
    assert b.sent("Bye")[-1]["Bye"]["Bye"] == {"Reason": "pickuptimeout"}


def test_call_on_phone_screen(server, clients):
    a, b = two_in_room(server, clients, room="phone-room", viewport=PHONE)
    # on a phone the people list is an overlay that the top bar button opens
    if not a.page.locator(".side").is_visible():
        a.page.locator(".tool-people").click()
    a.buddy(b).locator(".buddy-call").click()
    b.page.locator(".incoming .btn-accept").click()
    a.wait_connected_calls(1)
    a.wait("(id) => { const v = document.querySelector(`.tile[data-peer=\"${id}\"] video`); return v && v.videoWidth > 0; }", arg=b.id)
    # nothing sticks out of a 360 px wide screen
    assert a.page.evaluate("() => document.documentElement.scrollWidth") <= 360
    assert a.page.locator(".status [data-action='hangup']").is_visible()
    a.screenshot("call-phone")
    # fullscreen: the whole app from the tool bar (controls stay), the videos by double-click
    a.page.locator(".tool-fullscreen").click()
    a.wait("() => document.fullscreenElement === document.documentElement")
    a.page.locator(".tool-fullscreen").click()
    a.wait("() => !document.fullscreenElement")
    a.page.locator(".tile").first.dblclick()
    a.wait("() => document.fullscreenElement && document.fullscreenElement.classList.contains('stage')")
    a.page.locator(".fs-exit").click()
    a.wait("() => !document.fullscreenElement")
