"""Channeling API, peer signalling: Offer/Candidate/Answer/Bye relays and client-sent Conference
documents (protocol.md 4.7.4, 4.7.9; gotchas 3, 31, 37)."""
from __future__ import annotations

import pytest

SDP = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}


def relay_doc(kind: str, to: str, payload, type_: str | None = None) -> dict:
    return {"Type": kind, kind: {"To": to, "Type": type_ if type_ is not None else kind, kind: payload}}


def assert_unicast(msg: dict, sender, target, srv) -> None:
    assert list(msg) == ["Data", "From", "To", "A"], msg
    assert msg["From"] == sender.id and msg["To"] == target.id
    assert srv.hub.tickets.decode_attestation(msg["A"]) == sender.id


@pytest.mark.gen_test
@pytest.mark.parametrize("kind,payload", [
    ("Offer", SDP),
    ("Answer", {"type": "answer", "sdp": "v=0\r\n", "_token": "t"}),
    ("Candidate", {"candidate": "candidate:1 1 UDP 2122 127.0.0.1 5000 typ host", "sdpMid": "0",
                   "sdpMLineIndex": 0}),
    ("Bye", {"Reason": "busy"}),
])
async def test_relay_forwards_the_inner_document(server, kind, payload):
    a = await server.connect()
    b = await server.connect()
    await a.send(relay_doc(kind, b.id, payload))
    msg = await b.recv()
    assert_unicast(msg, a, b, server)
    assert msg["Data"] == {"Type": kind, "To": b.id, kind: payload}
    assert list(msg["Data"]) == ["Type", "To", kind]
    assert await a.silent(0.2), "relays produce no reply"


@pytest.mark.gen_test
async def test_relay_is_not_restricted_to_the_senders_room(server):
    a = await server.connect()
    b = await server.connect()
    c = await server.connect()
    await a.hello("r1")
    await b.hello("r2")
    for target in (b, c):  # another room, and no room at all
        await a.send(relay_doc("Offer", target.id, SDP))
        msg = await target.recv()
        assert msg["Data"]["Offer"] == SDP and msg["From"] == a.id


@pytest.mark.gen_test
async def test_relay_keeps_the_inner_type_as_sent(server):
    a = await server.connect()
    b = await server.connect()
    await a.send(relay_doc("Offer", b.id, SDP, type_="Whatever"))
    assert (await b.recv())["Data"] == {"Type": "Whatever", "To": b.id, "Offer": SDP}


@pytest.mark.gen_test
async def test_relay_to_unknown_empty_or_gone_targets_is_silent(server):
    a = await server.connect()
    gone = await server.connect()
    gone.close()
    await gone.closed()
    for to in ("", "no-such-id", gone.id):
        await a.send(relay_doc("Offer", to, SDP))
        await a.send(relay_doc("Bye", to, None))
    assert await a.silent(0.3)
    # the connection still works
    assert (await a.request("Alive", {"Type": "Alive", "Alive": 1}))["Data"]["Alive"] == 1


@pytest.mark.gen_test
async def test_relay_to_oneself_works(server):
    a = await server.connect()
    await a.send(relay_doc("Candidate", a.id, {"candidate": ""}))
    msg = await a.recv()
    assert_unicast(msg, a, a, server)


@pytest.mark.gen_test
async def test_relays_without_payload_are_ignored(server):
    a = await server.connect()
    b = await server.connect()
    await a.send({"Type": "Offer", "Offer": {"To": b.id, "Type": "Offer"}})
    await a.send({"Type": "Answer", "Answer": {"To": b.id, "Type": "Answer", "Answer": None}})
    await a.send({"Type": "Candidate", "Candidate": {"To": b.id, "Type": "Candidate"}})
    await a.send({"Type": "Offer"})
    await a.send({"Type": "Bye"})
    assert await b.silent(0.3) and await a.silent(0.05)


@pytest.mark.gen_test
async def test_bye_with_null_payload_is_forwarded(server):
    a = await server.connect()
    b = await server.connect()
    await a.send(relay_doc("Bye", b.id, None))
    msg = await b.recv()
    assert msg["Data"] == {"Type": "Bye", "To": b.id, "Bye": None}


@pytest.mark.gen_test
async def test_offer_payload_must_be_an_object(server):
    a = await server.connect()
    b = await server.connect()
    await a.send({**relay_doc("Offer", b.id, "not an object"), "Iid": "o"})
    err = await a.recv()
    assert list(err) == ["Data", "From", "Iid"] and err["Iid"] == "o"
    assert err["Data"]["Type"] == "Error" and err["Data"]["Code"] == "bad_request"
    assert await b.silent(0.2)


@pytest.mark.gen_test
async def test_payload_keys_match_case_insensitively(server):
    """Gotcha 2: "type"/"offer"/"to" fill Type/Offer/To; unknown keys are ignored."""
    a = await server.connect()
    b = await server.connect()
    await a.send({"type": "Offer", "offer": {"to": b.id, "TYPE": "Offer", "Offer": SDP, "extra": 1}, "junk": []})
    msg = await b.recv()
    assert msg["Data"] == {"Type": "Offer", "To": b.id, "Offer": SDP}


# ---------------------------------------------------------------- client-sent Conference (4.7.9, gotcha 37)

def conference(ids: list[str], conf_id: str = "conf-1") -> dict:
    return {"Type": "Conference", "Conference": {"Id": conf_id, "Type": "Conference", "Conference": ids}}


@pytest.mark.gen_test
async def test_conference_is_unicast_to_each_listed_peer_but_the_sender(server):
    a = await server.connect()
    b = await server.connect()
    c = await server.connect()
    await a.hello("r")
    await c.hello("elsewhere")
    ids = [a.id, b.id, c.id, "unknown"]
    await a.send(conference(ids))
    for target in (b, c):
        msg = await target.recv()
        assert list(msg) == ["Data", "From", "To", "A"] and msg["From"] == a.id and msg["To"] == target.id
        assert msg["Data"] == {"Id": "conf-1", "Type": "Conference", "Conference": ids}
        assert list(msg["Data"]) == ["Id", "Type", "Conference"]
        assert await target.silent(0.1)
    assert await a.silent(0.2)


@pytest.mark.gen_test
async def test_conference_with_more_than_100_ids_is_ignored(server):
    a = await server.connect()
    b = await server.connect()
    await a.send(conference([b.id] + [f"x{i}" for i in range(100)]))
    assert await b.silent(0.3)
    await a.send(conference([b.id] + [f"x{i}" for i in range(99)]))  # exactly 100 is fine
    assert (await b.recv())["Data"]["Type"] == "Conference"


@pytest.mark.gen_test
async def test_conference_inside_a_conference_room_is_ignored(make_server):
    srv = await make_server({"roomtypes": {"^conference/": "Conference"}})
    a = await srv.connect()
    b = await srv.connect()
    await a.hello("conference/x")
    await a.send(conference([b.id]))
    assert await b.silent(0.3)
    # still ignored after a Leave: the last room id counts (while that room exists)
    keeper = await srv.connect()
    await keeper.hello("conference/x")
    await a.recv_type("Conference")
    await a.send({"Type": "Leave", "Leave": {}})
    await keeper.recv_type("Left")
    await a.send(conference([b.id, keeper.id]))
    assert await b.silent(0.3) and await keeper.silent(0.05)
    # in a normal room it goes out
    await a.hello("normal")
    await a.send(conference([b.id]))
    assert (await b.recv())["Data"]["Conference"] == [b.id]


@pytest.mark.gen_test
async def test_conference_without_payload_is_ignored(server):
    a = await server.connect()
    await a.send({"Type": "Conference", "Iid": "c"})
    assert await a.silent(0.3)


@pytest.mark.gen_test
async def test_data_channel_only_types_are_ignored(server):
    a = await server.connect()
    b = await server.connect()
    for kind in ("Screenshare", "Presentation", "YouTubeVideo", "Talking", "Nonsense", ""):
        await a.send({"Type": kind, kind or "X": {"To": b.id}, "Iid": "q"})
    assert await a.silent(0.3) and await b.silent(0.05)
