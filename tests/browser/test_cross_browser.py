"""Firefox and Chromium together: a call each way with decoded video on both sides and a loopback
candidate pair, and a file each way with matching SHA-256.

Chromium runs here in the same loopback-only network namespace as Firefox (the module's own
`browser` fixture starts it through nsenter), so their ICE meets on the namespace's `lo`.
"""
from __future__ import annotations

import hashlib
import os
import time

import pytest

pytest.importorskip("websockets", reason="the BiDi harness needs the websockets package")

from .conftest import netns_chromium, poll
from .firefox_bidi import FirefoxPage, ice_problems
from .test_firefox import VIDEO_OK, assert_loopback, assert_video_from, shot, wait_download

pytestmark = pytest.mark.browser

FRAMES = "(p) => window.__spreedTest.getStats(p).then(s => s ? s.framesDecoded : 0)"


@pytest.fixture(scope="module")
def browser(loopback_netns, tmp_path_factory):
    """Chromium inside Firefox's network namespace (overrides conftest's `browser` for this module)."""
    with netns_chromium(loopback_netns, tmp_path_factory.mktemp("chromium-netns")) as b:
        yield b


def pair_in_room(ff_server, clients, ff_clients, room: str):
    f = ff_clients("Fiona", ff_server.room_url(room))
    c = clients("Chris", ff_server.room_url(room))
    f.wait_ready(room)
    c.wait_ready(room)
    f.wait_buddies(1)
    c.wait_buddies(1)
    return f, c


def chromium_sees_video(c, peer_id: str) -> None:
    c.wait(VIDEO_OK, arg=[peer_id], timeout=20000)
    first = c.page.evaluate(FRAMES, peer_id)
    poll(lambda: c.page.evaluate(FRAMES, peer_id) > first + 5, timeout=15, page=c.page)
    stats = c.page.evaluate("(p) => window.__spreedTest.getStats(p)", peer_id)
    problems = ice_problems(stats)
    assert not problems, ("Chromium", problems, stats and stats.get("pair"))


def both_idle(f: FirefoxPage, c) -> None:
    f.wait("() => window.__spreedTest.calls.length === 0", timeout=15)
    c.wait("() => window.__spreedTest.calls.length === 0", timeout=15000)


def test_calls_between_firefox_and_chromium(ff_server, clients, ff_clients, firefox):
    f, c = pair_in_room(ff_server, clients, ff_clients, "cross-call")
    f_id, c_id = f.id, c.id
    assert "Firefox" in f.evaluate("() => navigator.userAgent")
    assert "Chrome" in c.page.evaluate("() => navigator.userAgent")

    # Firefox calls, Chromium accepts
    f.click(f'.buddy[data-id="{c_id}"] .buddy-call')
    c.page.locator(".incoming .btn-accept").click()
    f.wait_connected_calls(1)
    c.wait_connected_calls(1)
    assert_video_from(f, [c_id])
    assert_loopback(f, [c_id])
    chromium_sees_video(c, f_id)
    # the talking indicator crosses the data channel both ways (both fake microphones play a tone)
    talking = "(id) => window.__spreedTest.dcMessages.some(m => m.peer === id && m.Type === 'Talking' && m.Talking)"
    f.wait(talking, c_id)
    c.wait(talking, arg=f_id)
    shot(f, "cross-call-firefox")
    c.screenshot("cross-call-chromium")
    f.click('.status [data-action="hangup"]')
    c.toast("Fiona hung up").wait_for()
    both_idle(f, c)

    # Chromium calls, Firefox accepts
    c.page.locator(f'.buddy[data-id="{f_id}"] .buddy-call').click()
    f.wait_for(".incoming-card", text="Chris")
    f.click(".incoming .btn-accept")
    f.wait_connected_calls(1)
    c.wait_connected_calls(1)
    assert_video_from(f, [c_id])
    assert_loopback(f, [c_id])
    chromium_sees_video(c, f_id)
    # Chromium shares its screen: Firefox opens the token connection and shows it large (headless
    # Firefox itself has no screen to capture: its getDisplayMedia answers NotFoundError)
    c.wait("() => window.__spreedTest.calls.every(c => c.channel === 'open')")
    c.page.locator(".tool-screen").click()
    c.page.locator(".sharing-bar").wait_for()
    f.wait("(id) => { const v = document.querySelector(`.screen-view[data-peer=\"${id}\"] video`);"
           " return v && v.videoWidth > 0; }", c_id, timeout=20)
    f.wait_for(f'.screen-view[data-peer="{c_id}"] .screen-name', text="Chris")
    shot(f, "screenshare-viewer")
    c.page.locator('.status [data-action="hangup"]').click()
    f.wait_for(".toast", text="Chris hung up")
    both_idle(f, c)
    assert firefox.foreign_sockets() == []
    assert not f.real_errors(), f.errors
    assert not c.real_errors(), c.errors


def test_files_between_firefox_and_chromium(ff_server, clients, ff_clients, firefox, tmp_path):
    f, c = pair_in_room(ff_server, clients, ff_clients, "cross-files")
    stamp = f"{os.getpid()}-{time.monotonic_ns()}"
    f.click(".tool-chat")
    c.page.locator(".tool-chat").click()

    # Firefox shares, Chromium downloads
    from_ff = tmp_path / f"from-firefox-{stamp}.bin"
    from_ff.write_bytes(os.urandom(2_500_000))
    f.set_files(".chat-file-input", [str(from_ff)])
    card = c.page.locator(".file-card", has=c.page.locator(".file-name", has_text=from_ff.name))
    card.wait_for()
    with c.page.expect_download(timeout=30000) as download:
        card.locator("button", has_text="Download").click()
    saved = tmp_path / "chromium-saved.bin"
    download.value.save_as(str(saved))
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(from_ff.read_bytes()).hexdigest()
    f.wait_for(".file-card .file-status", text="Downloaded by Chris")

    # Chromium shares, Firefox downloads (into its own private file system first, then to disk)
    from_c = tmp_path / f"from-chromium-{stamp}.bin"
    from_c.write_bytes(os.urandom(2_500_000))
    c.page.locator(".chat-file-input").set_input_files(str(from_c))
    f.wait_for(".file-card .file-name", text=from_c.name)
    f.evaluate("""(name) => { const card = [...document.querySelectorAll('.file-card')]
        .find(el => el.querySelector('.file-name').textContent.includes(name));
        card.dataset.testTarget = 'incoming'; }""", from_c.name)
    f.click('.file-card[data-test-target="incoming"] button', text="Download")
    got = wait_download(firefox.downloads, from_c.name, from_c.stat().st_size)
    assert hashlib.sha256(got.read_bytes()).hexdigest() == hashlib.sha256(from_c.read_bytes()).hexdigest()
    sinks = {v["sink"] for v in f.hook("downloads").values() if v["state"] == "done"}
    assert sinks == {"disk"}
    assert firefox.foreign_sockets() == []
    assert not f.real_errors(), f.errors
    assert not c.real_errors(), c.errors


# Block-level parts of each main screen; text widths differ a little between the browsers' font
# engines, so only containers are compared, and within LAYOUT_SLACK pixels.
SCREENS = {
    "welcome": [".topbar", ".welcome-card", ".welcome-form", ".welcome-form input", ".welcome-form .btn"],
    "room": [".topbar", ".roombar", ".side", ".side-tabs", ".stage", ".lobby-card", ".buddy"],
    "chat": [".side", ".chat-head", ".chat-messages", ".chat-compose", ".chat-input", ".msg-own", ".msg-peer"],
    "call": [".topbar", ".stage", ".grid", ".tile", ".self", ".tile-bar", ".side"],
    "conference": [".stage", ".grid", ".tile", ".self", ".side"],
}
LAYOUT_SLACK = 6
# Fiona writes first: her own bubble is above, Chris's below; their height on screen is not compared
ORDER_DEPENDENT = {".msg-own", ".msg-peer"}
RECTS = """(sels) => Object.fromEntries(sels.map(sel => [sel, [...document.querySelectorAll(sel)]
    .filter(el => el.offsetParent !== null || getComputedStyle(el).position === 'fixed')
    .map(el => { const r = el.getBoundingClientRect(); return [r.x, r.y, r.width, r.height].map(Math.round); })]))"""


def layout_differences(screen: str, ff: dict, cr: dict) -> list[str]:
    """Parts whose count, position or size differ between Firefox and Chromium beyond the slack."""
    out = []
    for sel in SCREENS[screen]:
        a, b = ff.get(sel, []), cr.get(sel, [])
        if not a or len(a) != len(b):
            out.append(f"{screen} {sel}: firefox {a} chromium {b}")
            continue
        for ra, rb in zip(a, b):
            if sel in ORDER_DEPENDENT:
                ra, rb = ra[:1] + ra[2:], rb[:1] + rb[2:]
            if any(abs(x - y) > LAYOUT_SLACK for x, y in zip(ra, rb)):
                out.append(f"{screen} {sel}: firefox {ra} chromium {rb}")
    return out


def compare(screen: str, f: FirefoxPage, c) -> list[str]:
    """Screenshots of one screen in both browsers (to look at) and the layout differences."""
    shot(f, f"compare-{screen}")
    c.screenshot(f"chromium-compare-{screen}")
    return layout_differences(screen, f.evaluate(RECTS, SCREENS[screen]), c.page.evaluate(RECTS, SCREENS[screen]))


def test_main_screens_look_the_same(ff_live_server, clients, ff_clients, firefox):
    """Welcome, room, chat, call and conference laid out alike in Firefox and Chromium (desktop size)."""
    server = ff_live_server({"app": {"defaultRoomEnabled": False}})
    diffs: list[str] = []
    f = ff_clients("Fiona", server.url)
    c = clients("Chris", server.url)
    f.wait_for(".welcome-card")
    c.page.locator(".welcome-card").wait_for()
    f.evaluate("() => { document.querySelector('.welcome-form input').value = 'look'; document.activeElement.blur(); }")
    c.page.evaluate("() => { document.querySelector('.welcome-form input').value = 'look'; document.activeElement.blur(); }")
    diffs += compare("welcome", f, c)

    room = "look"
    f.goto(server.room_url(room))
    c.page.goto(server.room_url(room))
    for x in (f, c):
        x.wait_ready(room)
        x.wait_buddies(1)
    diffs += compare("room", f, c)

    f.click(".tool-chat")
    c.page.locator(".tool-chat").click()
    f.type(".chat-input", "Hello")
    f.type(".chat-input", "Enter")
    c.page.locator(".msg-peer .msg-text", has_text="Hello").wait_for()
    c.page.locator(".chat-input").fill("Hello")
    c.page.locator(".chat-input").press("Enter")
    f.wait_for(".msg-peer .msg-text", text="Hello")
    f.evaluate("() => document.activeElement.blur()")
    c.page.evaluate("() => document.activeElement.blur()")
    diffs += compare("chat", f, c)

    f.click('.side-tab[data-tab="people"]')
    c.page.locator('.side-tab[data-tab="people"]').click()
    f.click(f'.buddy[data-id="{c.id}"] .buddy-call')
    c.page.locator(".incoming .btn-accept").click()
    f.wait_connected_calls(1)
    c.wait_connected_calls(1)
    f.wait(VIDEO_OK, [c.id])
    c.wait(VIDEO_OK, arg=[f.id])
    diffs += compare("call", f, c)

    g = ff_clients("Gina", server.room_url(room))
    g.wait_ready(room)
    f.wait_buddies(2)
    f.click(f'.buddy[data-id="{g.id}"] .buddy-call')
    g.click(".incoming .btn-accept")
    for x in (f, g):
        x.wait_connected_calls(2, timeout=30)
    c.wait_connected_calls(2, timeout=30000)
    f.wait(VIDEO_OK, [c.id, g.id])
    c.wait(VIDEO_OK, arg=[f.id, g.id])
    diffs += compare("conference", f, c)
    assert not diffs, "\n".join(diffs)
