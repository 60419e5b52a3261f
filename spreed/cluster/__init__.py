"""Several server processes sharing rooms over NATS (and the original's NATS channelling triggers)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import orjson

from .natsbus import ClusterBus, ClusterError, connect_nats
from .triggers import Triggers

if TYPE_CHECKING:
    from ..hub import Hub

__all__ = ["ClusterBus", "ClusterError", "Triggers", "attach"]
log = logging.getLogger("spreed.cluster")
DEFAULT_URL = "nats://127.0.0.1:4222"
ROOMTYPE_SUBJECT = "channelling.config.roomtype"


def _on(value: Any) -> bool:
    return value is True or str(value).strip().lower() in {"1", "t", "true", "y", "yes", "on"}


async def attach(hub: "Hub") -> list[Callable[[], Awaitable[None]]]:
    """Connect what the `nats` section asks for; returns the coroutines that shut it down again."""
    options = hub.config.nats
    closers: list[Callable[[], Awaitable[None]]] = []
    nc = None
    if options.get("url"):
        bus = ClusterBus(hub, options)
        await bus.start()
        closers.append(bus.stop)
        nc = bus.nc
    if _on(options.get("channelling_trigger", False)):
        if nc is None:
            nc = await connect_nats(str(options.get("url") or DEFAULT_URL), "spreed-triggers",
                                    float(options.get("establishtimeout", 30)))
            closers.append(nc.close)
        triggers = Triggers(nc, str(options.get("channelling_trigger_subject") or ""),
                            str(options.get("client_id") or ""))
        hub.trigger = triggers.fire
        closers.insert(0, triggers.stop)
        await nc.subscribe(ROOMTYPE_SUBJECT, cb=_roomtype_override(hub))
    return closers


def _roomtype_override(hub: "Hub") -> Callable[[Any], Awaitable[None]]:
    async def apply(msg: Any) -> None:
        try:
            doc = orjson.loads(msg.data)
            path, kind = str(doc["path"]), str(doc.get("type") or "")
        except (ValueError, KeyError, TypeError):
            log.warning("bad room type override ignored")
            return
        if kind:
            hub.rooms.type_overrides[path] = kind
        else:
            hub.rooms.type_overrides.pop(path, None)
    return apply
