"""The SFU adapter: conference rooms of many people send their media through Janus's VideoRoom.

Imported only when `sfu.url` is set. The hub calls `room_changed` whenever a room's membership
changes; this module decides mesh or SFU per room, keeps one Janus room per SFU room, a publisher
handle per published stream and one multistream subscriber handle per session, and turns Janus's
events into our documents (see docs/sfu.md for the protocol).
"""
from __future__ import annotations

from .manager import SfuManager
from .janus import JanusClient, JanusError, JanusGone, probe

__all__ = ["SfuManager", "JanusClient", "JanusError", "JanusGone", "probe", "attach"]


async def attach(hub) -> list:
    """Start the adapter for `hub`; returns the coroutines that stop it."""
    from ..channeling import sfu as _handlers  # noqa: F401  (registers the Sfu* Types)
    manager = SfuManager(hub)
    await manager.start()
    hub.sfu = manager
    return [manager.stop]
