"""Flood and abuse limits (issue #6, docs/security.md): connections and connects per address,
REST requests per address, wrong room PINs per session and per room, Chat and Status sizes, rooms
and sessions in total; the real client address behind trusted proxies; one log line per offender
per minute; `limits.enabled: false` switches them all off."""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import os

import pytest

from helpers import test_config
from spreed.config import ConfigError
from spreed.limits import Guard, RefusalLog, client_key


async def handshake(srv, headers: dict[str, str] | None = None):
    """A websocket upgrade on a bare connection: (status, headers, body, writer). A 101 stays open."""
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    key = base64.b64encode(os.urandom(16)).decode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    writer.write((f"GET {srv.config.base_path}ws HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\n{extra}\r\n").encode())
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)).decode()
    status = int(head.split()[1])
    fields = dict(line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
    body = b""
    if status != 101:
        body = await asyncio.wait_for(reader.readexactly(int(fields.get("Content-Length", 0))), 3)
    return status, fields, body, writer


async def refused(srv, headers: dict[str, str] | None = None) -> tuple[int, dict, dict]:
    status, fields, body, writer = await handshake(srv, headers)
    writer.close()
    assert status != 101, "the handshake was accepted"
    assert fields["Content-Type"] == "application/json"
    doc = json.loads(body)
    assert doc["success"] is False and isinstance(doc["message"], str)
    return status, fields, doc


async def accepted(srv, headers: dict[str, str] | None = None):
    status, _, body, writer = await handshake(srv, headers)
    assert status == 101, body
    return writer


async def until(predicate, timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


class Records(logging.Handler):
    """Collects the refusal log lines (pytest runs with -p no:logging, so no caplog)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def refusal_log():
    handler = Records()
    logger = logging.getLogger("spreed.limits")
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


# ---------------------------------------------------------------- websocket connections per address

@pytest.mark.gen_test
async def test_connections_per_ip_refuse_with_429_before_the_upgrade(make_server, refusal_log):
    srv = await make_server({"limits": {"connectionsPerIp": 3}})
    open_ = [await accepted(srv) for _ in range(3)]
    for _ in range(5):
        status, fields, doc = await refused(srv)
        assert (status, doc["code"]) == (429, "too_many_connections")
        assert fields["Retry-After"] == "10"
    assert len(srv.hub.sessions) == 3, "a refused handshake makes no session"
    assert sum("connectionsPerIp" in line for line in refusal_log) == 1, "logged once, not per refusal"
    open_.pop().close()
    await until(lambda: srv.hub.guard.connections.get("127.0.0.1") == 2)
    open_.append(await accepted(srv))
    for writer in open_:
        writer.close()
    await until(lambda: not srv.hub.guard.connections and not srv.hub.sessions)


@pytest.mark.gen_test
async def test_new_connections_per_second_per_ip(make_server):
    srv = await make_server({"limits": {"connectsPerSecond": 1, "connectBurst": 3}})
    writers = [await accepted(srv) for _ in range(3)]
    status, fields, doc = await refused(srv)
    assert (status, doc["code"], fields["Retry-After"]) == (429, "rate_limited", "1")
    await asyncio.sleep(1.05)  # a token refills every second
    writers.append(await accepted(srv))
    for writer in writers:
        writer.close()


@pytest.mark.gen_test
async def test_a_flood_from_one_address_leaves_others_alone(make_server):
    srv = await make_server({"limits": {"connectionsPerIp": 2, "connectsPerSecond": 1, "connectBurst": 2}})
    calm = await srv.connect(headers={"X-Real-IP": "198.51.100.7"})
    await calm.hello("calm")
    other = await srv.connect(headers={"X-Real-IP": "198.51.100.8"})
    await other.hello("calm")
    await calm.recv_type("Joined")
    flooder = {"X-Forwarded-For": "203.0.113.66"}
    results = await asyncio.gather(*(handshake(srv, flooder) for _ in range(20)))
    assert sum(status == 101 for status, *_ in results) == 2
    for _, _, _, writer in results:
        writer.close()
    await calm.send({"Type": "Chat", "Chat": {"To": "", "Type": "Chat", "Chat": {"Message": "still here"}}})
    assert (await other.recv_type("Chat"))["Data"]["Chat"]["Message"] == "still here"


# ---------------------------------------------------------------- the client address behind proxies

@pytest.mark.gen_test
async def test_forwarded_addresses_count_only_from_trusted_proxies(make_server):
    srv = await make_server({"limits": {"connectionsPerIp": 1}})  # the peer 127.0.0.1 is trusted
    a = await accepted(srv, {"X-Forwarded-For": "203.0.113.5"})
    assert (await refused(srv, {"X-Forwarded-For": "203.0.113.5"}))[2]["code"] == "too_many_connections"
    # what a client writes to the left of the proxy's entry is not believed
    assert (await refused(srv, {"X-Forwarded-For": "198.51.100.1, 203.0.113.5"}))[0] == 429
    b = await accepted(srv, {"X-Real-IP": "203.0.113.6"})
    assert srv.hub.guard.connections == {"203.0.113.5": 1, "203.0.113.6": 1}
    a.close()
    b.close()

    untrusting = await make_server({"limits": {"connectionsPerIp": 1}, "http": {"trustedProxies": []}})
    c = await accepted(untrusting, {"X-Real-IP": "203.0.113.7"})
    assert (await refused(untrusting, {"X-Real-IP": "203.0.113.8"}))[0] == 429
    assert untrusting.hub.guard.connections == {"127.0.0.1": 1}
    c.close()


@pytest.mark.gen_test
async def test_an_ipv6_host_is_counted_by_its_64(make_server):
    srv = await make_server({"limits": {"connectionsPerIp": 1}})
    a = await accepted(srv, {"X-Real-IP": "2001:db8:1:2::1"})
    assert (await refused(srv, {"X-Real-IP": "2001:db8:1:2:ffff::9"}))[0] == 429
    b = await accepted(srv, {"X-Real-IP": "2001:db8:1:3::1"})
    a.close()
    b.close()


def test_client_keys():
    assert client_key("192.0.2.1") == "192.0.2.1"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key("2001:db8::1") == client_key("2001:db8::abcd:1") == "2001:db8::/64"
    assert client_key("not an address") == "not an address"


# ---------------------------------------------------------------- REST

@pytest.mark.gen_test
async def test_rest_requests_per_ip_are_limited_with_429_json(make_server, refusal_log):
    srv = await make_server({"limits": {"restPerSecond": 0.5, "restBurst": 5}})
    for i in range(5):
        resp = await srv.fetch("api/v1/tokens", method="POST", body=f"a=guess{i}")
        assert resp.code == 403 and json.loads(resp.body)["code"] == "invalid_token"
    for i in range(10):
        resp = await srv.fetch("api/v1/tokens", method="POST", body=f"a=more{i}")
        assert resp.code == 429
        assert resp.headers["Content-Type"] == "application/json"
        assert resp.headers["Retry-After"] == "1"
        assert json.loads(resp.body) == {"code": "rate_limited", "message": "Too many requests, slow down",
                                         "success": False}
    assert sum("restPerSecond" in line for line in refusal_log) == 1
    # another client behind the trusted proxy has its own budget
    resp = await srv.fetch("api/v1/config", headers={"X-Forwarded-For": "203.0.113.9"})
    assert resp.code == 200
    await asyncio.sleep(2.05)  # one token refills in 2 s
    assert (await srv.fetch("api/v1/config")).code == 200


@pytest.mark.gen_test
async def test_session_logins_cannot_be_guessed_quickly(make_server):
    srv = await make_server({"limits": {"restPerSecond": 0.5, "restBurst": 3},
                             "users": {"enabled": True, "mode": "sharedsecret", "sharedsecret_secret": "s"}})
    client = await srv.connect()
    codes = []
    for i in range(6):
        body = json.dumps({"id": client.id, "sid": client.self_doc["Sid"], "useridcombo": f"9999999999:u{i}",
                           "secret": "d3Jvbmc="})
        resp = await srv.fetch(f"api/v1/sessions/{client.id}/", method="PATCH", body=body,
                               headers={"Content-Type": "application/json"})
        codes.append((resp.code, json.loads(resp.body)["code"]))
    assert codes == [(403, "session_patch_failed")] * 3 + [(429, "rate_limited")] * 3


# ---------------------------------------------------------------- room PINs

async def pin_room(srv, pin: str = "1234"):
    owner = await srv.connect()
    await owner.hello("vault", Credentials={"PIN": pin})
    return owner


@pytest.mark.gen_test
async def test_wrong_pins_per_session_slow_further_attempts(make_server, refusal_log):
    srv = await make_server({"limits": {"pinAttemptsPerMinute": 3}})
    await pin_room(srv)
    guesser = await srv.connect()
    assert (await guesser.hello("vault"))["Data"]["Code"] == "authorization_required"  # does not count
    for pin in ("0000", "1111", "2222"):
        assert (await guesser.hello("vault", Credentials={"PIN": pin}))["Data"]["Code"] == "invalid_credentials"
    for pin in ("3333", "1234"):  # past the limit not even the right PIN is compared
        error = (await guesser.hello("vault", Credentials={"PIN": pin}))["Data"]
        assert error == {"Type": "Error", "Code": "too_many_attempts",
                         "Message": "Too many wrong PINs, try again in a minute"}
    assert guesser.id not in srv.hub.rooms.rooms["Room:vault"].members
    assert sum("pinAttemptsPerMinute" in line for line in refusal_log) == 1
    # someone else with the right PIN is not held back
    friend = await srv.connect()
    assert (await friend.hello("vault", Credentials={"PIN": "1234"}))["Data"]["Type"] == "Welcome"
    # a minute later (here: a shortened window) the guesser may try again
    srv.hub.guard.pin_by_session.window = 0.3
    await asyncio.sleep(0.35)
    assert (await guesser.hello("vault", Credentials={"PIN": "1234"}))["Data"]["Type"] == "Welcome"


@pytest.mark.gen_test
async def test_wrong_pins_per_room_from_many_sessions(make_server):
    srv = await make_server({"limits": {"pinAttemptsPerMinute": 3, "roomPinAttemptsPerMinute": 4}})
    owner = await pin_room(srv)
    for _ in range(2):  # a guesser that reconnects for every pair of guesses
        guesser = await srv.connect()
        for pin in ("1", "2"):
            assert (await guesser.hello("vault", Credentials={"PIN": pin}))["Data"]["Code"] == "invalid_credentials"
        guesser.close()
    late = await srv.connect()
    assert (await late.hello("vault", Credentials={"PIN": "1234"}))["Data"]["Code"] == "too_many_attempts"
    # members inside are not affected, nor are other rooms
    assert (await owner.request("Users", {}))["Data"]["Type"] == "Users"
    assert (await late.hello("elsewhere"))["Data"]["Type"] == "Welcome"


@pytest.mark.gen_test
async def test_pin_guessing_from_one_address_does_not_lock_out_the_rightful_members(make_server, refusal_log):
    """300 wrong PINs in a minute from one address (through the trusted proxy) cannot keep a member out."""
    srv = await make_server()  # the default limits
    owner = await pin_room(srv)
    attacker = {"X-Forwarded-For": "203.0.113.99"}
    answers: dict[str, int] = {}
    for _ in range(30):  # a guesser that takes a fresh session for every ten guesses
        guesser = await srv.connect(headers=attacker)
        for n in range(10):
            code = (await guesser.hello("vault", Credentials={"PIN": f"{n:04d}x"}))["Data"]["Code"]
            answers[code] = answers.get(code, 0) + 1
        guesser.close()
    limits = srv.hub.config.limits
    assert answers["invalid_credentials"] == limits.address_pin_attempts_per_minute  # then every PIN waits
    assert answers["too_many_attempts"] == 300 - limits.address_pin_attempts_per_minute
    assert any("addressPinAttemptsPerMinute refused 203.0.113.99" in line for line in refusal_log)

    member = await srv.connect(headers={"X-Forwarded-For": "198.51.100.20"})
    assert (await member.hello("vault", Credentials={"PIN": "1234"}))["Data"]["Type"] == "Welcome"
    # the guesser, even with a fresh session and now the right PIN, still waits
    again = await srv.connect(headers=attacker)
    assert (await again.hello("vault", Credentials={"PIN": "1234"}))["Data"]["Code"] == "too_many_attempts"
    assert (await owner.recv_type("Joined"))["Data"]["Id"] == member.id


@pytest.mark.gen_test
async def test_room_limit_stops_many_guessing_addresses_but_not_a_clean_one(make_server):
    """A botnet: each address guesses a little; past the room limit guessers wait, newcomers do not."""
    srv = await make_server({"limits": {"roomPinAttemptsPerMinute": 6}})
    await pin_room(srv)
    bots = [{"X-Real-IP": f"203.0.113.{n}"} for n in range(1, 4)]
    for bot in bots:
        guesser = await srv.connect(headers=bot)
        for pin in ("1", "2"):
            assert (await guesser.hello("vault", Credentials={"PIN": pin}))["Data"]["Code"] == "invalid_credentials"
        guesser.close()
    for bot in bots:  # the room has had its six wrong PINs: these addresses wait, whatever they send
        guesser = await srv.connect(headers=bot)
        assert (await guesser.hello("vault", Credentials={"PIN": "1234"}))["Data"]["Code"] == "too_many_attempts"
        guesser.close()
    newcomer = await srv.connect(headers={"X-Real-IP": "203.0.113.50"})  # one wrong try, then it waits too
    assert (await newcomer.hello("vault", Credentials={"PIN": "9"}))["Data"]["Code"] == "invalid_credentials"
    assert (await newcomer.hello("vault", Credentials={"PIN": "1234"}))["Data"]["Code"] == "too_many_attempts"
    member = await srv.connect(headers={"X-Real-IP": "198.51.100.21"})
    assert (await member.hello("vault", Credentials={"PIN": "1234"}))["Data"]["Type"] == "Welcome"


# ---------------------------------------------------------------- Chat and Status sizes

def chat_doc(text: str, to: str = "") -> dict:
    return {"To": to, "Type": "Chat", "Chat": {"Message": text}}


@pytest.mark.gen_test
async def test_chat_and_status_sizes(make_server):
    srv = await make_server({"limits": {"chatMessageBytes": 2000, "statusBytes": 3000}})
    a, b = await srv.connect(), await srv.connect()
    await a.hello("talk")
    await b.hello("talk")
    await a.recv_type("Joined")
    error = (await a.request("Chat", chat_doc("ü" * 1000)))["Data"]  # 2000 bytes of text, more in all
    assert error == {"Type": "Error", "Code": "message_too_large",
                     "Message": "Chat messages are limited to 2000 bytes"}
    assert (await a.request("Chat", chat_doc("x" * 4000, to=b.id)))["Data"]["Code"] == "message_too_large"
    assert await b.silent(0.3), "nothing of a refused chat reaches anyone"
    await a.send({"Type": "Chat", "Chat": chat_doc("x" * 1500)})
    assert len((await b.recv_type("Chat"))["Data"]["Chat"]["Message"]) == 1500

    status = {"Type": "Status", "Status": {"displayName": "n" * 3000}}
    error = (await a.request("Status", status))["Data"]
    assert error == {"Type": "Error", "Code": "message_too_large",
                     "Message": "Status documents are limited to 3000 bytes"}
    assert srv.hub.sessions[a.id].status is None
    await a.send({"Type": "Status", "Status": {"Type": "Status", "Status": {"displayName": "ok"}}})
    assert (await b.recv_type("Status"))["Data"]["Status"] == {"displayName": "ok"}


@pytest.mark.gen_test
async def test_default_status_limit_fits_the_largest_buddy_picture(server):
    from spreed.images import MAX_DATA_URL
    assert server.config.limits.status_bytes > MAX_DATA_URL + 1024
    client = await server.connect()
    picture = "data:image/png;base64," + "A" * (MAX_DATA_URL - 22)
    await client.send({"Type": "Status", "Status": {"Type": "Status", "Status": {"buddyPicture": picture}},
                       "Iid": "s"})
    assert await client.silent(0.5), "no Error: the picture is judged by images.py, not by the size limit"


# ---------------------------------------------------------------- totals

@pytest.mark.gen_test
async def test_max_rooms(make_server):
    srv = await make_server({"limits": {"maxRooms": 2}})
    a, b, c = await srv.connect(), await srv.connect(), await srv.connect()
    await a.hello("one")
    await b.hello("two")
    error = (await c.hello("three"))["Data"]
    assert error == {"Type": "Error", "Code": "room_limit_reached",
                     "Message": "The server cannot open more rooms right now"}
    assert (await c.hello("one"))["Data"]["Type"] == "Welcome"  # existing rooms stay open to join


@pytest.mark.gen_test
async def test_max_sessions_refuses_new_connections_with_503(make_server):
    srv = await make_server({"limits": {"maxSessions": 2}})
    a, b = await srv.connect(), await srv.connect()
    status, fields, doc = await refused(srv, {"X-Real-IP": "203.0.113.1"})
    assert (status, doc["code"], fields["Retry-After"]) == (503, "server_full", "10")
    a.close()
    await until(lambda: len(srv.hub.sessions) == 1)
    c = await srv.connect()
    assert (await c.request("Alive", {"Type": "Alive", "Alive": 2}))["Data"]["Alive"] == 2
    b.close()
    c.close()


# ---------------------------------------------------------------- switched off

@pytest.mark.gen_test
async def test_limits_enabled_false_switches_every_abuse_limit_off(make_server):
    srv = await make_server({"limits": {"enabled": False, "connectionsPerIp": 1, "connectsPerSecond": 0.01,
                                        "connectBurst": 1, "restPerSecond": 0.01, "restBurst": 1,
                                        "pinAttemptsPerMinute": 1, "roomPinAttemptsPerMinute": 1,
                                        "chatMessageBytes": 1024, "statusBytes": 1024, "maxRooms": 1,
                                        "maxSessions": 1}})
    clients = [await srv.connect() for _ in range(4)]
    for _ in range(5):
        assert (await srv.fetch("api/v1/config")).code == 200
    await clients[0].hello("a", Credentials={"PIN": "9"})
    for pin in ("1", "2", "3"):
        assert (await clients[1].hello("a", Credentials={"PIN": pin}))["Data"]["Code"] == "invalid_credentials"
    assert (await clients[1].hello("a", Credentials={"PIN": "9"}))["Data"]["Type"] == "Welcome"
    assert (await clients[2].hello("b"))["Data"]["Type"] == "Welcome"
    await clients[0].send({"Type": "Chat", "Chat": chat_doc("x" * 5000)})
    assert len((await clients[1].recv_type("Chat"))["Data"]["Chat"]["Message"]) == 5000
    assert srv.hub.guard.connections == {"127.0.0.1": 4}  # still counted, never refused


# ---------------------------------------------------------------- config and logging

def test_limit_options_are_parsed_and_checked():
    cfg = test_config({"limits": {"connectionsPerIp": 7, "connectsPerSecond": "2.5", "restBurst": 9,
                                  "maxRooms": 3, "statusBytes": 4096}})
    lim = cfg.limits
    assert (lim.connections_per_ip, lim.connects_per_second, lim.rest_burst, lim.max_rooms, lim.status_bytes) \
        == (7, 2.5, 9, 3, 4096)
    assert test_config().limits.enabled is True
    for option, value in (("connectionsPerIp", 0), ("restPerSecond", "fast"), ("maxSessions", True)):
        with pytest.raises(ConfigError) as exc:
            test_config({"limits": {option: value}})
        assert exc.value.option == f"limits.{option}"


def test_refusals_are_logged_once_per_offender_per_minute(refusal_log, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("spreed.limits._now", lambda: clock[0])
    log = RefusalLog()
    for _ in range(50):
        log.refused("restPerSecond", "192.0.2.1")
    log.refused("restPerSecond", "192.0.2.2")
    clock[0] += 59
    log.refused("restPerSecond", "192.0.2.1")
    clock[0] += 2
    log.refused("restPerSecond", "192.0.2.1")
    assert [line.split(" (")[0] for line in refusal_log] == [
        "limit restPerSecond refused 192.0.2.1", "limit restPerSecond refused 192.0.2.2",
        "limit restPerSecond refused 192.0.2.1"]
    assert log.counts == {"restPerSecond": 53}


def test_tracked_offenders_are_bounded():
    from spreed.config import Limits
    guard = Guard(True, Limits(rest_per_second=1, rest_burst=1))
    guard.rest.buckets.maxsize = guard.log.last.maxsize = 100
    for i in range(1000):
        guard.rest_request(f"10.0.{i // 256}.{i % 256}")
        guard.rest_request(f"10.0.{i // 256}.{i % 256}")
    assert len(guard.rest.buckets) == 100 and len(guard.log.last) == 100
