"""Channeling API, the session itself: handshake, Self, TURN/STUN, reclaim with ?t=, Alive,
Authentication (login nonces) and attestations (protocol.md 4.1, 4.3, 4.7.1, 4.7.11, 4.7.12, 5, 6;
gotchas 4, 5, 8, 10, 11, 12, 14, 18, 19, 20)."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
import types
from unittest import mock

import pytest
import tornado.httpclient
import tornado.websocket

from helpers import ENCRYPTION_SECRET

URL_SAFE = re.compile(r"^[A-Za-z0-9_=-]+$")
SELF_KEYS = ["Type", "Id", "Sid", "Userid", "Suserid", "Token", "Version", "ApiVersion", "Turn", "Stun"]
ERROR_KEYS = ["Type", "Code", "Message"]


def suserid(userid: str) -> str:
    digest = hmac.new(bytes.fromhex(ENCRYPTION_SECRET), userid.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def assert_error(msg: dict, code: str, sender: str, iid: str | None = None, message: str | None = None) -> None:
    """An Error reply: Data{Type,Code,Message}, From = own id, Iid only when one was sent, no To/A."""
    assert list(msg) == (["Data", "From", "Iid"] if iid else ["Data", "From"]), msg
    assert msg["From"] == sender
    if iid:
        assert msg["Iid"] == iid
    assert list(msg["Data"]) == ERROR_KEYS, msg
    assert msg["Data"]["Type"] == "Error" and msg["Data"]["Code"] == code, msg
    if message is not None:
        assert msg["Data"]["Message"] == message


async def authenticate(srv, client, userid: str) -> dict:
    """Log a connected client in the way REST does: mint a nonce, then send Authentication."""
    nonce = srv.hub.authorize(client.id, client.self_doc["Sid"], userid)
    reply = await client.request("Authentication", {"Type": "Authentication",
                                                    "Authentication": {"Userid": userid, "Nonce": nonce}})
    assert reply["Data"]["Type"] == "Self", reply
    client.self_doc = reply["Data"]
    return reply


# ---------------------------------------------------------------- handshake (4.1)

@pytest.mark.gen_test
async def test_ws_non_get_is_405_with_empty_body(server):
    for method in ("POST", "PUT", "DELETE"):
        resp = await server.fetch("ws", method=method)
        assert resp.code == 405, method
        assert resp.body == b""


@pytest.mark.gen_test
async def test_ws_get_without_upgrade_is_400(server):
    resp = await server.fetch("ws")
    assert resp.code == 400
    assert resp.body == b"Bad Request\n"
    assert resp.headers.get("Sec-WebSocket-Version") == "13"


@pytest.mark.gen_test
async def test_connect_sends_exactly_one_self_without_iid_or_a(server):
    # the server's own origin (others are refused by default: http.allowedOrigins, docs/security.md)
    request = tornado.httpclient.HTTPRequest(server.ws_url, headers={"Origin": f"http://127.0.0.1:{server.port}"})
    conn = await tornado.websocket.websocket_connect(request)
    raw = await conn.read_message()
    assert raw.endswith("\n") and raw.count("\n") == 1 and not raw.startswith(" ")
    msg = json.loads(raw)
    assert list(msg) == ["Data", "From"]
    assert msg["Data"]["Type"] == "Self" and msg["From"] == msg["Data"]["Id"]
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(conn.read_message(), 0.3)  # nothing else before the client speaks
    conn.close()


# ---------------------------------------------------------------- Self (4.7.1, 5, 6)

@pytest.mark.gen_test
async def test_self_shape_without_turn_secret(make_server):
    srv = await make_server({"app": {"turnURIs": "turn:turn.example.org:3478?transport=udp"}})
    a = await srv.connect()
    doc = a.self_doc
    assert list(doc) == SELF_KEYS
    assert doc["Type"] == "Self" and doc["Userid"] == "" and doc["Suserid"] == ""
    assert doc["Version"] == srv.config.version
    assert doc["ApiVersion"] == 1.4 and isinstance(doc["ApiVersion"], float)
    # gotcha 8: urls is null, not [], without turnSecret, even with turnURIs configured
    assert doc["Turn"] == {"username": "", "password": "", "ttl": 0, "urls": None}
    assert list(doc["Turn"]) == ["username", "password", "ttl", "urls"]
    assert doc["Stun"] == []
    assert re.fullmatch(r"[A-Za-z0-9]{32}", doc["Sid"])
    assert URL_SAFE.match(doc["Id"]) and URL_SAFE.match(doc["Token"])
    assert srv.hub.tickets.validate_session(doc["Id"], doc["Sid"])


@pytest.mark.gen_test
async def test_self_turn_credentials_verify_with_turn_secret(make_server):
    secret = "0123456789abcdef"  # gotcha 20: raw bytes, never hex-decoded
    srv = await make_server({"app": {"turnSecret": secret, "stunURIs": "stun:stun.example.org:3478",
                                     "turnURIs": "turn:t.example.org:3478?transport=udp turn:t.example.org:3478"}})
    a = await srv.connect()
    turn = a.self_doc["Turn"]
    assert list(turn) == ["username", "password", "ttl", "urls"]
    assert turn["ttl"] == 3600
    assert turn["urls"] == ["turn:t.example.org:3478?transport=udp", "turn:t.example.org:3478"]
    expiry, user = turn["username"].split(":", 1)
    assert abs(int(expiry) - (time.time() + 3600)) < 10
    assert user == base64.b64encode(hashlib.sha256(a.id.encode()).digest()).decode()
    expected = base64.b64encode(hmac.new(secret.encode(), turn["username"].encode(), hashlib.sha1).digest())
    assert turn["password"] == expected.decode()
    assert a.self_doc["Stun"] == ["stun:stun.example.org:3478"]


@pytest.mark.gen_test
async def test_turn_secret_without_uris_gives_empty_list(make_server):
    srv = await make_server({"app": {"turnSecret": "x"}})
    a = await srv.connect()
    assert a.self_doc["Turn"]["urls"] == []
    assert a.self_doc["Turn"]["password"]


@pytest.mark.gen_test
async def test_self_request_is_a_reply_with_iid_and_a_new_token(server):
    a = await server.connect()
    reply = await a.request("Self", {"Type": "Self", "Self": {}})
    assert list(reply) == ["Data", "From", "Iid"]
    assert reply["From"] == a.id
    doc = reply["Data"]
    assert list(doc) == SELF_KEYS
    assert doc["Id"] == a.id and doc["Sid"] == a.self_doc["Sid"]
    assert doc["Token"] != a.self_doc["Token"]  # fresh IV every time
    # without an Iid the reply has none
    await a.send({"Type": "Self", "Self": {}})
    msg = await a.recv()
    assert list(msg) == ["Data", "From"] and msg["Data"]["Type"] == "Self"


# ---------------------------------------------------------------- reclaim (4.1, 4.3, 5.4)

@pytest.mark.gen_test
async def test_reclaim_after_close_keeps_id_and_sid(server):
    a = await server.connect()
    b = await server.connect()
    await a.hello("r")
    await b.hello("r")
    await a.recv_type("Joined")
    b.close()
    left = await a.recv_type("Left")
    assert left["Data"] == {"Type": "Left", "Id": b.id, "Status": "hard"}  # gotcha 13
    b2 = await server.connect(b.self_doc["Token"])
    assert b2.id == b.id and b2.self_doc["Sid"] == b.self_doc["Sid"]
    await b2.hello("r")
    joined = await a.recv_type("Joined")
    assert joined["Data"]["Id"] == b.id


@pytest.mark.gen_test
async def test_invalid_token_gives_a_fresh_session(server):
    a = await server.connect()
    token = a.self_doc["Token"]
    for bad in ("garbage", token[:-8] + "AAAAAAA=", "A" * 5000):
        c = await server.connect(bad)
        assert c.id != a.id and c.self_doc["Sid"] != a.self_doc["Sid"]
        c.close()


@pytest.mark.gen_test
async def test_reclaim_while_connected_replaces_without_left(server):
    a = await server.connect()
    b = await server.connect()
    await a.hello("r")
    await b.hello("r")
    await a.recv_type("Joined")
    await b.send({"Type": "Status", "Status": {"Type": "Status", "Status": {"displayName": "bee"}}})
    await a.recv_type("Status")
    b2 = await server.connect(b.self_doc["Token"])
    assert b2.id == b.id
    assert await b.closed(), "the old connection must be closed"
    assert await a.silent(0.4), "peers see no Left"
    # the old member was dropped silently: the room lists only a
    users = await a.request("Users", {})
    assert [u["Id"] for u in users["Data"]["Users"]] == [a.id]
    # the new session starts without room, Ua or Status
    err = await b2.request("Users", {})
    assert err["Data"]["Code"] == "not_in_room"
    await b2.hello("r")
    joined = await a.recv_type("Joined")
    assert joined["Data"] == {"Type": "Joined", "Id": b.id, "Ua": "test", "Prio": 100}
    # the replaced socket's close did not unregister the new session
    await a.send({"Type": "Chat", "Chat": {"To": b.id, "Type": "Chat", "Chat": {"Message": "still there?"}}})
    got = await b2.recv_type("Chat")
    assert got["Data"]["Chat"]["Message"] == "still there?"


@pytest.mark.gen_test
async def test_token_userid_is_ignored_with_users_disabled(server):
    a = await server.connect()
    token = server.hub.tickets.session_token(a.id, a.self_doc["Sid"], "alice")
    a.close()
    await a.closed()
    a2 = await server.connect(token)
    assert a2.id == a.id and a2.self_doc["Userid"] == "" and a2.self_doc["Suserid"] == ""


@pytest.mark.gen_test
async def test_token_userid_is_restored_with_users_enabled(make_server):
    srv = await make_server({"users": {"enabled": True}})
    a = await srv.connect()
    await authenticate(srv, a, "alice")
    token = a.self_doc["Token"]
    a.close()
    await a.closed()
    a2 = await srv.connect(token)
    assert a2.id == a.id
    assert a2.self_doc["Userid"] == "alice" and a2.self_doc["Suserid"] == suserid("alice")
    await a2.hello("r")
    users = await a2.request("Users", {})
    me = users["Data"]["Users"][0]
    # Rev: +1 for the authentication at connect, +1 for the Hello
    assert me == {"Type": "Online", "Id": a.id, "Userid": "alice", "Ua": "test", "Rev": 2, "Prio": 100}


# ---------------------------------------------------------------- Alive (4.7.11)

@pytest.mark.gen_test
async def test_alive_echoes_its_payload(server):
    a = await server.connect()
    reply = await a.request("Alive", {"Type": "Alive", "Alive": 1389190912092})
    assert reply == {"Data": {"Type": "Alive", "Alive": 1389190912092}, "From": a.id, "Iid": reply["Iid"]}
    assert list(reply["Data"]) == ["Type", "Alive"]
    await a.send({"Type": "Alive", "Alive": {"Type": "Alive", "Alive": 5}})
    assert await a.recv() == {"Data": {"Type": "Alive", "Alive": 5}, "From": a.id}
    biggest = 2 ** 64 - 1  # a uint64
    reply = await a.request("Alive", {"Type": "Alive", "Alive": biggest})
    assert reply["Data"]["Alive"] == biggest


@pytest.mark.gen_test
async def test_alive_without_payload_replies_zero(server):
    a = await server.connect()
    await a.send({"Type": "Alive", "Iid": "z"})
    assert await a.recv() == {"Data": {"Type": "Alive", "Alive": 0}, "From": a.id, "Iid": "z"}
    await a.send({"Type": "Alive", "Alive": None})
    assert await a.recv() == {"Data": {"Type": "Alive", "Alive": 0}, "From": a.id}


@pytest.mark.gen_test
async def test_alive_with_negative_or_fractional_value_is_a_bad_request(server):
    a = await server.connect()
    for value in (-1, 1.5, "12", 2 ** 64):
        await a.send({"Type": "Alive", "Alive": {"Type": "Alive", "Alive": value}, "Iid": "n"})
        assert_error(await a.recv(), "bad_request", a.id, "n")


# ---------------------------------------------------------------- Authentication (4.7.12, 5.6)

@pytest.mark.gen_test
async def test_authentication_success_replies_self_and_broadcasts_status(make_server):
    srv = await make_server({"users": {"enabled": True}})
    a = await srv.connect()
    b = await srv.connect()
    await a.hello("r")
    await b.hello("r")
    await a.recv_type("Joined")
    reply = await authenticate(srv, b, "bob@local")
    assert list(reply) == ["Data", "From", "Iid"] and reply["From"] == b.id
    doc = reply["Data"]
    assert list(doc) == SELF_KEYS
    assert doc["Id"] == b.id and doc["Userid"] == "bob@local"
    assert doc["Suserid"] == suserid("bob@local")  # gotcha 18: standard base64, encryptionSecret key
    assert srv.hub.tickets.decode_session_token(doc["Token"]) == (b.id, b.self_doc["Sid"], "bob@local")
    status = await a.recv_type("Status")
    assert list(status) == ["Data", "From", "A"] and status["From"] == b.id
    assert status["Data"] == {"Type": "Status", "Id": b.id, "Userid": "bob@local", "Ua": "test", "Rev": 2,
                              "Prio": 100}
    # a second attempt: already authenticated (even with a fresh nonce request being refused)
    await b.send({"Type": "Authentication", "Authentication": {
        "Type": "Authentication", "Authentication": {"Userid": "bob@local", "Nonce": "x"}}})
    assert_error(await b.recv(), "already_authenticated", b.id, message="session already authenticated")


@pytest.mark.gen_test
async def test_authentication_errors(make_server):
    srv = await make_server({"users": {"enabled": True}})
    a = await srv.connect()

    async def auth(payload, iid="i"):
        await a.send({"Type": "Authentication", "Authentication": payload, "Iid": iid})
        return await a.recv()

    assert_error(await auth(None), "bad_request", a.id, "i", "message did not contain Authentication")
    assert_error(await auth({"Type": "Authentication"}), "bad_request", a.id, "i",
                 "message did not contain Authentication")
    # no nonce stored at all
    assert_error(await auth({"Type": "Authentication", "Authentication": {"Userid": "u", "Nonce": "n"}}),
                 "invalid_session_token", a.id, "i", "nonce validation failed")
    first = srv.hub.authorize(a.id, a.self_doc["Sid"], "first")
    latest = srv.hub.authorize(a.id, a.self_doc["Sid"], "u")
    # only the latest nonce counts (gotcha 14)
    assert_error(await auth({"Type": "Authentication", "Authentication": {"Userid": "first", "Nonce": first}}),
                 "invalid_session_token", a.id, "i", "nonce validation failed")
    assert_error(await auth({"Type": "Authentication", "Authentication": {"Userid": "other", "Nonce": latest}}),
                 "invalid_session_token", a.id, "i", "user id mismatch")
    # an expired nonce (over 60 s old)
    with mock.patch("time.time", return_value=time.time() - 120):
        old = srv.hub.authorize(a.id, a.self_doc["Sid"], "u")
    reply = await auth({"Type": "Authentication", "Authentication": {"Userid": "u", "Nonce": old}})
    assert_error(reply, "invalid_session_token", a.id, "i")
    assert "expired" in reply["Data"]["Message"]
    # and nothing of this authenticated the session
    me = await a.request("Self", {})
    assert me["Data"]["Userid"] == ""


@pytest.mark.gen_test
async def test_nonce_is_bound_to_its_session(make_server):
    srv = await make_server({"users": {"enabled": True}})
    a = await srv.connect()
    b = await srv.connect()
    nonce = srv.hub.authorize(a.id, a.self_doc["Sid"], "u")
    b_nonce = srv.hub.authorize(b.id, b.self_doc["Sid"], "u")
    assert nonce != b_nonce
    await b.send({"Type": "Authentication", "Authentication": {
        "Type": "Authentication", "Authentication": {"Userid": "u", "Nonce": nonce}}})
    assert_error(await b.recv(), "invalid_session_token", b.id)
    reply = await a.request("Authentication", {"Type": "Authentication",
                                               "Authentication": {"Userid": "u", "Nonce": nonce}})
    assert reply["Data"]["Userid"] == "u"


# ---------------------------------------------------------------- attestations (4.4, 5.5)

@pytest.mark.gen_test
async def test_attestation_on_unicast_and_broadcast_but_not_replies(server):
    a = await server.connect()
    b = await server.connect()
    welcome = await a.hello("r")
    assert "A" not in welcome and "To" not in welcome
    await b.hello("r")
    joined = await a.recv_type("Joined")  # a broadcast
    assert list(joined) == ["Data", "From", "A"]
    assert server.hub.tickets.decode_attestation(joined["A"]) == b.id
    await b.send({"Type": "Offer", "Offer": {"To": a.id, "Type": "Offer", "Offer": {"sdp": "x"}}})
    offer = await a.recv_type("Offer")  # a unicast
    assert list(offer) == ["Data", "From", "To", "A"]
    assert offer["To"] == a.id and server.hub.tickets.decode_attestation(offer["A"]) == b.id
    assert URL_SAFE.match(offer["A"])


@pytest.mark.gen_test
async def test_attestation_lifetime_and_contact_tokens_never_expire(make_server):
    """Gotcha 19: attestations are accepted for 300 s; contact tokens do not expire."""
    srv = await make_server({"users": {"enabled": True, "mode": "httpheader"}})
    a = await srv.connect(headers={"x-users": "alice"})
    b = await srv.connect(headers={"x-users": "bob"})
    now = time.time()
    with mock.patch("time.time", return_value=now - 240):
        recent = srv.hub.tickets.attest(b.id)
    with mock.patch("time.time", return_value=now - 400):
        stale = srv.hub.tickets.attest(b.id)
    with mock.patch("time.time", return_value=now - 5 * 365 * 86400):
        contact = srv.hub.tickets.contact_token("alice", "bob")
    ok = await a.request("Sessions", {"Type": "Sessions", "Sessions": {"Type": "session", "Token": recent}})
    assert [u["Id"] for u in ok["Data"]["Users"]] == [b.id]
    bad = await a.request("Sessions", {"Type": "Sessions", "Sessions": {"Type": "session", "Token": stale}})
    assert_error(bad, "bad_attestation", a.id, bad["Iid"])
    found = await a.request("Sessions", {"Type": "Sessions", "Sessions": {"Type": "contact", "Token": contact}})
    assert [u["Id"] for u in found["Data"]["Users"]] == [b.id]


@pytest.mark.gen_test
async def test_fresh_sessions_are_valid_and_distinct(server):
    """8.22/8.23: every fresh session's Id validates against its Sid, and not against another Sid."""
    clients = [await server.connect() for _ in range(10)]
    ids = {c.id for c in clients}
    assert len(ids) == 10
    for c in clients:
        assert server.hub.tickets.validate_session(c.id, c.self_doc["Sid"])
        assert not server.hub.tickets.validate_session(c.id, clients[0].self_doc["Sid"]) or c is clients[0]


@pytest.mark.gen_test
async def test_disconnect_forgets_the_user(make_server):
    srv = await make_server({"users": {"enabled": True}})
    a = await srv.connect()
    await authenticate(srv, a, "alice")
    assert srv.hub.stats()["users"] == 1
    a2 = await srv.connect()
    await authenticate(srv, a2, "alice")
    a.close()
    await a.closed()
    await asyncio.sleep(0.1)
    assert srv.hub.stats()["users"] == 1  # alice still has a session
    a2.close()
    await a2.closed()
    await asyncio.sleep(0.1)
    assert srv.hub.stats()["users"] == 0


@pytest.mark.gen_test
async def test_attestation_is_cached_and_renewed_after_180_seconds(server):
    """5.5: the cached A is reused while it is under 180 s old, then encoded afresh."""
    a = await server.connect()
    b = await server.connect()

    async def attestation_at(offset: float) -> str:
        clock = types.SimpleNamespace(monotonic=lambda: time.monotonic() + offset,
                                      time=lambda: time.time() + offset)
        with mock.patch("spreed.session.time", clock), mock.patch("spreed.tokens.time", clock):
            await b.send({"Type": "Offer", "Offer": {"To": a.id, "Type": "Offer", "Offer": {}}})
            return (await a.recv())["A"]

    first = await attestation_at(0)
    assert await attestation_at(100) == first
    renewed = await attestation_at(200)
    assert renewed != first
    assert server.hub.tickets.decode_attestation(renewed) == b.id
    assert await attestation_at(250) == renewed
