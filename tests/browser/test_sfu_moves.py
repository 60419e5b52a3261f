"""Moving from one conference room straight to another: a late `Sfu` document of the room being left
(sent before the server saw the Hello for the new room) starts nothing.

The race is made certain here: the page holds its Hello for the new room back (an init script wraps
WebSocket.send) while the server's document for the old room arrives, then lets it go. No Janus is
needed: what is checked is that the client neither turns the SFU on nor opens a publisher for the
room it is leaving.
"""
from __future__ import annotations

import json

import pytest

from .conftest import poll

pytestmark = pytest.mark.browser

HOLD_HELLO = """
(() => {
  const send = WebSocket.prototype.send;
  window.__held = [];
  window.__holdHello = false;
  WebSocket.prototype.send = function (data) {
    window.__ws = this;
    if (window.__holdHello && typeof data === 'string' && data.includes('"Type":"Hello"')) {
      window.__held.push([this, data]);
      return;
    }
    return send.call(this, data);
  };
  window.__releaseHello = () => {
    window.__holdHello = false;
    for (const [ws, data] of window.__held.splice(0)) send.call(ws, data);
  };
  window.__serverSays = (doc) => {
    window.__ws.onmessage(new MessageEvent('message', { data: JSON.stringify({ Type: doc.Type, Data: doc }) }));
  };
})();
"""


def test_a_late_sfu_document_of_the_room_left_starts_nothing(server, clients):
    a = clients("Alice", server.room_url("conference/one"), init_script=HOLD_HELLO)
    a.wait_ready("conference/one")
    assert not a.hook("sfu")["active"]

    # change room with the room bar; the Hello for the new room is held back
    a.page.evaluate("() => { window.__holdHello = true; }")
    a.page.locator(".room-change-btn").click()
    a.page.locator(".room-input").fill("conference/two")
    a.page.locator(".room-change button[type=submit]").click()
    a.wait("() => window.__held.length === 1")
    # meanwhile the server's document of the old room arrives
    late = {"Type": "Sfu", "Sfu": {"Mode": "sfu", "Reason": "", "Room": "conference/one", "Feeds": []}}
    a.page.evaluate("(d) => window.__serverSays(d)", late)
    state = a.hook("sfu")
    assert not state["active"] and not state["publishing"], state
    assert "mode sfu" in " ".join(state["log"]), state  # (it did arrive)

    a.page.evaluate("() => window.__releaseHello()")
    a.wait_ready("conference/two")
    hello = a.sent("Hello")[-1]["Hello"]
    assert hello["Name"] == "conference/two", json.dumps(hello)
    poll(lambda: not a.hook("sfu")["active"], timeout=2, page=a.page)
    assert not a.sent("SfuPublish"), a.sent("SfuPublish")
    assert not a.real_errors(), a.errors

    # the control: the same document naming the room the page is in turns the SFU on
    a.page.evaluate("(d) => window.__serverSays(d)", dict(late, Sfu=dict(late["Sfu"], Room="conference/two")))
    assert a.hook("sfu")["active"]
