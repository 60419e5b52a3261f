"""Boot, rooms (URL names, change, leave, welcome page), PINs and presence (names, pictures)."""
from __future__ import annotations

import base64
import io
import re

import pytest

from .conftest import poll

pytestmark = pytest.mark.browser


def test_boot_and_hello(server, clients):
    a = clients("Alice", server.room_url("team%20a/sub@x"))
    a.wait_ready("team a/sub@x")
    first = a.frames_received[0]
    assert first["Data"]["Type"] == "Self"
    assert a.sockets[0].url == server.handle.ws_url
    hello = a.sent("Hello")[0]
    assert hello["Hello"]["Name"] == "team a/sub@x" and hello["Iid"]
    assert hello["Hello"]["Version"] == server.hub.config.version
    assert a.page.title() == "team a/sub@x - Spreed WebRTC"
    a.page.locator("#status-text", has_text="Online as Alice").wait_for()
    assert a.page.locator("#room-name").text_content() == "team a/sub@x"
    assert a.page.locator("body.roomTypeRoom").count() == 1
    # keep-alive: after 5 s without traffic the client sends Alive and the server echoes it
    alive = poll(lambda: a.sent("Alive"), page=a.page, timeout=8)
    assert alive and isinstance(alive[0]["Alive"]["Alive"], int) and alive[0]["Alive"]["Type"] == "Alive"
    poll(lambda: a.received("Alive"), page=a.page)
    # a picture taken with the camera becomes a 128x128 JPEG in the published Status
    a.page.locator(".tool-settings").click()
    dialog = a.page.locator("dialog.settings-dialog")
    dialog.locator("button", has_text="Take photo").click()
    dialog.locator(".picture-camera").wait_for()
    a.wait("() => document.querySelector('.picture-camera').videoWidth > 0")
    dialog.locator("button", has_text="Capture").click()
    dialog.locator(".picture-preview img").wait_for()
    dialog.locator("button[type=submit]").click()
    poll(lambda: a.sent("Status") and a.sent("Status")[-1]["Status"]["Status"]["buddyPicture"], page=a.page, timeout=5)
    picture = a.sent("Status")[-1]["Status"]["Status"]["buddyPicture"]
    assert picture.startswith("data:image/jpeg;base64,")
    from PIL import Image
    image = Image.open(io.BytesIO(base64.b64decode(picture.split(",", 1)[1])))
    assert image.format == "JPEG" and image.size == (128, 128)
    # the Status (profile) goes out before the Hello, so peers get the name with Joined
    types = [f.get("Type") for f in a.frames_sent]
    assert types.index("Status") < types.index("Hello")
    assert not a.real_errors(), a.errors


def test_presence_change_and_leave_room(server, clients, tmp_path):
    room = "lobby"
    a = clients("Alice", server.room_url(room))
    b = clients("", server.room_url(room), profile={"name": ""})
    a.wait_ready(room)
    b.wait_ready(room)
    a.wait_buddies(1)
    b.wait_buddies(1)
    # an unnamed peer is "User n"; a named one shows its name
    assert re.fullmatch(r"User \d+", a.buddy(b).locator(".buddy-name").text_content())
    assert b.buddy(a).locator(".buddy-name").text_content() == "Alice"
    # A edits the profile: name, status line and an uploaded picture
    png = make_png(tmp_path / "me.png")
    a.page.locator(".tool-settings").click()
    dialog = a.page.locator("dialog.settings-dialog")
    dialog.locator("input[type=text]").first.fill("Alice Liddell")
    dialog.locator("input[type=text]").nth(1).fill("busy")
    dialog.locator("input[type=file]").set_input_files(str(png))
    dialog.locator(".picture-preview img").wait_for()
    dialog.locator("button[type=submit]").click()
    item = b.buddy(a)
    item.locator(".buddy-name", has_text="Alice Liddell").wait_for()
    assert item.locator(".buddy-msg").text_content() == "busy"
    img = item.locator("img.avatar")
    img.wait_for()
    assert "/static/img/buddy/s46/" in img.get_attribute("src")
    b.wait("(id) => { const i = document.querySelector(`.buddy[data-id=\"${id}\"] img`); return i && i.complete && i.naturalWidth > 0; }", arg=a.id)
    status = a.sent("Status")[-1]["Status"]["Status"]
    assert status["displayName"] == "Alice Liddell" and status["buddyPicture"].startswith("data:image/jpeg;base64,")
    assert a.page.evaluate("() => JSON.parse(localStorage.getItem('spreed-client-profile')).name") == "Alice Liddell"

    # the invite dialog offers the room link to copy, share or mail
    a.page.locator(".room-invite").click()
    invite = a.page.locator("dialog.modal", has_text="Invite people")
    assert invite.locator("input").input_value() == server.room_url(room)
    assert "mailto:" in invite.locator("a", has_text="E-mail").get_attribute("href")
    invite.locator("button", has_text="Copy link").click()
    a.page.locator(".toast", has_text=server.room_url(room)).or_(a.page.locator(".toast", has_text="copied")).first.wait_for()
    invite.locator("button[type=submit]").click()
    # A changes room with the room bar: URL changes without a reload, B sees A leave
    a.page.evaluate("() => { window.__noReload = true; }")
    a.page.locator(".room-change-btn").click()
    a.page.locator(".room-input").fill("my room/with slash")
    a.page.locator(".room-input").press("Enter")
    a.wait_ready("my room/with slash")
    assert a.page.evaluate("() => location.pathname") == "/my%20room/with%20slash"
    assert a.page.evaluate("() => window.__noReload") is True
    b.wait_buddies(0)
    b.page.locator(".empty", has_text="No one else here").wait_for()
    # back in history returns to the old room
    a.page.go_back()
    a.wait_ready(room)
    b.wait_buddies(1)
    # leave goes to the default room
    a.page.locator(".room-leave").click()
    a.wait_ready("")
    assert a.page.evaluate("() => location.pathname") == "/"
    assert a.page.title() == "Spreed WebRTC"


def test_welcome_page_when_default_room_is_off(live_server, clients):
    server = live_server({"app": {"defaultRoomEnabled": False}})
    rooms_posts = []
    a = clients("Alice", server.room_url(""))
    a.page.on("request", lambda r: rooms_posts.append(r) if r.url.endswith("/api/v1/rooms") else None)
    welcome = a.page.locator(".welcome")
    welcome.wait_for()
    box = a.page.locator(".welcome-input")
    a.wait("() => document.querySelector('.welcome-input').placeholder.length > 3 && document.querySelector('.welcome-input').placeholder !== 'Enter a room name'")
    random_name = box.get_attribute("placeholder")
    assert random_name in a.page.locator(".welcome-link").text_content()
    a.screenshot("welcome-desktop")
    # Enter with an empty box takes the suggested name
    a.page.locator(".welcome-form button[type=submit]").click()
    a.wait_ready(random_name)
    assert a.page.evaluate("() => decodeURIComponent(location.pathname)") == "/" + random_name
    # leaving the room shows the welcome page again, and a typed name is used as typed
    a.page.locator(".room-leave").click()
    welcome.wait_for()
    box.fill("planning")
    box.press("Enter")
    a.wait_ready("planning")
    assert not a.real_errors(), a.errors


def test_pin_protected_room(server, clients):
    room = "secret-room"
    a = clients("Alice", server.room_url(room))
    a.wait_ready(room)
    a.page.locator(".room-pin").click()
    a.page.locator(".pin-dialog input").fill("1234")
    a.page.locator(".pin-dialog button[type=submit]").click()
    a.toast('PIN for room secret-room is now "1234"').wait_for()
    a.page.locator(".room-locked").wait_for()

    b = clients("Bob", server.room_url(room))
    prompt = b.page.locator("dialog.pin-prompt")
    prompt.wait_for()
    assert "Enter the PIN for room secret-room" in prompt.text_content()
    prompt.locator("input").fill("0000")
    prompt.locator("button[type=submit]").click()
    b.page.locator("dialog.pin-prompt .form-error", has_text="Wrong PIN").wait_for()
    b.page.locator("dialog.pin-prompt input").fill("1234")
    b.page.locator("dialog.pin-prompt button[type=submit]").click()
    b.wait_ready(room)
    b.wait_buddies(1)
    hellos = [f["Hello"].get("Credentials") for f in b.sent("Hello")]
    assert hellos == [None, {"PIN": "0000"}, {"PIN": "1234"}]

    # cancelling the prompt goes back to the default room
    c = clients("Carol", server.room_url(room))
    c.page.locator("dialog.pin-prompt").wait_for()
    c.page.locator("dialog.pin-prompt button", has_text="Cancel").click()
    c.wait_ready("")
    assert c.page.evaluate("() => location.pathname") == "/"

    # removing the PIN is announced to everyone in the room
    a.page.locator(".room-pin").click()
    a.page.locator(".pin-dialog button", has_text="Remove PIN").click()
    a.toast("PIN lock has been removed from room secret-room").wait_for()
    b.toast("PIN lock has been removed from room secret-room").wait_for()
    a.page.locator(".room-locked").wait_for(state="hidden")


def make_png(path):
    """A small PNG drawn with Pillow (a test dependency of the server)."""
    from PIL import Image, ImageDraw
    img = Image.new("RGB", (200, 150), (40, 120, 200))
    ImageDraw.Draw(img).ellipse((50, 25, 150, 125), fill=(250, 200, 40))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    return path


def test_no_test_hooks_unless_configured(live_server, clients):
    server = live_server({"app": {"testHooks": False}})
    a = clients("Alice", server.room_url("plain"))
    a.page.locator("#status-text", has_text="Online as Alice").wait_for()
    assert a.page.evaluate("() => typeof window.__spreedTest") == "undefined"
    assert "TestHooks" not in a.page.locator("#globalcontext").text_content()
