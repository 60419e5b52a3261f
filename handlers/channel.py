"""What every channeling connection does, whichever transport carries it (Tornado's websocket or
`handlers.wsfast`): a bounded send queue written once per loop turn, 20 messages a second,
keep-alive pings, and the hub's Connection interface (`send`, `close`, `remote_ip`, `index`).

A client that stops reading fills its bounded buffer and is cut off, so it never slows anyone else
or grows the server's memory.
"""
from __future__ import annotations

import array
import asyncio
import logging
import struct
import time
import weakref
from typing import Any

from spreed.hub import Hub
from spreed.session import Session

log = logging.getLogger("spreed.ws")


def text_frame_header(length: int) -> bytes:
    """The header of an unmasked, final text frame (RFC 6455 5.2)."""
    if length < 126:
        return bytes((0x81, length))
    if length <= 0xFFFF:
        return struct.pack("!BBH", 0x81, 126, length)
    return struct.pack("!BBQ", 0x81, 127, length)


class Flusher:
    """Writes every connection's queued frames once per loop turn: one callback for all of them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: list["ChannelLink"] = []

    def add(self, conn: "ChannelLink") -> None:
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
        self.connections: set["ChannelLink"] = set()
        self.timer: asyncio.TimerHandle | None = None

    def add(self, conn: "ChannelLink") -> None:
        conn._next_ping = self.loop.time() + self.interval
        self.connections.add(conn)
        if self.timer is None:
            self.timer = self.loop.call_later(self.tick, self.run)

    def remove(self, conn: "ChannelLink") -> None:
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


class ChannelLink:
    """The transport-neutral half of a channeling connection; the transport supplies the hooks."""

    hub: Hub
    session: Session | None
    remote_ip: str

    def _link_init(self, hub: Hub) -> None:
        self.hub = hub
        limits = hub.config.limits
        self.index = 0
        self.remote_ip = ""
        self._counted = False  # in the guard's per-address connection count
        self.session = None
        self._queue: list[bytes] = []
        self._queued_bytes = 0
        self._pending = False  # registered with the loop's flusher
        self._flusher: Flusher | None = None
        self._in_flight = 0  # frames written since the transport's buffer was last empty
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

    # ---- hooks of the transport
    def _link_open(self) -> bool:
        """The transport can still carry frames."""
        raise NotImplementedError

    def _backlogged(self) -> bool:
        """Bytes of earlier writes are still waiting for the kernel."""
        raise NotImplementedError

    def _transmit(self, payload: bytes) -> None:
        """Write frames; a transport whose buffer is over the limit calls `_cut_off` instead."""
        raise NotImplementedError

    def _ping(self) -> bool:
        """Send a ping; False when the transport is gone."""
        raise NotImplementedError

    def _abort(self) -> None:
        """Close the TCP connection now, without a closing handshake."""
        raise NotImplementedError

    # ---- life
    def _count(self) -> None:
        """Admitted: counted for its address until it closes."""
        self.hub.guard.opened(self.remote_ip)
        self._counted = True

    def _opened(self, token: str, userid: str) -> None:
        """Upgraded: a session (Self is queued) and keep-alive pings."""
        self.session = self.hub.connect(self, token, userid)
        limits = self.hub.config.limits
        self._keepalive = keep_alive(limits.ping_interval, limits.ping_timeout)
        self._keepalive.add(self)

    def _link_closed(self) -> None:
        """The connection is gone (or failed): the session leaves its room, once."""
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

    def _check_alive(self, now: float, interval: float, timeout: float) -> None:
        """Ping every pingInterval; a peer that leaves a ping unanswered for pingTimeout is dropped.

        Dropped at once: a peer that ignores pings will not finish a closing handshake either."""
        if self._closed or not self._link_open():
            return
        if self._pong:
            self._pong, self._waiting_since = False, None
        if self._waiting_since is not None and now - self._waiting_since >= timeout:
            log.info("%s: no pong within %.1f s, disconnecting", self._who(), timeout)
            self._drop()
            return
        if now >= self._next_ping:
            if not self._ping():
                return
            self._next_ping = now + interval
            if self._waiting_since is None:
                self._waiting_since = now

    def on_pong(self, data: bytes) -> None:
        self._pong = True

    # ---- incoming
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
        if self._closed or not queue or not self._link_open():
            return
        if not self._backlogged():  # all earlier frames reached the kernel: nothing is waiting
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
        self._transmit(payload)

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
        """Close without a closing handshake; the disconnect then runs as for any lost connection."""
        self._closed = True
        # on the next loop turn: we may be inside a broadcast over the room's members
        asyncio.get_running_loop().call_soon(self._abort)
