"""Hello, Leave, Room and Users: joining, leaving and describing rooms (protocol.md 4.7.2-4.7.6)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ChannelError, bad_request
from ..moderation import LobbyWait
from . import handles

if TYPE_CHECKING:
    from ..hub import Hub, Request
    from ..session import Session


def leave_room(hub: "Hub", session: "Session", status: str) -> None:
    """Take the session out of its room, telling the others it left ("soft" or "hard")."""
    if not session.hello:
        return
    hub.broadcast(session, {"Type": "Left", "Id": session.id, "Status": status}, membership=True)
    hub.rooms.leave(session, session.roomid)
    session.hello = False
    hub.left(session, session.roomid, status)


@handles("Hello")
def on_hello(req: "Request") -> None:
    hello = req.msg.get("Hello")
    if hello is None:
        raise bad_request("message did not contain Hello")
    hub, session = req.hub, req.session
    session.ua = hello.get("Ua", "")
    session.features = frozenset(hello.get("Features") or ())
    session.rev += 1
    name = hello.get("Name") or hello.get("Id", "")
    room_id, _ = hub.rooms.room_id(name, hello.get("Type", ""))
    if session.hello and session.roomid != room_id:
        leave_room(hub, session, "soft")
    moderation = hub.moderation
    try:
        invited = moderation.check_entry(session, room_id, hello.get("Invite", ""))
        room = hub.rooms.join(session, name, hello.get("Type", ""), hello.get("Credentials"), invited,
                              lambda room: moderation.gate(session, room, invited))
    except LobbyWait as wait:
        leave_room(hub, session, "soft")
        req.reply(wait.doc)
        return
    except ChannelError:
        # a failed re-join of the current room must not leave a member behind that nobody hears of
        leave_room(hub, session, "soft")
        raise
    session.hello = True
    session.roomid = room.id
    hub.joined(session)
    moderation.joined(session, room)
    hub.broadcast(session, session.doc("Joined", with_rev=False), membership=True)
    req.reply({"Type": "Welcome", "Room": {"Type": room.type, "Name": room.name, "Credentials": None},
               "Users": hub.users_list(room.id), **moderation.welcome_extras(session, room)})
    hub.conference_update(room.id, membership=True)


@handles("Leave")
def on_leave(req: "Request") -> None:
    req.hub.moderation.leave_lobby(req.session)  # a knocker that gives up waiting
    leave_room(req.hub, req.session, "soft")


@handles("Room")
def on_room(req: "Request") -> None:
    doc = req.msg.get("Room")
    if doc is None:
        raise bad_request("message did not contain Room")
    updated = req.hub.rooms.update(req.session, doc)
    req.hub.room_changed(req.session.roomid)
    req.hub.broadcast(req.session, updated)
    req.reply(updated)
    req.hub.conference_update(req.session.roomid)


@handles("Users")
def on_users(req: "Request") -> None:
    if not req.session.hello:
        raise ChannelError("not_in_room", "Cannot list users without a current room")
    req.reply({"Type": "Users", "Users": req.hub.users_list(req.session.roomid)})
