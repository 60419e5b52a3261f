"""Typed channeling documents: decode with Go's rules, re-encode in the wire's field order.

Decoding matches keys case-insensitively (an exact match first), ignores unknown keys, treats JSON null
as absent, and rejects any type mismatch with DocError so the caller can answer `bad_request`.
Encoding writes the fields in declaration order and drops empty `omitempty` ones, which is how forwarded
documents lose unknown keys (protocol.md 4.7.8).
"""
from __future__ import annotations

from typing import Any

UINT64_MAX = (1 << 64) - 1


class DocError(ValueError):
    """The document does not have the expected types; str() says where."""


class Kind:
    zero: Any = None

    def decode(self, value: Any, path: str) -> Any:
        raise NotImplementedError

    def encode(self, value: Any) -> Any:
        return value


class _Str(Kind):
    zero = ""

    def decode(self, value: Any, path: str) -> Any:
        if not isinstance(value, str):
            raise DocError(f"{path}: expected a string")
        return value


class _Bool(Kind):
    zero = False

    def decode(self, value: Any, path: str) -> Any:
        if not isinstance(value, bool):
            raise DocError(f"{path}: expected a boolean")
        return value


class _UInt(Kind):
    zero = 0

    def decode(self, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT64_MAX:
            raise DocError(f"{path}: expected an unsigned integer")
        return value


class _Float(Kind):
    zero = 0

    def decode(self, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DocError(f"{path}: expected a number")
        return value


class _Any(Kind):
    def decode(self, value: Any, path: str) -> Any:
        return value


class _Object(Kind):
    """A free-form JSON object (an SDP, an ICE candidate)."""

    def decode(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise DocError(f"{path}: expected an object")
        return value


class ListOf(Kind):
    def __init__(self, item: Kind) -> None:
        self.item = item

    def decode(self, value: Any, path: str) -> Any:
        if not isinstance(value, list):
            raise DocError(f"{path}: expected an array")
        return [self.item.decode(v, f"{path}[{i}]") if v is not None else self.item.zero
                for i, v in enumerate(value)]

    def encode(self, value: Any) -> Any:
        return None if value is None else [self.item.encode(v) for v in value]


STR, BOOL, UINT, FLOAT, ANY, OBJECT = _Str(), _Bool(), _UInt(), _Float(), _Any(), _Object()


class Doc(Kind):
    """A struct: fields as (name, kind) or (name, kind, "omitempty"), in output order."""

    def __init__(self, name: str, *fields: tuple) -> None:
        self.name = name
        self.fields = [(f[0], f[1], len(f) > 2) for f in fields]
        self._exact = {f[0]: f[1] for f in fields}
        self._folded = {f[0].lower(): f[0] for f in fields}

    def decode(self, value: Any, path: str = "") -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise DocError(f"{path or self.name}: expected an object")
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = key if key in self._exact else self._folded.get(key.lower())
            if name is None or item is None:
                continue
            out[name] = self._exact[name].decode(item, f"{path}.{name}" if path else name)
        return out

    def encode(self, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        out: dict[str, Any] = {}
        for name, kind, omitempty in self.fields:
            item = value.get(name, kind.zero)
            if omitempty and (item is None or item == "" or item is False or item == 0
                              or (isinstance(item, (list, dict)) and not item)):
                continue
            out[name] = kind.encode(item) if item is not None else None
        return out


# ---------------------------------------------------------------- the documents (protocol.md App. A)

Credentials = Doc("Credentials", ("PIN", STR))
Hello = Doc("Hello", ("Version", STR), ("Ua", STR), ("Id", STR), ("Name", STR), ("Type", STR),
            ("Credentials", Credentials), ("Features", ListOf(STR)), ("Invite", STR))
Room = Doc("Room", ("Type", STR), ("Name", STR), ("Credentials", Credentials))
Offer = Doc("Offer", ("Type", STR), ("To", STR), ("Offer", OBJECT))
Candidate = Doc("Candidate", ("Type", STR), ("To", STR), ("Candidate", ANY))
Answer = Doc("Answer", ("Type", STR), ("To", STR), ("Answer", OBJECT))
Bye = Doc("Bye", ("Type", STR), ("To", STR), ("Bye", ANY))
Status = Doc("Status", ("Type", STR), ("Status", ANY))
FileInfo = Doc("FileInfo", ("id", STR), ("chunks", UINT), ("name", STR), ("size", UINT), ("type", STR))
Geolocation = Doc("Geolocation", ("accuracy", FLOAT, "oe"), ("latitude", FLOAT, "oe"),
                  ("longitude", FLOAT, "oe"), ("altitude", FLOAT, "oe"), ("altitudeAccuracy", FLOAT, "oe"))
ContactRequest = Doc("ContactRequest", ("Id", STR), ("Success", BOOL), ("Userid", STR, "oe"),
                     ("Token", STR, "oe"))
AutoCall = Doc("AutoCall", ("Id", STR), ("Type", STR))
ChatStatus = Doc("ChatStatus", ("Typing", STR, "oe"), ("State", STR, "oe"), ("Mid", STR, "oe"),
                 ("SeenMids", ListOf(STR), "oe"), ("FileInfo", FileInfo, "oe"),
                 ("Geolocation", Geolocation, "oe"), ("ContactRequest", ContactRequest, "oe"),
                 ("AutoCall", AutoCall, "oe"))
ChatMessage = Doc("ChatMessage", ("Message", STR), ("Time", STR), ("NoEcho", BOOL, "oe"),
                  ("Mid", STR, "oe"), ("Status", ChatStatus))
Chat = Doc("Chat", ("To", STR), ("Type", STR), ("Chat", ChatMessage))
Conference = Doc("Conference", ("Id", STR), ("Type", STR), ("Conference", ListOf(STR)))
Alive = Doc("Alive", ("Type", STR), ("Alive", UINT))
AuthenticationData = Doc("AuthenticationData", ("Id", STR), ("Sid", STR), ("Userid", STR), ("Nonce", STR))
Authentication = Doc("Authentication", ("Type", STR), ("Authentication", AuthenticationData))
SessionsRequest = Doc("SessionsRequest", ("Token", STR), ("Type", STR))
Sessions = Doc("Sessions", ("Type", STR), ("Sessions", SessionsRequest))
Empty = Doc("Empty")
Moderate = Doc("Moderate", ("Action", STR), ("Target", STR), ("Expires", UINT))  # ours: docs/moderation.md

Incoming = Doc("Incoming", ("Type", STR), ("Hello", Hello), ("Offer", Offer), ("Candidate", Candidate),
               ("Answer", Answer), ("Bye", Bye), ("Status", Status), ("Chat", Chat),
               ("Conference", Conference), ("Alive", Alive), ("Authentication", Authentication),
               ("Sessions", Sessions), ("Room", Room), ("Iid", STR),
               # ours, for the SFU (docs/sfu.md); only clients that saw Features in Self send them
               ("SfuPublish", OBJECT), ("SfuUnpublish", OBJECT), ("SfuAnswer", OBJECT), ("SfuLayer", OBJECT),
               ("Moderate", Moderate))


def find_iid(value: Any) -> str:
    """The request id of a message that failed to decode, so its Error can still be correlated."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.lower() == "iid" and isinstance(item, str):
                return item
    return ""
