"""Other nodes' sessions, mirrored into this hub as stand-ins (Session objects without a connection).

Stand-ins sit in the rooms like local members, so Welcome/Users lists, PIN checks, conference
lists and room lifetimes see the whole cluster, while local delivery skips them.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..rooms import Room
from ..session import Session

if TYPE_CHECKING:
    from ..hub import Hub

log = logging.getLogger("spreed.cluster")


class Replica:
    def __init__(self, hub: "Hub") -> None:
        self.hub = hub

    # ------------------------------------------------------------ sessions
    def upsert(self, node: str, state: dict[str, Any]) -> Session:
        hub = self.hub
        stub = hub.remote.get(state["id"])
        if stub is None or stub.node != node:
            if stub is not None:
                self.gone(stub.id)
            stub = Session(state["id"], "", None)
            stub.node = node
            hub.remote[stub.id] = stub
        stub.userid = state.get("userid", "")
        stub.ua = state.get("ua", "")
        stub.rev = state.get("rev", 0)
        stub.status = state.get("status")
        stub.stamp = state.get("stamp", stub.stamp)
        stub.features = frozenset(state.get("f", ()))
        return stub

    def join(self, node: str, state: dict[str, Any], room: dict[str, Any], snapshot: bool) -> None:
        """A remote session joined a room: our members there hear Joined (a resync only if it is new)."""
        stub = self.upsert(node, state)
        room_id = room["id"]
        if stub.hello and stub.roomid != room_id:
            self._unseat(stub)
        target = self.hub.rooms.rooms.get(room_id)
        if target is None:
            target = self.hub.rooms.rooms[room_id] = Room(room_id, room["type"], room["name"], room.get("pin", ""))
        new_here = stub.id not in target.members
        target.members[stub.id] = stub
        target.touch()
        stub.hello, stub.roomid = True, room_id
        if new_here or not snapshot:
            self._deliver(stub, stub.doc("Joined", with_rev=False))
            self.hub.conference_update(room_id, membership=True)
        if self.hub.sfu is not None:  # the SFU decision counts every node's members
            self.hub.sfu.room_changed(room_id)

    def leave(self, session_id: str, status: str = "", node: str = "") -> None:
        """A remote session left its room; our members there hear Left with `status` ("" = silently).

        Only the node holding the session speaks for it: a late word from the node it was
        reclaimed from is ignored."""
        stub = self.hub.remote.get(session_id)
        if stub is not None and (not node or stub.node == node):
            if status and stub.hello:
                self._deliver(stub, {"Type": "Left", "Id": stub.id, "Status": status})
            self._unseat(stub)

    def gone(self, session_id: str, status: str = "", node: str = "") -> None:
        stub = self.hub.remote.get(session_id)
        if stub is not None and (not node or stub.node == node):
            self.leave(session_id, status)
            del self.hub.remote[session_id]

    def claim(self, node: str, session_id: str) -> None:
        """A session was reclaimed on `node`: whatever copy of it is elsewhere goes, without a Left."""
        hub = self.hub
        local = hub.sessions.get(session_id)
        if local is not None and not local.closed:
            log.info("%s: reclaimed on node %s, closing it here", session_id[:8], node)
            hub.retire(local)
            hub.sessions.pop(session_id, None)
            hub.forget_user(local)
            if local.image_id:  # the picture moves with the session; this node's copy goes
                hub.images.delete(local.image_id)
        stub = hub.remote.get(session_id)
        if stub is not None and stub.node != node:
            self.gone(session_id)

    def room_pin(self, room_id: str, pin: str) -> None:
        room = self.hub.rooms.rooms.get(room_id)
        if room is not None:
            room.pin = pin

    def purge_node(self, node: str, decide: bool = False) -> int:
        """A node died: its sessions leave their rooms "hard", as a disconnect would have said.

        `decide`: this node speaks for the dead one where a room needs a new moderator."""
        stubs = [s for s in self.hub.remote.values() if s.node == node]
        for stub in stubs:
            room_id = stub.roomid if stub.hello else ""
            self.gone(stub.id, "hard")
            if decide and room_id:
                self.hub.moderation.left(stub, room_id)
        return len(stubs)

    # ------------------------------------------------------------ helpers
    def _unseat(self, stub: Session) -> None:
        if stub.hello:
            room = self.hub.rooms.rooms.get(stub.roomid)
            if room is not None and room.members.get(stub.id) is stub:
                del room.members[stub.id]
                room.touch()
                if self.hub.sfu is not None:
                    self.hub.sfu.room_changed(room.id)
            stub.hello = False

    def _deliver(self, stub: Session, data: dict[str, Any]) -> None:
        """Deliver a message "from" a remote session to this node's members of its room."""
        from ..hub import envelope
        hub = self.hub
        frame = envelope(data, stub.id, attestation=hub.tickets.attest(stub.id))
        if stub.roomid == hub.rooms.global_room_id:
            hub.deliver_everyone_local(frame, stub.id)
        else:
            hub.deliver_room_local(stub.roomid, frame, stub.id)
