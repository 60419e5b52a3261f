"""Messages between nodes: a one-line JSON header, optionally followed by an encoded frame."""
from __future__ import annotations

from typing import Any

import orjson


def pack(meta: dict[str, Any], frame: bytes = b"") -> bytes:
    return orjson.dumps(meta) + b"\n" + frame


def unpack(data: bytes) -> tuple[dict[str, Any], bytes]:
    head, _, frame = data.partition(b"\n")
    meta = orjson.loads(head)
    if not isinstance(meta, dict):
        raise ValueError("cluster message header is not an object")
    return meta, frame


def session_state(session: Any) -> dict[str, Any]:
    """What other nodes need to list and route to a session."""
    state = {"id": session.id, "userid": session.userid, "ua": session.ua, "rev": session.rev,
             "status": session.status, "stamp": session.stamp}
    if session.features:  # what the client announced in Hello (moderation, sfu)
        state["f"] = sorted(session.features)
    return state
