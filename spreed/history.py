"""A small in-memory history of the hub's figures for the status page: one sample a minute, one hour."""
from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .hub import Hub

SAMPLES = 60


class History:
    def __init__(self, hub: "Hub", interval: float = 60.0) -> None:
        self.hub = hub
        self.interval = interval
        self.samples: collections.deque[dict[str, Any]] = collections.deque(maxlen=SAMPLES)
        self._last: tuple[float, int, int] | None = None

    def sample(self) -> None:
        self.samples.append(self._measure(keep=True))

    def _measure(self, keep: bool) -> dict[str, Any]:
        hub, now = self.hub, time.time()
        messages = sum(hub.metrics.messages_in.values())
        frames = hub.metrics.frames_out
        rate_in = rate_out = 0.0
        if self._last is not None:
            elapsed = max(1e-6, now - self._last[0])
            rate_in = (messages - self._last[1]) / elapsed
            rate_out = (frames - self._last[2]) / elapsed
        if keep:
            self._last = (now, messages, frames)
        return {"time": int(now), "sessions": len(hub.sessions), "rooms": hub.rooms.live_count(),
                "messagesIn": round(rate_in, 2), "messagesOut": round(rate_out, 2)}

    def doc(self) -> dict[str, Any]:
        return {"uptime": int(time.time() - self.hub.started), "interval": self.interval,
                "samples": [*self.samples, self._measure(keep=False)]}  # the charts end at "now"
