"""Rooms moving between mesh and SFU with pictures kept (issue #14 points 3, 4 and 7).

These pages form mesh links as well as SFU connections, and Chromium forms mesh pairs only from
host candidates, which outside a namespace it gathers on every interface. So everything here runs in
the loopback-only network namespace of test_sfu_firefox.py (this module's Chromium, a private Janus,
a listening socket of our server): the namespace has only `lo`, and every selected candidate pair,
mesh or SFU, is still checked to be on loopback.
"""
from __future__ import annotations

import time
from typing import Any

import pytest

pytest.importorskip("websockets", reason="the loopback namespace harness needs the websockets package")

import janus_harness

from .conftest import Client, poll
from .test_sfu import (GAP_MONITOR, ROOM, VIDEO_OK, max_gap, pcs, ready, three_in_sfu, wait_sfu_everyone,
                       within)
from .test_sfu_firefox import browser, loopback, ns_janus, ns_sfu_server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not janus_harness.available(), reason="janus (Debian package) or gcc missing")]


def switch_gap(c: Client, peer: str) -> float:
    """The longest time between the last frame on one connection and the first on the next."""
    return c.page.evaluate("(p) => (window.__switchGaps || {})[p] || 0", peer)


def mesh_connected(c: Client, n: int) -> None:
    c.wait("(n) => window.__spreedTest.calls.filter(x => !x.sfu && x.connectionState === 'connected').length === n",
           timeout=60000, arg=n)


def pairs_on_loopback(c: Client, roles: set[str]) -> list[dict[str, Any]]:
    """Every connected PeerConnection of the page runs over a selected pair with both ends on
    loopback, and the page has connected ones of exactly these roles."""
    connected = [pc for pc in pcs(c) if pc["state"] == "connected"]
    assert {pc["role"] for pc in connected} == roles, (c.name, connected)
    for pc in connected:
        assert loopback(pc["local"]) and loopback(pc["remote"]), (c.name, pc)
    return connected


def test_switch_mesh_to_sfu_and_back_without_gaps(ns_sfu_server, clients, loopback_netns):
    assert loopback_netns.interfaces() == ["lo"]
    srv = ns_sfu_server(minParticipants=3)
    a = clients("A", srv.room_url(ROOM))
    ready(a)
    b = clients("B", srv.room_url(ROOM))
    ready(b)
    for x, y in ((a, b), (b, a)):
        mesh_connected(x, 1)
        x.wait(VIDEO_OK, timeout=60000, arg=[y.id])
        x.page.evaluate(GAP_MONITOR)
        pairs_on_loopback(x, {"mesh"})
    x.page.wait_for_timeout(1000)
    c = clients("C", srv.room_url(ROOM))
    ready(c)
    t0 = time.monotonic()
    for x in (a, b, c):  # (this includes: the mesh link between A and B is gone)
        wait_sfu_everyone(x, [o for o in (a, b, c) if o is not x])
    # the pictures did move to the SFU (the tiles' monitor samples every 100 ms: give it a moment
    # after the calls switched; the gap it measured is the bound checked below)
    for x, y in ((a, b), (b, a)):
        poll(lambda x=x, y=y: switch_gap(x, y.id) > 0, timeout=5, page=x.page)
    print(f"mesh -> SFU in {time.monotonic() - t0:.1f}s; switch gaps {switch_gap(a, b.id):.0f} / "
          f"{switch_gap(b, a.id):.0f} ms; longest gaps {max_gap(a, b.id):.0f} / {max_gap(b, a.id):.0f} ms")
    within(max(switch_gap(a, b.id), switch_gap(b, a.id)) / 1000, 2.0, "mesh -> SFU picture gap")
    for x in (a, b, c):
        pairs_on_loopback(x, {"sfu-pub", "sfu-sub"})
    # C leaves: two people are a mesh again, and A and B keep seeing each other throughout
    c.context.close()
    t0 = time.monotonic()
    for x, y in ((a, b), (b, a)):
        mesh_connected(x, 1)
        x.wait("() => !window.__spreedTest.sfu.active && window.__spreedTest.sfu.peers.length === 0", timeout=30000)
        x.wait(VIDEO_OK, timeout=30000, arg=[y.id])
    a.page.wait_for_timeout(500)
    print(f"SFU -> mesh in {time.monotonic() - t0:.1f}s; switch gaps {switch_gap(a, b.id):.0f} / "
          f"{switch_gap(b, a.id):.0f} ms; longest gaps {max_gap(a, b.id):.0f} / {max_gap(b, a.id):.0f} ms")
    within(max(switch_gap(a, b.id), switch_gap(b, a.id)) / 1000, 2.0, "SFU -> mesh picture gap")
    for x in (a, b):
        pairs_on_loopback(x, {"mesh"})
    assert srv.janus_bad == []
    assert not a.real_errors() and not b.real_errors()


def test_session_without_sfu_support_sees_and_is_seen(ns_sfu_server, clients):
    srv = ns_sfu_server(minParticipants=3)
    capable = three_in_sfu(clients, srv)
    for x in capable:
        pairs_on_loopback(x, {"sfu-pub", "sfu-sub"})
    old = clients("Old", srv.room_url(ROOM), init_script="globalThis.__spreedNoSfu = true;")
    ready(old)
    everyone = capable + [old]
    for x in everyone:  # the room is a mesh while Old is in it: Old sees and is seen by all
        x.wait(VIDEO_OK, timeout=60000, arg=[o.id for o in everyone if o is not x])
    assert not [f for f in old.frames_received if str((f.get("Data") or {}).get("Type", "")).startswith("Sfu")]
    assert not [f for f in old.frames_sent if "sfu" in ((f.get("Hello") or {}).get("Features") or [])]
    for x in capable:
        x.wait("() => !window.__spreedTest.sfu.active", timeout=30000)
    mesh_connected(old, 3)
    pairs_on_loopback(old, {"mesh"})
    # Old leaves: the others go back to the SFU
    old.context.close()
    for x in capable:
        wait_sfu_everyone(x, [o for o in capable if o is not x])
        pairs_on_loopback(x, {"sfu-pub", "sfu-sub"})
    assert srv.janus_bad == []
