"""Status: a session's profile (name, picture, status line), broadcast to its room (4.7.7)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ChannelError
from ..images import ImageRejected
from . import handles

if TYPE_CHECKING:
    from ..hub import Hub, Request
    from ..session import Session


def store_picture(hub: "Hub", session: "Session", status: Any) -> Any:
    """Swap a `buddyPicture` data URL for an `img:` reference; drop pictures that are not images."""
    if not isinstance(status, dict):
        return status
    picture = status.get("buddyPicture")
    if not isinstance(picture, str) or not picture.startswith("data:"):
        return status
    status = dict(status)
    try:
        session.image_id, status["buddyPicture"] = hub.images.update(session.image_id, picture)
    except ImageRejected as exc:  # logged once a minute per session: a flood must not flood the log
        hub.guard.log.refused("buddyPicture", f"session {session.id[:8]}", str(exc))
        del status["buddyPicture"]
    return status


def status_doc(session: "Session") -> dict[str, Any]:
    return session.doc("Status")


@handles("Status")
def on_status(req: "Request") -> None:
    doc = req.msg.get("Status")
    if doc is None:
        return
    session = req.session
    cap = req.hub.config.limits.status_bytes
    if not req.hub.guard.size_ok("status_bytes", req.size, f"session {session.id[:8]}"):
        raise ChannelError("message_too_large", f"Status documents are limited to {cap} bytes")
    session.status = store_picture(req.hub, session, doc.get("Status"))
    session.rev += 1
    req.hub.profile_changed(session)
    req.hub.broadcast(session, status_doc(session))
