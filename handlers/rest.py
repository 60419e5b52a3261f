"""REST API v1: config, tokens, rooms and stats (protocol.md 3.1-3.4, 3.7)."""
from __future__ import annotations

import gc
import resource
import threading
from typing import Any

from spreed import page
from spreed.jsonutil import rest
from spreed.tokenfile import MAX_CODE_LENGTH, TokenFile
from spreed.tokens import random_string

from .base import BaseHandler


class RestHandler(BaseHandler):
    """JSON bodies indented by two spaces; unsupported methods get 405 with an empty body."""

    def prepare(self) -> None:
        try:
            self.request.arguments  # noqa: B018  (parsed by Tornado; a bad body raises later)
        except Exception:  # pragma: no cover
            self.send_error(400)

    def reply(self, status: int, doc: Any, content_type: str = "application/json") -> None:
        self.set_status(status)
        self.set_header("Content-Type", content_type)
        self.finish(rest(doc))

    def error_doc(self, status: int, code: str, message: str) -> None:
        self.reply(status, {"code": code, "message": message, "success": False})


class ConfigResource(RestHandler):
    def get(self) -> None:
        self.reply(200, page.config_doc(self.hub.config), "application/json; charset=utf-8")


class TokensResource(RestHandler):
    def initialize(self, hub, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(hub, **kwargs)
        self.tokens: TokenFile | None = kwargs.get("token_file")

    def post(self) -> None:
        code = self.get_argument("a", "")
        if len(code.encode()) > MAX_CODE_LENGTH:
            self.error_doc(413, "auth_too_large", "Auth too large")
        elif self.tokens is not None and self.tokens.check(code):
            self.reply(200, {"token": code.lower(), "success": True})
        else:
            self.error_doc(403, "invalid_token", "Invalid token")


class RoomsResource(RestHandler):
    def post(self) -> None:
        name = random_string(11)
        self.reply(200, {"name": name, "url": "/" + name})


def runtime_stats() -> dict[str, int]:
    """The closest Python analogues of the original's Go runtime figures."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    counts = gc.get_stats()
    collected = sum(s.get("collected", 0) for s in counts)
    return {"goroutines": threading.active_count(), "alloc": usage.ru_maxrss * 1024,
            "mallocs": sum(s.get("collections", 0) for s in counts), "frees": collected,
            "pauses": 0, "heap": usage.ru_maxrss * 1024, "stack": 0}


class StatsResource(RestHandler):
    def get(self) -> None:
        self.set_header("Access-Control-Allow-Origin", "*")
        details = self.get_query_argument("details", "") == "1"
        self.reply(200, {"runtime": runtime_stats(), "hub": self.hub.stats(details)},
                   "application/json; charset=utf-8")
