"""Rooms: type resolution, PINs, join authorization and expiry (protocol.md 4.6)."""
from __future__ import annotations

import hmac
import time
from typing import Any, Callable, Iterator

from .config import Config
from .errors import ChannelError
from .limits import Guard
from .schema import Credentials
from .session import Session


class Room:
    __slots__ = ("id", "type", "name", "pin", "members", "last_active")

    def __init__(self, room_id: str, room_type: str, name: str, pin: str) -> None:
        self.id = room_id
        self.type = room_type
        self.name = name
        self.pin = pin
        self.members: dict[str, Session] = {}
        self.last_active = time.monotonic()

    def touch(self) -> None:
        self.last_active = time.monotonic()


def _pin(credentials: dict[str, Any] | None) -> str:
    return (credentials or {}).get("PIN", "")


class RoomManager:
    """Owns every room of this process; all checks of a join happen here, in the original's order."""

    def __init__(self, config: Config, guard: Guard | None = None) -> None:
        self.config = config
        self.guard = guard
        self.rooms: dict[str, Room] = {}
        self.type_overrides: dict[str, str] = {}
        self.default_room_id = self.room_id("", "")[0]
        self.global_room_id = self.room_id(config.global_room, "")[0] if config.global_room else ""

    def resolve_type(self, name: str, room_type: str = "") -> str:
        if room_type:
            return room_type
        if name in self.type_overrides:
            return self.type_overrides[name]
        for regex, kind in self.config.room_types:
            if regex.search(name):
                return kind
        return "Room"

    def room_id(self, name: str, room_type: str) -> tuple[str, str]:
        kind = self.resolve_type(name, room_type)
        return f"{kind}:{name}", kind

    def granted(self, grants: dict[str, Any] | None, room_id: str) -> bool:
        """Whether a login's grants admit to the room: a JWT `room` claim names the only one."""
        allowed = (grants or {}).get("room", "*")
        return allowed == "*" or self.room_id(allowed, "")[0] == room_id

    def join(self, session: Session, name: str, room_type: str, credentials: dict[str, Any] | None,
             invited: bool = False, gate: Callable[[Room], None] | None = None) -> Room:
        """Every check of a join, then membership. An invite skips the PIN; `gate` (moderation's
        lock) runs after the PIN check, so a lobby only ever holds people who know the PIN."""
        room_id, kind = self.room_id(name, room_type)
        cfg = self.config
        if not self.granted(session.grants, room_id):
            raise ChannelError("room_not_allowed", "This login is for another room")
        if room_id == self.default_room_id and not cfg.default_room_enabled:
            raise ChannelError("default_room_disabled", "The default room is not enabled")
        users_gate = cfg.users_enabled and not session.userid
        if users_gate and cfg.authorize_room_join:
            raise ChannelError("room_join_requires_account", "Room join requires a user account")
        room = self.rooms.get(room_id)
        if room is None:
            if users_gate and cfg.authorize_room_creation:
                raise ChannelError("room_join_requires_account", "Room creation requires a user account")
            if self.guard is not None and not self.guard.total_ok("max_rooms", len(self.rooms), "new rooms"):
                raise ChannelError("room_limit_reached", "The server cannot open more rooms right now")
            room = self.rooms[room_id] = Room(room_id, kind, name, _pin(credentials))
        room.touch()
        if not invited:
            self._check_credentials(session, room, credentials)
        if gate is not None:
            gate(room)
        room.members[session.id] = session
        return room

    def _check_credentials(self, session: Session, room: Room, credentials: dict[str, Any] | None) -> None:
        if not room.pin:
            if credentials is not None:
                raise ChannelError("authorization_not_required", "No credentials may be provided for this room")
            return
        if credentials is None:
            raise ChannelError("authorization_required", "Valid credentials are required to join this room")
        # Wrong PINs are counted per session, client address and room; past a limit no PIN is compared
        # at all, so guessing gets no answer until the oldest wrong attempt is a minute old.
        guard = self.guard
        ip = session.conn.remote_ip if session.conn is not None else ""
        if guard is not None and guard.pin_blocked(session.id, ip, room.id):
            raise ChannelError("too_many_attempts", "Too many wrong PINs, try again in a minute")
        if not hmac.compare_digest(_pin(credentials).encode(), room.pin.encode()):
            if guard is not None:
                guard.pin_failed(session.id, ip, room.id)
            raise ChannelError("invalid_credentials", "The provided credentials are incorrect")

    def leave(self, session: Session, room_id: str) -> None:
        room = self.rooms.get(room_id)
        if room is not None and room.members.get(session.id) is session:
            del room.members[session.id]
            room.touch()

    def update(self, session: Session, doc: dict[str, Any]) -> dict[str, Any]:
        """Apply a Room document from a member; returns the document to echo and broadcast."""
        room_id, _ = self.room_id(doc.get("Name", ""), doc.get("Type", ""))
        if not session.hello or room_id != session.roomid:
            raise ChannelError("not_in_room", "Cannot update other rooms")
        # re-encoded as the typed document: `{}` goes out as {"PIN":""}, like the original's struct
        credentials = Credentials.encode(doc.get("Credentials"))
        room = self.rooms.get(room_id)
        if room is None:
            return {"Type": "Room", "Name": doc.get("Name", ""), "Credentials": credentials}
        if credentials is not None:
            room.pin = _pin(credentials)
        room.touch()
        return {"Type": room.type, "Name": room.name, "Credentials": credentials}

    def members(self, room_id: str) -> Iterator[Session]:
        room = self.rooms.get(room_id)
        if room is not None:
            yield from room.members.values()

    def sweep(self, idle_seconds: float) -> int:
        """Forget rooms that have been empty for idle_seconds; returns how many went."""
        limit = time.monotonic() - idle_seconds
        stale = [rid for rid, room in self.rooms.items() if not room.members and room.last_active <= limit]
        for rid in stale:
            del self.rooms[rid]
        return len(stale)

    def live_count(self) -> int:
        return sum(1 for room in self.rooms.values() if room.members)
