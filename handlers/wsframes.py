"""A faster reader for Tornado's websocket protocol: whole socket reads, frames parsed in place.

Tornado reads every client frame with three exact-size reads (header, mask, payload), each a
Future, and re-registers its read interest with epoll around them. This reader asks the stream for
whatever has arrived (one read, all complete frames in it parsed at once), which keeps the
connection's read interest steady. Frame rules are Tornado's (RFC 6455): reserved bits and
fragmented control frames abort, oversized messages close with 1009 as soon as the header says
so, and each message goes through Tornado's `_handle_message` (UTF-8 check, close, ping, pong).
"""
from __future__ import annotations

import asyncio

from tornado.iostream import StreamClosedError
from tornado.util import _websocket_mask
from tornado.websocket import WebSocketProtocol13

READ_SIZE = 65536
YIELD_AFTER = 64 * 1024  # bytes handled before letting other connections run (as Tornado does)


class ChunkReadingProtocol(WebSocketProtocol13):
    """WebSocketProtocol13 with `_receive_frame_loop` replaced; nothing else changes."""

    async def _receive_frame_loop(self) -> None:
        buffer = bytearray()
        work = 0
        try:
            while not self.client_terminated:
                chunk = await self.stream.read_bytes(READ_SIZE, partial=True)
                self._wire_bytes_in += len(chunk)
                buffer += chunk
                consumed = await self._frames(buffer)
                if consumed is None:
                    return
                del buffer[:consumed]
                work += len(chunk)
                if work >= YIELD_AFTER:
                    work = 0
                    await asyncio.sleep(0)
        except StreamClosedError:
            self._abort()
        finally:
            self.handler.on_ws_connection_close(self.close_code, self.close_reason)

    async def _frames(self, buf: bytearray) -> int | None:
        """Handle every complete frame in buf; returns the bytes used, or None when the connection ends."""
        pos, size = 0, len(buf)
        while size - pos >= 2 and not self.client_terminated:
            first, second = buf[pos], buf[pos + 1]
            final, reserved, opcode = first & self.FIN, first & self.RSV_MASK, first & self.OPCODE_MASK
            masked, length = second & 0x80, second & 0x7F
            control = opcode & 0x8
            if reserved or (control and length >= 126):
                self._abort()  # unknown extensions, or a control frame too long
                return None
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            pending = len(self._fragmented_message_buffer or b"")
            if length + pending > self.params.max_message_size:
                self.close(1009, "message too big")
                self._abort()
                return None
            start = pos + head + (4 if masked else 0)
            end = start + length
            if end > size:
                break
            data = bytes(buf[start:end])
            if masked:
                data = _websocket_mask(bytes(buf[start - 4:start]), data)
            pos = end
            message = self._assemble(final, opcode, control, data)
            if message is False:
                return None
            if message is not None:
                handled = self._handle_message(*message)
                if handled is not None:
                    await handled
        return pos

    def _assemble(self, final: int, opcode: int, control: int, data: bytes) -> tuple[int, bytes] | None | bool:
        """Fragmentation as Tornado handles it: a complete message, None (more to come), False (abort)."""
        if control:
            if not final:
                self._abort()
                return False
        elif opcode == 0:
            if self._fragmented_message_buffer is None:
                self._abort()
                return False
            self._fragmented_message_buffer.extend(data)
            if not final:
                return None
            opcode, data = self._fragmented_message_opcode, bytes(self._fragmented_message_buffer)
            self._fragmented_message_buffer = None
        else:
            if self._fragmented_message_buffer is not None:
                self._abort()
                return False
            if not final:
                self._fragmented_message_opcode = opcode
                self._fragmented_message_buffer = bytearray(data)
                return None
        return opcode, data
