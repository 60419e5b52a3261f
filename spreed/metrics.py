"""Counters of one server process; spreed.prometheus exposes them (`GET /metrics`).

The hot path only increments plain integers; Prometheus metric families are built at scrape time.
"""
from __future__ import annotations

from collections import Counter

class Counters:
    """Monotonic counts kept by the hub and the connections."""

    __slots__ = ("messages_in", "frames_out", "bytes_in", "bytes_out", "errors", "slow_consumers")

    def __init__(self) -> None:
        self.messages_in: Counter[str] = Counter()
        self.frames_out = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.errors: Counter[str] = Counter()
        self.slow_consumers = 0
