"""httpheader mode: a front proxy that authenticated the user names them in a header."""
from __future__ import annotations

from .base import RequestFacts, UsersMode


class HttpHeaderMode(UsersMode):
    name = "httpheader"

    def __init__(self, header: str) -> None:
        self.header = header

    def userid_from_request(self, facts: RequestFacts) -> str:
        return facts.headers.get(self.header, "") or ""
