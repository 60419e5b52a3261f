"""REST API v1: config, tokens, rooms and stats (protocol.md 3.1-3.4, 3.7)."""
from __future__ import annotations

import gc
import os
import re
import resource
import threading
from typing import Any

from spreed import doctor, page
from spreed.jsonutil import rest
from spreed.tokenfile import MAX_CODE_LENGTH, TokenFile
from spreed.tokens import random_string

from .base import BaseHandler


_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_FORM_BODY_METHODS = ("POST", "PUT", "PATCH")


class RestHandler(BaseHandler):
    """JSON bodies indented by two spaces; unsupported methods get 405 with an empty body."""

    def prepare(self) -> None:
        """The original parses the form before dispatching: a bad %-escape is 400 with an empty body.

        Tornado's parser keeps bad escapes as they are, so they are looked for here. Before that, the
        per-address rate limit (limits.restPerSecond), so codes and logins cannot be guessed quickly.
        """
        if not self.hub.guard.rest_request(self.client_ip):
            self.set_header("Retry-After", "1")
            self.error_doc(429, "rate_limited", "Too many requests, slow down")
            return
        bad = bool(_BAD_ESCAPE.search(self.request.query.encode("latin-1", "replace")))
        if not bad and self.request.method in _FORM_BODY_METHODS:
            content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
            bad = content_type == "application/x-www-form-urlencoded" and bool(_BAD_ESCAPE.search(self.request.body))
        if bad:
            self.set_status(400)
            self.clear_header("Content-Type")
            self.finish()

    def form_raw(self, name: str) -> bytes | None:
        """Go's Request.FormValue: the first value, a form body before the query string, unstripped."""
        sources = [self.request.query_arguments]
        if self.request.method in _FORM_BODY_METHODS:
            sources.insert(0, self.request.body_arguments)
        for source in sources:
            values = source.get(name)
            if values:
                return values[0]
        return None

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
        raw = self.form_raw("a") or b""
        code = raw.decode("utf-8", "replace")
        if len(raw) > MAX_CODE_LENGTH:
            self.error_doc(413, "auth_too_large", "Auth too large")
        elif self.tokens is not None and self.tokens.check(code):
            self.reply(200, {"token": code.lower(), "success": True})
        else:
            self.error_doc(403, "invalid_token", "Invalid token")


class RoomsResource(RestHandler):
    def post(self) -> None:
        name = random_string(11)
        self.reply(200, {"name": name, "url": "/" + name})


def resident_bytes() -> int:
    """Current RSS from /proc/self/statm (peak RSS says nothing about now); peak where there is no /proc."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def runtime_stats() -> dict[str, int]:
    """The closest Python analogues of the original's Go runtime figures."""
    rss = resident_bytes()
    counts = gc.get_stats()
    collected = sum(s.get("collected", 0) for s in counts)
    return {"goroutines": threading.active_count(), "alloc": rss,
            "mallocs": sum(s.get("collections", 0) for s in counts), "frees": collected,
            "pauses": 0, "heap": rss, "stack": 0}


class StatsResource(RestHandler):
    def get(self) -> None:
        self.set_header("Access-Control-Allow-Origin", "*")
        details = self.form_raw("details") == b"1"
        doc = {"runtime": runtime_stats(), "hub": self.hub.stats(details)}
        if self.form_raw("history") == b"1":  # for the status page (an addition of ours)
            doc.update(history=self.hub.history.doc(), warnings=doctor.warnings(self.hub.config),
                       version=self.hub.config.version)
        self.reply(200, doc, "application/json; charset=utf-8")
