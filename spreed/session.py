"""One logical client: its identity, profile and room, independent of the socket carrying it."""
from __future__ import annotations

import time
from typing import Any, Protocol


class Connection(Protocol):
    """What the core needs from a transport (the websocket handler implements it)."""

    index: int
    remote_ip: str

    def send(self, data: bytes) -> None: ...

    def close(self, code: int = 1000, reason: str = "") -> None: ...


ATTESTATION_REFRESH = 180  # seconds; decoders accept 300
NO_LINKS: frozenset[str] = frozenset()


class Session:
    __slots__ = ("id", "sid", "userid", "ua", "status", "rev", "hello", "roomid", "nonce",
                 "stamp", "conn", "replaced", "image_id", "subscriptions", "subscribers",
                 "_attestation", "_attested_at", "node", "closed", "grants", "features", "sfu_mode")

    prio = 100

    def __init__(self, session_id: str, sid: str, conn: Connection | None) -> None:
        self.id = session_id
        self.sid = sid
        self.userid = ""
        self.ua = ""
        self.status: Any = None
        self.rev = 0
        self.hello = False
        self.roomid = ""
        self.nonce = ""
        self.stamp = int(time.time())
        self.conn = conn
        self.replaced = False
        self.image_id = ""
        # contact links (protocol.md 4.7.10) are rare: share one empty set until there is one
        self.subscriptions: frozenset[str] | set[str] = NO_LINKS
        self.subscribers: frozenset[str] | set[str] = NO_LINKS
        self._attestation = ""
        self._attested_at = 0.0
        self.node = ""  # the cluster node holding the connection, for stand-ins of remote sessions
        self.closed = False
        self.grants: dict[str, Any] | None = None  # what a login token allowed: {"room": ..., "moderator": ...}
        self.features: frozenset[str] = NO_LINKS  # what the client announced in Hello (e.g. "sfu")
        self.sfu_mode = ""  # the last Sfu mode told to this session

    def link(self, other: "Session") -> None:
        """Subscribe to `other`: each hears Left "hard" when the other goes."""
        if not isinstance(self.subscriptions, set):
            self.subscriptions = set()
        if not isinstance(other.subscribers, set):
            other.subscribers = set()
        self.subscriptions.add(other.id)
        other.subscribers.add(self.id)

    def unlink(self, other_id: str) -> None:
        if isinstance(self.subscribers, set):
            self.subscribers.discard(other_id)
        if isinstance(self.subscriptions, set):
            self.subscriptions.discard(other_id)

    def attestation(self, encode) -> str:
        """The cached attestation token, re-encoded when it is older than 180 s."""
        now = time.monotonic()
        if not self._attestation or now - self._attested_at > ATTESTATION_REFRESH:
            self._attestation = encode(self.id)
            self._attested_at = now
        return self._attestation

    def doc(self, type_: str, with_rev: bool = True) -> dict[str, Any]:
        """The session document of Joined/Status/Users/Sessions (omitempty rules of Appendix A)."""
        out: dict[str, Any] = {"Type": type_, "Id": self.id}
        if self.userid:
            out["Userid"] = self.userid
        if self.ua:
            out["Ua"] = self.ua
        if with_rev and self.rev:
            out["Rev"] = self.rev
        out["Prio"] = self.prio
        if self.status is not None:
            out["Status"] = self.status
        return out
