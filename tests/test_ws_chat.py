"""Channeling API, chat: room and private messages, the echo, NoEcho, Mid "sent" receipts, the
re-serialized Status sub-documents (protocol.md 4.7.8; gotchas 31, 32, 33)."""
from __future__ import annotations

import re

import pytest

from helpers import joined_pair

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")


def chat(to: str, **message) -> dict:
    return {"Type": "Chat", "Chat": {"To": to, "Type": "Chat", "Chat": message}}


pair = joined_pair


@pytest.mark.gen_test
async def test_room_chat_echo_then_broadcast(server):
    a, b = await pair(server)
    c = await server.connect()
    await c.hello("other")
    await a.send(chat("", Message="hello room"))
    echo = await a.recv()
    # the echo is a unicast to oneself, serialized before the server stamps Time (gotcha 32)
    assert list(echo) == ["Data", "From", "To", "A"] and echo["From"] == echo["To"] == a.id
    assert echo["Data"] == {"To": "", "Type": "Chat", "Chat": {"Message": "hello room", "Time": "", "Status": None}}
    assert list(echo["Data"]) == ["To", "Type", "Chat"]
    assert list(echo["Data"]["Chat"]) == ["Message", "Time", "Status"]
    msg = await b.recv()
    assert list(msg) == ["Data", "From", "A"] and msg["From"] == a.id
    assert server.hub.tickets.decode_attestation(msg["A"]) == a.id
    body = msg["Data"]["Chat"]
    assert list(body) == ["Message", "Time", "Status"]
    assert body["Message"] == "hello room" and body["Status"] is None and TIME.match(body["Time"])
    assert msg["Data"]["To"] == "" and msg["Data"]["Type"] == "Chat"
    assert await a.silent(0.2), "no sent receipt for room chats"
    assert await c.silent(0.05), "other rooms do not hear it"


@pytest.mark.gen_test
async def test_echo_carries_the_clients_time(server):
    a, b = await pair(server)
    await a.send(chat("", Message="m", Time="2000-01-01T00:00:00Z"))
    echo = await a.recv()
    assert echo["Data"]["Chat"]["Time"] == "2000-01-01T00:00:00Z"
    msg = await b.recv()
    assert msg["Data"]["Chat"]["Time"] != "2000-01-01T00:00:00Z" and TIME.match(msg["Data"]["Chat"]["Time"])


@pytest.mark.gen_test
async def test_no_echo(server):
    a, b = await pair(server)
    await a.send(chat("", Message="quiet", NoEcho=True))
    msg = await b.recv()
    assert msg["Data"]["Chat"]["NoEcho"] is True
    assert list(msg["Data"]["Chat"]) == ["Message", "Time", "NoEcho", "Status"]
    assert await a.silent(0.2)


@pytest.mark.gen_test
async def test_room_chat_outside_a_room_is_dropped_after_the_echo(server):
    a = await server.connect()
    b = await server.connect()
    await b.hello("r")
    await a.send(chat("", Message="nobody"))
    assert (await a.recv())["Data"]["Chat"]["Message"] == "nobody"
    assert await a.silent(0.2) and await b.silent(0.05)


@pytest.mark.gen_test
async def test_private_chat_with_mid_gets_a_sent_receipt(server):
    a = await server.connect()
    b = await server.connect()
    await a.hello("r1")  # private chats are not bound to rooms (gotcha 31)
    await a.send(chat(b.id, Message="psst", Mid="m1"))
    echo = await a.recv()
    assert echo["To"] == a.id
    assert echo["Data"] == {"To": b.id, "Type": "Chat", "Chat": {"Message": "psst", "Time": "", "Mid": "m1",
                                                                  "Status": None}}
    msg = await b.recv()
    assert list(msg) == ["Data", "From", "To", "A"] and msg["From"] == a.id and msg["To"] == b.id
    assert list(msg["Data"]["Chat"]) == ["Message", "Time", "Mid", "Status"]
    assert msg["Data"]["Chat"]["Mid"] == "m1" and TIME.match(msg["Data"]["Chat"]["Time"])
    sent = await a.recv()
    assert list(sent) == ["Data", "From", "To", "A"] and sent["From"] == sent["To"] == a.id
    assert sent["Data"] == {"To": b.id, "Type": "Chat",
                            "Chat": {"Message": "", "Time": "", "Mid": "m1", "Status": {"State": "sent"}}}
    assert list(sent["Data"]["Chat"]) == ["Message", "Time", "Mid", "Status"]


@pytest.mark.gen_test
async def test_sent_receipt_even_for_unknown_targets(server):
    a = await server.connect()
    await a.send(chat("nobody-here", Message="x", Mid="m2", NoEcho=True))
    sent = await a.recv()
    assert sent["Data"]["To"] == "nobody-here"
    assert sent["Data"]["Chat"] == {"Message": "", "Time": "", "Mid": "m2", "Status": {"State": "sent"}}
    assert await a.silent(0.2)


@pytest.mark.gen_test
async def test_private_chat_without_mid_has_no_receipt(server):
    a = await server.connect()
    b = await server.connect()
    await a.send(chat(b.id, Message="x", NoEcho=True))
    assert (await b.recv())["Data"]["Chat"]["Message"] == "x"
    assert await a.silent(0.2)


@pytest.mark.gen_test
async def test_status_sub_documents_are_reserialized(server):
    """Gotcha 33: unknown keys in Status and Chat are dropped, each field in its fixed order."""
    a = await server.connect()
    b = await server.connect()
    status = {
        "Bogus": "dropped",
        "AutoCall": {"Type": "Call", "Id": "x", "More": 1},
        "ContactRequest": None,
        "Geolocation": {"longitude": 13.4, "latitude": 52.5, "accuracy": 0, "altitude": 34.5, "speed": 3},
        "FileInfo": {"type": "text/plain", "size": 12, "name": "a.txt", "id": "f1", "chunks": 1, "x": 1},
        "SeenMids": ["m1", "m2"],
        "Mid": "m0",
        "State": "",
        "Typing": "start",
    }
    await a.send(chat(b.id, Message="files", Status=status, Unknown="dropped", NoEcho=True))
    got = (await b.recv())["Data"]["Chat"]
    assert list(got) == ["Message", "Time", "NoEcho", "Status"]
    assert got["Status"] == {
        "Typing": "start", "Mid": "m0", "SeenMids": ["m1", "m2"],
        "FileInfo": {"id": "f1", "chunks": 1, "name": "a.txt", "size": 12, "type": "text/plain"},
        "Geolocation": {"latitude": 52.5, "longitude": 13.4, "altitude": 34.5},
        "AutoCall": {"Id": "x", "Type": "Call"},
    }
    assert list(got["Status"]) == ["Typing", "Mid", "SeenMids", "FileInfo", "Geolocation", "AutoCall"]
    assert list(got["Status"]["FileInfo"]) == ["id", "chunks", "name", "size", "type"]
    assert list(got["Status"]["Geolocation"]) == ["latitude", "longitude", "altitude"]
    assert list(got["Status"]["AutoCall"]) == ["Id", "Type"]


@pytest.mark.gen_test
async def test_file_info_keeps_all_keys_when_empty(server):
    a = await server.connect()
    b = await server.connect()
    await a.send(chat(b.id, Message="", Status={"FileInfo": {"id": "f"}}, NoEcho=True))
    got = (await b.recv())["Data"]["Chat"]
    assert got["Status"] == {"FileInfo": {"id": "f", "chunks": 0, "name": "", "size": 0, "type": ""}}


@pytest.mark.gen_test
async def test_empty_status_object_stays_an_object(server):
    a = await server.connect()
    b = await server.connect()
    await a.send(chat(b.id, Message="typing", Status={}, NoEcho=True))
    got = (await b.recv())["Data"]["Chat"]
    assert got["Status"] == {} and got["Message"] == "typing"


@pytest.mark.gen_test
async def test_chat_without_inner_message_is_ignored(server):
    a, b = await pair(server)
    await a.send({"Type": "Chat", "Chat": {"To": "", "Type": "Chat"}})
    await a.send({"Type": "Chat", "Chat": {"To": b.id, "Type": "Chat", "Chat": None}})
    await a.send({"Type": "Chat", "Iid": "c"})
    assert await a.silent(0.3) and await b.silent(0.05)


@pytest.mark.gen_test
async def test_chat_with_wrong_types_is_a_bad_request(server):
    a, b = await pair(server)
    for message in ({"Message": 5}, {"Message": "x", "NoEcho": "yes"}, {"Message": "x", "Status": "typing"},
                    {"Message": "x", "Status": {"FileInfo": {"size": -1}}}):
        await a.send({**chat("", **message), "Iid": "bad"})
        err = await a.recv()
        assert err == {"Data": {"Type": "Error", "Code": "bad_request", "Message": err["Data"]["Message"]},
                       "From": a.id, "Iid": "bad"}
    assert await b.silent(0.2)


@pytest.mark.gen_test
async def test_chat_counters(server):
    a, b = await pair(server)
    before = server.hub.stats()
    await a.send(chat("", Message="1", NoEcho=True))
    await b.recv()
    await a.send(chat(b.id, Message="2", NoEcho=True))
    await b.recv()
    await a.send(chat(b.id, Message="3", NoEcho=True, Status={"Typing": "stop"}))
    await b.recv()
    after = server.hub.stats()
    assert after["broadcastchatmessages"] == before["broadcastchatmessages"] + 1
    assert after["unicastchatmessages"] == before["unicastchatmessages"] + 1
