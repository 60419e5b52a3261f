"""Abuse limits: per-IP connection counts and rates, PIN attempts, sizes and totals.

Everything here is bounded: per-key state lives in LRU-capped maps, so an attacker cycling through
addresses cannot grow memory without limit. Refusals are logged once per offender per minute.
"""
from __future__ import annotations

import functools
import ipaddress
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger("spreed.limits")
MAX_TRACKED_KEYS = 50_000
LOG_EVERY = 60.0
_now = time.monotonic  # one clock for everything here (tests replace it)

# Why a new websocket is refused (the codes of the JSON body the handshake gets instead of 101).
SERVER_FULL = "server_full"
TOO_MANY_CONNECTIONS = "too_many_connections"
RATE_LIMITED = "rate_limited"


@dataclass
class AbuseLimits:
    """The `limits:` options that guard against floods (config.Limits adds the transport ones)."""
    connections_per_ip: int = 50
    connects_per_second: float = 10.0
    connect_burst: int = 30
    rest_per_second: float = 10.0
    rest_burst: int = 40
    pin_attempts_per_minute: int = 10  # wrong PINs per session
    address_pin_attempts_per_minute: int = 20  # wrong PINs per client address, over all its sessions
    room_pin_attempts_per_minute: int = 50  # wrong PINs per room; past it only addresses that guessed wrong wait
    chat_message_bytes: int = 200_000
    status_bytes: int = 640 * 1024  # room for a buddy picture (a data URL of up to 512 KiB)
    max_rooms: int = 10_000
    max_sessions: int = 20_000


# field -> option name under `limits:` (config.py parses them; refusals are logged by option name)
OPTION_NAMES = {"connections_per_ip": "connectionsPerIp", "connects_per_second": "connectsPerSecond",
                "connect_burst": "connectBurst", "rest_per_second": "restPerSecond", "rest_burst": "restBurst",
                "pin_attempts_per_minute": "pinAttemptsPerMinute",
                "address_pin_attempts_per_minute": "addressPinAttemptsPerMinute",
                "room_pin_attempts_per_minute": "roomPinAttemptsPerMinute",
                "chat_message_bytes": "chatMessageBytes", "status_bytes": "statusBytes",
                "max_rooms": "maxRooms", "max_sessions": "maxSessions"}


@functools.lru_cache(maxsize=4096)  # asked at every connect and close
def client_key(ip: str) -> str:
    """The key per-address limits count by: the address, or its /64 for IPv6.

    One IPv6 host usually owns a whole /64, so counting single addresses would not hold it back.
    """
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return ip


class BoundedMap(OrderedDict):
    """An LRU dict that forgets its oldest keys beyond maxsize."""

    def __init__(self, maxsize: int = MAX_TRACKED_KEYS) -> None:
        super().__init__()
        self.maxsize = maxsize

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        if len(self) > self.maxsize:
            self.popitem(last=False)

    def get_or(self, key: Any, factory: Callable[[], Any]) -> Any:
        value = self.get(key)
        if value is None:
            value = self[key] = factory()
        else:
            self.move_to_end(key)
        return value


class TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, _now()

    def take(self) -> bool:
        now = _now()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class RateLimiter:
    """Token buckets keyed by client address (or any key)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.buckets = BoundedMap()

    def allow(self, key: str) -> bool:
        return self.buckets.get_or(key, lambda: TokenBucket(self.rate, self.burst)).take()


class SlidingCounter:
    """How many events a key had in the last `window` seconds (for wrong PINs)."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self.events = BoundedMap()

    def _recent(self, key: Any) -> list[float]:
        now = _now()
        stamps = self.events.get_or(key, list)
        stamps[:] = [t for t in stamps if now - t < self.window]
        return stamps

    def full(self, key: Any) -> bool:
        """True while the key has had `limit` events within the window."""
        return key in self.events and len(self._recent(key)) >= self.limit

    def add(self, key: Any) -> None:
        self._recent(key).append(_now())


class RefusalLog:
    """Logs a refusal once per (limit, offender) per minute, and counts every one."""

    def __init__(self) -> None:
        self.last = BoundedMap()
        self.counts: dict[str, int] = {}

    def refused(self, limit: str, offender: str, detail: str = "") -> None:
        self.counts[limit] = self.counts.get(limit, 0) + 1
        now = _now()
        key = (limit, offender)
        last = self.last.get(key)
        if last is None or now - last >= LOG_EVERY:
            self.last[key] = now
            log.warning("limit %s refused %s%s (logged once a minute per offender)", limit, offender,
                        f": {detail}" if detail else "")


class Guard:
    """The limits of one server process, consulted by the handlers and the hub.

    With `enabled` false nothing is refused, but websocket connections are still counted.
    """

    def __init__(self, enabled: bool, limits: AbuseLimits) -> None:
        self.enabled = enabled
        self.limits = limits
        self.connections: dict[str, int] = {}
        self.connects = RateLimiter(limits.connects_per_second, limits.connect_burst)
        self.rest = RateLimiter(limits.rest_per_second, limits.rest_burst)
        self.pin_by_session = SlidingCounter(limits.pin_attempts_per_minute)
        self.pin_by_address = SlidingCounter(limits.address_pin_attempts_per_minute)
        self.pin_by_room = SlidingCounter(limits.room_pin_attempts_per_minute)
        self.pin_guessers = SlidingCounter(1)  # (room, address) pairs with a wrong PIN in the window
        self.log = RefusalLog()

    def refuse(self, limit: str, offender: str, detail: str = "") -> bool:
        """Count and (rate-limited) log a refusal; always False, so checks can `return guard.refuse(..)`."""
        self.log.refused(limit, offender, detail)
        return False

    # ---- websockets
    def admit(self, ip: str, sessions: int) -> str:
        """Why a new websocket from ip must be refused, or "" when it may open (nothing is counted yet).

        The upgrade that follows an admission runs without yielding to the event loop, so opened()
        is called before any other admission is decided.
        """
        if not self.enabled:
            return ""
        key = client_key(ip)
        if sessions >= self.limits.max_sessions:
            self.refuse("maxSessions", "new connections", f"{sessions} sessions")
            return SERVER_FULL
        if self.connections.get(key, 0) >= self.limits.connections_per_ip:
            self.refuse("connectionsPerIp", key)
            return TOO_MANY_CONNECTIONS
        if not self.connects.allow(key):
            self.refuse("connectsPerSecond", key)
            return RATE_LIMITED
        return ""

    def opened(self, ip: str) -> None:
        key = client_key(ip)
        self.connections[key] = self.connections.get(key, 0) + 1

    def closed(self, ip: str) -> None:
        key = client_key(ip)
        count = self.connections.get(key, 0) - 1
        if count > 0:
            self.connections[key] = count
        else:
            self.connections.pop(key, None)

    # ---- REST
    def rest_request(self, ip: str) -> bool:
        key = client_key(ip)
        return not self.enabled or self.rest.allow(key) or self.refuse("restPerSecond", key)

    # ---- room PINs: only wrong ones count, and while over a limit no PIN is even compared
    def pin_blocked(self, session_id: str, ip: str, room_id: str) -> bool:
        """Whether this session may not try a PIN for the room now.

        A guesser is held back per session and per client address. The room-wide count only stops
        addresses that have guessed wrong in this room lately: many guessers together cannot lock
        out a member whose address never sent a wrong PIN.
        """
        if not self.enabled:
            return False
        key = client_key(ip)
        if self.pin_by_session.full(session_id):
            return not self.refuse("pinAttemptsPerMinute", f"session {session_id[:8]}")
        if self.pin_by_address.full(key):
            return not self.refuse("addressPinAttemptsPerMinute", key)
        if self.pin_by_room.full(room_id) and self.pin_guessers.full((room_id, key)):
            return not self.refuse("roomPinAttemptsPerMinute", f"room {room_id!r}", key)
        return False

    def pin_failed(self, session_id: str, ip: str, room_id: str) -> None:
        if self.enabled:
            key = client_key(ip)
            self.pin_by_session.add(session_id)
            self.pin_by_address.add(key)
            self.pin_by_room.add(room_id)
            self.pin_guessers.add((room_id, key))

    # ---- sizes and totals
    def size_ok(self, limit: str, size: int, offender: str) -> bool:
        """`limit` is a field name of AbuseLimits, e.g. "chat_message_bytes"."""
        cap = getattr(self.limits, limit)
        return not self.enabled or size <= cap or self.refuse(OPTION_NAMES[limit], offender, f"{size} > {cap}")

    def total_ok(self, limit: str, current: int, offender: str) -> bool:
        cap = getattr(self.limits, limit)
        return not self.enabled or current < cap or self.refuse(OPTION_NAMES[limit], offender, f"{current} reached")
