"""Shared bits of the HTTP handlers: client address and scheme behind proxies, plain-text errors."""
from __future__ import annotations

import ipaddress
from typing import Any

import tornado.web

from spreed.hub import Hub


def _in(ip: str, networks: list[str]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for net in networks:
        try:
            if addr in ipaddress.ip_network(net, strict=False):
                return True
        except ValueError:
            continue
    return False


class BaseHandler(tornado.web.RequestHandler):
    """Every handler gets the hub; errors are short text bodies, never tracebacks."""

    hub: Hub

    def initialize(self, hub: Hub, **kwargs: Any) -> None:
        self.hub = hub
        self.route_kwargs = kwargs  # not `self.options`: that name is the OPTIONS method

    @property
    def forwarded(self) -> bool:
        """Forwarding headers count only from a trusted proxy (http.trustedProxies)."""
        return _in(self.request.remote_ip or "", self.hub.config.trusted_proxies)

    @property
    def client_ip(self) -> str:
        peer = self.request.remote_ip or ""
        if self.forwarded:
            real = self.request.headers.get("X-Real-IP") or \
                self.request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
            if real:
                return real
        return peer

    @property
    def ssl(self) -> bool:
        proto = self.request.headers.get("X-Forwarded-Proto")
        if proto is not None and self.forwarded:
            return proto.split(",")[0].strip().lower() == "https"
        return self.request.protocol == "https"

    def plain(self, status: int, text: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(text)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 405:
            self.clear_header("Content-Type")
            self.finish()
            return
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code} {self._reason}\n")


class RedirectTo(BaseHandler):
    """301 for unclean paths and strict-slash mismatches, for every method."""

    def initialize(self, hub: Hub, url: str = "", **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(hub)
        self.url = url

    def prepare(self) -> None:
        self.set_status(301)
        self.set_header("Location", self.url)
        self.finish()


class NotFound(BaseHandler):
    def prepare(self) -> None:
        self.plain(404, "404 page not found\n")


class MethodNotAllowed(BaseHandler):
    def prepare(self) -> None:
        self.set_status(405)
        self.finish()
