"""The web client in Firefox (Debian firefox-esr, headless, driven over WebDriver BiDi): rooms and
presence, room chat, a 1:1 call with decoded video and hang-up, a three-party conference and a file
transfer. Every call proves that ICE chose a loopback candidate pair (issue #12 point 6)."""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

pytest.importorskip("websockets", reason="the BiDi harness needs the websockets package")

from .conftest import SCREENSHOTS
from .firefox_bidi import FirefoxPage, ice_problems

pytestmark = pytest.mark.browser

VIDEO_OK = ("(ids) => ids.every(id => { const v = document.querySelector(`.tile[data-peer=\"${id}\"] video`);"
            " return v && v.videoWidth > 0 && v.videoHeight > 0; })")
FRAMES = "(p) => window.__spreedTest.getStats(p).then(s => s ? s.framesDecoded : 0)"


def shot(page: FirefoxPage, name: str) -> Path:
    return page.screenshot(SCREENSHOTS / f"firefox-{name}.png")


def in_room(ff_clients, server, room: str, *names: str) -> list[FirefoxPage]:
    pages = [ff_clients(n, server.room_url(room)) for n in names]
    for p in pages:
        p.wait_ready(room)
        p.wait_buddies(len(names) - 1)
    return pages


def assert_video_from(page: FirefoxPage, ids: list[str]) -> None:
    """Remote video of every peer in ids has a size and its decoded frame count keeps rising."""
    page.wait(VIDEO_OK, ids, timeout=20)
    for peer in ids:
        first = page.evaluate(FRAMES, peer)
        page.wait(f"(p) => window.__spreedTest.getStats(p).then(s => s && s.framesDecoded > {first + 5})", peer,
                  timeout=15)


def assert_loopback(page: FirefoxPage, ids: list[str]) -> None:
    """The call to each peer in ids runs over a loopback candidate pair (and gathered nothing else)."""
    for peer in ids:
        stats = page.hook(f"getStats({peer!r})")
        problems = ice_problems(stats)
        assert not problems, (page.name, peer, problems, stats and stats.get("pair"))


def test_firefox_room_presence_and_chat(ff_live_server, ff_clients, firefox):
    server = ff_live_server({"app": {"defaultRoomEnabled": False}})
    welcome = ff_clients("Visitor", server.url)
    welcome.wait_for(".welcome-card")
    welcome.wait("() => window.__spreedTest.connected")
    shot(welcome, "welcome-desktop")
    room = "ff-chat"
    a, b = in_room(ff_clients, server, room, "Alice", "Bob")
    # each sees the other in the people list, by name
    a.wait_for(f'.buddy[data-id="{b.id}"]', text="Bob")
    b.wait_for(f'.buddy[data-id="{a.id}"]', text="Alice")
    shot(a, "room-desktop")
    a.click(".tool-chat")
    a.type(".chat-input", "Hello from Firefox")
    a.type(".chat-input", "Enter")
    b.wait_for(".tool-chat .badge", text="1")
    b.click(".tool-chat")
    b.wait_for(".msg-peer .msg-text", text="Hello from Firefox")
    assert b.text(".msg-peer .msg-from") == "Alice"
    b.type(".chat-input", "Hi Alice")
    b.type(".chat-input", "Enter")
    a.wait_for(".msg-peer .msg-text", text="Hi Alice")
    a.wait_for(".msg-own .msg-text", text="Hello from Firefox")
    shot(a, "chat-desktop")
    # Firefox lives in a network namespace whose only interface is lo, and holds no other socket
    assert firefox.netns.interfaces() == ["lo"]
    assert firefox.foreign_sockets() == []
    for x in (welcome, a, b):
        assert not x.real_errors(), (x.name, x.errors)


def test_firefox_call_video_loopback_and_hangup(ff_server, ff_clients, firefox):
    a, b = in_room(ff_clients, ff_server, "ff-call", "Alice", "Bob")
    a.click(f'.buddy[data-id="{b.id}"] .buddy-call')
    b.wait_for(".incoming-card", text="Alice")
    b.click(".incoming .btn-accept")
    a.wait_connected_calls(1)
    b.wait_connected_calls(1)
    a.wait_for("#status-text", text="In call with Bob")
    assert_video_from(a, [b.id])
    assert_video_from(b, [a.id])
    assert_loopback(a, [b.id])
    assert_loopback(b, [a.id])
    assert firefox.foreign_sockets() == []
    # Firefox's fake camera: a live local video and audio track
    local = a.hook("local")
    assert sorted(t["kind"] for t in local) == ["audio", "video"] and all(t["readyState"] == "live" for t in local)
    # the tiles keep showing video past the 2 s "frames stopped" rule (Firefox's playback counter
    # stays 0 for live streams), and fall back to the placeholder only when the camera goes off
    time.sleep(3)
    for me, other in ((a, b), (b, a)):
        assert me.count(f'.tile.novideo[data-peer="{other.id}"]') == 0, me.name
    shot(a, "call-desktop")
    a.click(".tool-cam")
    b.wait_for(f'.tile.novideo[data-peer="{a.id}"]', timeout=20)
    a.click(".tool-cam")
    b.wait_for(f'.tile[data-peer="{a.id}"]:not(.novideo)', timeout=20)
    a.click('.status [data-action="hangup"]')
    b.wait_for(".toast", text="Alice hung up")
    a.wait_for(".toast", text="Call with Bob ended")
    b.wait("() => window.__spreedTest.calls.length === 0")
    a.wait("() => window.__spreedTest.calls.length === 0")
    a.wait("() => window.__spreedTest.local.length === 0")  # camera released
    for x in (a, b):
        assert not x.real_errors(), (x.name, x.errors)


def test_firefox_three_party_conference(ff_server, ff_clients, firefox):
    """A Conference room connects all three; Carol enters while her window is in the background
    (Firefox then holds enumerateDevices back until focus, which must not keep her camera off)."""
    room = "conference/ff"
    a = ff_clients("Alice", ff_server.room_url(room))
    b = ff_clients("Bob", ff_server.room_url(room))
    c = ff_clients("Carol", ff_server.room_url("lobby"))
    c.wait_ready("lobby")
    a.activate()
    assert c.evaluate("() => document.hasFocus()") is False
    c.goto(ff_server.room_url(room))
    everyone = [a, b, c]
    for x in everyone:
        x.wait_ready(room)
        x.wait_connected_calls(2, timeout=30)
    assert c.hook("local") and c.evaluate("() => document.hasFocus()") is False
    for x in everyone:
        others = [o.id for o in everyone if o is not x]
        assert_video_from(x, others)
        assert_loopback(x, others)
        x.wait_for("#status-text", text="Conference with")
        assert x.count(".tile") == 2
    assert firefox.foreign_sockets() == []
    shot(a, "conference-desktop")
    b.click(".room-leave")
    for x in (a, c):
        x.wait_connected_calls(1)
    for x in everyone:
        assert not x.real_errors(), (x.name, x.errors)


def wait_download(folder: Path, name: str, size: int, timeout: float = 30.0) -> Path:
    """Firefox writes NAME.part first and renames it when the download is complete."""
    deadline = time.monotonic() + timeout
    target = folder / name
    while time.monotonic() < deadline:
        if target.exists() and target.stat().st_size == size and not list(folder.glob("*.part")):
            return target
        time.sleep(0.1)
    raise AssertionError(f"{name} not downloaded within {timeout}s: {sorted(p.name for p in folder.iterdir())}")


def test_firefox_file_transfer(ff_server, ff_clients, firefox, tmp_path):
    a, b = in_room(ff_clients, ff_server, "ff-files", "Alice", "Bob")
    name = f"ff-{os.getpid()}-{time.monotonic_ns()}.bin"
    source = tmp_path / name
    source.write_bytes(os.urandom(3_000_000))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    a.click(".tool-chat")
    a.set_files(".chat-file-input", [str(source)])
    a.wait_for(".file-card .file-name", text=name)
    b.click(".tool-chat")
    b.wait_for(".file-card .file-name", text=name)
    b.click(".file-card button", text="Download")
    b.wait_for(".file-card .file-status", text="Download complete", timeout=30)
    saved = wait_download(firefox.downloads, name, source.stat().st_size)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == digest
    token = [k for k, v in b.hook("downloads").items() if v["state"] == "done"]
    assert len(token) == 1
    state = b.hook("downloads")[token[0]]
    # Firefox keeps a large download in its private file system, not in memory
    assert state["sink"] == "disk" and state["count"] == state["chunks"]
    a.wait_for(".file-card .file-status", text="Downloaded by Bob")
    shot(b, "files-receiver")
    assert firefox.foreign_sockets() == []
    for x in (a, b):
        assert not x.real_errors(), (x.name, x.errors)
