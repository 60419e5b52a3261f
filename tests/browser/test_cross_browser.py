"""Firefox and Chromium together: a call each way with decoded video on both sides and a loopback
candidate pair, and a file each way with matching SHA-256.

Chromium runs here in the same loopback-only network namespace as Firefox (the module's own
`browser` fixture starts it through nsenter), so their ICE meets on the namespace's `lo`.
"""
from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path

import pytest

from .conftest import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, poll, sync_playwright
from .firefox_bidi import FirefoxPage, ice_problems
from .test_firefox import VIDEO_OK, assert_loopback, assert_video_from, shot, wait_download

pytestmark = pytest.mark.browser

FRAMES = "(p) => window.__spreedTest.getStats(p).then(s => s ? s.framesDecoded : 0)"


@pytest.fixture(scope="module")
def browser(loopback_netns, tmp_path_factory):
    """Chromium inside Firefox's network namespace (overrides conftest's `browser` for this module)."""
    wrapper = tmp_path_factory.mktemp("chromium-netns") / "chromium"
    wrapper.write_text("#!/bin/sh\nexec " + " ".join(loopback_netns.command([CHROMIUM])) + ' "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(wrapper), headless=True, args=CHROMIUM_ARGS, timeout=30000)
        yield b
        b.close()


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
