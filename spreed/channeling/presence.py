"""Status: a session's profile (name, picture, status line), broadcast to its room (4.7.7)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..images import ImageRejected
from . import handles

if TYPE_CHECKING:
    from ..hub import Hub, Request
    from ..session import Session

log = logging.getLogger("spreed.presence")


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
    except ImageRejected as exc:
        log.info("%s: buddy picture dropped: %s", session.id[:8], exc)
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
    session.status = store_picture(req.hub, session, doc.get("Status"))
    session.rev += 1
    req.hub.profile_changed(session)
    req.hub.broadcast(session, status_doc(session))
