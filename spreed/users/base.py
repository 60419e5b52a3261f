"""What every users mode offers, and the request facts it may look at."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


class RegistrationError(Exception):
    """Registration refused; the message goes into `Error: "<message>"` (users_create_failed)."""


@dataclass
class RequestFacts:
    """The parts of an HTTP or websocket request a users mode may use to find a userid."""
    headers: Mapping[str, str] = field(default_factory=dict)
    client_cert_der: bytes | None = None  # verified by our TLS listener against the CA


@dataclass
class Login:
    """A proven identity and what its proof allows: `room` "*" is any room (JWT claims)."""
    userid: str
    room: str = "*"
    moderator: bool = False
    name: str = ""

    def grants(self) -> dict[str, Any] | None:
        """What the session keeps beyond its userid; None when the login allows nothing special."""
        grants: dict[str, Any] = {}
        if self.room != "*":
            grants["room"] = self.room
        if self.moderator:
            grants["moderator"] = True
        return grants or None


@dataclass
class Registration:
    """A successful registration: JSON fields to add to the reply, or a raw body with headers."""
    fields: dict[str, Any] | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class UsersMode:
    name = ""

    def userid_from_request(self, facts: RequestFacts) -> str:
        """A userid the request itself proves (header, certificate); "" if none."""
        return ""

    def validate_login(self, body: Mapping[str, Any], facts: RequestFacts) -> str:
        """The userid a PATCH /sessions body proves; "" when it proves nothing."""
        return self.userid_from_request(facts)

    def login(self, body: Mapping[str, Any], facts: RequestFacts) -> Login | None:
        """The login a PATCH /sessions body proves, with its grants; None when it proves nothing."""
        userid = self.validate_login(body, facts)
        return Login(userid) if userid else None

    def register(self, userid: str, params: Mapping[str, Any]) -> Registration:
        raise RegistrationError(f"create is not possible in {self.name} mode")
