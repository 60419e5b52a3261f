"""SfuPublish, SfuUnpublish, SfuAnswer and SfuLayer: a client's side of the SFU (docs/sfu.md).

Imported (and so registered) only when sfu.url is set. Janus's answers arrive later, so each
handler starts a task and replies to the request's Iid when Janus has spoken; errors come back as
Error documents with the code `sfu_unavailable`, after which the client stays on (or goes back to)
the mesh.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Awaitable

from ..errors import bad_request
from . import handles

if TYPE_CHECKING:
    from ..hub import Request

log = logging.getLogger("spreed.sfu")
KINDS = ("camera", "screen")
MAX_SDP = 64 * 1024
_tasks: set[asyncio.Task] = set()  # kept referenced until done


def _sfu_doc(req: "Request", kind: str) -> dict[str, Any] | None:
    """The request's document, or None when this server has no SFU (the message is ignored)."""
    if req.hub.sfu is None or not req.session.hello:
        return None
    return req.msg.get(kind) or {}


def _kind(doc: dict[str, Any]) -> str:
    kind = doc.get("Kind", "camera")
    if kind not in KINDS:
        raise bad_request("Kind must be camera or screen")
    return kind


def _run(req: "Request", work: Awaitable[Any], reply: bool = True) -> None:
    """Run `work`; its result (a document) or its failure is the reply to the request."""
    from ..sfu import JanusError, JanusGone
    from ..sfu.manager import SfuUnavailable

    async def runner() -> None:
        try:
            doc = await work
        except (JanusGone, JanusError, SfuUnavailable) as exc:
            req.reply({"Type": "Error", "Code": "sfu_unavailable", "Message": str(exc)[:200]})
            return
        if reply and doc is not None:
            req.reply(doc)
    task = asyncio.ensure_future(runner())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


@handles("SfuPublish")
def on_sfu_publish(req: "Request") -> None:
    doc = _sfu_doc(req, "SfuPublish")
    if doc is None:
        return
    kind = _kind(doc)
    offer = doc.get("Offer")
    if not isinstance(offer, dict) or not isinstance(offer.get("sdp"), str) or len(offer["sdp"]) > MAX_SDP:
        raise bad_request("SfuPublish needs an Offer with an sdp")

    async def publish() -> dict[str, Any]:
        answer = await req.hub.sfu.publish(req.session, kind, offer)
        return {"Type": "SfuAnswer", "SfuAnswer": {"Kind": kind, "Answer": answer}}
    _run(req, publish())


@handles("SfuUnpublish")
def on_sfu_unpublish(req: "Request") -> None:
    doc = _sfu_doc(req, "SfuUnpublish")
    if doc is not None:
        _run(req, req.hub.sfu.unpublish(req.session, _kind(doc)), reply=False)


@handles("SfuAnswer")
def on_sfu_answer(req: "Request") -> None:
    """The client's answer to our SfuOffer (its subscriber connection)."""
    doc = _sfu_doc(req, "SfuAnswer")
    if doc is None:
        return
    answer, seq = doc.get("Answer"), doc.get("Seq")
    if not isinstance(answer, dict) or not isinstance(answer.get("sdp"), str) or len(answer["sdp"]) > MAX_SDP \
            or not isinstance(seq, int):
        raise bad_request("SfuAnswer needs Seq and an Answer with an sdp")
    from ..sfu.manager import SfuUnavailable
    try:
        req.hub.sfu.answer(req.session, seq, answer["sdp"])
    except SfuUnavailable as exc:
        req.reply({"Type": "Error", "Code": "sfu_unavailable", "Message": str(exc)})


@handles("SfuLayer")
def on_sfu_layer(req: "Request") -> None:
    """A tile asks for the simulcast layer fitting its size (0 smallest .. 2 largest)."""
    doc = _sfu_doc(req, "SfuLayer")
    if doc is None:
        return
    peer, layer = doc.get("Id"), doc.get("Substream")
    if not isinstance(peer, str) or not isinstance(layer, int) or not 0 <= layer <= 2:
        raise bad_request("SfuLayer needs Id and Substream 0-2")
    _run(req, req.hub.sfu.layer(req.session, peer, _kind(doc), layer), reply=False)
