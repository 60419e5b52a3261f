"""Notifications and sounds (E12): desktop notifications only after permission and only while the page
is in the background; incoming call, message, join/leave sounds; each can be switched off."""
from __future__ import annotations

import pytest

from .conftest import poll

pytestmark = pytest.mark.browser

# A Notification that records what it was asked to show, and a page we can put in the background.
STUBS = """
(() => {
  window.__notes = [];
  window.__hidden = false;
  class FakeNotification {
    constructor(title, options = {}) {
      window.__notes.push({ title, body: options.body || '', tag: options.tag || '' });
      this.onclick = null;
    }
    close() {}
  }
  FakeNotification.permission = 'default';
  FakeNotification.requestPermission = () => {
    FakeNotification.permission = 'granted';
    return Promise.resolve('granted');
  };
  window.Notification = FakeNotification;
  Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get() { return window.__hidden ? 'hidden' : 'visible'; } });
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get() { return !!window.__hidden; } });
  Document.prototype.hasFocus = function () { return !window.__hidden; };
})();
"""


def background(client, hidden):
    client.page.evaluate("(h) => { window.__hidden = h; document.dispatchEvent(new Event('visibilitychange')); }", hidden)


def notes(client):
    return client.page.evaluate("() => window.__notes")


def send(client, text):
    box = client.page.locator(".chat-input")
    box.fill(text)
    box.press("Enter")


def settings(client):
    client.page.locator(".tool-settings").click()
    dialog = client.page.locator("dialog.settings-dialog")
    dialog.wait_for()
    return dialog


def test_notifications_and_sounds_with_switches(server, clients):
    room = "notify"
    a = clients("Alice", server.room_url(room))
    b = clients("Bob", server.room_url(room), init_script=STUBS)
    for x in (a, b):
        x.wait_ready(room)
        x.wait_buddies(1)
    a.page.locator(".tool-chat").click()

    # nothing is shown before the person allows notifications
    background(b, True)
    send(a, "before permission")
    poll(lambda: b.hook("sounds").get("message", 0) >= 1, page=b.page)
    assert notes(b) == []
    background(b, False)

    # the settings ask the browser for permission (a button), and switch join/leave sounds on
    dialog = settings(b)
    state = dialog.locator(".notify-state")
    assert "does not show notifications" in state.text_content()
    dialog.locator(".notify-allow").click()
    dialog.locator(".notify-state", has_text="allows notifications").wait_for()
    assert dialog.locator(".notify-allow").is_hidden()
    assert dialog.locator("input[name=notify]").is_checked()
    dialog.locator("input[name=soundJoinLeave]").check()
    b.screenshot("settings-notifications")
    dialog.locator("button[type=submit]").click()

    # in the background: a message and an incoming call become notifications, with sounds
    background(b, True)
    send(a, "Hello there")
    b.wait("() => window.__notes.some(n => n.title === 'Message from Alice' && n.body === 'Hello there')")
    a.page.locator('.side-tab[data-tab="people"]').click()
    a.buddy(b).locator(".buddy-call").click()
    b.wait("() => window.__notes.some(n => n.title === 'Incoming call' && n.body === 'Incoming call from Alice')")
    assert b.hook("sounds").get("ring", 0) >= 1
    b.page.locator(".incoming .btn-reject").click()
    a.toast("rejected your call").wait_for()
    # in front: no notification
    background(b, False)
    count = len(notes(b))
    a.page.locator(".tool-chat").click()
    send(a, "you are looking")
    poll(lambda: b.hook("sounds").get("message", 0) >= 3, page=b.page)
    assert len(notes(b)) == count

    # someone joins and leaves: the join/leave sounds play
    c = clients("Carol", server.room_url(room))
    c.wait_ready(room)
    poll(lambda: b.hook("sounds").get("joined", 0) >= 1, page=b.page)
    c.page.close()
    poll(lambda: b.hook("sounds").get("left", 0) >= 1, page=b.page)

    # switched off: no message sound, no ringing, no notifications
    dialog = settings(b)
    dialog.locator("input[name=soundMessages]").uncheck()
    dialog.locator("input[name=soundRing]").uncheck()
    dialog.locator("input[name=notify]").uncheck()
    dialog.locator("button[type=submit]").click()
    background(b, True)
    played = b.hook("sounds").get("message", 0)
    count = len(notes(b))
    send(a, "quiet please")
    poll(lambda: b.hook("skippedSounds").get("message", 0) >= 1, page=b.page)
    a.page.locator('.side-tab[data-tab="people"]').click()
    a.buddy(b).locator(".buddy-call").click()
    poll(lambda: b.hook("skippedSounds").get("ring", 0) >= 1, page=b.page)
    b.page.locator(".incoming .btn-reject").click()
    assert b.hook("sounds").get("message", 0) == played
    assert len(notes(b)) == count
    for x in (a, b):
        assert not x.real_errors(), x.errors
