"""Moderate: a moderator's action on its room (docs/moderation.md); the actions live in spreed.moderation."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ChannelError, bad_request
from ..moderation.actions import ACTIONS
from ..moderation.manager import capable
from . import handles

if TYPE_CHECKING:
    from ..hub import Request


@handles("Moderate")
def on_moderate(req: "Request") -> None:
    doc = req.msg.get("Moderate")
    if doc is None:
        raise bad_request("message did not contain Moderate")
    hub, session = req.hub, req.session
    if not capable(session):  # announced in Hello; for the others it stays an unknown, ignored Type
        return
    run = ACTIONS.get(doc.get("Action", ""))
    if run is None:
        raise bad_request("unknown moderation action")
    room = hub.rooms.rooms.get(session.roomid) if session.hello else None
    if room is None:
        raise ChannelError("not_in_room", "Not in a room")
    if session.id not in hub.moderation.state(room.id).moderators:
        raise ChannelError("not_moderator", "Only a moderator of this room can do that")
    reply = run(req, room, doc)
    if reply:  # an action that waits for Janus replies later by itself
        req.reply(reply)
