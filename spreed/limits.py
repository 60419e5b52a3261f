"""Abuse limits: per-IP connection counts and rates, PIN attempts, sizes and totals.

Everything here is bounded: per-key state lives in LRU-capped maps, so an attacker cycling through
addresses cannot grow memory without limit. Refusals are logged once per offender per minute.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger("spreed.limits")
MAX_TRACKED_KEYS = 50_000
LOG_EVERY = 60.0


@dataclass
class AbuseLimits:
    """The `limits:` options that guard against floods; `enabled: false` switches all of them off."""
    connections_per_ip: int = 50
    connects_per_second_per_ip: float = 10.0
    connect_burst: int = 30
    rest_per_second_per_ip: float = 10.0
    rest_burst: int = 40
    pin_attempts_per_minute: int = 10  # per session and per room
    chat_message_bytes: int = 200_000
    status_bytes: int = 512 * 1024
    max_rooms: int = 10_000
    max_sessions: int = 20_000


class BoundedMap(OrderedDict):
    """An LRU dict that forgets its oldest keys beyond maxsize."""

    def __init__(self, maxsize: int = MAX_TRACKED_KEYS) -> None:
        super().__init__()
        self.maxsize = maxsize

    def get_or(self, key: Any, factory: Callable[[], Any]) -> Any:
        value = self.get(key)
        if value is None:
            value = self[key] = factory()
            if len(self) > self.maxsize:
                self.popitem(last=False)
        else:
            self.move_to_end(key)
        return value


class TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
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
    """How many events a key had in the last `window` seconds (for PIN attempts)."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self.events = BoundedMap()

    def hit(self, key: str) -> bool:
        """Record an attempt; False once the key is over its limit in the window."""
        now = time.monotonic()
        stamps = self.events.get_or(key, list)
        stamps[:] = [t for t in stamps if now - t < self.window]
        if len(stamps) >= self.limit:
            return False
        stamps.append(now)
        return True


class RefusalLog:
    """Logs a refusal once per (limit, offender) per minute, and counts every one."""

    def __init__(self) -> None:
        self.last = BoundedMap()
        self.counts: dict[str, int] = {}

    def refused(self, limit: str, offender: str, detail: str = "") -> None:
        self.counts[limit] = self.counts.get(limit, 0) + 1
        now = time.monotonic()
        key = (limit, offender)
        if now - self.last.get(key, -LOG_EVERY) >= LOG_EVERY:
            self.last[key] = now
            log.warning("limit %s refused %s%s", limit, offender, f": {detail}" if detail else "")


class Guard:
    """The limits of one server process, consulted by the handlers and the hub."""

    def __init__(self, enabled: bool, limits: AbuseLimits) -> None:
        self.enabled = enabled
        self.limits = limits
        self.connections: dict[str, int] = {}
        self.connects = RateLimiter(limits.connects_per_second_per_ip, limits.connect_burst)
        self.rest = RateLimiter(limits.rest_per_second_per_ip, limits.rest_burst)
        self.pin_by_session = SlidingCounter(limits.pin_attempts_per_minute)
        self.pin_by_room = SlidingCounter(limits.pin_attempts_per_minute * 5)
        self.log = RefusalLog()

    def _refuse(self, limit: str, offender: str, detail: str = "") -> bool:
        self.log.refused(limit, offender, detail)
        return False

    def open_connection(self, ip: str) -> bool:
        """Count a new websocket from ip; False (and nothing counted) when it must be refused."""
        if not self.enabled:
            self.connections[ip] = self.connections.get(ip, 0) + 1
            return True
        if self.connections.get(ip, 0) >= self.limits.connections_per_ip:
            return self._refuse("connections_per_ip", ip)
        if not self.connects.allow(ip):
            return self._refuse("connects_per_second_per_ip", ip)
        self.connections[ip] = self.connections.get(ip, 0) + 1
        return True

    def close_connection(self, ip: str) -> None:
        count = self.connections.get(ip, 0) - 1
        if count > 0:
            self.connections[ip] = count
        else:
            self.connections.pop(ip, None)

    def rest_request(self, ip: str) -> bool:
        return not self.enabled or self.rest.allow(ip) or self._refuse("rest_per_second_per_ip", ip)

    def pin_attempt(self, session_id: str, room_id: str) -> bool:
        if not self.enabled:
            return True
        if not self.pin_by_session.hit(session_id):
            return self._refuse("pin_attempts_per_session", session_id[:8])
        if not self.pin_by_room.hit(room_id):
            return self._refuse("pin_attempts_per_room", room_id)
        return True

    def size_ok(self, limit: str, size: int, offender: str) -> bool:
        cap = getattr(self.limits, limit)
        return not self.enabled or size <= cap or self._refuse(limit, offender, f"{size} > {cap}")

    def total_ok(self, limit: str, current: int, offender: str) -> bool:
        cap = getattr(self.limits, limit)
        return not self.enabled or current < cap or self._refuse(limit, offender, f"{current} reached")
