"""Connection: reconnect with the session token, back into the room and the call; TTL refresh;
the reload prompt after a server update."""
from __future__ import annotations


import pytest

from .conftest import call_between_two, poll

pytestmark = pytest.mark.browser


def test_reconnect_keeps_session_room_and_call(server, clients):
    room = "flaky"
    a, b = call_between_two(server, clients, room)
    old_id = a.id
    hellos = len(a.sent("Hello"))
    # the reconnect is quick: record whether the banner showed at all
    a.page.evaluate("""() => { window.__bannerSeen = ''; new MutationObserver(() => {
        const b = document.querySelector('.banner'); if (!b.hidden) window.__bannerSeen = b.textContent; })
        .observe(document.querySelector('.banner'), {attributes: true, childList: true, subtree: true}); }""")
    server.drop_socket(old_id)
    a.wait("() => window.__bannerSeen.includes('Connection interrupted')")
    a.wait("() => window.__spreedTest.connected && window.__spreedTest.room")
    a.page.locator(".banner").wait_for(state="hidden")
    assert a.id == old_id
    assert "?t=" in a.sockets[-1].url and len(a.sockets) == 2
    assert len(a.sent("Hello")) == hellos + 1 and a.sent("Hello")[-1]["Hello"]["Name"] == room
    # the profile is published again on the new connection, the buddy list is back
    assert a.sent("Status")
    a.wait_buddies(1)
    b.wait_buddies(1)
    b.buddy(a).locator(".buddy-name", has_text="Alice").wait_for()
    # the call went on and still carries video both ways
    a.wait_connected_calls(1)
    b.wait_connected_calls(1)
    before = a.page.evaluate("(p) => window.__spreedTest.getStats(p).then(s => s.framesDecoded)", b.id)
    poll(lambda: a.page.evaluate("(p) => window.__spreedTest.getStats(p).then(s => s.framesDecoded)", b.id) > before + 5)
    a.page.locator("#status-text", has_text="In call with Bob").wait_for()
    # a second drop from the client side (test hook) works the same way
    a.page.evaluate("() => window.__spreedTest.closeSocket()")
    poll(lambda: len(a.sockets) == 3, page=a.page)
    assert "?t=" in a.sockets[-1].url
    a.wait("() => window.__spreedTest.connected && window.__spreedTest.room")
    assert a.id == old_id
    a.wait_connected_calls(1)


def test_turn_ttl_refresh_and_version_prompt(live_server, clients):
    server = live_server({"app": {"turnSecret": "s3cret", "turnURIs": "turn:127.0.0.1:3478"}})
    tickets = server.hub.tickets
    original = tickets.turn
    server.call(lambda: setattr(tickets, "turn", lambda sid, urls, ttl=3600: original(sid, urls, 2)))
    a = clients("Alice", server.room_url("ttl"))
    a.wait_ready("ttl")
    poll(lambda: len(a.sent("Self")) >= 1, timeout=6, page=a.page)
    assert a.sent("Self")[0]["Self"] == {"Type": "Self", "Self": {}} and a.sent("Self")[0]["Iid"]
    selfs = [f for f in a.frames_received if isinstance(f.get("Data"), dict) and f["Data"].get("Type") == "Self"]
    poll(lambda: len(a.received("Self")) >= 2, page=a.page)
    assert selfs[0]["Data"]["Turn"]["ttl"] == 2
    # the server is updated (another version): after the reconnect the page offers a reload
    server.call(lambda: setattr(server.hub.config, "version", "99.0.0"))
    server.drop_socket(a.id)
    dialog = a.page.locator("dialog.modal", has_text="Restart required")
    dialog.wait_for()
    with a.page.expect_navigation():
        dialog.locator("button", has_text="Reload").click()
    a.wait_ready("ttl")
    assert not a.page.locator("dialog.modal", has_text="Restart required").is_visible()
