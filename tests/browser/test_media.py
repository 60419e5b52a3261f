"""Media: no permission or no devices (clear message, retry, the rest works), device and quality
changes during a call, the talking indicator and the own level meter."""
from __future__ import annotations

import pytest

from .conftest import poll

pytestmark = pytest.mark.browser

DENY = """
(() => {
  const md = navigator.mediaDevices;
  const original = md.getUserMedia.bind(md);
  window.__allowMedia = false;
  md.getUserMedia = (c) => window.__allowMedia ? original(c)
    : Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
})();
"""

NO_DEVICES = """
(() => {
  const md = navigator.mediaDevices;
  md.enumerateDevices = () => Promise.resolve([]);
  md.getUserMedia = () => Promise.reject(new DOMException('Requested device not found', 'NotFoundError'));
})();
"""


def in_call(a, b):
    a.buddy(b).locator(".buddy-call").click()
    b.page.locator(".incoming .btn-accept").click()
    a.wait_connected_calls(1)
    b.wait_connected_calls(1)


def video_from(client, peer):
    client.wait("(id) => { const v = document.querySelector(`.tile[data-peer=\"${id}\"] video`); return v && v.videoWidth > 0; }", arg=peer.id)


def test_denied_media_message_retry_and_app_still_works(server, clients):
    room = "no-permission"
    a = clients("Alice", server.room_url(room), init_script=DENY)
    b = clients("Bob", server.room_url(room))
    for x in (a, b):
        x.wait_ready(room)
        x.wait_buddies(1)
    in_call(a, b)
    notice = a.page.locator(".media-notice")
    notice.wait_for()
    assert "access was denied" in notice.text_content()
    assert a.hook("local") == []
    # A still sees and hears B; chat and presence work
    video_from(a, b)
    a.page.locator(".tool-chat").click()
    a.page.locator(".chat-input").fill("no camera here")
    a.page.locator(".chat-input").press("Enter")
    b.page.locator(".tool-chat").click()
    b.page.locator(".msg-text", has_text="no camera here").wait_for()
    a.screenshot("media-denied-desktop")
    # access granted later: "Try again" starts the camera and the call renegotiates
    a.page.evaluate("() => { window.__allowMedia = true; }")
    notice.locator("button", has_text="Try again").click()
    notice.wait_for(state="hidden")
    a.wait("() => window.__spreedTest.local.length === 2")
    video_from(b, a)
    a.wait_connected_calls(1)


def test_no_devices(server, clients):
    room = "no-devices"
    a = clients("Alice", server.room_url("conference/" + room), init_script=NO_DEVICES)
    notice = a.page.locator(".media-notice")
    notice.wait_for()
    assert "No camera or microphone was found" in notice.text_content()
    assert a.page.locator(".media-notice button", has_text="Try again").is_visible()
    b = clients("Bob", server.room_url("conference/" + room))
    # without devices A still joins the conference and receives B
    a.wait_connected_calls(1)
    video_from(a, b)
    assert not a.page.locator(".tool-mic").is_visible()


def test_devices_quality_talking_and_level(server, clients):
    room = "devices"
    a = clients("Alice", server.room_url(room))
    b = clients("Bob", server.room_url(room))
    for x in (a, b):
        x.wait_ready(room)
        x.wait_buddies(1)
    in_call(a, b)
    video_from(b, a)
    old_video = [t["id"] for t in a.hook("local") if t["kind"] == "video"][0]
    # the fake microphone beeps: A's level meter moves and B marks A's tile as talking
    a.wait("() => window.__spreedTest.level > 0", timeout=10000)
    b.page.locator(f'.tile.talking[data-peer="{a.id}"]').wait_for(timeout=15000)
    assert any(m["Type"] == "Talking" for m in b.hook("dcMessages"))
    # settings: another microphone and a higher quality, applied to the running call
    a.page.locator(".tool-settings").click()
    dialog = a.page.locator("dialog.settings-dialog")
    dialog.wait_for()
    mic = dialog.locator("select[name=mic]")
    options = mic.locator("option").all_text_contents()
    assert any("Fake Audio Input 1" in o for o in options), options
    mic.select_option(label="Fake Audio Input 1")
    quality = dialog.locator("select[name=quality]")
    quality.select_option("high")
    dialog.locator("button[type=submit]").click()
    # new tracks with the new device and constraints replace the old ones in the running call
    a.wait("(old) => window.__spreedTest.local.some(t => t.kind === 'video' && t.id !== old && t.readyState === 'live')", arg=old_video)
    video = [t for t in a.hook("local") if t["kind"] == "video"][0]
    assert video["constraints"]["width"] == {"ideal": 640, "max": 640}
    a.wait("() => window.__spreedTest.local.some(t => t.kind === 'audio' && t.label === 'Fake Audio Input 1')")
    # B keeps receiving A's video from the new track
    before = b.page.evaluate("(p) => window.__spreedTest.getStats(p).then(s => s.framesDecoded)", a.id)
    poll(lambda: b.page.evaluate("(p) => window.__spreedTest.getStats(p).then(s => s.framesDecoded)", a.id) > before + 10)
    b.page.locator(f'.tile[data-peer="{a.id}"]:not(.novideo)').wait_for()
    assert not a.real_errors() and not b.real_errors()
