"""Chat: room and private messages, safe rendering, links, typing, delivery states, unread, p2p."""
from __future__ import annotations

import pytest

from .conftest import PHONE, call_between_two

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__pwned=1"><b>bold</b>'


def send(client, text):
    box = client.page.locator(".chat-input")
    box.fill(text)
    box.press("Enter")


def test_room_and_private_chat(server, clients):
    room = "chat-room"
    a = clients("Alice", server.room_url(room))
    b = clients("Bob", server.room_url(room))
    c = clients("Carol", server.room_url(room), viewport=PHONE)
    for x in (a, b, c):
        x.wait_ready(room)
        x.wait_buddies(2)

    # room message to everyone, shown as text, links clickable, unread badge while chat is closed
    a.page.locator(".tool-chat").click()
    send(a, f"Hi all {XSS} see https://example.org/docs?a=1.")
    for x in (b, c):
        badge = x.page.locator(".tool-chat .badge")
        badge.wait_for()
        assert badge.text_content() == "1"
        x.page.locator(".tool-chat").click()
        msg = x.page.locator(".msg-peer").last
        msg.wait_for()
        assert msg.locator(".msg-from").text_content() == "Alice"
        assert XSS in msg.locator(".msg-text").text_content()
        assert msg.locator(".msg-text img, .msg-text b").count() == 0
        link = msg.locator("a")
        assert link.get_attribute("href") == "https://example.org/docs?a=1"
        assert "external" in link.get_attribute("rel") and link.get_attribute("target") == "_blank"
        assert x.page.evaluate("() => window.__pwned") is None
        x.page.locator(".tool-chat .badge").wait_for(state="hidden")
    room_frames = [f for f in a.sent("Chat") if f["Chat"]["Chat"].get("Message")]
    assert room_frames[-1]["Chat"]["To"] == "" and room_frames[-1]["Chat"]["Chat"]["NoEcho"] is True

    # private chat A -> B: typing hint, then sent/delivered/seen; C never sees it
    for x in (a, b):
        x.page.locator('.side-tab[data-tab="people"]').click()
    b.buddy(a).locator(".buddy-chat").click()
    a.buddy(b).locator(".buddy-chat").click()
    a.page.locator(".chat-title", has_text="Chat with Bob").wait_for()
    a.page.locator(".chat-input").type("secr")
    b.page.locator(".chat-typing", has_text="Alice is typing").wait_for()
    a.page.locator(".chat-input").type("et plan")
    a.page.locator(".chat-input").press("Enter")
    b.page.locator(".msg-peer .msg-text", has_text="secret plan").wait_for()
    b.wait("() => document.querySelector('.chat-typing').textContent === ''")
    mid = a.sent("Chat")[-1]["Chat"]["Chat"]["Mid"]
    assert len(mid) == 32
    b.page.locator(".chat-messages").hover()
    b.page.mouse.move(5, 5)
    b.page.locator(".chat-messages").hover()
    a.page.locator(f'.msg-own[data-mid="{mid}"] .msg-state[data-state="seen"]').wait_for()
    states = a.hook("chatStates")[mid]
    assert states == ["sending", "sent", "delivered", "seen"], states
    received_b = [f for f in b.received("Chat") if f["Data"]["Chat"].get("Message") == "secret plan"]
    assert received_b and received_b[0]["Data"]["To"] == b.id
    assert not [f for f in c.received("Chat") if "secret" in str(f)]
    assert c.page.locator(".msg-text", has_text="secret").count() == 0
    c.screenshot("chat-phone")
    a.screenshot("chat-desktop")
    for x in (a, b, c):
        assert not x.real_errors(), x.errors


def test_private_chat_goes_peer_to_peer_in_a_call(server, clients):
    room = "p2p-room"
    a, b = call_between_two(server, clients, room)
    a.wait("() => window.__spreedTest.calls.every(c => c.channel === 'open')")
    b.wait("() => window.__spreedTest.calls.every(c => c.channel === 'open')")
    a.page.locator(f'.tile[data-peer="{b.id}"] .tile-chat').click()
    a.page.locator(".chat-p2p").wait_for()
    before = len(a.sent("Chat"))
    send(a, "over the data channel")
    b.page.locator(".msg-text", has_text="over the data channel").wait_for()
    mid = a.page.locator(".msg-own").last.get_attribute("data-mid")
    a.page.locator(f'.msg-own[data-mid="{mid}"] .msg-state[data-state="delivered"], .msg-own[data-mid="{mid}"] .msg-state[data-state="seen"]').wait_for()
    # nothing of it went through the server
    assert len(a.sent("Chat")) == before
    assert not [f for f in b.received("Chat") if "data channel" in str(f)]
    assert any(m["Type"] == "Chat" for m in b.hook("dcMessages"))
    b.screenshot("chat-in-call-desktop")
