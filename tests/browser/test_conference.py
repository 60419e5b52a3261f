"""Conferences: a 1:1 call grows to three people (mesh rule), and server-managed Conference rooms."""
from __future__ import annotations

import pytest

from .conftest import PHONE, poll

pytestmark = pytest.mark.browser

VIDEO_OK = ("(ids) => ids.every(id => { const v = document.querySelector(`.tile[data-peer=\"${id}\"] video`);"
            " return v && v.videoWidth > 0; })")


def offers_between(clients):
    """Every Offer sent by anyone, as (from, to) pairs."""
    pairs = []
    for c in clients:
        for f in c.sent("Offer"):
            pairs.append((c.id, f["Offer"]["To"]))
    return pairs


def test_call_becomes_conference(server, clients):
    room = "conf-adhoc"
    a = clients("Alice", server.room_url(room))
    b = clients("Bob", server.room_url(room))
    c = clients("Carol", server.room_url(room))
    for x in (a, b, c):
        x.wait_ready(room)
        x.wait_buddies(2)
    a.buddy(b).locator(".buddy-call").click()
    b.page.locator(".incoming .btn-accept").click()
    a.wait_connected_calls(1)
    # the button now reads "Add Carol to the call"
    assert "Add" in a.buddy(c).locator(".buddy-call").get_attribute("title")
    a.buddy(c).locator(".buddy-call").click()
    c.page.locator(".incoming .btn-accept").click()
    for x in (a, b, c):
        x.wait_connected_calls(2)
    ids = {x.name: x.id for x in (a, b, c)}
    # A announced the conference listing all three
    conf = a.sent("Conference")
    assert conf and sorted(conf[-1]["Conference"]["Conference"]) == sorted(ids.values())
    # B and C connected by themselves: exactly one offer for that pair, from the smaller id
    pairs = offers_between((a, b, c))
    bc = [p for p in pairs if set(p) == {b.id, c.id}]
    assert len(bc) == 1 and bc[0][0] == min(b.id, c.id)
    assert len(pairs) == 3
    for x in (a, b, c):
        others = [v for k, v in ids.items() if k != x.name]
        x.wait(VIDEO_OK, arg=others)
        x.page.locator("#status-text", has_text="Conference with").wait_for()
        assert x.page.locator(".tile").count() == 2
    a.screenshot("conference-desktop")
    # B hangs up: A and C stay connected and go back to a 1:1 call
    b.page.locator('.status [data-action="hangup"]').click()
    for x in (a, c):
        x.wait_connected_calls(1)
        x.page.locator("#status-text", has_text="In call with").wait_for()
        x.toast("Bob").wait_for()


def test_conference_room_connects_everyone(server, clients):
    room = "conference/weekly"
    a = clients("Alice", server.room_url(room))
    a.wait_ready(room)
    assert a.hook("room")["Type"] == "Conference"
    # own camera starts at once, no call button, no hang-up
    a.page.locator(".self video").wait_for()
    a.page.locator("#status-text", has_text="waiting for others").wait_for()
    b = clients("Bob", server.room_url(room), viewport=PHONE)
    c = clients("Carol", server.room_url(room))
    for x in (a, b, c):
        x.wait_ready(room)
        x.wait_connected_calls(2)
    ids = [x.id for x in (a, b, c)]
    for x in (a, b, c):
        x.wait(VIDEO_OK, arg=[i for i in ids if i != x.id])
        assert not x.page.locator('.status [data-action="hangup"]').is_visible()
        assert x.page.locator(".buddy-call:visible").count() == 0
        x.page.locator("#status-text", has_text="Conference with").wait_for()
    pairs = offers_between((a, b, c))
    assert sorted(tuple(sorted(p)) for p in pairs) == sorted({tuple(sorted((i, j))) for i in ids for j in ids if i < j})
    assert all(frm < to for frm, to in pairs)
    assert not any(x.sent("Conference") for x in (a, b, c))
    b.screenshot("conference-phone")
    c.screenshot("conference-room-desktop")
    # leaving the room ends B's calls and releases the camera; the others keep theirs
    b.page.locator(".room-leave").click()
    b.wait("() => window.__spreedTest.calls.length === 0 && window.__spreedTest.room && window.__spreedTest.room.Name === ''")
    assert b.hook("local") == []
    for x in (a, c):
        x.wait_connected_calls(1)
    assert not a.real_errors() and not b.real_errors() and not c.real_errors()


def test_grid_adapts_from_one_to_six_tiles(server, clients):
    a = clients("Alice", server.room_url("grid"))
    a.wait_ready("grid")
    shapes = a.page.evaluate("""() => {
        const out = {};
        for (const [name, w, h] of [['desktop', 668, 560], ['wide', 1400, 700], ['phone', 344, 520]]) {
            out[name] = [1, 2, 3, 4, 5, 6].map(n => { const s = window.__spreedTest.gridShape(n, w, h); return [s.cols, s.rows]; });
        }
        return out;
    }""")
    # every arrangement holds all tiles and never leaves a whole row empty
    for name, per_n in shapes.items():
        for n, (cols, rows) in enumerate(per_n, start=1):
            assert cols * rows >= n and (rows - 1) * cols < n, (name, n, cols, rows)
    assert shapes["wide"][1] == [2, 1] and shapes["wide"][3] == [2, 2] and shapes["wide"][5] == [3, 2]
    assert shapes["phone"][1] == [1, 2] and shapes["phone"][5] == [2, 3]
