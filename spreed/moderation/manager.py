"""Roles, the room lock and its lobby, bans and invite generations of every room (docs/moderation.md).

The hub owns one Moderation. Room joins pass its gate; joins and leaves update the roles; the
`Moderate` handler runs the actions in `actions.py`. Only sessions that announced the "moderation"
feature in their Hello receive the new documents; the others get Errors where they cannot take part.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import TYPE_CHECKING, Any

from ..errors import ChannelError
from ..hub import envelope
from ..limits import BoundedMap
from ..tokens import TokenError
from .state import MAX_LOBBY, RoomModeration, ban_keys

if TYPE_CHECKING:
    from ..hub import Hub
    from ..rooms import Room
    from ..session import Session

FEATURE = "moderation"
MAX_ROOMS_TRACKED = 50_000
CLOSE_CODES = {"removed": 4001, "ended": 4002}  # for clients that cannot be told with a document


class LobbyWait(ChannelError):
    """The room is locked: the session waits in the lobby (a reply, not an Error, for capable clients)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        super().__init__("room_locked", "waiting in the lobby")
        self.doc = doc


def capable(session: "Session") -> bool:
    return FEATURE in session.features


def is_jwt_moderator(session: "Session") -> bool:
    return bool(session.grants and session.grants.get("moderator") is True)


class Moderation:
    def __init__(self, hub: "Hub") -> None:
        self.hub = hub
        self.rooms: BoundedMap = BoundedMap(MAX_ROOMS_TRACKED)  # room id -> RoomModeration
        self.waiting: dict[str, str] = {}  # session id -> the room id whose lobby it is in

    def state(self, room_id: str) -> RoomModeration:
        return self.rooms.get_or(room_id, lambda: RoomModeration(invite_generation=self.first_generation(room_id)))

    def first_generation(self, room_id: str) -> str:
        """Every process derives the same first invite generation of a room, so links made on one
        work on all from the start; a revocation replaces it with a random one."""
        mac = hmac.new(self.hub.config.session_secret, b"invites:" + room_id.encode(), hashlib.sha256)
        return mac.hexdigest()[:18]

    def changed(self, room_id: str, exclude: str = "") -> None:
        """Tell the room's capable members (and the cluster) about a change of roles, lock or lobby."""
        self._publish(room_id, self.state(room_id))
        self.push(room_id, exclude)

    def _publish(self, room_id: str, state: RoomModeration) -> None:
        cluster = self.hub.cluster
        if cluster is not None:
            state.version += 1
            state.origin = cluster.node
            cluster.moderation_changed(room_id, state.export())

    def push(self, room_id: str, exclude: str = "") -> None:
        room = self.hub.rooms.rooms.get(room_id)
        if room is None:
            return
        for member in list(room.members.values()):
            if member.conn is not None and capable(member) and member.id != exclude:
                member.conn.send(envelope(self.state_doc(member, room)))

    def state_doc(self, session: "Session", room: "Room") -> dict[str, Any]:
        state = self.state(room.id)
        moderator = session.id in state.moderators
        return {"Type": "Moderation", "Moderation": {
            "Room": room.name, "Moderators": [m for m in room.members if m in state.moderators],
            "Locked": state.locked, "Lobby": list(state.lobby.values()) if moderator else [],
            "Role": "moderator" if moderator else "participant"}}

    def event(self, session_id: str, action: str, room_name: str, by: str = "") -> None:
        doc = {"Type": "Moderated", "Moderated": {"Action": action, "Room": room_name, **({"By": by} if by else {})}}
        self.hub.bus.unicast(session_id, envelope(doc))

    # ------------------------------------------------------------ entering a room
    def check_entry(self, session: "Session", room_id: str, invite: str) -> bool:
        """Bans first, then the invite; True when a valid invite lets the session past PIN and lock."""
        state = self.rooms.get(room_id)
        if state is not None and state.banned(ban_keys(session.id, session.userid)):
            raise ChannelError("room_banned", "You were removed from this room; try again later")
        if not invite:
            return False
        try:
            invited_room, generation, expires = self.hub.tickets.decode_invite(invite)
        except TokenError:
            invited_room, generation, expires = "", "", 0
        if invited_room != room_id or expires < time.time() or generation != self.state(room_id).invite_generation:
            raise ChannelError("invalid_invite", "This invite link is not valid (any more)")
        return True

    def gate(self, session: "Session", room: "Room", invited: bool) -> None:
        """Called by the join after the PIN check: a locked room sends newcomers to its lobby."""
        self.leave_lobby(session)
        state = self.state(room.id)
        if not state.locked or invited or is_jwt_moderator(session) or state.is_admitted(session.id):
            return
        if not capable(session):
            raise ChannelError("room_locked", "This room is locked; ask a moderator for an invite link")
        if len(state.lobby) >= MAX_LOBBY and session.id not in state.lobby:
            raise ChannelError("room_locked", "This room is locked and its lobby is full")
        name = ""
        if isinstance(session.status, dict):
            name = str(session.status.get("displayName") or "")[:100]
        state.lobby[session.id] = {"Id": session.id, "Name": name, "Userid": session.userid}
        self.waiting[session.id] = room.id
        self.changed(room.id)
        raise LobbyWait({"Type": "Moderated", "Moderated": {"Action": "waiting", "Room": room.name}})

    def leave_lobby(self, session: "Session") -> None:
        room_id = self.waiting.pop(session.id, None)
        if room_id is not None:
            state = self.state(room_id)
            if state.lobby.pop(session.id, None) is not None:
                self.changed(room_id)

    def welcome_extras(self, session: "Session", room: "Room") -> dict[str, Any]:
        """What a capable client's Welcome carries besides the original fields."""
        if not capable(session):
            return {}
        return {"Features": [FEATURE], "Moderation": self.state_doc(session, room)["Moderation"]}

    # ------------------------------------------------------------ roles follow joins and leaves
    def joined(self, session: "Session", room: "Room") -> None:
        """Roles after a join; the joiner itself learns the state from its Welcome."""
        state = self.state(room.id)
        state.admitted.pop(session.id, None)
        present = [m for m in room.members if m in state.moderators and m != session.id]
        able = [m for m in present if capable(room.members[m])]
        returning = state.returning.pop(session.id, 0.0) > time.monotonic()
        if is_jwt_moderator(session) or returning or not present or (not able and capable(session)):
            state.moderators.add(session.id)
        self.changed(room.id, exclude=session.id)

    def left(self, session: "Session", room_id: str) -> None:
        self.leave_lobby(session)
        state = self.rooms.get(room_id)
        if state is None:
            return
        if session.id in state.moderators and session.closed:  # a dropped connection may come back
            state.remember_moderator(session.id)
        state.moderators.discard(session.id)
        room = self.hub.rooms.rooms.get(room_id)
        members = list(room.members.values()) if room is not None else []
        if not members:
            self._emptied(room_id, state)
            return
        if not any(m.id in state.moderators for m in members):
            # present longest first (members keep their join order), capable clients, then logged-in users
            successor = min(enumerate(members), key=lambda im: (not capable(im[1]), not im[1].userid, im[0]))[1]
            state.moderators.add(successor.id)
        self.changed(room_id)

    def _emptied(self, room_id: str, state: RoomModeration) -> None:
        """Nobody left to moderate: the lock goes, waiting sessions may enter; bans and invites stay."""
        state.moderators.clear()
        state.locked = False
        room = self.hub.rooms.rooms.get(room_id)
        name = room.name if room is not None else room_id.partition(":")[2]
        for waiting_id in list(state.lobby):
            state.admit(waiting_id)
            self.waiting.pop(waiting_id, None)
            self.event(waiting_id, "admitted", name)
        self._publish(room_id, state)

    def session_gone(self, session: "Session") -> None:
        self.leave_lobby(session)

    # ------------------------------------------------------------ taking someone out of a room
    def put_out(self, session: "Session", event: str, by: str) -> None:
        """A removal or the end of a meeting: the node holding the session does it."""
        if session.conn is None and session.node and self.hub.cluster is not None:
            self.hub.cluster.moderation_put_out(session.id, event, by)
        else:
            self.put_out_local(session.id, event, by)

    def put_out_local(self, session_id: str, event: str, by: str) -> None:
        """A capable client is told; the original client's socket is closed (it reconnects, and its
        Hello then gets the room's Error)."""
        from ..channeling.rooms import leave_room  # the one way out of a room, with Left for the others
        session = self.hub.sessions.get(session_id)
        if session is None or not session.hello:
            return
        if capable(session):
            self.event(session.id, event, session.roomid.partition(":")[2], by)
        leave_room(self.hub, session, "soft")
        if not capable(session) and session.conn is not None:
            session.conn.close(CLOSE_CODES[event], event)

    # ------------------------------------------------------------ several processes
    def records(self) -> list[tuple[str, dict[str, Any]]]:
        """Every room's record worth sending to a process that joins the cluster."""
        return [(room_id, state.export()) for room_id, state in self.rooms.items()
                if state.moderators or state.locked or state.bans or state.lobby]

    def apply_remote(self, room_id: str, data: dict[str, Any]) -> None:
        """Another process changed this room's moderation: take its record and tell our members."""
        state = self.state(room_id)
        state.merge(RoomModeration.restore(data))
        if not self._repair(room_id, state):
            self.push(room_id)

    def _repair(self, room_id: str, state: RoomModeration) -> bool:
        """After concurrent changes on two processes a room may be left with no moderator present:
        the process holding the successor (the same choice everywhere) gives it the role."""
        room = self.hub.rooms.rooms.get(room_id)
        if room is None or not room.members or any(m in state.moderators for m in room.members):
            return False
        successor = min(room.members.values(), key=lambda m: (not capable(m), not m.userid, m.stamp, m.id))
        if successor.conn is None:
            return False
        state.moderators.add(successor.id)
        self.changed(room_id)
        return True
