"""The channeling websocket on Tornado's WebSocketHandler: connections that come through Tornado's
HTTP server (TLS listeners, Unix sockets, an upgrade on a kept-alive connection; plain upgrades
take the `handlers.wsfast` path). What a connection does beyond the transport is `ChannelLink`.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import tornado.httputil
import tornado.iostream
import tornado.websocket

from spreed import limits as guard_codes
from spreed.hub import Hub
from spreed.jsonutil import rest

from .base import BaseHandler, _in, client_address
from .channel import ChannelLink
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


NO_HEADERS = tornado.httputil.HTTPHeaders()  # shared by every open websocket; nobody writes to it


class ChannelingSocket(ChannelLink, tornado.websocket.WebSocketHandler):
    hub: Hub

    def initialize(self, hub: Hub, **kwargs: Any) -> None:
        self._link_init(hub)
        self.users_mode = kwargs.get("users_mode")
        self._socket: Any = None  # the plain TCP socket, for writes that skip IOStream's bookkeeping

    # ---- handshake
    def check_origin(self, origin: str) -> bool:
        return True  # checked in get(), with a JSON answer and a log line

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        log_exception(self, typ, value, tb)

    def get_compression_options(self) -> None:
        return None

    def get_websocket_protocol(self) -> Any:
        protocol = super().get_websocket_protocol()
        if type(protocol) is tornado.websocket.WebSocketProtocol13:  # the same, with a cheaper frame reader
            protocol = ChunkReadingProtocol(self, False, protocol.params)
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
        self.set_nodelay(True)
        if self.ws_connection is not None:  # bytes the kernel has not taken yet are bounded too
            stream = self.ws_connection.stream
            stream.max_write_buffer_size = self._max_bytes
            if type(stream) is tornado.iostream.IOStream:  # not TLS: its socket can be written directly
                self._socket = stream.socket
        self._count()
        self._opened(self.get_query_argument("t", ""), self._request_userid())
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

    # ---- ChannelLink's hooks
    def _link_open(self) -> bool:
        return self.ws_connection is not None

    def _backlogged(self) -> bool:
        return self.ws_connection is not None and self.ws_connection.stream.writing()

    def _ping(self) -> bool:
        if self.ws_connection is None:
            return False
        try:
            self.ws_connection.write_ping(b"")
        except tornado.iostream.StreamClosedError:
            return False
        return True

    def _abort(self) -> None:
        if self.ws_connection is not None:
            self.ws_connection.stream.close()

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

    async def _handle_later(self, delay: float, message: str) -> None:
        await asyncio.sleep(delay)
        if self.session is not None and not self._closed:
            self.hub.handle(self.session, message)

    def on_close(self) -> None:
        self._link_closed()

    def _transmit(self, payload: bytes) -> None:
        stream = self.ws_connection.stream  # type: ignore[union-attr]  (_link_open said so)
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

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if self.ws_connection is not None:
            self._flush()  # frames queued before the close go out before the close frame
            super().close(code, reason)


class WebSocketOnlyGet(BaseHandler):
    """/ws with another method than GET: 405, empty body."""

    def prepare(self) -> None:
        self.set_status(405)
        self.finish()
