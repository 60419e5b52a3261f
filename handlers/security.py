"""Response hardening: security headers, the default Content-Security-Policy, the websocket Origin
check, and request logging that never writes query strings (session tokens travel in `?t=`)."""
from __future__ import annotations

import logging
import re
import urllib.parse
from typing import Any

import tornado.httputil
import tornado.web

access_log = logging.getLogger("tornado.access")
app_log = logging.getLogger("tornado.application")

# Our own client: ES modules and styles from 'self' only (the page's `<script type="application/json">`
# is data, not script), pictures from 'self' (buddy images included), data: and blob:, media from blob:.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob:; font-src 'self'; manifest-src 'self'; connect-src 'self'{ws}; "
       "base-uri 'self'; form-action 'self'; object-src 'none'")
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
DEFAULT_PORTS = {"http": "80", "https": "443"}


def default_csp(host: str, base_path: str) -> str:
    """connect-src names our websocket explicitly: not every browser lets 'self' cover ws: and wss:."""
    ws = f" ws://{host}{base_path}ws wss://{host}{base_path}ws" if _HOST.match(host) else ""
    return CSP.format(ws=ws)


class SecurityHeaders(tornado.web.OutputTransform):
    """nosniff and no-referrer on every response, whichever handler (or error) produced it."""

    def __init__(self, request: tornado.httputil.HTTPServerRequest) -> None:
        pass

    def transform_first_chunk(self, status_code: int, headers: tornado.httputil.HTTPHeaders, chunk: bytes,
                              finishing: bool) -> tuple[int, tornado.httputil.HTTPHeaders, bytes]:
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        return status_code, headers, chunk


def _strip_default_port(scheme: str, netloc: str) -> str:
    host, sep, port = netloc.rpartition(":")
    if sep and port == DEFAULT_PORTS.get(scheme) and not host.endswith(":"):
        return host
    return netloc


def origin_allowed(origin: str, host: str, allowed: list[str]) -> bool:
    """The server's own origin (the request's Host), anything listed in http.allowedOrigins, or all with `*`."""
    if "*" in allowed:
        return True
    parsed = urllib.parse.urlsplit(origin.strip().lower())
    if parsed.scheme not in DEFAULT_PORTS or not parsed.netloc:
        return False  # "null" (sandboxed frames, files) and anything else that is not a web origin
    netloc = _strip_default_port(parsed.scheme, parsed.netloc)
    if netloc == _strip_default_port(parsed.scheme, host.lower()):
        return True
    return f"{parsed.scheme}://{netloc}" in allowed


def redacted_uri(uri: str) -> str:
    """The path with every query value hidden: `?t=<token>` must not reach a log file."""
    path, sep, query = uri.partition("?")
    if not sep:
        return path
    names = [part.split("=", 1)[0] for part in query.split("&") if part]
    return path + "?" + "&".join(f"{name}=…" for name in names)


def request_summary(handler: tornado.web.RequestHandler) -> str:
    request = handler.request
    return f"{request.method} {redacted_uri(request.uri or '')} ({request.remote_ip})"


def log_request(handler: tornado.web.RequestHandler) -> None:
    """The Application's log_function: Tornado's access log line, without query values."""
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    if access_log.isEnabledFor(level):
        access_log.log(level, "%d %s %.2fms", status, request_summary(handler),
                       1000.0 * handler.request.request_time())


def log_exception(handler: tornado.web.RequestHandler, typ: Any, value: Any, tb: Any) -> None:
    """Tornado's log_exception without the request dump (its URI and headers may carry secrets)."""
    if isinstance(value, tornado.web.HTTPError):
        if value.log_message:
            access_log.warning("%d %s: %s", value.status_code, request_summary(handler),
                               value.log_message % value.args if value.args else value.log_message)
        return
    app_log.error("Uncaught exception %s", request_summary(handler), exc_info=(typ, value, tb))
