"""Chat: room and private messages, delivery receipts and contact requests (4.7.8, 4.7.10)."""
from __future__ import annotations

import datetime
import time
from typing import TYPE_CHECKING, Any

from ..errors import ChannelError
from ..schema import Chat
from ..tokens import TokenError
from . import handles

if TYPE_CHECKING:
    from ..hub import Hub, Request
    from ..session import Session


_clock: list = [0, ""]  # (the second last formatted, its text): chats come many per second


def server_time() -> str:
    """RFC 3339 with seconds and the local offset ("Z" under UTC), as the original stamps chats."""
    now = int(time.time())
    if _clock[0] != now:
        stamp = datetime.datetime.fromtimestamp(now).astimezone().isoformat(timespec="seconds")
        _clock[:] = [now, stamp[:-6] + "Z" if stamp.endswith("+00:00") else stamp]
    return _clock[1]


def contact_request(hub: "Hub", sender: "Session", to_id: str, request: dict[str, Any]) -> bool:
    """Validate and complete a ContactRequest in place; False means drop the whole chat."""
    if not hub.config.modules.get("contacts", True):
        return False
    target = hub.sessions.get(to_id)
    token = request.get("Token", "")
    if request.get("Success"):
        try:
            userid_a, userid_b = hub.tickets.decode_contact(token)
        except TokenError:
            return False
        if not sender.userid or target is None or not target.userid:
            return False
        if sender.userid != userid_a or target.userid != userid_b:
            return False
    elif token:
        request["Token"] = ""
    else:
        if not sender.userid or target is None or not target.userid or target.userid == sender.userid:
            return False
        request["Token"] = hub.tickets.contact_token(target.userid, sender.userid)
    request["Userid"] = sender.userid
    return True


@handles("Chat")
def on_chat(req: "Request") -> None:
    doc = req.msg.get("Chat")
    if doc is None or doc.get("Chat") is None:
        return
    hub, session = req.hub, req.session
    cap = hub.config.limits.chat_message_bytes
    if not hub.guard.size_ok("chat_message_bytes", req.size, f"session {session.id[:8]}"):
        raise ChannelError("message_too_large", f"Chat messages are limited to {cap} bytes")
    message = doc["Chat"]
    to_id = doc.get("To", "")
    if not message.get("NoEcho"):
        hub.unicast(session, session.id, Chat.encode(doc))
    message["Time"] = server_time()
    if not to_id:
        if session.hello:
            hub.broadcast_chats += 1
            hub.broadcast(session, Chat.encode(doc))
        return
    status = message.get("Status")
    if status is None:
        hub.unicast_chats += 1
    elif status.get("ContactRequest") is not None:
        if not contact_request(hub, session, to_id, status["ContactRequest"]):
            return
    hub.unicast(session, to_id, Chat.encode(doc))
    if message.get("Mid"):
        sent = {"To": to_id, "Type": "Chat", "Chat": {"Message": "", "Time": "", "Mid": message["Mid"],
                                                      "Status": {"State": "sent"}}}
        hub.unicast(session, session.id, sent)
