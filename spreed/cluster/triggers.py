"""The original's NATS channelling triggers (protocol.md 7.4), published on `<prefix>.<name>`."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

log = logging.getLogger("spreed.triggers")
QUEUE = 50


class Triggers:
    """Publishes trigger events in the background; when the queue is full, events are dropped."""

    def __init__(self, nc: Any, prefix: str, client_id: str) -> None:
        self.nc = nc
        self.prefix = prefix or "channelling.trigger"
        self.client_id = client_id
        self.queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(QUEUE)
        self.task = asyncio.create_task(self._run())
        self.fire("startup", client_id)

    def fire(self, name: str, sender: str, payload: str = "") -> None:
        doc: dict[str, Any] = {"Id": self.client_id, "Name": name, "From": sender}
        if payload:
            doc["Payload"] = payload
        try:
            self.queue.put_nowait((f"{self.prefix}.{name}", orjson.dumps(doc)))
        except asyncio.QueueFull:
            log.debug("trigger %s dropped: queue full", name)

    async def _run(self) -> None:
        while True:
            subject, data = await self.queue.get()
            try:
                await self.nc.publish(subject, data)
            except Exception as exc:  # NATS away: triggers are best effort
                log.debug("trigger %s not published: %s", subject, exc)

    async def stop(self) -> None:
        self.task.cancel()
