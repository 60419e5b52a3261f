"""Room moderation in the web client (docs/moderation.md): lock, lobby knocks, admit and deny, remove
(and the refused return), mute requests, ending the meeting, invite links past a PIN and a lock,
the role passing on, and the same over two server processes sharing NATS."""
from __future__ import annotations

import shutil
import time

import pytest

from .conftest import PHONE, poll, unnamed_controls

pytestmark = pytest.mark.browser

CONFERENCE = "conference/"  # rooms below this prefix are server-managed conferences (conftest)


def join(clients, name, server, room, **kw):
    c = clients(name, server.room_url(room), **kw)
    c.wait_ready(room)
    return c


def wait_role(c, role):
    c.wait("(r) => document.body.dataset.moderation === r", arg=role)


def open_panel(c):
    panel = c.page.locator("#moderation-panel")
    if not panel.is_visible():
        c.page.locator(".tool-moderation").click()
    panel.wait_for()
    return panel


def set_lock(c, locked):
    panel = open_panel(c)
    box = panel.locator(".mod-lock-input")
    if box.is_checked() != locked:
        panel.locator(".mod-switch").click()
    c.page.locator(".room-lobby-locked").wait_for(state="visible" if locked else "hidden")
    poll(lambda: [m for m in c.received("Moderation") if m["Data"]["Moderation"]["Locked"] is locked], page=c.page)


def confirm(c):
    """Press the confirming button of the open confirm dialog."""
    dialog = c.page.locator("dialog.modal")
    dialog.wait_for()
    dialog = c.page.locator(f'dialog.modal[aria-label="{dialog.get_attribute("aria-label")}"]')
    dialog.locator("button[type=submit]").click()
    dialog.wait_for(state="detached")


def moderated(c, action):
    return [f["Data"]["Moderated"] for f in c.frames_received
            if isinstance(f.get("Data"), dict) and f["Data"].get("Type") == "Moderated"
            and f["Data"]["Moderated"].get("Action") == action]


def audio_enabled(c):
    tracks = [t for t in c.hook("local") if t["kind"] == "audio"]
    return tracks[0]["enabled"] if tracks else None


def test_lock_knock_admit_deny(server, clients):
    room = "mod-lobby"
    a = join(clients, "Alice", server, room)
    wait_role(a, "moderator")
    hello = a.sent("Hello")[0]["Hello"]
    assert "moderation" in hello["Features"]
    welcome = [f for f in a.frames_received if isinstance(f.get("Data"), dict) and f["Data"].get("Type") == "Welcome"][0]
    assert welcome["Data"]["Moderation"]["Role"] == "moderator"
    assert welcome["Data"]["Moderation"]["Moderators"] == [a.id]
    set_lock(a, True)
    assert a.page.locator(".room-lobby-locked").text_content() == "Locked"

    # a newcomer waits in the lobby: not in the room, a screen with the room name and a way out
    b = clients("Bob", server.room_url(room))
    waiting = b.page.locator(".mod-waiting")
    waiting.wait_for()
    assert waiting.locator(".mod-waiting-room").text_content() == room
    assert "This room is locked" in waiting.text_content()
    assert b.hook("room") is None and moderated(b, "waiting")
    assert not b.page.locator(".roombar").is_visible()
    assert not unnamed_controls(b.page), unnamed_controls(b.page)
    b.screenshot("moderation-waiting-desktop")

    # the moderator sees the knock (a card and the panel's lobby list) and admits from the card
    knock = a.page.locator(".knock", has_text="Bob is waiting in the lobby.")
    knock.wait_for()
    a.page.locator(".mod-lobby .mod-item", has_text="Bob").wait_for()
    assert a.page.locator(".tool-moderation .mod-count").text_content() == "1"
    assert a.page.locator(".mod-lobby .mod-admit").get_attribute("aria-label") == "Admit Bob"
    assert not unnamed_controls(a.page), unnamed_controls(a.page)
    a.screenshot("moderation-knock-desktop")
    knock.locator(".mod-admit").click()
    b.wait_ready(room)
    b.wait_buddies(1)
    a.wait_buddies(1)
    waiting.wait_for(state="hidden")
    knock.wait_for(state="detached")
    b.toast("A moderator let you in.").wait_for()
    # a participant sees the lock, not the moderator's tools
    b.page.locator(".room-lobby-locked").wait_for()
    assert b.page.evaluate("() => document.body.dataset.moderation") == "participant"
    assert not b.page.locator(".tool-moderation").is_visible()
    assert all("moderation" in h["Hello"]["Features"] for h in b.sent("Hello"))
    assert len(b.sent("Hello")) == 2

    # a second knock is denied from the panel: a clear message, back on the welcome page
    c = clients("Carol", server.room_url(room))
    c.page.locator(".mod-waiting").wait_for()
    a.page.locator(".mod-lobby .mod-item", has_text="Carol").locator(".mod-deny").click()
    dialog = c.page.locator("dialog.modal", has_text="Not let in")
    dialog.wait_for()
    assert f"A moderator did not let you into the room {room}." in dialog.text_content()
    c.page.locator("body.on-welcome").wait_for()
    assert c.hook("room") is None
    assert c.page.evaluate("() => location.pathname") == "/"
    dialog.locator("button[type=submit]").click()
    a.page.locator(".knock", has_text="Carol").wait_for(state="detached")
    a.page.locator(".mod-lobby-empty").wait_for()
    assert c.page.locator(".mod-waiting").is_hidden()

    # a knocker who gives up leaves the lobby the way "Leave room" leaves a room (to the default
    # room); the knock goes away
    d = clients("Dave", server.room_url(room))
    d.page.locator(".mod-waiting").wait_for()
    a.page.locator(".knock", has_text="Dave").wait_for()
    d.page.locator(".mod-waiting-leave").click()
    d.wait_ready("")
    d.page.locator(".mod-waiting").wait_for(state="hidden")
    a.page.locator(".knock", has_text="Dave").wait_for(state="detached", timeout=10000)

    # unlocking: the mark goes for everyone, newcomers walk in
    set_lock(a, False)
    b.page.locator(".room-lobby-locked").wait_for(state="hidden")
    e = join(clients, "Eve", server, room)
    assert not moderated(e, "waiting")
    for x in (a, b, c, d, e):
        assert not x.real_errors(), (x.name, x.errors)


def test_remove_and_refused_return(server, clients):
    room = "mod-remove"
    a = join(clients, "Alice", server, room)
    wait_role(a, "moderator")
    b = join(clients, "Bob", server, room)
    a.wait_buddies(1)
    b.wait_buddies(1)
    a.buddy(b).locator(".buddy-call").click()
    b.page.locator(".incoming .btn-accept").click()
    a.wait_connected_calls(1)
    b.wait_connected_calls(1)

    panel = open_panel(a)
    item = panel.locator(f'.mod-people .mod-item[data-id="{b.id}"]')
    assert item.locator(".mod-remove").get_attribute("aria-label") == "Remove Bob from the room"
    a.screenshot("moderation-panel-desktop")
    item.locator(".mod-remove").click()
    dialog = a.page.locator("dialog.modal", has_text="Remove Bob?")
    dialog.wait_for()
    confirm(a)

    # the removed one: calls end, a clear message, the welcome page
    b.page.locator("dialog.modal", has_text="Removed from the room").wait_for()
    assert "cannot come back for the next 10 minutes" in b.page.locator("dialog.modal").text_content()
    b.wait("() => window.__spreedTest.calls.length === 0")
    b.page.locator("body.on-welcome").wait_for()
    assert b.hook("room") is None and moderated(b, "removed")
    # the others: the call with them ended, they left the room
    a.wait("() => window.__spreedTest.calls.length === 0")
    a.wait_buddies(0)
    a.toast("Bob was removed from the room.").wait_for()

    # coming back within 10 minutes is refused with the room_banned error
    b.page.locator("dialog.modal button[type=submit]").click()
    b.page.locator(".welcome-input").fill(room)
    b.page.locator(".welcome-form button[type=submit]").click()
    b.toast(f"You were removed from the room {room} and cannot come back yet").wait_for()
    errors = [f["Data"] for f in b.frames_received if isinstance(f.get("Data"), dict) and f["Data"].get("Type") == "Error"]
    assert errors and errors[-1]["Code"] == "room_banned"
    assert b.hook("room") is None
    b.page.locator("body.on-welcome").wait_for()
    assert a.hook("buddies") == []
    assert not b.toast("Could not join the room").count()
    for x in (a, b):
        assert not x.real_errors(), (x.name, x.errors)


def test_mute_request_and_mute_everyone(live_server, clients):
    server = live_server()
    room = CONFERENCE + "mod-mute"
    a = join(clients, "Alice", server, room)
    wait_role(a, "moderator")
    b = join(clients, "Bob", server, room)
    c = join(clients, "Carol", server, room)
    for x in (a, b, c):
        x.wait_buddies(2)
        x.wait("() => window.__spreedTest.local.some(t => t.kind === 'audio')")
    assert audio_enabled(b) is True

    panel = open_panel(a)
    panel.locator(f'.mod-people .mod-item[data-id="{b.id}"] .mod-mute').click()
    a.toast("Bob was asked to mute.").wait_for()
    note = b.toast("A moderator asked you to mute.")
    note.wait_for()
    b.wait("() => window.__spreedTest.local.some(t => t.kind === 'audio' && !t.enabled)")
    assert b.page.locator(".tool-mic").get_attribute("aria-label") == "Unmute microphone"
    assert audio_enabled(c) is True and audio_enabled(a) is True
    # the one asked may unmute again
    note.locator("button", has_text="Unmute").click()
    b.wait("() => window.__spreedTest.local.some(t => t.kind === 'audio' && t.enabled)")

    panel.locator(".mod-mute-all").click()
    a.toast("Everyone else was asked to mute.").wait_for()
    for x in (b, c):
        x.toast("A moderator asked you to mute.").wait_for()
        x.wait("() => window.__spreedTest.local.some(t => t.kind === 'audio' && !t.enabled)")
    assert audio_enabled(a) is True  # the moderator is not one of "everyone else"
    assert not moderated(a, "mute")
    for x in (a, b, c):
        assert not x.real_errors(), (x.name, x.errors)


def test_end_meeting(server, clients):
    room = CONFERENCE + "mod-end"
    a = join(clients, "Alice", server, room)
    wait_role(a, "moderator")
    b = join(clients, "Bob", server, room)
    a.wait_connected_calls(1)
    b.wait_connected_calls(1)
    set_lock(a, True)

    panel = open_panel(a)
    panel.locator(".mod-end").click()
    a.page.locator("dialog.modal", has_text="End the meeting?").wait_for()
    confirm(a)
    for x in (a, b):
        x.page.locator("dialog.modal", has_text="Meeting ended").wait_for()
        assert f"A moderator ended the meeting in the room {room}." in x.page.locator("dialog.modal").text_content()
        x.wait("() => window.__spreedTest.calls.length === 0")
        x.page.locator("body.on-welcome").wait_for()
        assert x.hook("room") is None
        assert x.hook("local") == []  # camera and microphone are off
    assert moderated(b, "ended")

    # the lock went with the meeting: Bob walks back in without waiting
    b.page.locator("dialog.modal button[type=submit]").click()
    b.page.locator(".welcome-input").fill(room)
    b.page.locator(".welcome-form button[type=submit]").click()
    b.wait_ready(room)
    assert len(moderated(b, "waiting")) == 0
    for x in (a, b):
        assert not x.real_errors(), (x.name, x.errors)


def test_invite_link_past_pin_and_lock(server, clients):
    room = "mod-invite"
    a = join(clients, "Alice", server, room)
    wait_role(a, "moderator")
    a.page.locator(".room-pin").click()
    a.page.locator(".pin-dialog input").fill("4321")
    a.page.locator(".pin-dialog button[type=submit]").click()
    a.page.locator(".room-locked").wait_for()
    set_lock(a, True)

    panel = open_panel(a)
    assert panel.locator(".mod-lifetime").input_value() == "86400"  # 24 h unless chosen otherwise
    panel.locator(".mod-invite-create").click()
    field = panel.locator(".mod-invite-url")
    field.wait_for()
    url = field.input_value()
    assert url.startswith(server.room_url(room) + "?invite=")
    reply = poll(lambda: a.received("Invite"), page=a.page)[-1]["Data"]["Invite"]
    assert abs(reply["Expires"] - (time.time() + 86400)) < 120
    assert "Valid until" in panel.locator(".mod-invite-expiry").text_content()
    sent = [f["Moderate"] for f in a.sent("Moderate") if f["Moderate"]["Action"] == "invite"]
    assert sent == [{"Action": "invite", "Expires": 86400}]
    assert not unnamed_controls(a.page), unnamed_controls(a.page)
    a.screenshot("moderation-invite-desktop")
    # the copy button puts exactly that link on the clipboard
    a.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url.rstrip("/"))
    panel.locator(".mod-invite-copy").click()
    a.toast("Invite link copied.").wait_for()
    assert a.page.evaluate("() => navigator.clipboard.readText()") == url

    # the link: no PIN prompt, no lobby; the token leaves the address bar at once
    b = clients("Bob", url)
    b.wait_ready(room)
    assert "invite=" not in b.page.url and b.page.url.endswith("/" + room)
    hello = b.sent("Hello")[0]["Hello"]
    assert hello["Invite"] == reply["Token"] and "Credentials" not in hello
    assert not b.page.locator("dialog.pin-prompt").count() and not moderated(b, "waiting")
    a.wait_buddies(1)

    # revoked: the same link only gets the ordinary way in (the PIN prompt, then the lobby)
    panel.locator(".mod-invite-revoke").click()
    confirm(a)
    a.toast("All invite links were revoked.").wait_for()
    assert panel.locator(".mod-invite-result").is_hidden()
    c = clients("Carol", url)
    c.toast("This invite link is no longer valid.").wait_for()
    prompt = c.page.locator("dialog.pin-prompt")
    prompt.wait_for()
    prompt.locator("input").fill("4321")
    prompt.locator("button[type=submit]").click()
    c.page.locator(".mod-waiting").wait_for()
    errors = [f["Data"]["Code"] for f in c.frames_received if isinstance(f.get("Data"), dict) and f["Data"].get("Type") == "Error"]
    assert errors[0] == "invalid_invite"
    assert "Invite" not in c.sent("Hello")[-1]["Hello"]
    a.page.locator(".knock", has_text="Carol").wait_for()
    for x in (a, b, c):
        assert not x.real_errors(), (x.name, x.errors)


def test_role_passes_on_when_the_moderator_leaves(server, clients):
    room = "mod-handover"
    a = join(clients, "Alice", server, room)
    wait_role(a, "moderator")
    b = join(clients, "Bob", server, room)
    wait_role(b, "participant")
    c = join(clients, "Carol", server, room)
    wait_role(c, "participant")
    a.wait_buddies(2)

    # the moderator's panel marks the moderators; handing over makes Bob the moderator
    panel = open_panel(a)
    panel.locator(f'.mod-people .mod-item[data-id="{b.id}"] .mod-promote').click()
    a.page.locator("dialog.modal", has_text="Make Bob a moderator?").wait_for()
    confirm(a)
    wait_role(b, "moderator")
    wait_role(a, "participant")
    b.toast("You are now a moderator of this room.").wait_for()
    a.page.locator("#moderation-panel").wait_for(state="hidden")
    assert not a.page.locator(".tool-moderation").is_visible()
    panel_b = open_panel(b)
    assert panel_b.locator(f'.mod-people .mod-item[data-id="{c.id}"] .mod-tag').count() == 0

    # the moderator leaves: the one present longest (Alice) gets the role, Carol stays a participant
    b.page.locator(".room-leave").click()
    wait_role(a, "moderator")
    a.toast("You are now a moderator of this room.").wait_for()
    open_panel(a)
    c.wait_buddies(1)
    assert c.page.evaluate("() => document.body.dataset.moderation") == "participant"
    for x in (a, b, c):
        assert not x.real_errors(), (x.name, x.errors)


def test_phone_layout(server, clients):
    room = "mod-phone"
    a = join(clients, "Alice", server, room, viewport=PHONE, color_scheme="dark")
    wait_role(a, "moderator")
    set_lock(a, True)
    b = clients("Bob", server.room_url(room), viewport=PHONE)
    b.page.locator(".mod-waiting").wait_for()
    b.screenshot("moderation-waiting-phone")
    knock = a.page.locator(".knock", has_text="Bob is waiting in the lobby.")
    knock.wait_for()
    a.page.locator("#moderation-panel .mod-head .icon-btn").click()  # the panel covers the phone screen
    a.screenshot("moderation-knock-phone")
    box = knock.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    knock.locator(".mod-admit").click()
    b.wait_ready(room)
    panel = open_panel(a)
    panel.locator(f'.mod-people .mod-item[data-id="{b.id}"]').wait_for()
    pbox = panel.bounding_box()
    assert pbox["width"] == PHONE["width"] and pbox["height"] == PHONE["height"]
    for sel in (".mod-mute", ".mod-promote", ".mod-remove", ".mod-end", ".mod-invite-create"):
        bb = panel.locator(sel).first.bounding_box()
        assert bb and bb["x"] >= 0 and bb["x"] + bb["width"] <= PHONE["width"], sel
    assert a.page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    assert not unnamed_controls(a.page), unnamed_controls(a.page)
    a.screenshot("moderation-panel-phone")
    for x in (a, b):
        assert not x.real_errors(), (x.name, x.errors)


def test_lock_knock_admit_across_two_processes(tmp_path, clients):
    """Two server processes sharing NATS, a page on each: the lock, the knock and the admission
    cross from one process to the other."""
    if not shutil.which("nats-server"):
        pytest.skip("nats-server is not installed")
    from cluster_harness import Nats, Node, eventually
    nats = Nats(tmp_path)
    nodes = []
    try:
        options = {"nats": {"url": nats.url, "heartbeat": 0.3, "nodeTimeout": 2}, "app": {"testHooks": True}}
        nodes = [Node(tmp_path, "node1", options), Node(tmp_path, "node2", options)]
        assert eventually(lambda: all(n.stats()["cluster"]["nodes"] == 2 for n in nodes), timeout=15)
        room = "mod-cluster"
        a = clients("Alice", f"http://127.0.0.1:{nodes[0].port}/{room}")
        a.wait_ready(room)
        wait_role(a, "moderator")
        set_lock(a, True)

        b = clients("Bob", f"http://127.0.0.1:{nodes[1].port}/{room}")
        b.page.locator(".mod-waiting").wait_for()
        assert b.hook("room") is None and moderated(b, "waiting")
        knock = a.page.locator(".knock", has_text="Bob is waiting in the lobby.")
        knock.wait_for()
        knock.locator(".mod-admit").click()
        b.wait_ready(room)
        a.wait_buddies(1)
        b.wait_buddies(1)
        knock.wait_for(state="detached")
        # the lock is the same on both processes: Bob sees it, Carol on Bob's process waits too
        b.page.locator(".room-lobby-locked").wait_for()
        assert b.page.evaluate("() => document.body.dataset.moderation") == "participant"
        c = clients("Carol", f"http://127.0.0.1:{nodes[1].port}/{room}")
        c.page.locator(".mod-waiting").wait_for()
        a.page.locator(".knock", has_text="Carol").wait_for()
        for x in (a, b, c):
            assert not x.real_errors(), (x.name, x.errors)
    finally:
        for node in nodes:
            node.kill()
        nats.stop()


def test_moderator_login_link_past_the_lock(live_server, clients):
    """A JWT with the moderator claim: the holder enters a locked room without knocking and
    moderates next to the opener; both are marked as moderators in each other's panel."""
    import jwt
    key = "moderation-test-key-0123456789abcdef"
    server = live_server({"users": {"enabled": True, "mode": "jwt", "jwt_key": key}})
    room = "mod-chair"
    a = join(clients, "Alice", server, room)
    wait_role(a, "moderator")
    set_lock(a, True)
    now = int(time.time())
    token = jwt.encode({"sub": "carol", "name": "Carol", "room": room, "moderator": True, "iat": now, "exp": now + 300},
                       key, algorithm="HS256")
    c = clients("", server.room_url(f"{room}?jwt={token}"), profile={"name": ""})
    c.wait("() => window.__spreedTest.userid === 'carol'")
    c.wait_ready(room)
    wait_role(c, "moderator")
    assert not moderated(c, "waiting")
    c.page.locator(".room-lobby-locked").wait_for()
    panel = open_panel(c)
    assert panel.locator(f'.mod-people .mod-item[data-id="{a.id}"] .mod-tag').text_content() == "Moderator"
    assert panel.locator(f'.mod-people .mod-item[data-id="{a.id}"] .mod-promote').is_hidden()
    panel = open_panel(a)
    panel.locator(f'.mod-people .mod-item[data-id="{c.id}"] .mod-tag').wait_for()
    assert a.page.evaluate("() => document.body.dataset.moderation") == "moderator"
    for x in (a, c):
        assert not x.real_errors(), (x.name, x.errors)
