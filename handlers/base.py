"""Shared bits of the HTTP handlers: client address and scheme behind proxies, plain-text errors."""
from __future__ import annotations

import functools
import ipaddress
from typing import Any

import tornado.httputil
import tornado.web

from spreed.hub import Hub

from .security import log_exception


def _in(ip: str, networks: list[str]) -> bool:
    return bool(networks) and _in_networks(ip, tuple(networks))


@functools.lru_cache(maxsize=4096)  # asked at every join: parsing the networks each time cost 4% of one
def _in_networks(ip: str, networks: tuple[str, ...]) -> bool:
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


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return ""


def client_address(request: tornado.httputil.HTTPServerRequest, trusted: list[str]) -> str:
    """The socket's peer or, when the peer is a trusted proxy, the client it forwards for.

    X-Real-IP wins; otherwise X-Forwarded-For is read from the right, skipping our own trusted
    proxies, so a client cannot choose its address by sending the header itself.
    """
    peer = request.remote_ip or ""
    if not _in(peer, trusted):
        return peer
    real = _ip(request.headers.get("X-Real-IP", ""))
    if real:
        return real
    hops = [_ip(h) for h in ",".join(request.headers.get_list("X-Forwarded-For")).split(",")]
    for hop in reversed(hops):
        if not hop:
            break  # garbage in the chain: trust nothing left of it
        if not _in(hop, trusted):
            return hop
    return peer


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
        return client_address(self.request, self.hub.config.trusted_proxies)

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

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        log_exception(self, typ, value, tb)

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
