"""Accounts (E13): sharedsecret registration, automatic sign-in on the next visit, sign-out; rooms that
need an account; pasting a login; httpheader mode shows who you are."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

pytestmark = pytest.mark.browser

SHAREDSECRET = {"users": {"enabled": True, "mode": "sharedsecret", "sharedsecret_secret": "x", "allowRegistration": True}}


def login_for(userid: str, secret: bytes = b"x", days: int = 1) -> tuple[str, str]:
    combo = f"{int(time.time()) + days * 86400}:{userid}"
    return combo, base64.b64encode(hmac.new(secret, combo.encode(), hashlib.sha256).digest()).decode()


def open_settings(client):
    client.page.locator(".tool-settings").click()
    dialog = client.page.locator("dialog.settings-dialog")
    dialog.wait_for()
    return dialog


def test_register_reload_and_sign_out(live_server, clients):
    server = live_server(SHAREDSECRET)
    room = "accounts"
    a = clients("Alice", server.room_url(room))
    a.wait_ready(room)
    first_id = a.id
    dialog = open_settings(a)
    account = dialog.locator(".settings-account")
    assert "You are not signed in" in account.text_content()
    requests = []
    a.page.on("request", lambda r: requests.append((r.method, r.url)) if "/api/v1/" in r.url else None)
    account.locator("button", has_text="Create an account").click()
    userid_el = account.locator(".account-userid")
    userid_el.wait_for()
    userid = userid_el.text_content()
    assert userid.endswith("@local") and a.hook("userid") == userid
    assert ("POST", server.room_url("api/v1/users")) in requests
    auth = a.sent("Authentication")[-1]["Authentication"]["Authentication"]
    assert auth["Userid"] == userid and auth["Nonce"]
    assert [f for f in a.received("Self") if f["Data"].get("Userid") == userid]
    a.screenshot("settings-account")
    dialog.locator(".modal-buttons button", has_text="Cancel").click()
    a.page.locator(".me-account", has_text=userid).wait_for()

    # next visit: signed in again automatically (PATCH → nonce → Authentication), same userid
    requests.clear()
    a.page.reload()
    a.wait_ready(room)
    a.wait("(u) => window.__spreedTest.userid === u", arg=userid)
    assert a.id != first_id
    patch = [u for m, u in requests if m == "PATCH"]
    assert patch == [server.room_url(f"api/v1/sessions/{a.id}/")]
    # the room was joined only after signing in (the Hello follows the Authentication)
    types = [f.get("Type") for f in a.frames_sent]
    last_auth = len(types) - 1 - types[::-1].index("Authentication")
    assert "Hello" in types[last_auth:]

    # sign out: the login is forgotten, a new anonymous session joins the room again
    old_id = a.id
    dialog = open_settings(a)
    dialog.locator(".account-signout").click()
    a.wait("(old) => window.__spreedTest.id && window.__spreedTest.id !== old && window.__spreedTest.room", arg=old_id)
    assert a.hook("userid") == ""
    assert a.page.evaluate("() => localStorage.getItem('spreed-client-login-sharedsecret')") is None
    dialog.locator(".settings-account", has_text="You are not signed in").wait_for()
    dialog.locator(".modal-buttons button", has_text="Cancel").click()
    before = len(a.frames_sent)
    a.page.reload()
    a.wait_ready(room)
    a.page.wait_for_timeout(500)
    assert a.hook("userid") == ""
    assert not [f for f in a.frames_sent[before:] if f.get("Type") == "Authentication"]
    assert not a.real_errors(), a.errors


def test_room_needs_an_account(live_server, clients):
    server = live_server({**SHAREDSECRET, "app": {"authorizeRoomJoin": True}})
    room = "members"
    a = clients("Alice", server.room_url(room))
    gate = a.page.locator(".account-gate")
    gate.wait_for()
    assert 'The room "members" is only open to people who are signed in.' in gate.text_content()
    assert a.hook("room") is None
    error = [f for f in a.received("Error") if f["Data"].get("Code") == "room_join_requires_account"]
    assert error
    a.screenshot("account-required")
    # creating an account from the explanation joins the room
    gate.locator("button", has_text="Create an account").click()
    a.wait_ready(room)
    assert a.hook("userid")
    gate.wait_for(state="hidden")

    # B signs in with a login handed out by "the site" (pasted into the sign-in dialog)
    b = clients("Bob", server.room_url(room))
    b.page.locator(".account-gate").wait_for()
    b.page.locator(".account-gate button", has_text="Sign in").click()
    dialog = b.page.locator("dialog.signin-dialog")
    dialog.locator("input[name=useridcombo]").fill("1:bob")
    dialog.locator("input[name=secret]").fill("wrong")
    dialog.locator("button[type=submit]").click()
    dialog.locator(".form-error", has_text="expired").wait_for()
    b.screenshot("signin-dialog")
    combo, secret = login_for("bob")
    dialog.locator("input[name=useridcombo]").fill(combo)
    dialog.locator("input[name=secret]").fill(secret + "x")
    dialog.locator("button[type=submit]").click()
    dialog.locator(".form-error", has_text="did not accept").wait_for()
    dialog.locator("input[name=secret]").fill(secret)
    dialog.locator("button[type=submit]").click()
    b.wait_ready(room)
    assert b.hook("userid") == "bob"
    b.wait_buddies(1)
    assert not a.real_errors(), a.errors
    assert not [e for e in b.real_errors() if "403" not in e], b.errors


def test_httpheader_mode_shows_who_you_are(live_server, clients):
    server = live_server({"users": {"enabled": True, "mode": "httpheader"}})
    a = clients("Alice", server.room_url("proxy"), headers={"x-users": "alice"})
    a.wait_ready("proxy")
    assert a.received("Self")[0]["Data"]["Userid"] == "alice"
    assert a.hook("userid") == "alice"
    a.page.locator(".me-account", has_text="Signed in as alice").wait_for()
    dialog = open_settings(a)
    account = dialog.locator(".settings-account")
    assert account.locator(".account-userid").text_content() == "alice"
    assert "Your web server signed you in" in account.text_content()
    assert account.locator(".account-signout").count() == 0
    assert not a.real_errors(), a.errors


JWT_KEY = "an-hs256-secret-of-at-least-32-bytes!"


def test_jwt_link_signs_in_and_leaves_the_address_bar(live_server, clients):
    import jwt
    server = live_server({"users": {"enabled": True, "mode": "jwt", "jwt_key": JWT_KEY}})
    room = "portal"
    now = int(time.time())
    token = jwt.encode({"sub": "dora", "name": "Dora from the portal", "room": room, "iat": now, "exp": now + 300},
                       JWT_KEY, algorithm="HS256")
    a = clients("", server.room_url(f"{room}?lang=en&jwt={token}"),
                init_script="window.__historyAtStart = window.history.length;")
    a.wait("() => window.__spreedTest.userid === 'dora'")
    a.wait_ready(room)
    assert token not in a.page.url and "jwt=" not in a.page.url and "lang=en" in a.page.url
    # the token is not in history either: the entry was replaced, not added
    assert a.page.evaluate("() => window.history.length === window.__historyAtStart")
    assert token not in a.page.evaluate("() => JSON.stringify(window.history.state) + document.referrer")
    patch = [f for f in a.sent("Authentication")]
    assert patch and patch[-1]["Authentication"]["Authentication"]["Userid"] == "dora"
    assert a.page.evaluate("() => JSON.parse(localStorage.getItem('spreed-client-profile') "
                           "|| sessionStorage.getItem('spreed-client-profile') || '{}').name") == "Dora from the portal"
    assert not a.real_errors()
