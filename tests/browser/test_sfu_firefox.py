"""Firefox in an SFU room with Chromium pages (issue #14 point 7): three Chromium pages and one
Firefox page in a Conference room that runs through a real private Janus.

Everything runs inside one loopback-only network namespace (`loopback_netns`, as in
test_cross_browser.py): Firefox, this module's Chromium, a listening socket of our server, and Janus
itself (started there through nsenter, with the harness's loopback shim; our server reaches its
websocket API through a forwarder on the host's loopback). So the browsers and Janus can only meet on
the namespace's `lo`, and the test still checks that every selected candidate pair and every address
in Janus's SDPs is loopback.
"""
from __future__ import annotations

import ipaddress
from typing import Any

import pytest

pytest.importorskip("websockets", reason="the BiDi harness needs the websockets package")

import janus_harness

from .conftest import expose_in_netns, netns_chromium, poll
from .firefox_bidi import FirefoxPage
from .test_sfu import VIDEO_OK, frames, start_sfu_server, stop_sfu

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not janus_harness.available(), reason="janus (Debian package) or gcc missing")]

ROOM = "conference/sfu-firefox"


@pytest.fixture(scope="module")
def browser(loopback_netns, tmp_path_factory):
    """Chromium inside Firefox's network namespace (overrides conftest's `browser` for this module)."""
    with netns_chromium(loopback_netns, tmp_path_factory.mktemp("chromium-netns-sfu")) as b:
        yield b


@pytest.fixture(scope="module")
def ns_janus(loopback_netns, tmp_path_factory):
    """A private Janus running inside the loopback namespace."""
    instance = janus_harness.Janus(tmp_path_factory.mktemp("janus-netns"), netns=loopback_netns).start()
    yield instance
    instance.stop()


@pytest.fixture
def ns_sfu_server(live_server, server_thread, loopback_netns, ns_janus):
    closers: list = []

    def factory(**options: Any):
        return start_sfu_server(live_server, server_thread, ns_janus.url, closers, options,
                                expose=lambda srv: expose_in_netns(srv, loopback_netns))

    yield factory
    stop_sfu(server_thread, closers)


def loopback(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr.strip("[]")).is_loopback
    except ValueError:
        return False


def sfu_pcs_on_loopback(name: str, pcs: list[dict[str, Any]]) -> None:
    """Every connected SFU PeerConnection runs over a selected pair with both ends on loopback."""
    sfu = [pc for pc in pcs if pc["role"].startswith("sfu")]
    assert {pc["role"] for pc in sfu} == {"sfu-pub", "sfu-sub"}, (name, pcs)
    for pc in sfu:
        assert pc["state"] == "connected", (name, pc)
        assert loopback(pc["local"]) and loopback(pc["remote"]), (name, pc)


FF_FRAMES = "(p) => window.__spreedTest.sfuStats(p).then(s => s.framesDecoded)"
SFU_EVERYONE = ("(ids) => { const s = window.__spreedTest.sfu; return s.active && ids.every(i => s.peers.includes(i))"
                " && window.__spreedTest.meshPeers.length === 0; }")


def test_firefox_publishes_once_and_decodes_everyone_through_janus(ns_sfu_server, clients, ff_clients, firefox,
                                                                   ns_janus):
    srv = ns_sfu_server(minParticipants=3)
    url = srv.room_url(ROOM)
    chromium = []
    for name in ("A", "B"):
        chromium.append(clients(name, url))
        chromium[-1].wait_ready(ROOM)
    ff: FirefoxPage = ff_clients("Fiona", url)
    ff.wait_ready(ROOM)
    chromium.append(clients("C", url))
    chromium[-1].wait_ready(ROOM)
    assert "Firefox" in ff.evaluate("() => navigator.userAgent")
    ff_id = ff.id
    ids = [c.id for c in chromium]
    try:
        ff.wait(SFU_EVERYONE, ids, timeout=90)
        ff.wait(VIDEO_OK, ids, timeout=60)
        for c in chromium:
            others = [ff_id] + [i for i in ids if i != c.id]
            c.wait(SFU_EVERYONE, arg=others, timeout=90000)
            c.wait(VIDEO_OK, arg=others, timeout=60000)
    except Exception:
        print("Firefox sfu:", ff.hook("sfu"), ff.evaluate("() => window.__spreedTest.peerConnections()"), ff.errors[-5:])
        print("Janus log:", ns_janus.log_tail(20))
        raise

    # Firefox sends exactly one outbound video stream, to Janus, and has no mesh link
    ff_pcs = ff.evaluate("() => window.__spreedTest.peerConnections()")
    assert [pc["role"] for pc in ff_pcs if pc["outboundVideo"]] == ["sfu-pub"], ff_pcs
    assert [pc["outboundVideo"] for pc in ff_pcs if pc["role"] == "sfu-pub"] == [1], ff_pcs
    assert not [pc for pc in ff_pcs if pc["role"] == "mesh"], ff_pcs
    sfu_pcs_on_loopback("Fiona", ff_pcs)
    # ... and decodes each of the three Chromium pages, continuously
    for peer in ids:
        start = ff.evaluate(FF_FRAMES, peer)
        ff.wait(f"(p) => window.__spreedTest.sfuStats(p).then(s => s.framesDecoded > {start + 5})", peer, timeout=30)
    # every Chromium page decodes Firefox's video (and the others'), through Janus only
    for c in chromium:
        start = frames(c, ff_id)
        poll(lambda: frames(c, ff_id) > start + 5, timeout=30, page=c.page)
        pcs = c.page.evaluate("() => window.__spreedTest.peerConnections()")
        assert [pc["role"] for pc in pcs if pc["outboundVideo"]] == ["sfu-pub"], (c.name, pcs)
        assert not [pc for pc in pcs if pc["role"] == "mesh"], (c.name, pcs)
        sfu_pcs_on_loopback(c.name, pcs)
        assert c.page.locator(f'.tile[data-peer="{ff_id}"]:not(.novideo)').count() == 1
    # Janus put only loopback addresses into its SDPs; Firefox holds no socket off loopback
    assert srv.janus_bad == [] and srv.janus_sdps >= 8
    assert firefox.foreign_sockets() == []
    assert firefox.netns.interfaces() == ["lo"]
    assert not ff.real_errors(), ff.errors
    for c in chromium:
        assert not c.real_errors(), (c.name, c.real_errors())
