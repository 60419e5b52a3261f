"""The moderator actions of a `Moderate` document: one function per Action (docs/moderation.md).

Each gets the acting request, the room and the Moderate document, and returns the reply document.
The handler has already checked that the sender is a moderator of the room it is in.
"""
from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Callable

from ..channeling.rooms import leave_room  # the one way out of a room, with Left for the others
from ..errors import ChannelError, bad_request
from .manager import capable, is_jwt_moderator
from .state import ban_keys, new_generation

if TYPE_CHECKING:
    from ..hub import Request
    from ..rooms import Room
    from ..session import Session

Action = Callable[["Request", "Room", dict[str, Any]], dict[str, Any]]
ACTIONS: dict[str, Action] = {}
INVITE_DEFAULT = 86400
INVITE_MAX = 30 * 86400


def action(name: str) -> Callable[[Action], Action]:
    def register(func: Action) -> Action:
        ACTIONS[name] = func
        return func
    return register


def _member(room: "Room", doc: dict[str, Any]) -> "Session":
    target = room.members.get(doc.get("Target", ""))
    if target is None:
        raise ChannelError("no_such_session", "No such participant in this room")
    return target


def _state_reply(req: "Request", room: "Room") -> dict[str, Any]:
    return req.hub.moderation.state_doc(req.session, room)


@action("lock")
def lock(req: "Request", room: "Room", doc: dict[str, Any]) -> dict[str, Any]:
    req.hub.moderation.state(room.id).locked = True
    req.hub.moderation.changed(room.id)
    return _state_reply(req, room)


@action("unlock")
def unlock(req: "Request", room: "Room", doc: dict[str, Any]) -> dict[str, Any]:
    mod = req.hub.moderation
    state = mod.state(room.id)
    state.locked = False
    for waiting_id in list(state.lobby):  # whoever knocked may come in now
        state.admit(waiting_id)
        mod.waiting.pop(waiting_id, None)
        mod.event(waiting_id, "admitted", room.name, req.session.id)
    mod.changed(room.id)
    return _state_reply(req, room)


def _knocker(req: "Request", room: "Room", doc: dict[str, Any]) -> str:
    target = doc.get("Target", "")
    if target not in req.hub.moderation.state(room.id).lobby:
        raise ChannelError("no_such_session", "Nobody with that id is waiting")
    return target


@action("admit")
def admit(req: "Request", room: "Room", doc: dict[str, Any]) -> dict[str, Any]:
    mod, target = req.hub.moderation, _knocker(req, room, doc)
    mod.state(room.id).admit(target)
    mod.waiting.pop(target, None)
    mod.event(target, "admitted", room.name, req.session.id)
    mod.changed(room.id)
    return _state_reply(req, room)


@action("deny")
def deny(req: "Request", room: "Room", doc: dict[str, Any]) -> dict[str, Any]:
    mod, target = req.hub.moderation, _knocker(req, room, doc)
    mod.state(room.id).lobby.pop(target, None)
    mod.waiting.pop(target, None)
    mod.event(target, "denied", room.name, req.session.id)
    mod.changed(room.id)
    return _state_reply(req, room)


@action("remove")
def remove(req: "Request", room: "Room", doc: dict[str, Any]) -> dict[str, Any]:
    hub, target = req.hub, _member(room, doc)
    if target.id == req.session.id:
        raise bad_request("use Leave to leave a room")
    hub.moderation.state(room.id).ban(ban_keys(target.id, target.userid))
    hub.moderation.changed(room.id)  # the ban holds on every process before the target is out
    for member_id in list(room.members):  # its calls end in every client, the original one included
        if member_id != target.id:
            hub.unicast(target, member_id, {"Type": "Bye", "To": member_id, "Bye": {"Reason": "removed"}})
    hub.moderation.put_out(target, "removed", req.session.id)
    return _state_reply(req, room)


@action("mute")
def mute(req: "Request", room: "Room", doc: dict[str, Any]) -> dict[str, Any]:
    targets = [_member(room, doc)] if doc.get("Target") else \
        [m for m in room.members.values() if m.id != req.session.id]
    for target in targets:
        if capable(target):
            req.hub.moderation.event(target.id, "mute", room.name, req.session.id)
    return _state_reply(req, room)


@action("end")
def end(req: "Request", room: "Room", doc: dict[str, Any]) -> dict[str, Any]:
    hub = req.hub
    state = hub.moderation.state(room.id)
    for waiting_id in list(state.lobby):
        hub.moderation.waiting.pop(waiting_id, None)
        hub.moderation.event(waiting_id, "ended", room.name, req.session.id)
    state.lobby.clear()
    for member in [m for m in room.members.values() if m.id != req.session.id]:
        hub.moderation.put_out(member, "ended", req.session.id)
    leave_room(hub, req.session, "soft")
    return {"Type": "Moderated", "Moderated": {"Action": "ended", "Room": room.name, "By": req.session.id}}


@action("handover")
def handover(req: "Request", room: "Room", doc: dict[str, Any]) -> dict[str, Any]:
    mod, target = req.hub.moderation, _member(room, doc)
    state = mod.state(room.id)
    state.moderators.add(target.id)
    if target.id != req.session.id and not is_jwt_moderator(req.session):
        state.moderators.discard(req.session.id)
    mod.changed(room.id)
    return _state_reply(req, room)


@action("invite")
def invite(req: "Request", room: "Room", doc: dict[str, Any]) -> dict[str, Any]:
    lifetime = doc.get("Expires") or INVITE_DEFAULT
    if not isinstance(lifetime, (int, float)) or isinstance(lifetime, bool) or lifetime < 60:
        raise bad_request("Expires must be a number of seconds (at least 60)")
    expires = int(time.time() + min(lifetime, INVITE_MAX))
    generation = req.hub.moderation.state(room.id).invite_generation
    return {"Type": "Invite", "Invite": {"Token": req.hub.tickets.invite_token(room.id, generation, expires),
                                         "Expires": expires}}


@action("revokeInvites")
def revoke_invites(req: "Request", room: "Room", doc: dict[str, Any]) -> dict[str, Any]:
    state = req.hub.moderation.state(room.id)
    state.invite_generation = new_generation()
    state.revocations += 1
    req.hub.moderation.changed(room.id)
    return _state_reply(req, room)


def _stream_mute(req: "Request", room: "Room", doc: dict[str, Any], mute: bool) -> dict[str, Any]:
    """In a room on the SFU: Janus stops forwarding the target's microphone until unmuted.

    The reply comes when Janus has answered; the target hears of it as `streamMuted`/`streamUnmuted`.
    """
    hub, target = req.hub, _member(room, doc)
    if hub.sfu is None:
        raise ChannelError("sfu_unavailable", "This room is not on the SFU")

    async def work() -> None:
        from ..sfu.janus import JanusError, JanusGone  # loaded, as hub.sfu is set
        try:
            done = await hub.sfu.mute_audio(target.id, room.id, mute)
        except (JanusGone, JanusError):  # the moderator is told; nobody else is affected
            done = False
        if not done:
            req.reply(ChannelError("sfu_unavailable", "The participant's stream is not on the SFU").doc())
            return
        hub.moderation.event(target.id, "streamMuted" if mute else "streamUnmuted", room.name, req.session.id)
        req.reply(_state_reply(req, room))

    task = asyncio.ensure_future(work())
    _pending.add(task)
    task.add_done_callback(_pending.discard)
    return {}


_pending: set[asyncio.Task] = set()  # kept referenced until done


@action("muteStream")
def mute_stream(req: "Request", room: "Room", doc: dict[str, Any]) -> dict[str, Any]:
    return _stream_mute(req, room, doc, True)


@action("unmuteStream")
def unmute_stream(req: "Request", room: "Room", doc: dict[str, Any]) -> dict[str, Any]:
    return _stream_mute(req, room, doc, False)
