"""RFC 6455 framing of the channeling websocket, the case families of the Autobahn TestSuite (issue #13).

A raw client on asyncio streams writes exactly the bytes of each case, including broken ones, to a
real server on loopback with the default settings. Every protocol violation must be answered with
a Close frame carrying the right code (1002 protocol error, 1007 invalid UTF-8, 1009 too big)
within 1 s, then the TCP connection must end within 1 s, and the session must be cleaned up like
any lost connection (Left "hard" to its room) while the other sessions lose nothing.
Binary messages keep their channeling meaning: read and ignored (protocol.md 4.2).
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct

import pytest

from server_process import processes  # noqa: F401  (a fixture)


TEXT, BINARY, CLOSE, PING, PONG, CONT = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
SECOND = 1.0  # every answer to a violation, and the end of the connection after it, within this


def mask(payload: bytes, key: bytes) -> bytes:
    """The client-side XOR (RFC 6455 5.3), written out here so the test does not share the server's code."""
    n = len(payload)
    if not n:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def frame(opcode: int, payload: bytes = b"", fin: bool = True, rsv: int = 0, masked: bool = True,
          length: int | None = None) -> bytes:
    """One client frame; `length` overrides the length field (for headers whose payload is never sent)."""
    n = len(payload) if length is None else length
    first = (0x80 if fin else 0) | rsv | opcode
    bit = 0x80 if masked else 0
    if n < 126:
        header = struct.pack("!BB", first, bit | n)
    elif n <= 0xFFFF:
        header = struct.pack("!BBH", first, bit | 126, n)
    else:
        header = struct.pack("!BBQ", first, bit | 127, n)
    if not masked:
        return header + payload
    key = os.urandom(4)
    return header + key + mask(payload, key)


def alive(iid: str, size: int | None = None) -> bytes:
    """An Alive request (answered with its Iid), padded to exactly `size` bytes when given."""
    doc = '{"Type":"Alive","Alive":{"Type":"Alive","Alive":1},"Iid":"%s","Pad":"' % iid
    if size is None:
        return (doc + '"}').encode()
    pad = size - len(doc.encode()) - 2
    assert pad >= 0, size
    return (doc + "x" * pad + '"}').encode()


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


@pytest.fixture(autouse=True, params=["fast", "tornado"])
def entrance(request, monkeypatch):
    """Both ways into the websocket: a head in one piece takes the fast path (handlers.wsfast); a head
    that arrives in two pieces is left to Tornado's HTTP server, as a slow client's would be."""
    monkeypatch.setattr(RawWs, "entrance", request.param)
    return request.param


class RawWs:
    """A websocket client that sends whatever bytes a case needs and reads the server's frames as they are."""

    entrance = "fast"

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.self_doc: dict = {}

    @classmethod
    async def open(cls, srv) -> "RawWs":
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {srv.config.base_path}ws HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                   f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        if cls.entrance == "tornado":
            writer.write(request[:20])
            await writer.drain()
            await asyncio.sleep(0.05)
            request = request[20:]
        writer.write(request)
        client = cls(reader, writer)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
        assert head.startswith(b"HTTP/1.1 101"), head
        assert (b"Server: TornadoServer" in head) is (cls.entrance == "tornado"), head
        opcode, payload = await client.read_frame()
        assert opcode == TEXT
        client.self_doc = json.loads(payload)["Data"]
        assert client.self_doc["Type"] == "Self"
        return client

    @property
    def id(self) -> str:
        return self.self_doc["Id"]

    async def send(self, data: bytes, pieces: int = 1, byte_by_byte: bool = False) -> None:
        """Write data in one go, in `pieces` uneven TCP writes, or one byte per write."""
        if byte_by_byte:
            cuts = list(range(1, len(data)))
        else:
            cuts = sorted({len(data) * i * i // (pieces * pieces) for i in range(1, pieces)} - {0})
        start = 0
        for end in cuts + [len(data)]:
            self.writer.write(data[start:end])
            await self.writer.drain()
            if end < len(data):
                await asyncio.sleep(0.002 if byte_by_byte else 0.01)  # separate reads on the server
            start = end

    async def read_frame(self, timeout: float = 3.0) -> tuple[int, bytes]:
        """The next server frame as (opcode, payload); server frames are final, unmasked, without RSV bits."""
        async def read() -> tuple[int, bytes]:
            first, second = await self.reader.readexactly(2)
            assert first & 0xF0 == 0x80, f"first byte {first:#x}"
            assert not second & 0x80, "a server frame must not be masked"
            n = second & 0x7F
            if n == 126:
                n = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            return first & 0x0F, await self.reader.readexactly(n)
        return await asyncio.wait_for(read(), timeout)

    async def read_doc(self, timeout: float = 3.0) -> dict:
        opcode, payload = await self.read_frame(timeout)
        assert opcode == TEXT, (opcode, payload)
        return json.loads(payload)

    async def expect_close(self, code: int | None, before: int = 0) -> None:
        """The server's next frames: `before` text frames, then a Close with `code`, then the end of TCP.

        Both within SECOND; the end must be a clean EOF (no reset), with nothing after the Close."""
        for _ in range(before):
            assert (await self.read_frame(SECOND))[0] == TEXT
        opcode, payload = await self.read_frame(SECOND)
        assert opcode == CLOSE, (opcode, payload)
        assert len(payload) != 1
        got = struct.unpack("!H", payload[:2])[0] if payload else None
        assert got == code, f"close code {got}, expected {code}"
        payload[2:].decode("utf-8")  # the reason, if any, is UTF-8
        rest = await asyncio.wait_for(self.reader.read(), SECOND)
        assert rest == b"", f"after the Close: {rest!r}"

    async def alive_reply(self, iid: str) -> None:
        assert (await self.read_doc())["Iid"] == iid

    async def silent(self, timeout: float = 0.3) -> None:
        try:
            got = await self.read_frame(timeout)
        except asyncio.TimeoutError:
            return
        raise AssertionError(f"unexpected frame {got!r}")

    def close(self) -> None:
        self.writer.close()


async def gone(srv, session_id: str) -> bool:
    """The server forgot the session within SECOND."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SECOND
    while session_id in srv.hub.sessions:
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def refused(srv, data: bytes, code: int, **send: int | bool) -> None:
    """A fresh connection sends data and must get Close `code`, the end of TCP, and lose its session."""
    ws = await RawWs.open(srv)
    await ws.send(data, **send)
    await ws.expect_close(code)
    assert await gone(srv, ws.id)


# ---------------------------------------------------------------- 1. framing: sizes and TCP splits

SIZES = [0, 125, 126, 127, 65535, 65536]


@pytest.mark.gen_test
@pytest.mark.parametrize("how", ["whole", "pieces", "header byte by byte"])
async def test_text_of_every_length_class_is_answered(server, how):
    ws = await RawWs.open(server)
    for size in SIZES:
        if size == 0:
            data = frame(TEXT, b"")
        else:
            data = frame(TEXT, alive(f"s{size}", size))
        if how == "whole":
            await ws.send(data)
        elif how == "pieces":
            await ws.send(data, pieces=7)
        else:
            head = 2 + (2 if 126 <= size <= 0xFFFF else 8 if size > 0xFFFF else 0) + 4
            await ws.send(data[:head], byte_by_byte=True)
            await ws.send(data[head:], pieces=3)
        doc = await ws.read_doc()
        if size == 0:
            assert doc["Data"]["Code"] == "bad_request"  # an empty text message is valid framing, bad JSON
        else:
            assert doc["Iid"] == f"s{size}"


@pytest.mark.gen_test
async def test_a_whole_frame_byte_by_byte_and_many_frames_in_one_write(server):
    ws = await RawWs.open(server)
    await ws.send(frame(TEXT, alive("bytes", 130)), byte_by_byte=True)
    await ws.alive_reply("bytes")
    await ws.send(b"".join(frame(TEXT, alive(f"m{i}")) for i in range(10)))
    for i in range(10):
        await ws.alive_reply(f"m{i}")


@pytest.mark.gen_test
@pytest.mark.parametrize("size", SIZES)
async def test_binary_of_every_length_class_is_read_and_ignored(server, size):
    ws = await RawWs.open(server)
    await ws.send(frame(BINARY, os.urandom(size)) + frame(TEXT, alive("after")), pieces=5)
    await ws.alive_reply("after")  # nothing for the binary message, and the connection stays
    await ws.silent(0.2)


@pytest.mark.gen_test
@pytest.mark.parametrize("opcode", [TEXT, PING, CLOSE])
async def test_an_unmasked_client_frame_is_refused(server, opcode):
    payload = {TEXT: alive("unmasked"), PING: b"p", CLOSE: close_payload(1000)}[opcode]
    await refused(server, frame(opcode, payload, masked=False), 1002)


# ---------------------------------------------------------------- 2. pings and pongs

@pytest.mark.gen_test
@pytest.mark.parametrize("payload", [b"", b"hello", bytes(range(125))])
async def test_a_ping_is_answered_with_a_pong_of_the_same_payload(server, payload):
    ws = await RawWs.open(server)
    await ws.send(frame(PING, payload))
    assert await ws.read_frame(SECOND) == (PONG, payload)


@pytest.mark.gen_test
async def test_an_unsolicited_pong_is_ignored(server):
    ws = await RawWs.open(server)
    await ws.send(frame(PONG, b"unsolicited") + frame(PONG, b"") + frame(TEXT, alive("p")))
    await ws.alive_reply("p")
    await ws.silent(0.2)


@pytest.mark.gen_test
@pytest.mark.parametrize("case", ["126 bytes", "126 bytes, header only", "fragmented", "fragmented, then final"])
async def test_a_ping_too_long_or_fragmented_is_refused(server, case):
    data = {
        "126 bytes": frame(PING, bytes(126)),
        "126 bytes, header only": frame(PING, b"", length=126)[:4],  # refused on the header alone
        "fragmented": frame(PING, b"a", fin=False),
        "fragmented, then final": frame(PING, b"a", fin=False) + frame(CONT, b"b"),
    }[case]
    await refused(server, data, 1002)


# ---------------------------------------------------------------- 3. reserved bits

@pytest.mark.gen_test
@pytest.mark.parametrize("rsv", [0x40, 0x20, 0x10, 0x60, 0x50, 0x30, 0x70])
@pytest.mark.parametrize("opcode", [TEXT, BINARY, PING, CLOSE, PONG])
async def test_a_reserved_bit_is_refused(server, opcode, rsv):
    payload = close_payload(1000) if opcode == CLOSE else b"{}"
    await refused(server, frame(opcode, payload, rsv=rsv), 1002)


@pytest.mark.gen_test
async def test_a_reserved_bit_on_a_continuation_is_refused(server):
    await refused(server, frame(TEXT, b'{"Type":', fin=False) + frame(CONT, b'"Alive"}', rsv=0x40), 1002)


# ---------------------------------------------------------------- 4. opcodes

@pytest.mark.gen_test
@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
async def test_a_reserved_opcode_is_refused(server, opcode):
    await refused(server, frame(opcode, b"reserved"), 1002)


@pytest.mark.gen_test
async def test_a_reserved_opcode_after_a_good_message_answers_it_first(server):
    """Frames the server queued before the violation go out before its Close."""
    ws = await RawWs.open(server)
    await ws.send(frame(TEXT, alive("first")) + frame(5, b"") + frame(TEXT, alive("never")))
    assert (await ws.read_doc(SECOND))["Iid"] == "first"
    await ws.expect_close(1002)


# ---------------------------------------------------------------- 5. fragmentation

def fragments(opcode: int, payload: bytes, cuts: list[int]) -> list[bytes]:
    """payload as a fragmented message cut at the given offsets (empty fragments allowed)."""
    bounds = [0, *cuts, len(payload)]
    parts = [payload[a:b] for a, b in zip(bounds, bounds[1:])]
    return [frame(opcode if i == 0 else CONT, part, fin=i == len(parts) - 1) for i, part in enumerate(parts)]


@pytest.mark.gen_test
async def test_fragmented_text_is_answered(server):
    ws = await RawWs.open(server)
    body = alive("frag")
    await ws.send(b"".join(fragments(TEXT, body, [5, 20, 40])))
    await ws.alive_reply("frag")
    # one byte per fragment, each fragment in its own write
    for part in fragments(TEXT, alive("tiny"), list(range(1, len(alive("tiny"))))):
        await ws.send(part)
    await ws.alive_reply("tiny")
    # empty fragments, first, middle and last
    await ws.send(b"".join(fragments(TEXT, alive("empty"), [0, 10, 10, len(alive("empty"))])))
    await ws.alive_reply("empty")


@pytest.mark.gen_test
async def test_fragmented_binary_is_read_and_ignored(server):
    ws = await RawWs.open(server)
    await ws.send(b"".join(fragments(BINARY, os.urandom(70000), [1, 65536])) + frame(TEXT, alive("b")))
    await ws.alive_reply("b")
    await ws.silent(0.2)


@pytest.mark.gen_test
async def test_control_frames_inside_a_fragmented_message_are_fine(server):
    ws = await RawWs.open(server)
    first, middle, last = fragments(TEXT, alive("ctl"), [10, 30])
    await ws.send(first + frame(PING, b"in between") + middle + frame(PONG, b"x"))
    assert await ws.read_frame(SECOND) == (PONG, b"in between")
    await ws.send(frame(PING, b"again"))
    assert await ws.read_frame(SECOND) == (PONG, b"again")
    await ws.send(last)
    await ws.alive_reply("ctl")


@pytest.mark.gen_test
@pytest.mark.parametrize("case", ["continuation first", "final continuation first", "text inside text",
                                  "binary inside text", "text inside binary", "continuation after the end"])
async def test_fragmentation_violations_are_refused(server, case):
    start = frame(TEXT, b'{"Type":', fin=False)
    data = {
        "continuation first": frame(CONT, b"x", fin=False),
        "final continuation first": frame(CONT, alive("c")),
        "text inside text": start + frame(TEXT, alive("t")),
        "binary inside text": start + frame(BINARY, b"b"),
        "text inside binary": frame(BINARY, b"b", fin=False) + frame(TEXT, b"t", fin=False),
        "continuation after the end": frame(TEXT, alive("done")) + frame(CONT, b"more"),
    }[case]
    ws = await RawWs.open(server)
    await ws.send(data)
    await ws.expect_close(1002, before=1 if case == "continuation after the end" else 0)
    assert await gone(server, ws.id)


# ---------------------------------------------------------------- 6. UTF-8

MULTIBYTE = "κόσμε ü € 𝄞 \U0010fffd"  # 2-, 3- and 4-byte sequences, the highest plane


@pytest.mark.gen_test
async def test_valid_multibyte_text_arrives_intact(server):
    ws = await RawWs.open(server)
    await ws.send(frame(TEXT, alive(MULTIBYTE)))
    await ws.alive_reply(MULTIBYTE)


@pytest.mark.gen_test
async def test_code_points_split_between_fragments_are_valid(server):
    ws = await RawWs.open(server)
    body = alive(MULTIBYTE)
    start = body.index(MULTIBYTE.encode())
    for i, char in enumerate(MULTIBYTE):
        size = len(char.encode())
        if size == 1:
            continue
        offset = start + len(MULTIBYTE[:i].encode())
        for inside in range(1, size):  # every cut inside this code point, each fragment its own write
            for part in fragments(TEXT, body, [offset + inside - 1, offset + inside]):
                await ws.send(part)
            await ws.alive_reply(MULTIBYTE)


INVALID = {
    "f4 90 80 80 (above U+10FFFF)": b"\xf4\x90\x80\x80",
    "f0 28 8c bc (bad continuation)": b"\xf0\x28\x8c\xbc",
    "lone 80": b"\x80",
    "fe ff": b"\xfe\xff",
    "c0 af (overlong /)": b"\xc0\xaf",
    "ed a0 80 (surrogate)": b"\xed\xa0\x80",
    "f8 88 80 80 80 (5 bytes)": b"\xf8\x88\x80\x80\x80",
    "e2 82 at the end (truncated)": b"\xe2\x82",
}


@pytest.mark.gen_test
@pytest.mark.parametrize("bad", list(INVALID))
async def test_invalid_utf8_in_a_single_frame_is_refused_with_1007(server, bad):
    seq = INVALID[bad]
    body = alive("u")[:-2] + seq if "end" in bad else alive("u")[:-2] + seq + b'"}'
    await refused(server, frame(TEXT, body), 1007)


@pytest.mark.gen_test
@pytest.mark.parametrize("bad", [b for b in INVALID if "end" not in b])
async def test_invalid_utf8_in_a_fragment_is_refused_before_the_message_ends(server, bad):
    """Found in the fragment that holds it: the Close comes while the message is still unfinished."""
    ws = await RawWs.open(server)
    await ws.send(frame(TEXT, b'{"Type":"Alive","Iid":"', fin=False))
    await ws.send(frame(CONT, "κό".encode() + INVALID[bad] + "σμε".encode(), fin=False))
    await ws.expect_close(1007)
    assert await gone(server, ws.id)


@pytest.mark.gen_test
@pytest.mark.parametrize("seq, split, early", [
    (b"\xf4\x90\x80\x80", 1, False),  # f4 alone may still become a valid code point
    (b"\xf4\x90\x80\x80", 2, True),  # f4 90 cannot: refused before the next fragment is sent
    (b"\xf4\x90\x80\x80", 3, True),
    (b"\xed\xa0\x80", 1, False),
    (b"\xed\xa0\x80", 2, True),  # ed a0 starts a surrogate (Python's decoder would wait for more)
])
async def test_an_invalid_sequence_split_between_fragments_is_refused(server, seq, split, early):
    ws = await RawWs.open(server)
    await ws.send(frame(TEXT, b'{"Iid":"' + seq[:split], fin=False))
    if not early:
        await ws.send(frame(CONT, seq[split:], fin=False))
    await ws.expect_close(1007)


@pytest.mark.gen_test
async def test_a_truncated_code_point_at_the_end_of_a_fragmented_message_is_refused(server):
    await refused(server, b"".join(fragments(TEXT, b'{"Iid":"\xe2\x82', [4])), 1007)


@pytest.mark.gen_test
@pytest.mark.parametrize("where", ["Hello Ua", "Chat Message"])
async def test_invalid_utf8_inside_a_document_is_1007_and_the_room_hears_left_hard(server, where):
    peer = await server.connect()
    await peer.hello("utf")
    ws = await RawWs.open(server)
    await ws.send(frame(TEXT, json.dumps({"Type": "Hello", "Iid": "h", "Hello": {
        "Version": "1.0.0", "Ua": "raw", "Name": "utf", "Type": ""}}).encode()))
    assert (await ws.read_doc())["Data"]["Type"] == "Welcome"
    assert (await peer.recv_type("Joined"))["Data"]["Id"] == ws.id
    bad = b"\xf4\x90\x80\x80"
    if where == "Hello Ua":
        body = b'{"Type":"Hello","Hello":{"Version":"1.0.0","Ua":"' + bad + b'","Name":"utf","Type":""}}'
    else:
        body = b'{"Type":"Chat","Chat":{"To":"","Type":"Chat","Chat":{"Message":"hi ' + bad + b'"}}}'
    await ws.send(frame(TEXT, body))
    await ws.expect_close(1007)
    left = await peer.recv(SECOND)
    assert left["Data"] == {"Type": "Left", "Id": ws.id, "Status": "hard"}
    assert left["From"] == ws.id
    await peer.silent(0.2)  # and nothing of the refused message


# ---------------------------------------------------------------- 7. close handling

VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


@pytest.mark.gen_test
@pytest.mark.parametrize("code", VALID_CODES)
async def test_a_valid_close_code_is_echoed(server, code):
    await refused(server, frame(CLOSE, close_payload(code)), code)


@pytest.mark.gen_test
@pytest.mark.parametrize("reason", ["bye", "κόσμε 𝄞", "r" * 123])
async def test_a_close_with_a_utf8_reason_is_echoed(server, reason):
    await refused(server, frame(CLOSE, close_payload(1000, reason.encode())), 1000)


@pytest.mark.gen_test
async def test_an_empty_close_is_answered_with_1000(server):
    await refused(server, frame(CLOSE), 1000)


@pytest.mark.gen_test
@pytest.mark.parametrize("code", INVALID_CODES)
async def test_an_invalid_close_code_is_refused_with_1002(server, code):
    await refused(server, frame(CLOSE, close_payload(code, b"reason")), 1002)


@pytest.mark.gen_test
async def test_a_one_byte_close_payload_is_refused_with_1002(server):
    await refused(server, frame(CLOSE, b"\x03"), 1002)


@pytest.mark.gen_test
@pytest.mark.parametrize("reason", [b"\xf4\x90\x80\x80", "ok κόσμε".encode() + b"\xed\xa0\x80"])
async def test_a_close_reason_that_is_not_utf8_is_refused_with_1007(server, reason):
    await refused(server, frame(CLOSE, close_payload(1000, reason)), 1007)


@pytest.mark.gen_test
async def test_data_after_a_close_is_ignored(server):
    peer = await server.connect()
    await peer.hello("after")
    ws = await RawWs.open(server)
    await ws.send(frame(TEXT, json.dumps({"Type": "Hello", "Iid": "h", "Hello": {
        "Version": "1.0.0", "Ua": "raw", "Name": "after", "Type": ""}}).encode()))
    assert (await ws.read_doc())["Data"]["Type"] == "Welcome"
    await peer.recv_type("Joined")
    chat = json.dumps({"Type": "Chat", "Chat": {"To": "", "Type": "Chat", "Chat": {"Message": "late"}}}).encode()
    await ws.send(frame(CLOSE, close_payload(1001)) + frame(TEXT, alive("late")) + frame(TEXT, chat)
                  + frame(PING, b"late"))
    await ws.expect_close(1001)  # no Alive reply, no pong
    left = await peer.recv(SECOND)
    assert left["Data"] == {"Type": "Left", "Id": ws.id, "Status": "hard"}
    await peer.silent(0.2)  # the chat sent after the Close never reached the room


# ---------------------------------------------------------------- 8. size limits (limits.maxMessageBytes)

@pytest.mark.gen_test
@pytest.mark.parametrize("opcode", [TEXT, BINARY])
async def test_a_frame_over_the_limit_is_refused_on_its_header(server, opcode):
    """1 MiB + 1: the Close comes before any of the payload is sent."""
    limit = server.config.limits.max_message_bytes
    assert limit == 1 << 20  # the default
    await refused(server, frame(opcode, b"", length=limit + 1)[:14], 1009)


@pytest.mark.gen_test
async def test_a_64_bit_length_with_the_top_bit_set_is_refused(server):
    await refused(server, frame(TEXT, b"", length=1 << 63)[:14], 1009)


@pytest.mark.gen_test
@pytest.mark.parametrize("opcode", [TEXT, BINARY])
async def test_a_fragmented_message_is_refused_as_soon_as_its_total_is_over(make_server, opcode):
    srv = await make_server({"limits": {"maxMessageBytes": 4096}})
    ws = await RawWs.open(srv)
    await ws.send(frame(opcode, b"[" + b" " * 2047, fin=False))
    await ws.send(frame(CONT, b" " * 2048, fin=False))  # exactly the limit so far
    await ws.silent(0.2)
    await ws.send(frame(CONT, b"", length=1, fin=False)[:6])  # the header of one byte more
    await ws.expect_close(1009)
    assert await gone(srv, ws.id)


@pytest.mark.gen_test
async def test_a_fragmented_message_of_exactly_the_limit_is_answered(make_server):
    srv = await make_server({"limits": {"maxMessageBytes": 4096}})
    ws = await RawWs.open(srv)
    body = alive("limit", 4096)
    await ws.send(b"".join(fragments(TEXT, body, [1000, 3000])) + frame(PING, b"p"))
    got = {await ws.read_frame(SECOND) for _ in range(2)}  # the pong may overtake the queued reply
    assert (PONG, b"p") in got
    assert [json.loads(p)["Iid"] for op, p in got if op == TEXT] == ["limit"]


# ---------------------------------------------------------------- a failed connection ends cleanly

@pytest.mark.gen_test
async def test_what_the_client_still_sends_after_a_violation_does_not_reset_the_connection(server):
    """Unread data at close would make the kernel send a reset; the Close frame must still arrive, then EOF."""
    ws = await RawWs.open(server)
    await ws.send(frame(TEXT, b"", length=(1 << 20) + 1)[:14] + os.urandom(300_000))
    await ws.expect_close(1009)
    ws = await RawWs.open(server)
    ws.writer.write(frame(7, b"x"))
    for _ in range(20):  # keeps writing while the server fails the connection
        ws.writer.write(os.urandom(16384))
        await asyncio.sleep(0.001)
    await ws.expect_close(1002)


@pytest.mark.gen_test(timeout=40)
async def test_violators_are_dropped_while_a_pair_chats_losslessly(server):
    """Each violation: Left "hard" to the violator's room; meanwhile another pair loses nothing."""
    a, b = await server.connect(), await server.connect()
    await a.hello("chatters")
    await b.hello("chatters")
    await a.recv_type("Joined")
    watcher = await server.connect()
    await watcher.hello("victims")
    violations = [
        (frame(TEXT, b'"\xf0\x28\x8c\xbc"'), 1007),
        (frame(TEXT, b"{}", rsv=0x40), 1002),
        (frame(0xB, b""), 1002),
        (frame(TEXT, b"{}", masked=False), 1002),
        (frame(CONT, b"x"), 1002),
        (frame(PING, bytes(126)), 1002),
        (frame(CLOSE, close_payload(999)), 1002),
        (frame(CLOSE, close_payload(1005)), 1002),
        (frame(BINARY, b"", length=(1 << 20) + 1)[:14], 1009),
    ]
    sent = 0

    async def chat_round(tag: str) -> None:
        nonlocal sent
        for sender, receiver in ((a, b), (b, a)):
            sent += 1
            await sender.send({"Type": "Chat", "Chat": {"To": "", "Type": "Chat",
                                                        "Chat": {"Message": f"{tag} {sent}", "NoEcho": True}}})
            msg = await receiver.recv(SECOND)
            assert msg["Data"]["Type"] == "Chat" and msg["Data"]["Chat"]["Message"] == f"{tag} {sent}", msg

    for data, code in violations:
        ws = await RawWs.open(server)
        await ws.send(frame(TEXT, json.dumps({"Type": "Hello", "Iid": "h", "Hello": {
            "Version": "1.0.0", "Ua": "raw", "Name": "victims", "Type": ""}}).encode()))
        assert (await ws.read_doc())["Data"]["Type"] == "Welcome"
        assert (await watcher.recv_type("Joined"))["Data"]["Id"] == ws.id
        await chat_round("before")
        await ws.send(data)
        await ws.expect_close(code)
        left = await watcher.recv(SECOND)
        assert left["Data"] == {"Type": "Left", "Id": ws.id, "Status": "hard"}, (data, left)
        assert ws.id not in server.hub.sessions
        await chat_round("after")
    await a.silent(0.1)
    await b.silent(0.1)
    users = await watcher.request("Users", {})
    assert [u["Id"] for u in users["Data"]["Users"]] == [watcher.id]
    assert sorted(server.hub.sessions) == sorted([a.id, b.id, watcher.id])


@pytest.mark.gen_test(timeout=40)
async def test_the_same_on_the_production_event_loop(processes, tmp_path):
    """A real `server.py` process (uvloop when installed, as deployed): codes, clean ends, and a clean log."""
    from types import SimpleNamespace
    server = processes(tmp_path, {"limits": {"maxMessageBytes": 65536}}).start()
    await server.ready()
    target = SimpleNamespace(port=server.port, config=SimpleNamespace(base_path="/"))
    cases = [
        (frame(TEXT, b'"\xfe\xff"'), 1007),
        (frame(TEXT, b"{}", masked=False), 1002),
        (frame(0xF, b""), 1002),
        (frame(CLOSE, close_payload(1005)), 1002),
        (frame(CLOSE, close_payload(4000)), 4000),
        (frame(TEXT, b'{"Iid":"', fin=False) + frame(CONT, b"\xf0\x28", fin=False), 1007),
        (frame(BINARY, b"", length=65537)[:14] + os.urandom(200_000), 1009),
    ]
    for data, code in cases:
        ws = await RawWs.open(target)
        await ws.send(data)
        await ws.expect_close(code)
        ws.close()
    ws = await RawWs.open(target)  # and the server serves on
    await ws.send(frame(TEXT, alive("alive")))
    await ws.alive_reply("alive")
    ws.close()
    await server.terminate()
    log = server.proc.stderr.read().decode()
    assert "Traceback" not in log and "ERROR" not in log, log
