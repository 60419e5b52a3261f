"""Languages (E14): every UI string has a translation in every catalog; the language comes from ?lang=,
the browser's languages or the settings; <html lang> follows."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "static" / "js"
CATALOGS = ROOT / "static" / "translation"
LANGUAGES = {"de", "ja", "ko", "ru", "zh-cn", "zh-tw"}
# t('...') translates now, N_('...') marks a message that a table looks up later
MESSAGE = re.compile(r"(?<![\w.$])(?:t|N_)\(\s*'((?:[^'\\]|\\.)*)'")
PLACEHOLDER = re.compile(r"%[sd]")


def source_messages() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(JS.rglob("*.js")):
        for match in MESSAGE.finditer(path.read_text(encoding="utf-8")):
            text = match.group(1)
            if "\\" in text:
                text = re.sub(r"\\(.)", r"\1", text)
            found.setdefault(text, str(path.relative_to(ROOT)))
    return found


def test_every_message_is_translated_in_every_language():
    messages = source_messages()
    assert len(messages) > 250
    # no t() call with anything but a literal (or a table of N_-marked literals)
    dynamic = [line for path in JS.rglob("*.js") for line in path.read_text(encoding="utf-8").splitlines()
               if re.search(r"(?<![\w.$])t\((?!\s*')", line) and "function t(" not in line and not line.lstrip().startswith("//")
               and not re.search(r"t\((ERRORS|STATE_TEXT|VERDICTS|QUALITY_LABEL|STATE_LABEL|UNITS)\[", line)]
    assert not dynamic, dynamic
    files = {p.stem for p in CATALOGS.glob("*.json")}
    assert files == LANGUAGES
    declared = set(re.findall(r"'?([a-z]{2}(?:-[a-z]{2})?)'?: '", (JS / "i18n.js").read_text(encoding="utf-8").split("LANGUAGES")[1].split("});")[0]))
    assert declared == LANGUAGES | {"en"}
    problems = []
    for lang in sorted(LANGUAGES):
        doc = json.loads((CATALOGS / f"{lang}.json").read_text(encoding="utf-8"))
        assert doc["language"] == lang and doc["name"]
        catalog = doc["messages"]
        for key, where in messages.items():
            if key not in catalog or not catalog[key].strip():
                problems.append(f"{lang}: missing {key!r} (used in {where})")
            elif len(PLACEHOLDER.findall(key)) != len(PLACEHOLDER.findall(catalog[key])):
                problems.append(f"{lang}: placeholders differ in {key!r}")
        for key in catalog:
            if key not in messages:
                problems.append(f"{lang}: {key!r} is not used any more")
    assert not problems, "\n".join(problems)


def test_language_from_url_browser_and_settings(server, clients):
    room = "sprachen"
    # ?lang=de wins over an English browser
    a = clients("Alice", server.room_url(room) + "?lang=de")
    a.wait_ready(room)
    a.page.locator("#status-text", has_text="Online als Alice").wait_for()
    assert a.page.evaluate("() => document.documentElement.lang") == "de"
    assert a.page.locator(".tool-settings").get_attribute("aria-label") == "Einstellungen"
    assert a.page.locator(".roombar").get_by_text("Raum verlassen").is_visible()
    a.page.locator(".tool-chat").click()
    assert a.page.locator(".chat-input").get_attribute("placeholder") == "Nachricht schreiben"
    a.screenshot("lang-de-url")

    # a German browser (Accept-Language and navigator.languages) without ?lang
    b = clients("Bob", server.room_url(room), locale="de-DE")
    b.wait_ready(room)
    b.page.locator("#status-text", has_text="Online als Bob").wait_for()
    assert b.page.evaluate("() => document.documentElement.lang") == "de"
    assert b.hook("language") == "de"
    b.page.locator(".buddy-name", has_text="Alice").wait_for()

    # Traditional Chinese from the browser; then Japanese chosen in the settings (after a reload)
    c = clients("Carol", server.room_url(room), locale="zh-TW")
    c.wait_ready(room)
    assert c.page.evaluate("() => document.documentElement.lang") == "zh-TW"
    c.page.locator("#status-text", has_text="以 Carol 的身分上線").wait_for()
    c.page.locator(".tool-settings").click()
    dialog = c.page.locator("dialog.settings-dialog")
    dialog.locator("select[name=language]").select_option("ja")
    with c.page.expect_navigation():
        dialog.locator("button[type=submit]").click()
    c.wait_ready(room)
    assert c.page.evaluate("() => document.documentElement.lang") == "ja"
    c.page.locator("#status-text", has_text="Carol としてオンライン").wait_for()
    c.page.locator(".tool-settings").click()
    c.page.locator("dialog.settings-dialog").wait_for()
    c.screenshot("lang-ja-settings")
    for x in (a, b, c):
        assert not x.real_errors(), x.errors
