"""Offer, Candidate, Answer, Bye and Conference: peer signalling relayed as unicasts (4.7.4, 4.7.9)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import handles

if TYPE_CHECKING:
    from ..hub import Request

MAX_CONFERENCE = 100


def _relay(req: "Request", kind: str, need_object: bool) -> None:
    doc = req.msg.get(kind)
    if doc is None or (need_object and doc.get(kind) is None):
        return
    req.hub.unicast(req.session, doc.get("To", ""),
                    {"Type": doc.get("Type", ""), "To": doc.get("To", ""), kind: doc.get(kind)})


def _fire(req: "Request", name: str, kind: str) -> None:
    """Triggers skip token connections (file transfer, screen sharing), as the original does."""
    doc = req.msg.get(kind)
    if req.hub.trigger is not None and doc is not None and "_token" not in (doc.get(kind) or {}):
        req.hub.fire(name, req.session.id, doc.get("To", ""))


@handles("Offer")
def on_offer(req: "Request") -> None:
    _relay(req, "Offer", need_object=True)
    _fire(req, "offer", "Offer")


@handles("Candidate")
def on_candidate(req: "Request") -> None:
    _relay(req, "Candidate", need_object=True)


@handles("Answer")
def on_answer(req: "Request") -> None:
    _relay(req, "Answer", need_object=True)
    _fire(req, "answer", "Answer")


@handles("Bye")
def on_bye(req: "Request") -> None:
    _relay(req, "Bye", need_object=False)
    if req.msg.get("Bye") is not None:
        req.hub.fire("bye", req.session.id, req.msg["Bye"].get("To", ""))


@handles("Conference")
def on_conference(req: "Request") -> None:
    doc = req.msg.get("Conference")
    if doc is None:
        return
    hub, session = req.hub, req.session
    room = hub.rooms.rooms.get(session.roomid)
    ids = doc.get("Conference") or []
    if (room is not None and room.type == "Conference") or len(ids) > MAX_CONFERENCE:
        return
    out = {"Id": doc.get("Id", ""), "Type": doc.get("Type", ""), "Conference": doc.get("Conference")}
    for target in dict.fromkeys(ids):
        if target != session.id:
            hub.unicast(session, target, out)
