"""The channeling websocket on a plain asyncio Protocol: the upgrade answered by us, frames read in
the transport's callback, writes through the transport (C under uvloop). No HTTP server objects,
no Future per read: a join costs a fraction of Tornado's path, and so does every message.

`handlers.frontdoor` sends here the upgrades it recognises on plain TCP listeners; everything
else (other requests, malformed upgrades, TLS, Unix sockets) goes through Tornado's HTTP server
and `handlers.websocket`, whose answers (400s, routing) stay the reference.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import socket
import struct
import urllib.parse
from typing import Any

from spreed.hub import Hub
from spreed.jsonutil import rest
from spreed.users import RequestFacts, UsersMode

from .base import _in, client_address
from .channel import ChannelLink
from .security import access_log, origin_allowed, redacted_uri
from .websocket import REFUSALS
from .wsframes import LINGER_BYTES, LINGER_SECONDS, FrameRules

log = logging.getLogger("spreed.ws")
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD = 16384  # an upgrade whose head is longer goes the Tornado way
CLOSE_WAIT = 5.0  # seconds a client has to answer our Close before the connection is dropped
PING = b"\x89\x00"
UPGRADE_RESPONSE = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Accept: %s\r\nX-Content-Type-Options: nosniff\r\n"
                    b"Referrer-Policy: no-referrer\r\n\r\n")


class Head:
    """The request line and headers of an upgrade, looked up case-insensitively (duplicates joined)."""

    __slots__ = ("remote_ip", "uri", "query", "fields", "size")

    def __init__(self, remote_ip: str, uri: str, query: str, fields: dict[str, str], size: int) -> None:
        self.remote_ip, self.uri, self.query, self.fields, self.size = remote_ip, uri, query, fields, size

    @property
    def headers(self) -> "Head":  # `client_address` and the users modes read request.headers
        return self

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name.lower(), default)

    def get_list(self, name: str) -> list[str]:
        value = self.fields.get(name.lower())
        return [] if value is None else [value]

    def __getitem__(self, name: str) -> str:
        return self.fields[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self.fields

    def tokens(self, name: str) -> set[str]:
        return {t.strip().lower() for t in self.fields.get(name, "").split(",")}

    def argument(self, name: str) -> str:
        """The last value of a query argument, as Tornado's get_query_argument gives it."""
        if not self.query:
            return ""
        values = urllib.parse.parse_qs(self.query, keep_blank_values=True).get(name)
        return values[-1].strip() if values else ""


def parse_upgrade(data: bytes, path: str, remote_ip: str) -> Head | None:
    """The head of a well-formed websocket upgrade to `path`, or None (Tornado then answers)."""
    end = data.find(b"\r\n\r\n", 0, MAX_HEAD)
    if end < 0:
        return None
    try:
        lines = data[:end].decode("ascii").split("\r\n")
    except UnicodeDecodeError:
        return None
    request = lines[0].split(" ")
    if len(request) != 3 or request[0] != "GET" or request[2] != "HTTP/1.1":
        return None
    target, _, query = request[1].partition("?")
    if target != path:
        return None
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or " " in name:
            return None  # folded or malformed header lines: Tornado's rules decide
        key = name.lower()
        value = value.strip(" \t")
        fields[key] = f"{fields[key]},{value}" if key in fields else value
    head = Head(remote_ip, request[1], query, fields, end + 4)
    if ("host" not in fields or "content-length" in fields or "transfer-encoding" in fields
            or "upgrade" not in head.tokens("connection") or "websocket" not in head.tokens("upgrade")
            or fields.get("sec-websocket-version") != "13" or not fields.get("sec-websocket-key")):
        return None
    return head


def accept_key(key: str) -> bytes:
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest())


def refusal(status: int, reason: str, code: str, message: str, retry_after: str | None) -> bytes:
    body = rest({"code": code, "message": message, "success": False})
    extra = f"Retry-After: {retry_after}\r\n" if retry_after else ""
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{extra}X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n"
            ).encode() + body


def _host(head: Head, trusted: list[str]) -> str:
    """The Host the browser used: a trusted proxy may name it in X-Forwarded-Host."""
    forwarded = head.get("x-forwarded-host")
    if forwarded and _in(head.remote_ip, trusted):
        return forwarded.split(",")[0].strip()
    return head.get("host")


def admit(hub: Hub, head: Head, client_ip: str) -> bytes | None:
    """The origin check and the connection limits, before the upgrade; a refusal's response, if any."""
    cfg = hub.config
    origin = head.fields.get("origin")
    if origin is not None and not origin_allowed(origin, _host(head, cfg.trusted_proxies), cfg.allowed_origins):
        hub.guard.refuse("allowedOrigins", f"origin {origin[:200]!r}")
        return refusal(403, "Forbidden", "origin_not_allowed", "Websocket connections from this origin are not allowed",
                       None)
    code = hub.guard.admit(client_ip, len(hub.sessions))
    if not code:
        return None
    status, retry_after, message = REFUSALS[code]
    return refusal(status, "Service Unavailable" if status == 503 else "Too Many Requests", code, message, retry_after)


def upgrade(hub: Hub, users_mode: UsersMode | None, conn: socket.socket, head: Head) -> None:
    """Answer an upgrade whose head has been read from `conn`: refuse it, or hand it to a FastChannel."""
    client_ip = client_address(head, hub.config.trusted_proxies)  # type: ignore[arg-type]
    refused = admit(hub, head, client_ip)
    if refused is not None:
        access_log.warning("%d GET %s (%s)", int(refused[9:12]), redacted_uri(head.uri), head.remote_ip)
        try:
            conn.send(refused)
        except OSError:
            pass
        conn.close()
        return
    userid = ""
    if users_mode is not None:
        userid = users_mode.userid_from_request(RequestFacts(headers=head, client_cert_der=None))
    channel = FastChannel(hub, client_ip, head.argument("t"), userid, accept_key(head.get("sec-websocket-key")))
    channel._count()  # now: upgrades admitted in the same loop turn must see each other
    if access_log.isEnabledFor(logging.INFO):  # the line Tornado's path logs for an upgrade
        access_log.info("101 GET %s (%s)", redacted_uri(head.uri), head.remote_ip)
    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small frames go out at once
    except OSError:
        pass
    loop = asyncio.get_running_loop()
    task = loop.create_task(loop.connect_accepted_socket(lambda: channel, conn))
    task.add_done_callback(lambda t: t.cancelled() or t.exception() is None or channel.never_opened(conn))


class FastChannel(ChannelLink, FrameRules, asyncio.Protocol):
    """One channeling websocket after the upgrade: an asyncio Protocol and the hub's Connection."""

    def __init__(self, hub: Hub, client_ip: str, token: str, userid: str, accept: bytes) -> None:
        self._link_init(hub)
        self.remote_ip = client_ip
        self._start: tuple[str, str, bytes] | None = (token, userid, accept)
        self._transport: Any = None
        self._buffer = bytearray()  # bytes of a frame not complete yet
        self._prefix = b""  # the 101 response, written with the first frames (Self) in one send
        self._client_closed = False  # its Close frame arrived
        self._server_closed = False  # ours went out
        self._lingering = False  # a failed connection swallows what still arrives, up to a budget
        self._linger_budget = 0
        self._timer: asyncio.TimerHandle | None = None
        self._held: str | None = None  # a message waiting for the rate limit

    # ---- asyncio.Protocol
    def connection_made(self, transport: Any) -> None:
        self._transport = transport
        token, userid, accept = self._start or ("", "", b"")
        self._start = None
        self._prefix = UPGRADE_RESPONSE % accept
        self._opened(token, userid)
        self._flush()  # the 101 and Self in one segment
        if self._prefix:
            transport.write(self._prefix)
            self._prefix = b""

    def never_opened(self, conn: socket.socket) -> None:
        """connect_accepted_socket failed (the socket died in between)."""
        self._link_closed()
        conn.close()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            self._linger_budget -= len(data)
            if self._linger_budget <= 0:
                self._transport.abort()
            return
        if self._buffer:
            self._buffer += data
            self._consume()
        else:
            self._consume(data)

    def eof_received(self) -> bool:
        return False  # the transport closes; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._held = None
        self._link_closed()

    # ---- reading
    def _consume(self, data: bytes | None = None) -> None:
        """Parse what has arrived; a message held back by the rate limit pauses reading."""
        buf: Any = self._buffer if data is None else data
        used, wait = self.parse(buf)
        if used < 0:
            self._buffer.clear()
            return
        if data is None:
            del self._buffer[:used]
        elif used < len(data):
            self._buffer += data[used:]
        if wait is not None:
            self._transport.pause_reading()
            self._timer = asyncio.get_running_loop().call_later(wait, self._resume)

    def _resume(self) -> None:
        self._timer = None
        text, self._held = self._held, None
        if self._closed or self._transport.is_closing():
            return
        if text is not None:
            self._deliver(text)
        self._transport.resume_reading()
        if self._buffer:
            self._consume()

    def _deliver(self, text: str) -> None:
        try:
            self.hub.handle(self.session, text)  # type: ignore[arg-type]  (set when the transport came)
        except Exception:  # noqa: BLE001 - a bug must cost this connection, never the loop
            log.exception("%s: message handling failed, disconnecting", self._who())
            self._drop()

    # FrameRules' hooks
    def _ended(self) -> bool:
        return self._client_closed or self._lingering or self._closed

    def _size_limit(self) -> int:
        return self.hub.config.limits.max_message_bytes

    def _message(self, message: str | bytes) -> Any:
        if isinstance(message, bytes) or self.session is None:
            return None  # binary frames are ignored
        delay = self._rate_delay()
        if delay > 0:
            self._held = message
            return delay
        self._deliver(message)
        return None

    def _control(self, opcode: int, data: bytes) -> Any:
        if opcode == 0x9:
            if not self._server_closed:
                self._transport.write(bytes((0x8A, len(data))) + data)
        else:
            self._pong = True
        return None

    def _closed_by_client(self, code: int | None, reason: str | None) -> None:
        """Its Close: ours in answer (its code, or 1000) unless we sent one already, then the TCP close."""
        self._client_closed = True
        if not self._server_closed:
            self._flush()  # what was queued before goes out before the Close
            self._send_close(code or 1000, None)
        self._transport.close()

    def _fail(self, code: int, reason: str) -> None:
        """The Close with the code, a half-close, and what the client still sends swallowed for a while:
        closing with unread data would reset the connection and could destroy the Close frame."""
        log.debug("closing a websocket with %d: %s", code, reason)
        if not self._server_closed:
            self._flush()
            self._send_close(code, reason)
        self._link_closed()  # the room hears of it now, as of any lost connection
        transport = self._transport
        if transport.is_closing():
            return
        self._lingering, self._linger_budget = True, LINGER_BYTES
        if transport.can_write_eof():
            transport.write_eof()
        self._restart_timer(LINGER_SECONDS, transport.abort)

    # ---- ChannelLink's hooks
    def _link_open(self) -> bool:
        return self._transport is not None and not self._server_closed and not self._transport.is_closing()

    def _backlogged(self) -> bool:
        return self._transport.get_write_buffer_size() > 0

    def _transmit(self, payload: bytes) -> None:
        transport = self._transport
        waiting = transport.get_write_buffer_size()
        if waiting and waiting + len(payload) > self._max_bytes:
            self._cut_off()  # its buffer still holds older frames: it stopped reading
            return
        if self._prefix:
            payload, self._prefix = self._prefix + payload, b""
        transport.write(payload)

    def _ping(self) -> bool:
        if not self._link_open():
            return False
        self._transport.write(PING)
        return True

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # ---- closing (the core's Connection interface)
    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Our Close; the client has CLOSE_WAIT seconds to answer before the connection is dropped."""
        if self._transport is None or self._server_closed or self._transport.is_closing():
            return
        self._flush()  # frames queued before the close go out before the close frame
        self._send_close(code, reason)
        if self._client_closed:
            self._transport.close()
        else:
            self._restart_timer(CLOSE_WAIT, self._transport.abort)

    def _send_close(self, code: int | None, reason: str | None) -> None:
        payload = b""
        if code is not None:
            payload = struct.pack("!H", code) + (reason or "").encode("utf-8")[:123]
        self._server_closed = True
        self._transport.write(bytes((0x88, len(payload))) + payload)

    def _restart_timer(self, delay: float, callback: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(delay, callback)
