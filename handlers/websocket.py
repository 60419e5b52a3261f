"""The channeling websocket: one connection per client, a bounded send queue, batched writes.

Outgoing frames are queued per connection and written to the stream once per loop turn (one
callback for all connections); a client that stops reading fills its bounded buffer and is cut
off, so it never slows anyone else or grows the server's memory.
"""
from __future__ import annotations

import array
import asyncio
import logging
import struct
import time
import weakref
from typing import Any

import tornado.httputil
import tornado.iostream
import tornado.websocket

from spreed import limits as guard_codes
from spreed.hub import Hub
from spreed.jsonutil import rest
from spreed.session import Session

from .base import BaseHandler, _in, client_address
from .security import log_exception, origin_allowed
from .users import request_facts
from .wsframes import ChunkReadingProtocol

log = logging.getLogger("spreed.ws")
CLOSE_SLOW_CONSUMER = 1008
# What a refused handshake gets instead of 101: (status, Retry-After seconds, message)
REFUSALS = {
    guard_codes.SERVER_FULL: (503, "10", "The server has too many sessions, try again later"),
    guard_codes.TOO_MANY_CONNECTIONS: (429, "10", "Too many connections from your address"),
    guard_codes.RATE_LIMITED: (429, "1", "Too many new connections from your address, slow down"),
}


def text_frame_header(length: int) -> bytes:
    """The header of an unmasked, final text frame (RFC 6455 5.2)."""
    if length < 126:
        return bytes((0x81, length))
    if length <= 0xFFFF:
        return struct.pack("!BBH", 0x81, 126, length)
    return struct.pack("!BBQ", 0x81, 127, length)


NO_HEADERS = tornado.httputil.HTTPHeaders()  # shared by every open websocket; nobody writes to it


class Flusher:
    """Writes every connection's queued frames once per loop turn: one callback for all of them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: list["ChannelingSocket"] = []

    def add(self, conn: "ChannelingSocket") -> None:
        if not self.pending:
            self.loop.call_soon(self.run)
        self.pending.append(conn)

    def run(self) -> None:
        pending, self.pending = self.pending, []
        for conn in pending:
            conn._flush()


_flushers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Flusher]" = weakref.WeakKeyDictionary()


def flusher() -> Flusher:
    loop = asyncio.get_running_loop()
    found = _flushers.get(loop)
    if found is None:
        found = _flushers[loop] = Flusher(loop)
    return found


class KeepAlive:
    """Pings for every connection of one loop (and one setting) from a single timer, not a task each."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float, timeout: float) -> None:
        self.loop, self.interval, self.timeout = loop, interval, timeout
        self.tick = max(0.02, min(5.0, min(interval, timeout) / 4))
        self.connections: set["ChannelingSocket"] = set()
        self.timer: asyncio.TimerHandle | None = None

    def add(self, conn: "ChannelingSocket") -> None:
        conn._next_ping = self.loop.time() + self.interval
        self.connections.add(conn)
        if self.timer is None:
            self.timer = self.loop.call_later(self.tick, self.run)

    def remove(self, conn: "ChannelingSocket") -> None:
        self.connections.discard(conn)

    def run(self) -> None:
        now = self.loop.time()
        for conn in list(self.connections):
            conn._check_alive(now, self.interval, self.timeout)
        self.timer = self.loop.call_later(self.tick, self.run) if self.connections else None


_keepalives: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[float, float], KeepAlive]]" = \
    weakref.WeakKeyDictionary()


def keep_alive(interval: float, timeout: float) -> KeepAlive:
    loop = asyncio.get_running_loop()
    per_loop = _keepalives.setdefault(loop, {})
    found = per_loop.get((interval, timeout))
    if found is None:
        found = per_loop[(interval, timeout)] = KeepAlive(loop, interval, timeout)
    return found


class ChannelingSocket(tornado.websocket.WebSocketHandler):
    hub: Hub

    def initialize(self, hub: Hub, **kwargs: Any) -> None:
        self.hub = hub
        self.users_mode = kwargs.get("users_mode")
        limits = hub.config.limits
        self.index = 0
        self.remote_ip = ""
        self._counted = False  # in the guard's per-address connection count
        self.session: Session | None = None
        self._queue: list[bytes] = []
        self._queued_bytes = 0
        self._pending = False  # registered with the loop's flusher
        self._flusher: Flusher | None = None
        self._socket: Any = None  # the plain TCP socket, for writes that skip IOStream's bookkeeping
        self._in_flight = 0  # frames written since the stream's buffer was last empty
        self._closed = False
        self._max_messages = limits.send_queue_messages
        self._max_bytes = limits.send_queue_bytes
        self._rate = limits.messages_per_second
        # times of the last `messagesPerSecond` messages: C doubles (no float objects), growing to a ring
        self._recent = array.array("d")
        self._recent_at = 0
        self._pong = False
        self._keepalive: KeepAlive | None = None
        self._next_ping = 0.0
        self._waiting_since: float | None = None  # when the oldest unanswered ping went out

    # ---- handshake
    def check_origin(self, origin: str) -> bool:
        return True  # checked in get(), with a JSON answer and a log line

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        log_exception(self, typ, value, tb)

    def get_compression_options(self) -> None:
        return None

    def get_websocket_protocol(self) -> Any:
        protocol = super().get_websocket_protocol()
        if type(protocol) is tornado.websocket.WebSocketProtocol13:
            protocol.__class__ = ChunkReadingProtocol  # same state, a cheaper frame reader
        return protocol

    @property
    def ping_interval(self) -> None:
        return None  # our own keep-alive pings (_keep_alive), not Tornado's

    @property
    def ping_timeout(self) -> None:
        return None

    @property
    def max_message_size(self) -> int:
        return self.hub.config.limits.max_message_bytes

    async def get(self, *args: Any, **kwargs: Any) -> None:
        """Any malformed upgrade request gets Go's plain 400 (protocol.md 4.1), not Tornado's texts."""
        headers = self.request.headers

        def tokens(name: str) -> set[str]:
            return {t.strip().lower() for t in headers.get(name, "").split(",")}

        if ("upgrade" not in tokens("Connection") or "websocket" not in tokens("Upgrade")
                or headers.get("Sec-WebSocket-Version") != "13" or not headers.get("Sec-WebSocket-Key")):
            self.set_status(400)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.set_header("Sec-WebSocket-Version", "13")
            self.finish("Bad Request\n")
            return
        self.remote_ip = client_address(self.request, self.hub.config.trusted_proxies)
        if self._refused():
            return
        await super().get(*args, **kwargs)

    def _refused(self) -> bool:
        """Origin check and connection limits, answered before the upgrade: no session, no Self.

        A browser's WebSocket reports neither the status nor the body of a refused handshake (our
        client just retries with back-off), but every other client can read the JSON.
        """
        cfg = self.hub.config
        origin = self.request.headers.get("Origin")
        if origin is not None and not origin_allowed(origin, self._host(), cfg.allowed_origins):
            self.hub.guard.refuse("allowedOrigins", f"origin {origin[:200]!r}")
            self._refuse(403, "origin_not_allowed", "Websocket connections from this origin are not allowed")
            return True
        code = self.hub.guard.admit(self.remote_ip, len(self.hub.sessions))
        if not code:
            return False
        status, retry_after, message = REFUSALS[code]
        self.set_header("Retry-After", retry_after)
        self._refuse(status, code, message)
        return True

    def _host(self) -> str:
        """The Host the browser used: a trusted proxy may name it in X-Forwarded-Host."""
        forwarded = self.request.headers.get("X-Forwarded-Host", "")
        if forwarded and _in(self.request.remote_ip or "", self.hub.config.trusted_proxies):
            return forwarded.split(",")[0].strip()
        return self.request.host or ""

    def _refuse(self, status: int, code: str, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(rest({"code": code, "message": message, "success": False}))

    def open(self, *args: Any, **kwargs: Any) -> None:
        # admitted in get(); nothing yielded to the event loop since, so the count cannot overshoot
        self.hub.guard.opened(self.remote_ip)
        self._counted = True
        self.set_nodelay(True)
        if self.ws_connection is not None:  # bytes the kernel has not taken yet are bounded too
            stream = self.ws_connection.stream
            stream.max_write_buffer_size = self._max_bytes
            if type(stream) is tornado.iostream.IOStream:  # not TLS: its socket can be written directly
                self._socket = stream.socket
        token = self.get_query_argument("t", "")
        self.session = self.hub.connect(self, token, self._request_userid())
        limits = self.hub.config.limits
        self._keepalive = keep_alive(limits.ping_interval, limits.ping_timeout)
        self._keepalive.add(self)
        self._shed_handshake()

    def _shed_handshake(self) -> None:
        """Drop what only the handshake needed (its headers and query, our response headers and
        template helpers): 2,000 idle sessions would otherwise keep a few KB each."""
        request = self.request
        # Tornado's suspended handshake coroutines still refer to this object: empty it in place
        for table in vars(request.headers).values():
            if isinstance(table, dict):
                table.clear()
        request.headers = self._headers = NO_HEADERS
        request.query, request.uri = "", request.path  # the token is in the query
        request.query_arguments, request.arguments = {}, {}
        self.ui, self._transforms = None, []

    def _check_alive(self, now: float, interval: float, timeout: float) -> None:
        """Ping every pingInterval; a peer that leaves a ping unanswered for pingTimeout is dropped.

        Dropped at once: a peer that ignores pings will not finish a closing handshake either, and
        Tornado's own ping timeout waits 5 s more for one before its room hears it is gone."""
        if self._closed or self.ws_connection is None:
            return
        if self._pong:
            self._pong, self._waiting_since = False, None
        if self._waiting_since is not None and now - self._waiting_since >= timeout:
            log.info("%s: no pong within %.1f s, disconnecting", self._who(), timeout)
            self._drop()
            return
        if now >= self._next_ping:
            try:
                self.ws_connection.write_ping(b"")
            except tornado.iostream.StreamClosedError:
                return
            self._next_ping = now + interval
            if self._waiting_since is None:
                self._waiting_since = now

    def on_pong(self, data: bytes) -> None:
        self._pong = True

    def _request_userid(self) -> str:
        """A userid proven by the request itself (a header or client certificate), if any."""
        if self.users_mode is None or self.ws_connection is None:
            return ""
        return self.users_mode.userid_from_request(request_facts(self, self.ws_connection.stream))

    # ---- incoming
    def on_message(self, message: str | bytes) -> Any:
        if isinstance(message, bytes) or self.session is None:
            return None  # binary frames are ignored
        delay = self._rate_delay()
        if delay > 0:
            return self._handle_later(delay, message)
        self.hub.handle(self.session, message)
        return None

    def _rate_delay(self) -> float:
        """20 messages per rolling second: the next one waits until the oldest is 1 s old."""
        now = time.monotonic()
        recent = self._recent
        if len(recent) < self._rate:
            recent.append(now)
            return 0.0
        at = self._recent_at
        delay = recent[at] + 1.0 - now
        recent[at] = max(now, now + delay)
        self._recent_at = (at + 1) % self._rate
        return delay

    async def _handle_later(self, delay: float, message: str) -> None:
        await asyncio.sleep(delay)
        if self.session is not None and not self._closed:
            self.hub.handle(self.session, message)

    def on_close(self) -> None:
        self._closed = True
        if self._counted:
            self._counted = False
            self.hub.guard.closed(self.remote_ip)
        self._queue.clear()
        if self._keepalive is not None:
            self._keepalive.remove(self)
            self._keepalive = None
        if self.session is not None:
            self.hub.disconnect(self.session)

    # ---- outgoing (the core's Connection interface)
    def send(self, data: bytes) -> None:
        """Queue a frame; every connection with frames is flushed once per loop turn, in one write."""
        if self._closed:
            return
        self._queue.append(data)
        self._queued_bytes += len(data)
        if not self._pending:
            self._pending = True
            (self._flusher or self._own_flusher()).add(self)

    def _own_flusher(self) -> Flusher:
        self._flusher = flusher()
        return self._flusher

    def _flush(self) -> None:
        self._pending = False
        queue = self._queue
        if self._closed or self.ws_connection is None or not queue:
            return
        stream = self.ws_connection.stream
        if not stream.writing():  # all earlier frames reached the kernel: nothing is waiting
            self._in_flight = 0
        self._in_flight += len(queue)
        # one message alone never counts as a full queue, however big it is
        if self._in_flight > 1 and (self._in_flight > self._max_messages or self._queued_bytes > self._max_bytes):
            self._cut_off()
            return
        if len(queue) == 1:
            data = queue[0]
            payload = text_frame_header(len(data)) + data
        else:
            payload = b"".join(part for data in queue for part in (text_frame_header(len(data)), data))
        queue.clear()
        self._queued_bytes = 0
        try:
            self._write(stream, payload)
        except tornado.iostream.StreamBufferFullError:
            if stream.writing():  # its buffer still holds older frames: it stopped reading
                self._cut_off()
                return
            stream.max_write_buffer_size = None  # one big batch into an empty buffer is fine
            stream.write(payload)
            stream.max_write_buffer_size = self._max_bytes
        except tornado.iostream.StreamClosedError:
            pass

    def _write(self, stream: tornado.iostream.IOStream, payload: bytes) -> None:
        """Send straight to the socket when nothing is buffered: most writes then cost one syscall
        and no Future. What the kernel does not take (or any error) goes the IOStream way."""
        sock = self._socket
        if sock is not None and not stream.writing():
            try:
                sent = sock.send(payload)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                sent = 0  # let the IOStream meet the error and close the connection properly
            if sent == len(payload):
                return
            payload = payload[sent:]
        stream.write(payload)

    def _cut_off(self) -> None:
        """The client stopped reading: drop it rather than let its queue grow."""
        log.warning("%s: send queue full (%d messages waiting), disconnecting slow client", self._who(),
                    self._in_flight)
        self.hub.metrics.slow_consumers += 1
        self._queue.clear()
        self._queued_bytes = 0
        self._drop()

    def _who(self) -> str:
        return self.session.id[:8] if self.session else "?"

    def _drop(self) -> None:
        """Close the TCP connection without a closing handshake; on_close then runs as for any disconnect."""
        self._closed = True
        if self.ws_connection is not None:
            # closed on the next loop turn: we may be inside a broadcast over the room's members
            asyncio.get_running_loop().call_soon(self.ws_connection.stream.close)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if self.ws_connection is not None:
            self._flush()  # frames queued before the close go out before the close frame
            super().close(code, reason)


class WebSocketOnlyGet(BaseHandler):
    """/ws with another method than GET: 405, empty body."""

    def prepare(self) -> None:
        self.set_status(405)
        self.finish()
