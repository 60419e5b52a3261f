"""The channeling websocket: one connection per client, a bounded send queue, batched writes.

Outgoing frames are queued per connection and written to the stream in batches, one write at a
time; a client that stops reading fills its queue and is cut off, so it never slows anyone else or
grows the server's memory.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import struct
import time
from typing import Any

import tornado.iostream
import tornado.websocket

from spreed import limits as guard_codes
from spreed.hub import Hub
from spreed.jsonutil import rest
from spreed.session import Session

from .base import BaseHandler, _in, client_address
from .security import log_exception, origin_allowed
from .users import request_facts

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
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued_bytes = 0
        self._writing = False
        self._closed = False
        self._max_messages = limits.send_queue_messages
        self._max_bytes = limits.send_queue_bytes
        self._rate = limits.messages_per_second
        self._recent: collections.deque[float] = collections.deque(maxlen=self._rate)
        self._pong = False
        self._keepalive: asyncio.Task[None] | None = None

    # ---- handshake
    def check_origin(self, origin: str) -> bool:
        return True  # checked in get(), with a JSON answer and a log line

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        log_exception(self, typ, value, tb)

    def get_compression_options(self) -> None:
        return None

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
        token = self.get_query_argument("t", "")
        self.session = self.hub.connect(self, token, self._request_userid())
        self._keepalive = asyncio.get_running_loop().create_task(self._keep_alive())

    async def _keep_alive(self) -> None:
        """Ping every pingInterval; a peer that leaves a ping unanswered for pingTimeout is dropped.

        Dropped at once: a peer that ignores pings will not finish a closing handshake either, and
        Tornado's own ping timeout waits 5 s more for one before its room hears it is gone."""
        limits = self.hub.config.limits
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + limits.ping_interval
        waiting_since: float | None = None  # when the oldest unanswered ping went out
        while not self._closed and self.ws_connection is not None:
            now = loop.time()
            if self._pong:
                self._pong, waiting_since = False, None
            if waiting_since is not None and now - waiting_since >= limits.ping_timeout:
                log.info("%s: no pong within %.1f s, disconnecting", self._who(), limits.ping_timeout)
                self._drop()
                return
            if now >= next_ping:
                try:
                    self.ws_connection.write_ping(b"")
                except tornado.iostream.StreamClosedError:
                    return
                next_ping = now + limits.ping_interval
                waiting_since = now if waiting_since is None else waiting_since
            wake = next_ping if waiting_since is None else min(next_ping, waiting_since + limits.ping_timeout)
            await asyncio.sleep(max(0.0, wake - loop.time()))

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
        delay = 0.0
        if len(recent) == recent.maxlen:
            delay = recent[0] + 1.0 - now
        recent.append(max(now, now + delay))
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
            self._keepalive.cancel()
            self._keepalive = None
        if self.session is not None:
            self.hub.disconnect(self.session)

    # ---- outgoing (the core's Connection interface)
    def send(self, data: bytes) -> None:
        if self._closed:
            return
        self._queue.append(data)
        self._queued_bytes += len(data)
        # one message alone never counts as a full queue, however big it is
        if len(self._queue) > 1 and (len(self._queue) > self._max_messages or self._queued_bytes > self._max_bytes):
            self._cut_off()
            return
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        if self._closed or self.ws_connection is None or not self._queue:
            self._writing = False
            return
        parts = []
        for data in self._queue:
            parts.append(text_frame_header(len(data)))
            parts.append(data)
        self._queue.clear()
        self._queued_bytes = 0
        try:
            written = self.ws_connection.stream.write(b"".join(parts))
        except tornado.iostream.StreamClosedError:
            self._writing = False
            return
        written.add_done_callback(self._written)

    def _written(self, future: "asyncio.Future[None]") -> None:
        if future.cancelled() or future.exception() is not None:
            self._writing = False
            return
        if self._queue:
            self._flush()
        else:
            self._writing = False

    def _cut_off(self) -> None:
        """The client stopped reading: drop it rather than let its queue grow."""
        log.warning("%s: send queue full (%d messages), disconnecting slow client", self._who(), len(self._queue))
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
        if self.ws_connection is not None and not self._queue:
            super().close(code, reason)
        elif self.ws_connection is not None:
            # let queued frames go out first, then close
            asyncio.get_running_loop().call_later(0.05, super().close, code, reason)


class WebSocketOnlyGet(BaseHandler):
    """/ws with another method than GET: 405, empty body."""

    def prepare(self) -> None:
        self.set_status(405)
        self.finish()
