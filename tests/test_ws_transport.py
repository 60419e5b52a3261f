"""Channeling transport: frame format, bad input, the 1 MiB limit (1009), the rate limit, pings and
dead peers, binary frames, and the bounded send queue that cuts off a client that stops reading
(protocol.md 0.2, 4.2, 4.4; gotchas 1, 2, 46; issue #2 transport limits)."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import struct

import pytest

from server_process import processes  # noqa: F401  (a fixture)

class RawClient:
    """A websocket client on a bare socket: it only reads when asked to and never answers pings,
    which is exactly what a stuck or vanished browser looks like to the server."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.self_doc: dict = {}

    @classmethod
    async def connect(cls, srv, rcvbuf: int = 0, read_self: bool = True) -> "RawClient":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("127.0.0.1", srv.port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {srv.config.base_path}ws HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                   f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n")
        await loop.sock_sendall(sock, request.encode())
        client = cls(sock)
        head = await client._read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        if read_self:
            opcode, payload = await client.read_frame()
            assert opcode == 1
            client.self_doc = json.loads(payload)["Data"]
        return client

    @property
    def id(self) -> str:
        return self.self_doc["Id"]

    async def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            await self._fill()
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    async def _fill(self) -> None:
        data = await asyncio.get_running_loop().sock_recv(self.sock, 65536)
        if not data:
            raise ConnectionError("closed by the server")
        self.buffer += data

    async def _read_exact(self, n: int) -> bytes:
        while len(self.buffer) < n:
            await self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    async def read_frame(self, timeout: float = 3.0) -> tuple[int, bytes]:
        async def read() -> tuple[int, bytes]:
            b1, b2 = await self._read_exact(2)
            length = b2 & 0x7F
            if length == 126:
                length = struct.unpack("!H", await self._read_exact(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", await self._read_exact(8))[0]
            return b1 & 0x0F, await self._read_exact(length)
        return await asyncio.wait_for(read(), timeout)

    async def send_frame(self, payload: bytes, opcode: int = 1) -> None:
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n <= 0xFFFF:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask(payload, mask)
        await asyncio.get_running_loop().sock_sendall(self.sock, header + mask + masked)

    async def send(self, doc: dict) -> None:
        await self.send_frame(json.dumps(doc).encode())

    def close(self) -> None:
        self.sock.close()


def _mask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


def chat(text: str) -> dict:
    return {"Type": "Chat", "Chat": {"To": "", "Type": "Chat", "Chat": {"Message": text, "NoEcho": True}}}


# ---------------------------------------------------------------- frame format (0.2, gotcha 1)

@pytest.mark.gen_test
async def test_frames_are_compact_json_with_one_newline(server):
    a = await server.connect()
    await a.send({"Type": "Alive", "Alive": {"Type": "Alive", "Alive": 7}, "Iid": "f"})
    raw = await a.conn.read_message()
    assert raw == '{"Data":{"Type":"Alive","Alive":7},"From":"%s","Iid":"f"}\n' % a.id


@pytest.mark.gen_test
async def test_strings_are_escaped_html_safe(server):
    a = await server.connect()
    b = await server.connect()
    await a.send({"Type": "Chat", "Chat": {"To": b.id, "Type": "Chat",
                                           "Chat": {"Message": "<b>&\u2028\u2029</b>", "NoEcho": True}}})
    raw = await b.conn.read_message()
    assert "\\u003cb\\u003e\\u0026\\u2028\\u2029\\u003c/b\\u003e" in raw, raw
    assert json.loads(raw)["Data"]["Chat"]["Message"] == "<b>&\u2028\u2029</b>"


@pytest.mark.gen_test
async def test_non_ascii_text_is_sent_raw(server):
    a = await server.connect()
    b = await server.connect()
    await a.send({"Type": "Chat", "Chat": {"To": b.id, "Type": "Chat",
                                           "Chat": {"Message": "grüße ☃", "NoEcho": True}}})
    raw = await b.conn.read_message()
    assert "grüße ☃" in raw and raw.endswith("\n")


# ---------------------------------------------------------------- bad input (issue #2: Error, connection stays)

@pytest.mark.gen_test
async def test_invalid_json_gets_bad_request_and_the_connection_stays(server):
    a = await server.connect()
    for text in ("{not json", "", "[1,2]", "42", '"Hello"', "null"):
        await a.send(text)
        msg = await a.recv()
        assert list(msg) == ["Data", "From"], (text, msg)
        assert list(msg["Data"]) == ["Type", "Code", "Message"]
        assert msg["Data"]["Type"] == "Error" and msg["Data"]["Code"] == "bad_request", (text, msg)
    reply = await a.request("Alive", {"Type": "Alive", "Alive": 3})
    assert reply["Data"]["Alive"] == 3


@pytest.mark.gen_test
async def test_wrong_types_get_bad_request_with_the_iid(server):
    a = await server.connect()
    cases = [
        {"Type": 5, "Iid": "t1"},
        {"Type": "Hello", "Hello": {"Name": 5}, "Iid": "t2"},
        {"Type": "Hello", "Hello": "room", "Iid": "t3"},
        {"Type": "Room", "Room": {"Name": "r", "Credentials": {"PIN": 1234}}, "iid": "t4"},
        {"Type": "Alive", "Alive": {"Alive": -5}, "Iid": "t5"},
        {"Type": "Conference", "Conference": {"Conference": "not a list"}, "Iid": "t6"},
        {"Type": "Sessions", "Sessions": {"Sessions": {"Type": ["contact"]}}, "Iid": "t7"},
    ]
    for doc in cases:
        await a.send(doc)
        msg = await a.recv()
        iid = doc.get("Iid") or doc.get("iid")
        assert list(msg) == ["Data", "From", "Iid"] and msg["Iid"] == iid, (doc, msg)
        assert msg["Data"]["Type"] == "Error" and msg["Data"]["Code"] == "bad_request", (doc, msg)
    # a non-string Iid cannot be echoed
    await a.send({"Type": "Hello", "Hello": {"Name": 5}, "Iid": 17})
    assert list(await a.recv()) == ["Data", "From"]
    assert (await a.hello("still-works"))["Data"]["Type"] == "Welcome"


@pytest.mark.gen_test
async def test_wrong_types_are_not_executed(server):
    a = await server.connect()
    b = await server.connect()
    await a.hello("r")
    await b.hello("r")
    await a.recv_type("Joined")
    await b.send({"Type": "Chat", "Chat": {"To": "", "Type": "Chat", "Chat": {"Message": "x", "Mid": 5}}})
    assert (await b.recv())["Data"]["Code"] == "bad_request"
    assert await a.silent(0.2)


@pytest.mark.gen_test
async def test_keys_are_case_insensitive_and_unknown_keys_ignored(server):
    a = await server.connect()
    reply = await a.request("Hello", {"version": "1", "UA": "lower", "name": "ci", "type": "", "extra": {"x": 1}})
    assert reply["Data"]["Room"]["Name"] == "ci"
    assert reply["Data"]["Users"][0]["Ua"] == "lower"
    await a.send({"TYPE": "Alive", "alive": {"type": "Alive", "ALIVE": 9}, "iid": "ci2", "Unknown": [1]})
    assert await a.recv() == {"Data": {"Type": "Alive", "Alive": 9}, "From": a.id, "Iid": "ci2"}


@pytest.mark.gen_test
async def test_a_later_exact_key_overrides_a_case_folded_one(server):
    a = await server.connect()
    await a.send({"type": "Hello", "Type": "Alive", "Alive": {"Type": "Alive", "Alive": 1}, "Iid": "e"})
    assert (await a.recv())["Data"] == {"Type": "Alive", "Alive": 1}


@pytest.mark.gen_test
async def test_a_handler_bug_gives_error_unknown_and_the_connection_survives(server, monkeypatch):
    def broken(req):
        raise RuntimeError("boom")

    monkeypatch.setitem(server.hub.handlers, "Self", broken)
    a = await server.connect()
    reply = await a.request("Self", {})
    assert reply["Data"]["Type"] == "Error" and reply["Data"]["Code"] == "unknown"
    assert "boom" not in reply["Data"]["Message"]
    assert (await a.request("Alive", {"Type": "Alive", "Alive": 1}))["Data"]["Alive"] == 1


@pytest.mark.gen_test
async def test_binary_frames_are_ignored(server):
    a = await server.connect()
    await a.send(b'{"Type":"Alive","Alive":{"Type":"Alive","Alive":1},"Iid":"bin"}')
    assert await a.silent(0.3)
    assert (await a.request("Alive", {"Type": "Alive", "Alive": 2}))["Data"]["Alive"] == 2


# ---------------------------------------------------------------- size limit (4.2: 1009)

@pytest.mark.gen_test
async def test_message_over_1_mib_closes_with_1009(server):
    a = await server.connect()
    b = await server.connect()
    await a.hello("r")
    await b.hello("r")
    await a.recv_type("Joined")
    prefix = '{"Type":"Alive","Alive":{"Type":"Alive","Alive":1},"Iid":"big","Pad":"'
    exact = prefix + "x" * (1024 * 1024 - len(prefix) - 2) + '"}'
    assert len(exact) == 1024 * 1024
    await b.send(exact)  # exactly 1 MiB is fine
    assert (await b.recv(10))["Iid"] == "big"
    await b.send(exact[:-2] + 'x"}')
    assert await b.closed(10)
    assert b.conn.close_code == 1009
    left = await a.recv_type("Left")
    assert left["Data"] == {"Type": "Left", "Id": b.id, "Status": "hard"}


# ---------------------------------------------------------------- rate limit (4.2)

@pytest.mark.gen_test
async def test_more_than_20_messages_per_second_are_delayed_not_dropped(server):
    a = await server.connect()
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(26):
        await a.send({"Type": "Alive", "Alive": {"Type": "Alive", "Alive": i}, "Iid": f"r{i}"})
    arrivals = []
    for i in range(26):
        msg = await a.recv(5)
        assert msg["Iid"] == f"r{i}", "in order, none dropped"
        arrivals.append(loop.time() - start)
    assert arrivals[19] < 0.8, arrivals
    assert arrivals[20] >= 0.9, arrivals  # the 21st waits until the 1st is a second old
    assert arrivals[25] < 3.0, arrivals


@pytest.mark.gen_test
async def test_binary_frames_do_not_count_against_the_rate_limit(server):
    a = await server.connect()
    for _ in range(30):
        await a.send(b"\x00binary")
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(20):
        await a.send({"Type": "Alive", "Alive": {"Type": "Alive", "Alive": i}, "Iid": f"b{i}"})
    for i in range(20):
        assert (await a.recv(3))["Iid"] == f"b{i}"
    assert loop.time() - start < 0.8


@pytest.mark.gen_test
async def test_rate_limit_is_per_connection(server):
    a = await server.connect()
    b = await server.connect()
    for i in range(25):
        await a.send({"Type": "Alive", "Alive": {"Type": "Alive", "Alive": i}})
    loop = asyncio.get_running_loop()
    start = loop.time()
    reply = await b.request("Alive", {"Type": "Alive", "Alive": 1})
    assert reply["Data"]["Alive"] == 1 and loop.time() - start < 0.5


# ---------------------------------------------------------------- pings and dead peers (4.2)

@pytest.mark.gen_test
async def test_server_pings_and_drops_a_peer_that_does_not_answer(make_server):
    srv = await make_server({"limits": {"pingInterval": 0.2, "pingTimeout": 0.5}})
    a = await srv.connect()  # answers pings (the client library does)
    await a.hello("r")
    dead = await RawClient.connect(srv)
    await dead.send({"Type": "Hello", "Hello": {"Name": "r", "Ua": "raw"}, "Iid": "1"})
    assert json.loads((await dead.read_frame())[1])["Data"]["Type"] == "Welcome"
    assert (await a.recv_type("Joined"))["Data"]["Id"] == dead.id
    loop = asyncio.get_running_loop()
    start = loop.time()
    opcode, payload = await dead.read_frame(2)
    assert opcode == 0x9 and payload == b""  # a ping with an empty payload
    left = await a.recv_type("Left", timeout=3)
    assert left["Data"] == {"Type": "Left", "Id": dead.id, "Status": "hard"}
    assert loop.time() - start < 2.0, "dropped soon after the timeout, not after a closing handshake"
    dead.close()
    # the answering client stayed connected through several ping rounds
    assert (await a.request("Alive", {"Type": "Alive", "Alive": 1}))["Data"]["Alive"] == 1
    assert a.id in srv.hub.sessions


@pytest.mark.gen_test
async def test_pongs_keep_a_raw_client_alive(make_server):
    srv = await make_server({"limits": {"pingInterval": 0.15, "pingTimeout": 0.4}})
    raw = await RawClient.connect(srv)
    loop = asyncio.get_running_loop()
    end = loop.time() + 1.2
    pings = 0
    while loop.time() < end:
        opcode, payload = await raw.read_frame(1)
        if opcode == 0x9:
            pings += 1
            await raw.send_frame(payload, opcode=0xA)
    assert pings >= 3
    await raw.send({"Type": "Alive", "Alive": {"Type": "Alive", "Alive": 4}, "Iid": "p"})
    while True:
        opcode, payload = await raw.read_frame(1)
        if opcode == 1:
            assert json.loads(payload)["Iid"] == "p"
            break
    raw.close()


# ---------------------------------------------------------------- a replaced connection (4.3)

@pytest.mark.gen_test
async def test_a_replaced_connection_can_no_longer_act(server):
    a = await server.connect()
    await a.hello("r")
    old = await RawClient.connect(server)  # does not process the server's close frame by itself
    new = await server.connect(old.self_doc["Token"])
    assert new.id == old.id
    await old.send({"Type": "Hello", "Hello": {"Name": "r", "Ua": "ghost"}, "Iid": "g"})
    await old.send({"Type": "Chat", "Chat": {"To": "", "Type": "Chat", "Chat": {"Message": "boo"}}})
    assert await a.silent(0.4)
    users = await a.request("Users", {})
    assert [u["Id"] for u in users["Data"]["Users"]] == [a.id]
    old.close()
    assert await a.silent(0.2)
    await new.hello("r")
    assert (await a.recv())["Data"]["Type"] == "Joined"


# ---------------------------------------------------------------- bounded send queue (issue #2)

@pytest.mark.gen_test(timeout=40)
async def test_a_client_that_stops_reading_is_cut_off_while_others_keep_chatting(make_server):
    srv = await make_server({"limits": {"sendQueueMessages": 16, "sendQueueBytes": 65536}})
    a = await srv.connect()
    b = await srv.connect()
    await a.hello("r")
    await b.hello("r")
    await a.recv_type("Joined")
    stuck = await RawClient.connect(srv, rcvbuf=4096)
    await stuck.send({"Type": "Hello", "Hello": {"Name": "r", "Ua": "stuck"}})
    for peer in (a, b):
        assert (await peer.recv_type("Joined"))["Data"]["Id"] == stuck.id
    # from now on `stuck` never reads again
    loop = asyncio.get_running_loop()
    pad = "x" * 60000
    deadline = loop.time() + 25
    sent = 0
    cut_off = False
    while not cut_off:
        assert loop.time() < deadline, f"the stuck client was not cut off after {sent} messages"
        # a and b talk in turns; each message must reach the other promptly
        for sender, receiver in ((a, b), (b, a)):
            sent += 1
            started = loop.time()
            await sender.send(chat(f"{sent} {pad}"))
            while True:
                msg = await receiver.recv(5)
                kind = msg["Data"]["Type"]
                if kind == "Left":
                    assert msg["Data"] == {"Type": "Left", "Id": stuck.id, "Status": "hard"}
                    cut_off = True
                    continue
                assert kind == "Chat", msg
                assert msg["Data"]["Chat"]["Message"].startswith(f"{sent} ")
                break
            assert loop.time() - started < 2.0, "a slow reader must not slow the others down"
    assert stuck.id not in srv.hub.sessions
    # the others keep chatting after the cut-off
    for i in range(5):
        await a.send(chat(f"after {i}"))
        assert (await b.recv_type("Chat"))["Data"]["Chat"]["Message"] == f"after {i}"
        await b.send(chat(f"reply {i}"))
        assert (await a.recv_type("Chat"))["Data"]["Chat"]["Message"] == f"reply {i}"
    users = await a.request("Users", {})
    assert sorted(u["Id"] for u in users["Data"]["Users"]) == sorted([a.id, b.id])
    stuck.close()


@pytest.mark.gen_test
async def test_a_reading_client_gets_big_messages_despite_a_small_byte_limit(make_server):
    """A single message larger than sendQueueBytes is not a full queue."""
    # abuse limits off: this chat is larger than limits.chatMessageBytes on purpose
    srv = await make_server({"limits": {"sendQueueMessages": 16, "sendQueueBytes": 65536, "enabled": False}})
    a = await srv.connect()
    b = await srv.connect()
    text = "y" * 200_000
    await a.send({"Type": "Chat", "Chat": {"To": b.id, "Type": "Chat", "Chat": {"Message": text, "NoEcho": True}}})
    assert (await b.recv())["Data"]["Chat"]["Message"] == text
    assert (await b.request("Alive", {"Type": "Alive", "Alive": 1}))["Data"]["Alive"] == 1


@pytest.mark.gen_test(timeout=90)
async def test_memory_stays_flat_while_slow_consumers_are_cut_off(processes, tmp_path):
    """The resident memory of a real server process while stuck readers sit in a busy room (issue #6).

    Each round, six clients join and stop reading while 1200 chats of 48 KB go round the room: an
    unbounded queue would hold all 58 MB of them. They are cut off instead, the reader's latency stays
    low, and the process's memory stays where it was before, round after round.
    """
    from types import SimpleNamespace

    from helpers import WsClient
    server = processes(tmp_path, {"limits": {"enabled": False, "messagesPerSecond": 100_000,
                                             "sendQueueBytes": 1 << 20}, "http": {"metrics": True}}).start()
    await server.ready()
    target = SimpleNamespace(port=server.port, config=SimpleNamespace(base_path="/"))
    a, b = await WsClient.connect(server.ws_url), await WsClient.connect(server.ws_url)
    await a.hello("busy")
    await b.hello("busy")
    await a.recv_type("Joined")
    loop = asyncio.get_running_loop()
    pad = "z" * 48_000

    async def chat_round(label: str, count: int, stuck: list) -> int:
        """count chats from a to b; returns the highest resident memory seen meanwhile."""
        left, slowest, peak = set(), 0.0, 0
        for i in range(count):
            started = loop.time()
            await a.send(chat(f"{label} {i} {pad}"))
            while True:
                data = (await b.recv(5))["Data"]
                if data["Type"] == "Left":
                    left.add(data["Id"])
                    continue
                assert data["Chat"]["Message"].startswith(f"{label} {i} ")
                break
            slowest = max(slowest, loop.time() - started)
            if i % 100 == 99:
                peak = max(peak, server.rss())
        assert left == {c.id for c in stuck}, "every stuck reader was cut off"
        assert slowest < 2.0, f"a chat took {slowest:.2f} s to reach the reader"
        return peak

    await chat_round("warm-up", 200, [])
    baseline = server.rss()
    peaks = []
    for label in ("one", "two"):
        stuck = [await RawClient.connect(target, rcvbuf=4096) for _ in range(6)]
        for client in stuck:
            await client.send({"Type": "Hello", "Hello": {"Name": "busy", "Ua": "stuck"}})
            assert (await b.recv_type("Joined"))["Data"]["Id"] == client.id
        peaks.append(await chat_round(label, 1200, stuck))
        for client in stuck:
            client.close()
    growth = [(peak - baseline) >> 20 for peak in peaks]
    assert max(growth) < 25, f"resident memory grew by {growth} MiB over {baseline >> 20} MiB"
    metrics = (await server_get(server, "metrics")).body.decode()
    assert re.search(r"^spreed_slow_consumer_disconnects_total\{[^}]*\} 12\.0$", metrics, re.M), metrics
    await server.terminate()


async def server_get(server, path: str):
    import tornado.httpclient
    return await tornado.httpclient.AsyncHTTPClient().fetch(f"http://127.0.0.1:{server.port}/{path}")
