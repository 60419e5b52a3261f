"""The welcome page's connection check (camera preview, ICE candidates and a verdict), the PWA manifest
and icons, keyboard use with labelled controls, light and dark themes, and the first-run settings."""
from __future__ import annotations


import pytest

from .conftest import unnamed_controls

pytestmark = pytest.mark.browser

WELCOME = {"app": {"defaultRoomEnabled": False}}


def open_check(client):
    client.page.locator(".welcome-check").click()
    dialog = client.page.locator("dialog.check-dialog")
    dialog.wait_for()
    dialog.locator(".check-verdict").wait_for(timeout=20000)
    return dialog


def test_connection_check_without_turn(live_server, clients):
    server = live_server(WELCOME)
    a = clients("Alice", server.url)
    a.page.locator(".welcome-card").wait_for()
    dialog = open_check(a)
    # camera and microphone preview
    a.wait("() => document.querySelector('.check-video').videoWidth > 0")
    assert "Fake" in dialog.locator(".check-media .check-status").text_content()
    # no STUN/TURN configured: host candidates only, and the verdict says what TURN is for
    assert dialog.locator(".check-relay").text_content().lower() == "relay candidates: none"
    assert dialog.locator(".check-turn").text_content() == "TURN servers: none"
    host = dialog.locator(".check-host .check-value").text_content()
    assert int(host.split()[0]) >= 1
    verdict = dialog.locator(".check-verdict")
    assert verdict.get_attribute("data-code") == "no-turn" and verdict.get_attribute("data-level") == "warn"
    assert "No relay (TURN) server is configured" in verdict.text_content()
    dialog.locator("summary").click()
    hosts = dialog.locator(".check-candidate.check-host")
    assert hosts.count() >= 1 and hosts.first.text_content().startswith("host ")
    a.screenshot("connection-check")
    dialog.locator(".modal-buttons button").click()
    dialog.wait_for(state="detached")
    # the preview's camera is released again
    a.wait("() => !document.querySelector('.check-video')")
    assert not a.real_errors(), a.errors


def test_connection_check_with_unreachable_turn(live_server, clients):
    server = live_server({**WELCOME, "app": {"defaultRoomEnabled": False, "turnURIs": "turn:127.0.0.1:9?transport=udp",
                                             "turnSecret": "s3cret"}})
    a = clients("Alice", server.url)
    a.page.locator(".welcome-card").wait_for()
    a.wait("() => window.__spreedTest.connected")
    dialog = open_check(a)
    assert "turn:127.0.0.1:9?transport=udp" in dialog.locator(".check-turn").text_content()
    assert dialog.locator(".check-relay").text_content().lower() == "relay candidates: none"
    verdict = dialog.locator(".check-verdict")
    assert verdict.get_attribute("data-level") == "bad"
    assert verdict.get_attribute("data-code") in ("turn-unreachable", "turn-auth")
    assert "could not be reached" in verdict.text_content() or "refused" in verdict.text_content()
    verdict.scroll_into_view_if_needed()
    a.screenshot("connection-check-turn")
    assert not a.real_errors(), a.errors


def test_pwa_keyboard_themes_and_first_run(live_server, clients):
    server = live_server(WELCOME)
    a = clients("", server.url, seed=False, color_scheme="dark")
    a.page.locator(".welcome-card").wait_for()
    page = a.page
    # the manifest: linked, valid, its start URL is the app, its icons load at their sizes
    href = page.locator("link[rel=manifest]").get_attribute("href")
    manifest_url = page.evaluate("(h) => new URL(h, document.baseURI).href", href)
    manifest = page.evaluate("(u) => fetch(u).then(r => r.json())", manifest_url)
    assert manifest["display"] == "standalone" and manifest["name"]
    assert page.evaluate("([s, m]) => new URL(s, m).href", [manifest["start_url"], manifest_url]) == server.url
    sizes = {}
    for icon in manifest["icons"]:
        url = page.evaluate("([s, m]) => new URL(s, m).href", [icon["src"], manifest_url])
        if icon["type"] == "image/png":
            sizes[icon["sizes"]] = page.evaluate(
                "(u) => new Promise((ok, no) => { const i = new Image(); i.onload = () => ok(`${i.naturalWidth}x${i.naturalHeight}`); i.onerror = no; i.src = u; })", url)
    assert sizes == {"192x192": "192x192", "512x512": "512x512"}
    assert any(i.get("purpose") == "maskable" for i in manifest["icons"])

    # dark theme follows the system; light too
    dark_bg = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    a.screenshot("welcome-dark")
    page.emulate_media(color_scheme="light")
    light_bg = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert dark_bg != light_bg
    a.screenshot("welcome-light")

    # every visible control has a name people (and screen readers) can use
    assert unnamed_controls(page) == []

    # keyboard only: type a room name, press Enter, join; the first visit opens the settings
    page.locator(".welcome-input").focus()
    page.keyboard.type("by-keyboard")
    page.keyboard.press("Enter")
    a.wait_ready("by-keyboard")
    dialog = page.locator("dialog.settings-dialog")
    dialog.wait_for()
    assert dialog.locator(".settings-intro").is_visible()
    assert unnamed_controls(page) == []
    assert page.evaluate("() => document.activeElement && document.activeElement.name") == "name"
    page.keyboard.type("Keyboard Kim")
    a.screenshot("first-run-settings")
    page.keyboard.press("Enter")
    dialog.wait_for(state="detached")
    page.locator("#status-text", has_text="Online as Keyboard Kim").wait_for()
    # Tab reaches the settings button; Enter opens it, Escape closes it
    page.locator(".tool-settings").focus()
    page.keyboard.press("Enter")
    dialog.wait_for()
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    # the settings do not open by themselves on the next visit
    page.reload()
    a.wait_ready("by-keyboard")
    page.wait_for_timeout(600)
    assert page.locator("dialog.settings-dialog").count() == 0

    # "remember me" off: kept for this tab (a reload), forgotten by a new tab
    page.locator(".tool-settings").click()
    dialog.wait_for()
    dialog.locator("input[name=remember]").uncheck()
    dialog.locator("button[type=submit]").click()
    dialog.wait_for(state="detached")
    assert page.evaluate("() => localStorage.getItem('spreed-client-profile')") is None
    page.reload()
    a.wait_ready("by-keyboard")
    page.locator("#status-text", has_text="Online as Keyboard Kim").wait_for()
    tab = a.context.new_page()
    tab.goto(server.url + "by-keyboard")
    tab.locator("dialog.settings-dialog .settings-intro").wait_for()
    assert tab.locator("dialog.settings-dialog input[name=name]").input_value() == ""
    tab.close()
    assert not a.real_errors(), a.errors
