"""A faster and stricter reader for Tornado's websocket protocol: whole socket reads, frames parsed in place.

Tornado reads every client frame with three exact-size reads (header, mask, payload), each a
Future, and re-registers its read interest with epoll around them. This reader asks the stream for
whatever has arrived (one read, all complete frames in it parsed at once), which keeps the
connection's read interest steady.

It also answers every protocol violation the way RFC 6455 asks (7.1.7, "fail the connection"):
a Close frame with the right code, then the TCP close, where Tornado just drops the socket.
1002 for framing errors (reserved bits or opcodes, an unmasked client frame, a fragmented or
oversized control frame, a continuation with nothing to continue, a new message inside a
fragmented one, a bad close code or a 1-byte close payload), 1007 for text or a close reason that
is not UTF-8, 1009 for a message over `max_message_size` (known from the frame header, before its
payload arrives). Everything that needs only the header is checked on the header, and fragmented
text is validated fragment by fragment, so a bad frame is refused as soon as it is seen.
"""
from __future__ import annotations

import asyncio
import codecs
import logging
import socket
from typing import Any

from tornado.iostream import IOStream, StreamClosedError
from tornado.util import _websocket_mask
from tornado.websocket import WebSocketProtocol13

log = logging.getLogger("spreed.ws")
READ_SIZE = 65536
YIELD_AFTER = 64 * 1024  # bytes handled before letting other connections run (as Tornado does)

PROTOCOL_ERROR, INVALID_DATA, TOO_BIG = 1002, 1007, 1009
OPCODES = frozenset((0x0, 0x1, 0x2, 0x8, 0x9, 0xA))  # continuation, text, binary, close, ping, pong


def _first_byte_ok(first: int) -> bool:
    """No reserved bit (we negotiate no extension), a defined opcode, no fragmented control frame."""
    opcode = first & 0x0F
    return not first & 0x70 and opcode in OPCODES and (first & 0x80 or not opcode & 0x8)


# one lookup per frame instead of three tests: 1 where the frame's first byte is acceptable
FIRST_BYTE_OK = bytes(_first_byte_ok(b) for b in range(256))


def close_code_valid(code: int) -> bool:
    """Codes a peer may send (RFC 6455 7.4, IANA registry); 1004-1006 and 1015 never go on the wire."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


LINGER_SECONDS = 2.0  # how long a failed connection's socket keeps swallowing what the client still sends
LINGER_BYTES = 4 << 20  # and how much of it at most


class FrameRules:
    """RFC 6455 rules for what a client sends, shared by both websocket paths (Tornado's protocol and
    `handlers.wsfast`): `parse` handles every complete frame of a buffer and calls the hooks below."""

    __slots__ = ()  # a mixin: no layout of its own

    _frag_opcode: int | None = None  # opcode of the fragmented message being received, if any
    _frag_parts: list[Any]  # its fragments so far: str for text (already decoded), bytes for binary
    _frag_size = 0  # its bytes so far, for the size limit
    _frag_decoder: Any = None  # incremental UTF-8 decoder of a fragmented text message

    # ---- hooks of the transport
    def _ended(self) -> bool:
        """The client's Close arrived or the connection failed: read nothing more."""
        raise NotImplementedError

    def _size_limit(self) -> int:
        raise NotImplementedError

    def _message(self, message: str | bytes) -> Any:
        """A whole message; anything but None is something to wait for before the next frame."""
        raise NotImplementedError

    def _control(self, opcode: int, data: bytes) -> Any:
        """A ping (0x9) or a pong (0xA)."""
        raise NotImplementedError

    def _closed_by_client(self, code: int | None, reason: str | None) -> None:
        """A valid Close frame from the client."""
        raise NotImplementedError

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 7.1.7): a Close frame with the code, then the TCP close."""
        raise NotImplementedError

    # ---- the rules
    def parse(self, buf: Any) -> tuple[int, Any]:
        """Handle the complete frames in buf: (bytes used, what a message handler asked to wait for).

        It stops after a message whose handler returned something; bytes used is -1 once the
        connection has ended.
        """
        pos, size = 0, len(buf)
        limit = self._size_limit()
        while size - pos >= 2 and not self._ended():
            first, second = buf[pos], buf[pos + 1]
            final, opcode = first & 0x80, first & 0x0F
            length = second & 0x7F
            control = opcode & 0x8
            if not FIRST_BYTE_OK[first] or not second & 0x80 or (control and length >= 126):
                return self._fail(PROTOCOL_ERROR, "protocol error") or -1, None  # see FIRST_BYTE_OK; unmasked
            if not control and (opcode == 0) is (self._frag_opcode is None):
                # a continuation with nothing to continue, or a new message inside a fragmented one
                return self._fail(PROTOCOL_ERROR, "unexpected continuation" if opcode == 0
                                  else "message interleaved") or -1, None
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            if not control and length + self._frag_size > limit:
                return self._fail(TOO_BIG, "message too big") or -1, None
            start = pos + head + 4
            end = start + length
            if end > size:
                break
            data = _websocket_mask(bytes(buf[start - 4:start]), bytes(buf[start:end]))
            pos = end
            if opcode == 0x1 and final:  # the common case: a whole text message in one frame
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    return self._fail(INVALID_DATA, "invalid UTF-8") or -1, None
                self._count_in(len(data))
                handled = self._message(text)
            elif control:
                if opcode == 0x8:
                    self._close_frame(data)
                    return -1, None
                handled = self._control(opcode, data)
            else:
                message = self._fragment(opcode, final, data)
                if message is None:
                    continue
                if message is False:
                    return -1, None
                handled = self._message(message)
            if handled is not None:
                return pos, handled
        return pos, None

    def _count_in(self, size: int) -> None:
        """Message bytes received (Tornado keeps a statistic of them)."""

    def _fragment(self, opcode: int, final: int, data: bytes) -> str | bytes | bool | None:
        """One data frame of a message other than a single text frame (the header checks ran already).

        Returns the whole message once complete, None while more is to come, False when the
        connection was failed. Text is decoded fragment by fragment, so invalid UTF-8 is refused
        in the frame that holds it and a code point split between frames is fine.
        """
        if opcode:  # the first frame
            if final:  # a whole binary message
                self._count_in(len(data))
                return data
            self._frag_opcode, self._frag_parts, self._frag_size = opcode, [], 0
            self._frag_decoder = codecs.getincrementaldecoder("utf-8")() if opcode == 0x1 else None
        self._frag_size += len(data)
        decoder = self._frag_decoder
        if decoder is not None:
            try:
                piece = decoder.decode(data, bool(final))
            except UnicodeDecodeError:
                self._fail(INVALID_DATA, "invalid UTF-8")
                return False
            pending = decoder.getstate()[0]
            if len(pending) >= 2 and pending[0] == 0xED and pending[1] >= 0xA0:
                self._fail(INVALID_DATA, "invalid UTF-8")  # a surrogate: Python waits for its 3rd byte
                return False
            self._frag_parts.append(piece)
        else:
            self._frag_parts.append(data)
        if not final:
            return None
        parts, binary = self._frag_parts, decoder is None
        self._count_in(self._frag_size)
        self._frag_opcode, self._frag_parts, self._frag_size, self._frag_decoder = None, [], 0, None
        return b"".join(parts) if binary else "".join(parts)

    def _close_frame(self, data: bytes) -> None:
        """The client's Close: a valid one goes to `_closed_by_client`, a bad one fails the connection."""
        code: int | None = None
        reason: str | None = None
        if len(data) == 1:
            return self._fail(PROTOCOL_ERROR, "close payload of 1 byte")
        if data:
            code = int.from_bytes(data[:2], "big")
            if not close_code_valid(code):
                return self._fail(PROTOCOL_ERROR, "invalid close code")
            try:
                reason = data[2:].decode("utf-8")
            except UnicodeDecodeError:
                return self._fail(INVALID_DATA, "invalid UTF-8 in the close reason")
        self._closed_by_client(code, reason)
        return None


class ChunkReadingProtocol(FrameRules, WebSocketProtocol13):
    """WebSocketProtocol13 with `_receive_frame_loop` replaced; writing and closing stay Tornado's."""

    async def _receive_frame_loop(self) -> None:
        buffer = bytearray()
        work = 0
        try:
            while not self.client_terminated:
                chunk = await self.stream.read_bytes(READ_SIZE, partial=True)
                self._wire_bytes_in += len(chunk)
                buffer += chunk
                while True:
                    consumed, wait = self.parse(buffer)
                    if consumed < 0:
                        return
                    del buffer[:consumed]
                    if wait is None:
                        break
                    await wait
                work += len(chunk)
                if work >= YIELD_AFTER:
                    work = 0
                    await asyncio.sleep(0)
        except StreamClosedError:
            self._abort()
        finally:
            self.handler.on_ws_connection_close(self.close_code, self.close_reason)

    def _ended(self) -> bool:
        return self.client_terminated

    def _size_limit(self) -> int:
        return self.params.max_message_size

    def _count_in(self, size: int) -> None:
        self._message_bytes_in += size

    def _message(self, message: str | bytes) -> Any:
        return self._run_callback(self.handler.on_message, message)

    def _control(self, opcode: int, data: bytes) -> Any:
        """A ping is answered with a pong of the same payload (Tornado's `_send_pong`); a pong is passed on."""
        if opcode == 0x9:
            self._send_pong(data)
            return self._run_callback(self.handler.on_ping, data)
        self._received_pong = True
        return self._run_callback(self.handler.on_pong, data)

    def _closed_by_client(self, code: int | None, reason: str | None) -> None:
        """A valid Close is echoed (its code, or 1000) and the stream closed."""
        self.client_terminated = True
        self.close_code, self.close_reason = code, reason
        self._send_close(code or 1000, None)

    def _send_close(self, code: int, reason: str | None) -> None:
        """Our Close frame, through the handler so that the frames it has queued go out before it."""
        if not self.server_terminated:
            self.handler.close(code, reason)
        self.close(code, reason)  # writes nothing more; closes the stream when the client is done too

    def _fail(self, code: int, reason: str) -> None:
        """The handler hears of it as of any lost connection (the read loop ends). The kernel
        connection lingers a little (`_Linger`) so that what the client is still sending does not
        turn our FIN into a reset that could destroy the Close frame before the client reads it.
        """
        if not self.server_terminated and not self.stream.closed():
            log.debug("closing a websocket with %d: %s", code, reason)
            self._send_close(code, reason)
            _Linger.start(self.stream)
        self._abort()
        return None


class _Linger:
    """Half-close a failed connection and discard what still arrives, until the client closes or time is up.

    Closing a socket with unread data makes the kernel send a reset; some clients then throw away
    the Close frame still in their receive buffer. So the connection is kept on a duplicate
    descriptor, shut down for writing (the client sees the end at once), and read until EOF.
    """

    def __init__(self, sock: socket.socket, loop: asyncio.AbstractEventLoop) -> None:
        self.sock, self.loop, self.budget = sock, loop, LINGER_BYTES
        self.fd = sock.fileno()
        loop.add_reader(self.fd, self.read)
        self.timer = loop.call_later(LINGER_SECONDS, self.finish)

    @classmethod
    def start(cls, stream: IOStream) -> None:
        # a TLS stream cannot be duplicated; frames still queued would be cut by the half-close
        if type(stream) is not IOStream or stream.writing() or stream.closed():
            return
        try:
            sock = stream.socket.dup()
        except OSError:
            return
        try:
            sock.setblocking(False)
            sock.shutdown(socket.SHUT_WR)
            cls(sock, asyncio.get_running_loop())
        except (OSError, RuntimeError):
            sock.close()

    def read(self) -> None:
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        self.budget -= len(data)
        if not data or self.budget <= 0:
            self.finish()

    def finish(self) -> None:
        if self.sock.fileno() < 0:
            return
        self.timer.cancel()
        self.loop.remove_reader(self.fd)
        self.sock.close()
