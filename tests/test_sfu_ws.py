"""SFU stage (b): the channeling side, with a real private Janus (no browser).

The capability (Features in Self, Features in Hello), the mesh/SFU decision at sfu.minParticipants,
a session without the capability keeping the room mesh, Janus rooms created and destroyed with ours,
SfuPublish answered by Janus with loopback candidates only, and the fallback when Janus dies.
"""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

import janus_harness
from helpers import start_server

pytestmark = pytest.mark.skipif(not janus_harness.available(), reason="janus (Debian package) or gcc missing")
ROOM = "conference/sfu"
CONFIG = {"roomtypes": {"^conference/.+": "Conference"}, "limits": {"enabled": False}}

# A browser-like offer (one audio, one video, data-less), enough for Janus to answer.
OFFER = "\r\n".join([
    "v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
    "a=msid-semantic: WMS", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=ice-options:trickle",
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32), "a=setup:actpass", "a=mid:0", "a=sendonly",
    "a=rtcp-mux", "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1",
    "a=ssrc:1111 cname:x", "m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=ice-options:trickle",
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32), "a=setup:actpass", "a=mid:1", "a=sendonly",
    "a=rtcp-mux", "a=rtcp-rsize", "a=rtpmap:96 VP8/90000", "a=ssrc:2222 cname:x", ""])


@pytest.fixture(scope="module")
def janus(tmp_path_factory):
    instance = janus_harness.Janus(tmp_path_factory.mktemp("janus-ws")).start()
    yield instance
    instance.stop()


async def sfu_server(url: str, **sfu):
    from spreed.sfu import attach
    handle = await start_server({**CONFIG, "sfu": {"url": url, **sfu}})
    closers = await attach(handle.hub)
    handle.hub.sfu.mesh_grace = 0.3
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not handle.hub.sfu.backends[0].up:
        assert loop.time() < deadline, "Janus not reached"
        await asyncio.sleep(0.05)
    return handle, closers


async def shutdown(handle, closers) -> None:
    for close in closers:
        await close()
    handle.stop()


async def join(srv, capable: bool = True, room: str = ROOM):
    c = await srv.connect()
    extra = {"Features": ["sfu"]} if capable else {}
    welcome = await c.hello(room, **extra)
    assert welcome["Data"]["Type"] == "Welcome", welcome
    return c


async def next_mode(client, timeout: float = 5.0) -> dict:
    msg = await client.recv_type("Sfu", timeout)
    assert list(msg) == ["Data", "From"] and msg["From"] == client.id
    return msg["Data"]["Sfu"]


async def two_in_sfu_a_publishes(srv) -> tuple[Any, Any, dict]:
    """Two capable sessions in an SFU room (minParticipants 2); A publishes its camera. Returns
    A, B and the reply to A's SfuPublish."""
    a = await join(srv)
    b = await join(srv)
    assert (await next_mode(a))["Mode"] == "sfu"
    assert (await next_mode(b))["Mode"] == "sfu"
    reply = await a.request("SfuPublish", {"Kind": "camera", "Offer": {"type": "offer", "sdp": OFFER}}, timeout=10)
    return a, b, reply


async def no_sfu(client, timeout: float = 0.3) -> bool:
    """True when no Sfu* document arrives within timeout (others are skipped)."""
    try:
        msg = await client.recv_type("Sfu", timeout)
    except asyncio.TimeoutError:
        return True
    raise AssertionError(f"unexpected {msg}")


async def janus_room_exists(url: str, room_id: int) -> bool:
    from spreed.sfu.janus import JanusClient
    client = JanusClient(url)
    await client.connect()
    try:
        reply = await client.request({"janus": "attach", "plugin": "janus.plugin.videoroom"})
        handle = int(reply["data"]["id"])
        out = await client.request({"janus": "message", "body": {"request": "exists", "room": room_id}}, handle=handle)
        return out["plugindata"]["data"]["exists"]
    finally:
        client.close()


@pytest.mark.gen_test(timeout=30)
async def test_capability_and_switch_at_min_participants(janus):
    srv, closers = await sfu_server(janus.url)
    try:
        a = await join(srv)
        assert a.self_doc["Features"] == ["sfu"]
        b = await join(srv)
        assert await no_sfu(a)  # two people: mesh, nothing said
        c = await join(srv)
        for x in (a, b, c):
            mode = await next_mode(x)
            assert mode["Mode"] == "sfu" and mode["Feeds"] == []
            assert mode["Room"] == ROOM  # (named: a client moving on ignores a late one of the room it leaves)
        room = srv.hub.sfu.rooms[f"Conference:{ROOM}"]
        assert room.janus_id > 2 ** 52 and len(room.secret) == 32 and len(room.pin) == 32
        assert await janus_room_exists(janus.url, room.janus_id)
        await c.send({"Type": "Leave", "Leave": {}})
        for x in (a, b):
            assert await next_mode(x) == {"Mode": "mesh", "Reason": "", "Room": ROOM}
        await asyncio.sleep(0.8)  # the grace during which both run side by side, then Janus's room goes
        assert f"Conference:{ROOM}" not in srv.hub.sfu.rooms
        assert not await janus_room_exists(janus.url, room.janus_id)
        # ordinary rooms stay mesh whatever their size
        others = [await join(srv, room="plain") for _ in range(3)]
        assert all([await no_sfu(o) for o in others])
    finally:
        await shutdown(srv, closers)


@pytest.mark.gen_test(timeout=30)
async def test_min_participants_two_and_publish_answer_on_loopback(janus):
    srv, closers = await sfu_server(janus.url, minParticipants=2, bitrate=200000)
    try:
        a, _b, reply = await two_in_sfu_a_publishes(srv)
        data = reply["Data"]
        assert data["Type"] == "SfuAnswer" and data["SfuAnswer"]["Kind"] == "camera", data
        sdp = data["SfuAnswer"]["Answer"]["sdp"]
        assert data["SfuAnswer"]["Answer"]["type"] == "answer"
        assert "a=candidate:" in sdp
        assert janus_harness.non_loopback(sdp) == [], sdp  # the test fails, never filters
        assert "b=AS:" in sdp or "b=TIAS:" in sdp or "a=fmtp" in sdp
        # bad documents get bad_request; an answer nobody asked for gets sfu_unavailable
        bad = await a.request("SfuPublish", {"Kind": "movie", "Offer": {"sdp": "x"}})
        assert bad["Data"]["Code"] == "bad_request"
        stray = await a.request("SfuAnswer", {"Seq": 7, "Answer": {"type": "answer", "sdp": "v=0"}})
        assert stray["Data"]["Code"] == "sfu_unavailable"
        assert len(srv.hub.sfu.rooms[f"Conference:{ROOM}"].publishers) == 1
        a.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3
        while srv.hub.sfu.rooms.get(f"Conference:{ROOM}") and srv.hub.sfu.rooms[f"Conference:{ROOM}"].publishers:
            assert loop.time() < deadline
            await asyncio.sleep(0.05)
    finally:
        await shutdown(srv, closers)


@pytest.mark.gen_test(timeout=30)
async def test_session_without_capability_keeps_the_room_mesh(janus):
    srv, closers = await sfu_server(janus.url)
    try:
        capable = [await join(srv) for _ in range(3)]
        for x in capable:
            assert (await next_mode(x))["Mode"] == "sfu"
        old = await join(srv, capable=False)
        assert "Features" in old.self_doc  # the server says it; this client just does not use it
        for x in capable:
            assert (await next_mode(x))["Mode"] == "mesh"
        # the old client sees only what it always saw: Users/Joined/Conference, never an Sfu* document
        refused = await old.request("SfuPublish", {"Kind": "camera", "Offer": {"type": "offer", "sdp": OFFER}})
        assert refused["Data"]["Code"] == "sfu_unavailable"
        await old.send({"Type": "Leave", "Leave": {}})
        for x in capable:
            assert (await next_mode(x))["Mode"] == "sfu"
        seen = []
        while True:
            try:
                seen.append(await old.recv(0.3))
            except asyncio.TimeoutError:
                break
        assert not [m for m in seen if str(m.get("Data", {}).get("Type", "")).startswith("Sfu")]
    finally:
        await shutdown(srv, closers)


@pytest.mark.gen_test(timeout=20)
async def test_without_sfu_the_new_types_are_ignored(server):
    a = await server.connect()
    assert "Features" not in a.self_doc
    await a.hello(ROOM, Features=["sfu"])
    await a.send({"Type": "SfuPublish", "SfuPublish": {"Kind": "camera", "Offer": {"type": "offer", "sdp": OFFER}}})
    assert await a.silent(0.3)


@pytest.mark.gen_test(timeout=40)
async def test_janus_killed_rooms_fall_back_to_mesh_and_return(tmp_path):
    instance = janus_harness.Janus(tmp_path / "j").start()
    srv, closers = await sfu_server(instance.url)
    try:
        clients = [await join(srv) for _ in range(3)]
        for x in clients:
            assert (await next_mode(x))["Mode"] == "sfu"
        loop = asyncio.get_running_loop()
        instance.kill()
        t0 = loop.time()
        for x in clients:
            mode = await next_mode(x, 10)
            assert mode == {"Mode": "mesh", "Reason": "down", "Room": ROOM}
        assert loop.time() - t0 < 10
        instance.start()
        for x in clients:
            assert (await next_mode(x, 15))["Mode"] == "sfu"
    finally:
        await shutdown(srv, closers)
        instance.stop()


# A screen as browsers offer it: one video section, nothing else.
SCREEN_OFFER = "\r\n".join([
    "v=0", "o=- 4611731400430051337 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
    "a=msid-semantic: WMS", "m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:efgh", "a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=ice-options:trickle",
    "a=fingerprint:sha-256 " + ":".join(["CD"] * 32), "a=setup:actpass", "a=mid:0", "a=sendonly",
    "a=rtcp-mux", "a=rtcp-rsize", "a=rtpmap:96 VP8/90000", "a=ssrc:3333 cname:y", ""])


async def janus_displays(url: str, room_id: int) -> list[str]:
    """The displays of the room's participants that publish (or were joined as) a stream of ours."""
    from spreed.sfu.janus import JanusClient
    client = JanusClient(url)
    await client.connect()
    try:
        reply = await client.request({"janus": "attach", "plugin": "janus.plugin.videoroom"})
        handle = int(reply["data"]["id"])
        out = await client.request({"janus": "message", "body": {"request": "listparticipants", "room": room_id}},
                                   handle=handle)
        people = out["plugindata"]["data"].get("participants") or []
        return sorted(p.get("display", "") for p in people if p.get("display", "") != "watch")
    finally:
        client.close()


async def until(predicate, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.mark.gen_test(timeout=60)
async def test_screen_is_a_second_bounded_feed_of_the_session(janus):
    """A session publishes its screen beside its camera (a second publisher handle in the same Janus
    room), at most one; it is announced with Kind "screen"; unpublishing, leaving and the room's
    end take it away at Janus."""
    srv, closers = await sfu_server(janus.url)
    try:
        a, b, c = [await join(srv) for _ in range(3)]
        for x in (a, b, c):
            assert (await next_mode(x))["Mode"] == "sfu"
        e = await join(srv)  # a fourth (told before its Welcome): B may leave later, the room stays on the SFU
        for x in (a, b, c):
            assert (await next_mode(x))["Mode"] == "sfu"
        room = srv.hub.sfu.rooms[f"Conference:{ROOM}"]
        cam = await a.request("SfuPublish", {"Kind": "camera", "Offer": {"type": "offer", "sdp": OFFER}}, timeout=10)
        assert cam["Data"]["Type"] == "SfuAnswer", cam
        scr = await a.request("SfuPublish", {"Kind": "screen", "Offer": {"type": "offer", "sdp": SCREEN_OFFER}},
                              timeout=10)
        data = scr["Data"]
        assert data["Type"] == "SfuAnswer" and data["SfuAnswer"]["Kind"] == "screen", data
        sdp = data["SfuAnswer"]["Answer"]["sdp"]
        assert janus_harness.non_loopback(sdp) == [], sdp
        assert sdp.count("m=video") == 1 and "m=audio" not in sdp
        camera, screen = room.publishers[(a.id, "camera")], room.publishers[(a.id, "screen")]
        assert camera.handle != screen.handle and camera.feed != screen.feed
        assert await janus_displays(janus.url, room.janus_id) == [f"camera {a.id}", f"screen {a.id}"]
        # at most one screen per session: a second one replaces the first, at Janus too
        again = await a.request("SfuPublish", {"Kind": "screen", "Offer": {"type": "offer", "sdp": SCREEN_OFFER}},
                                timeout=10)
        assert again["Data"]["Type"] == "SfuAnswer"
        assert [k for k in room.publishers if k[0] == a.id] == [(a.id, "camera"), (a.id, "screen")]
        assert room.publishers[(a.id, "screen")].feed != screen.feed
        await until(lambda: _eq(janus_displays(janus.url, room.janus_id), [f"camera {a.id}", f"screen {a.id}"]))
        # announced like a camera, its kind marked (only sent to capable members: everyone here)
        screen = room.publishers[(a.id, "screen")]
        screen.ready = True  # as after Janus's webrtcup (fake SDPs never connect)
        srv.hub.sfu._feeds_changed(room)
        for x in (b, c, e):
            assert (await next_mode(x))["Feeds"] == [{"Id": a.id, "Kind": "screen"}]
        # stopping the screen: gone at Janus and from the feeds, the camera stays
        await a.send({"Type": "SfuUnpublish", "SfuUnpublish": {"Kind": "screen"}})
        for x in (b, c, e):
            assert (await next_mode(x))["Feeds"] == []
        await until(lambda: _eq(janus_displays(janus.url, room.janus_id), [f"camera {a.id}"]))
        assert list(room.publishers) == [(a.id, "camera")]
        # a stop that overtakes its own publish (still waiting for Janus) is not lost
        from spreed.sfu.manager import SfuUnavailable
        session = srv.hub.sessions[a.id]
        results = await asyncio.gather(srv.hub.sfu.publish(session, "screen", {"type": "offer", "sdp": SCREEN_OFFER}),
                                       srv.hub.sfu.unpublish(session, "screen"), return_exceptions=True)
        assert isinstance(results[0], SfuUnavailable), results
        await asyncio.sleep(0.3)
        assert await janus_displays(janus.url, room.janus_id) == [f"camera {a.id}"]
        assert list(room.publishers) == [(a.id, "camera")]
        # B's screen goes when B leaves
        got = await b.request("SfuPublish", {"Kind": "screen", "Offer": {"type": "offer", "sdp": SCREEN_OFFER}},
                              timeout=10)
        assert got["Data"]["Type"] == "SfuAnswer"
        await until(lambda: _eq(janus_displays(janus.url, room.janus_id), [f"camera {a.id}", f"screen {b.id}"]))
        b.close()
        await until(lambda: _eq(janus_displays(janus.url, room.janus_id), [f"camera {a.id}"]))
        assert list(room.publishers) == [(a.id, "camera")]
        # back to mesh (a session without SFU support joins): once the overlap is over, the room and every stream in it go
        again = await a.request("SfuPublish", {"Kind": "screen", "Offer": {"type": "offer", "sdp": SCREEN_OFFER}},
                                timeout=10)
        assert again["Data"]["Type"] == "SfuAnswer"
        d = await join(srv, capable=False)
        for x in (a, c, e):
            while (await next_mode(x))["Mode"] != "mesh":
                pass  # the Sfu documents of B's leaving and A's screen before
        refused = await d.request("SfuPublish", {"Kind": "screen", "Offer": {"type": "offer", "sdp": SCREEN_OFFER}})
        assert refused["Data"]["Code"] == "sfu_unavailable"
        await until(lambda: _eq(janus_room_exists(janus.url, room.janus_id), False))
        assert not room.publishers and f"Conference:{ROOM}" not in srv.hub.sfu.rooms
    finally:
        await shutdown(srv, closers)


async def _eq(awaitable, expected) -> bool:
    return (await awaitable) == expected


@pytest.mark.gen_test(timeout=30)
async def test_a_janus_hangup_reaches_the_publisher_as_an_sfu_event(janus):
    """Janus's own events for our handles become documents of ours: here Janus hangs up a
    publisher (asked through its API, as when the media path dies), and that session gets an
    SfuEvent while the others see the feed go."""
    srv, closers = await sfu_server(janus.url, minParticipants=2)
    try:
        a, _b, reply = await two_in_sfu_a_publishes(srv)
        assert reply["Data"]["Type"] == "SfuAnswer", reply
        room = srv.hub.sfu.rooms[f"Conference:{ROOM}"]
        [publisher] = room.publishers.values()
        await room.backend.client.request({"janus": "hangup"}, handle=publisher.handle)
        event = (await a.recv_type("SfuEvent", 5))["Data"]["SfuEvent"]
        assert event["Event"] == "hangup" and event["Role"] == "publisher" and event["Kind"] == "camera", event
        assert event.get("Reason"), event
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3
        while room.publishers:
            assert loop.time() < deadline, "the hung-up publisher was kept"
            await asyncio.sleep(0.05)
    finally:
        await shutdown(srv, closers)
