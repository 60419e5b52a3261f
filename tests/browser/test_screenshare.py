"""Screen sharing (E10): getDisplayMedia (Chromium's fake capture) over a token connection; the viewer
shows it large with fullscreen; the browser's own "stop sharing" ends it for the viewer."""
from __future__ import annotations

import pytest

from .conftest import unnamed_controls

pytestmark = pytest.mark.browser


def test_screen_share_shown_large_and_stopped(server, clients):
    room = "screens"
    a = clients("Alice", server.room_url(room))
    b = clients("Bob", server.room_url(room))
    for x in (a, b):
        x.wait_ready(room)
        x.wait_buddies(1)
    # the button only exists in a call
    assert not a.page.locator(".tool-screen").is_visible()
    a.buddy(b).locator(".buddy-call").click()
    b.page.locator(".incoming .btn-accept").click()
    a.wait_connected_calls(1)
    b.wait_connected_calls(1)
    a.wait("() => window.__spreedTest.calls.every(c => c.channel === 'open')")
    screen_btn = a.page.locator(".tool-screen")
    screen_btn.wait_for()
    assert screen_btn.get_attribute("aria-label") == "Share your screen"
    screen_btn.click()
    a.page.locator(".sharing-bar", has_text="You are sharing your screen").wait_for()
    assert screen_btn.get_attribute("aria-pressed") == "true"

    # B gets the announcement over the data channel, connects with the token and shows the screen
    view = b.page.locator(f'.screen-view[data-peer="{a.id}"]')
    view.wait_for()
    b.wait("(id) => { const v = document.querySelector(`.screen-view[data-peer=\"${id}\"] video`); return v && v.videoWidth > 0; }",
           arg=a.id, timeout=20000)
    assert "Screen of Alice" in view.locator(".screen-name").text_content()
    offers = [f["Offer"]["Offer"] for f in b.sent("Offer") if "_token" in f["Offer"]["Offer"]]
    assert offers and offers[0]["_token"].startswith(f"screenshare_{a.id}_")
    assert [c for c in b.hook("tokenConnections") if c["kind"] == "screenshare" and c["initiator"]]
    box = view.bounding_box()
    assert box["width"] > 500  # shown large, the call tiles move aside
    assert unnamed_controls(a.page) == [] and unnamed_controls(b.page) == []
    b.screenshot("screenshare-viewer")
    a.screenshot("screenshare-sharer")
    # fullscreen from the view's button (and back)
    view.locator(".screen-full").click()
    b.wait("() => document.fullscreenElement && document.fullscreenElement.classList.contains('screen-view')")
    b.page.evaluate("() => document.exitFullscreen()")
    b.wait("() => !document.fullscreenElement")

    # the browser's own "stop sharing" ends the capture: the viewer's view closes, the call goes on
    assert a.hook("endScreenCapture()")
    view.wait_for(state="detached", timeout=10000)
    assert b.hook("screenViews") == []
    a.page.locator(".sharing-bar").wait_for(state="hidden")
    assert screen_btn.get_attribute("aria-pressed") == "false"
    assert all(c["state"] == "connected" for c in b.hook("calls"))
    # sharing again after a stop works (a new token)
    screen_btn.click()
    b.wait("(id) => { const v = document.querySelector(`.screen-view[data-peer=\"${id}\"] video`); return v && v.videoWidth > 0; }",
           arg=a.id, timeout=20000)
    tokens = {f["Offer"]["Offer"]["_token"] for f in b.sent("Offer") if "_token" in f["Offer"]["Offer"]}
    assert len(tokens) == 2
    # hanging up ends the share for both
    a.page.locator('.status-actions [data-action="hangup"]').click()
    view.wait_for(state="detached", timeout=10000)
    a.wait("() => !window.__spreedTest.sharingScreen")
    for x in (a, b):
        assert not x.real_errors(), x.errors
