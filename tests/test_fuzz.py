"""Hostile input: arbitrary and mutated channeling documents and REST bodies (hypothesis, seeded).

After every run the server is alive, refused messages got an Error (or a 4xx JSON body), nothing
leaked in the hub, and a well-behaved pair of clients kept chatting throughout without loss.
"""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from websockets.sync.client import connect

from threaded import ThreadedServer

OVERRIDES = {
    "users": {"enabled": True, "mode": "sharedsecret", "sharedsecret_secret": "fuzz", "allowRegistration": True},
    "http": {"stats": True},
    "limits": {"enabled": False, "messagesPerSecond": 10_000},
    "app": {"globalRoom": "everyone"},
    "roomtypes": {"^conf": "Conference"},
}
KNOWN_CODES = {"bad_request", "default_room_disabled", "room_join_requires_account", "authorization_required",
               "authorization_not_required", "invalid_credentials", "not_in_room", "already_authenticated",
               "invalid_session_token", "contacts_not_enabled", "bad_attestation", "no_such_session"}
FUZZ_SETTINGS = settings(max_examples=400, derandomize=True, deadline=None,
                         suppress_health_check=list(HealthCheck))

json_leaf = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
             | st.text(max_size=30))
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=25)

TEMPLATES = [
    {"Type": "Hello", "Hello": {"Version": "1.0.0", "Ua": "fuzz", "Name": "fuzzroom", "Type": "",
                                "Credentials": {"PIN": "1"}}},
    {"Type": "Room", "Room": {"Type": "Room", "Name": "fuzzroom", "Credentials": {"PIN": ""}}},
    {"Type": "Offer", "Offer": {"To": "x", "Type": "Offer", "Offer": {"sdp": "v=0", "type": "offer"}}},
    {"Type": "Candidate", "Candidate": {"To": "x", "Type": "Candidate", "Candidate": {"candidate": "c"}}},
    {"Type": "Bye", "Bye": {"To": "x", "Type": "Bye", "Bye": {"Reason": "busy"}}},
    {"Type": "Status", "Status": {"Type": "Status", "Status": {"displayName": "x", "buddyPicture": "data:image/png;base64,AAAA"}}},
    {"Type": "Chat", "Chat": {"To": "", "Type": "Chat", "Chat": {"Message": "m", "Mid": "1", "NoEcho": True,
                              "Status": {"Typing": "start", "SeenMids": ["1"], "FileInfo": {"id": "f", "chunks": 1,
                                         "name": "n", "size": 1, "type": "t"},
                                         "ContactRequest": {"Id": "c", "Success": False}}}}},
    {"Type": "Conference", "Conference": {"Id": "c", "Type": "Conference", "Conference": ["a", "b"]}},
    {"Type": "Alive", "Alive": {"Type": "Alive", "Alive": 1}},
    {"Type": "Authentication", "Authentication": {"Type": "Authentication", "Authentication": {"Userid": "u", "Nonce": "n"}}},
    {"Type": "Sessions", "Sessions": {"Type": "Sessions", "Sessions": {"Type": "session", "Token": "t"}}},
    {"Type": "Users", "Users": {}}, {"Type": "Leave", "Leave": {}}, {"Type": "Self", "Self": {}},
]


def paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from paths(value, prefix + (key,))


@st.composite
def mutated(draw):
    doc = json.loads(json.dumps(draw(st.sampled_from(TEMPLATES))))
    for _ in range(draw(st.integers(1, 3))):
        options = [p for p in paths(doc) if p]
        if not options:  # every key was deleted
            break
        path = draw(st.sampled_from(options))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "case"]))
        if action == "replace":
            parent[path[-1]] = draw(json_value)
        elif action == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1].swapcase()] = parent.pop(path[-1])
        if not isinstance(doc, dict):
            break
    return doc


frames = (mutated().map(json.dumps) | json_value.map(json.dumps) | st.text(max_size=200)
          | st.binary(max_size=64) | st.text(min_size=1000, max_size=5000).map(lambda s: json.dumps({"Type": "Chat", "Chat": {"To": "", "Type": "Chat", "Chat": {"Message": s}}})))


class ChattingPair:
    """Two clients in one room exchanging numbered chats in a thread for the whole run."""

    def __init__(self, ws_url: str) -> None:
        self.a, self.b = connect(ws_url), connect(ws_url)
        self.sent = self.received = 0
        self.running = True
        for client in (self.a, self.b):
            json.loads(client.recv(5))
            client.send(json.dumps({"Type": "Hello", "Hello": {"Name": "calm", "Ua": "pair"}, "Iid": "h"}))
            while json.loads(client.recv(5)).get("Iid") != "h":  # wait for the Welcome: then B hears all
                pass
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.reader = threading.Thread(target=self._read, daemon=True)

    def start(self) -> None:
        self.thread.start()
        self.reader.start()

    def _run(self) -> None:
        while self.running:
            self.sent += 1
            self.a.send(json.dumps({"Type": "Chat", "Chat": {"To": "", "Type": "Chat", "Chat": {
                "Message": f"seq {self.sent}", "NoEcho": True}}}))
            time.sleep(0.02)

    def _read(self) -> None:
        while True:
            try:
                msg = json.loads(self.b.recv(10))
            except Exception:
                return
            data = msg.get("Data") or {}
            if data.get("Type") == "Chat" and data["Chat"]["Message"].startswith("seq "):
                self.received += 1

    def stop(self) -> tuple[int, int]:
        self.running = False
        self.thread.join(5)
        deadline = time.time() + 5
        while self.received < self.sent and time.time() < deadline:
            time.sleep(0.05)
        self.a.close()
        self.b.close()
        return self.sent, self.received


def exchange(client, frame) -> list[dict]:
    """Send one frame, then an Alive sentinel; return everything received before the sentinel's reply."""
    client.send(frame)
    client.send(json.dumps({"Type": "Alive", "Alive": {"Type": "Alive", "Alive": 7}, "Iid": "sentinel"}))
    received = []
    while True:
        msg = json.loads(client.recv(5))
        if msg.get("Iid") == "sentinel":
            return received
        received.append(msg)


def hub_counts(srv, threaded) -> dict:
    def read():
        hub = srv.hub
        return {"sessions": len(hub.sessions), "rooms": hub.rooms.live_count(), "users": len(hub.users),
                "images": len(hub.images.images), "connections": len(hub.connections_by_idx)}
    return threaded.call(read)


@pytest.fixture(scope="module")
def fuzz_server():
    threaded = ThreadedServer(OVERRIDES)
    with threaded as srv:
        pair = ChattingPair(srv.ws_url)
        pair.start()
        yield srv, threaded
        sent, received = pair.stop()
        assert sent > 20 and received == sent, (sent, received)
        deadline = time.time() + 5
        while time.time() < deadline and any(hub_counts(srv, threaded).values()):
            time.sleep(0.05)
        assert hub_counts(srv, threaded) == {"sessions": 0, "rooms": 0, "users": 0, "images": 0, "connections": 0}


def test_fuzz_channeling_documents(fuzz_server):
    srv, _ = fuzz_server
    client = connect(srv.ws_url, max_size=None)
    json.loads(client.recv(5))

    @FUZZ_SETTINGS
    @given(frame=frames)
    def check(frame):
        replies = exchange(client, frame)
        errors = [m["Data"] for m in replies if isinstance(m.get("Data"), dict) and m["Data"].get("Type") == "Error"]
        for error in errors:
            assert error["Code"] in KNOWN_CODES and isinstance(error["Message"], str)
        if isinstance(frame, str):
            try:
                parsed = json.loads(frame)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                assert any(e["Code"] == "bad_request" for e in errors), frame

    check()
    client.close()


def test_fuzz_rest_bodies(fuzz_server):
    srv, _ = fuzz_server
    client = connect(srv.ws_url)
    me = json.loads(client.recv(5))["Data"]
    targets = [("POST", "api/v1/tokens", "application/x-www-form-urlencoded"),
               ("PATCH", f"api/v1/sessions/{me['Id']}/", "application/json"),
               ("POST", "api/v1/users", "application/json"),
               ("POST", "api/v1/users", "application/x-www-form-urlencoded"),
               ("POST", "api/v1/rooms", "text/plain")]

    @settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    @given(target=st.sampled_from(targets), body=st.binary(max_size=300) | json_value.map(lambda v: json.dumps(v).encode()))
    def check(target, body):
        method, path, content_type = target
        request = urllib.request.Request(srv.url + path, data=body, method=method,
                                         headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        assert status < 500, (status, payload)
        if status >= 400 and payload:
            doc = json.loads(payload)
            assert doc["success"] is False and doc["code"]

    check()
    client.close()


def test_invalid_utf8_and_binary_frames(fuzz_server):
    srv, _ = fuzz_server
    client = connect(srv.ws_url)
    json.loads(client.recv(5))
    client.send(b"\xff\xfe binary is ignored")
    assert exchange(client, json.dumps({"Type": "Users"})) and True
    # a text frame with invalid UTF-8 is a protocol violation: that connection (only) is closed
    client.protocol.send_frame = lambda *_: None  # the library must not answer the Close it will not see
    raw = client.socket
    raw.sendall(bytes([0x81, 0x80 | 2, 1, 2, 3, 4]) + bytes(b ^ m for b, m in zip(b"\xc3\x28", b"\x01\x02")))
    client.socket.settimeout(5)
    data = b""
    try:
        while True:
            chunk = raw.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    assert b"\x88" in data or data == b""  # a close frame, or the socket just went away
    other = connect(srv.ws_url)
    assert json.loads(other.recv(5))["Data"]["Type"] == "Self"
    other.close()


# ---------------------------------------------------------------- the same, with the abuse limits on (issue #6)

LIMITED = {**OVERRIDES, "limits": {"messagesPerSecond": 10_000, "chatMessageBytes": 2000, "statusBytes": 3000,
                                   "pinAttemptsPerMinute": 3, "roomPinAttemptsPerMinute": 6, "maxRooms": 8,
                                   "restPerSecond": 5, "restBurst": 10}}
LIMIT_CODES = {"message_too_large", "too_many_attempts", "room_limit_reached"}


def test_fuzz_with_the_abuse_limits_on():
    """Refusals by the limits are Error documents with their own codes; nothing leaks, the pair chats on."""
    threaded = ThreadedServer(LIMITED)
    with threaded as srv:
        pair = ChattingPair(srv.ws_url)
        pair.start()
        client = connect(srv.ws_url, max_size=None)
        json.loads(client.recv(5))
        seen: set[str] = set()

        @settings(max_examples=250, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
        @given(frame=frames)
        def check(frame):
            for msg in exchange(client, frame):
                data = msg.get("Data")
                if isinstance(data, dict) and data.get("Type") == "Error":
                    assert data["Code"] in KNOWN_CODES | LIMIT_CODES and isinstance(data["Message"], str)
                    seen.add(data["Code"])

        check()
        for i in range(5):  # wrong PINs past the limit, on purpose
            client.send(json.dumps({"Type": "Hello", "Iid": f"p{i}", "Hello": {"Name": "calm", "Credentials": {
                "PIN": str(i)}}}))
        statuses = []
        for _ in range(30):
            try:
                with urllib.request.urlopen(urllib.request.Request(srv.url + "api/v1/rooms", data=b"",
                                                                   method="POST"), timeout=5) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
                assert json.loads(exc.read()) == {"code": "rate_limited", "message": "Too many requests, slow down",
                                                  "success": False}
        assert 429 in statuses and set(statuses) <= {200, 429}
        assert "message_too_large" in seen, seen
        client.close()
        sent, received = pair.stop()
        assert sent > 20 and received == sent, (sent, received)
        deadline = time.time() + 5
        while time.time() < deadline and any(hub_counts(srv, threaded).values()):
            time.sleep(0.05)
        assert hub_counts(srv, threaded) == {"sessions": 0, "rooms": 0, "users": 0, "images": 0, "connections": 0}
        assert threaded.call(lambda: srv.hub.guard.connections) == {}


header_value = (st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=50)
                | st.sampled_from(["203.0.113.5", "127.0.0.1", "::1", "2001:db8::1", "::ffff:10.0.0.1", "unknown",
                                   "10.0.0.1, 203.0.113.5", "203.0.113.5,,127.0.0.1", "[::1]:80", "1.2.3.4:5"]))


@settings(max_examples=300, derandomize=True, deadline=None)
@given(real=header_value, forwarded=st.lists(header_value, max_size=4),
       peer=st.sampled_from(["127.0.0.1", "::1", "203.0.113.9"]))
def test_forwarding_headers_never_yield_garbage_addresses(real, forwarded, peer):
    """Whatever a proxy (or a client through it) writes, the address is the peer's or a real IP."""
    import ipaddress

    import tornado.httputil

    from handlers.base import client_address
    headers = tornado.httputil.HTTPHeaders()
    if real:
        headers["X-Real-IP"] = real
    for value in forwarded:
        if value:
            headers.add("X-Forwarded-For", value)
    request = tornado.httputil.HTTPServerRequest(method="GET", uri="/ws", headers=headers)
    request.remote_ip = peer
    address = client_address(request, ["127.0.0.1", "::1"])
    ipaddress.ip_address(address)
    if peer == "203.0.113.9":
        assert address == peer
