"""The message bus: how encoded frames reach sessions and rooms.

All routing from the hub goes through this interface. The in-process bus delivers straight to the
hub's local connections; a clustered bus (NATS) can publish the same calls to other processes, which
deliver to their own local connections.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .hub import Hub


class Bus(Protocol):
    def unicast(self, to_id: str, data: bytes) -> bool:
        """Deliver to one session; False if it is unknown here."""

    def room(self, room_id: str, data: bytes, exclude_id: str) -> None:
        """Deliver to every member of a room but exclude_id."""

    def everyone(self, data: bytes, exclude_id: str) -> None:
        """Deliver to every member of every room but exclude_id (global-room broadcasts)."""


class LocalBus:
    """The single-process bus: the hub's own connections are all there is."""

    def __init__(self, hub: "Hub") -> None:
        self.hub = hub

    def unicast(self, to_id: str, data: bytes) -> bool:
        return self.hub.deliver_local(to_id, data)

    def room(self, room_id: str, data: bytes, exclude_id: str) -> None:
        self.hub.deliver_room_local(room_id, data, exclude_id)

    def everyone(self, data: bytes, exclude_id: str) -> None:
        self.hub.deliver_everyone_local(data, exclude_id)
