"""JSON encoding in the three shapes the wire needs (websocket frame, REST body, HTML-embedded)."""
from __future__ import annotations

from typing import Any

import orjson

_HTML_UNSAFE = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"),
                ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))


class BadJSON(ValueError):
    """Raised when incoming bytes are not JSON."""


def loads(data: str | bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadJSON(str(exc)) from None


def _escape(data: bytes) -> bytes:
    """Go's encoding/json escapes <, >, & and U+2028/U+2029; they can only occur inside strings."""
    if not (b"<" in data or b">" in data or b"&" in data or b"\xe2\x80" in data):
        return data  # the common case; substring scans are several times faster than a regex here
    for raw, escaped in _HTML_UNSAFE:
        if raw in data:
            data = data.replace(raw, escaped)
    return data


def frame(doc: Any) -> bytes:
    """A websocket frame body: compact JSON plus the newline Go's encoder writes."""
    return _escape(orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE))


def rest(doc: Any) -> bytes:
    """A REST body: two-space indented JSON without a trailing newline."""
    return _escape(orjson.dumps(doc, option=orjson.OPT_INDENT_2))


def html_safe(doc: Any) -> str:
    """Compact JSON that can sit inside a <script> element without ending it."""
    return _escape(orjson.dumps(doc)).decode()
