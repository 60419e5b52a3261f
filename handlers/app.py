"""The Tornado application: routes in the original's order, with its path-cleaning and strict-slash rules."""
from __future__ import annotations

import posixpath
import re
import urllib.parse
import zlib
from dataclasses import dataclass
from typing import Any

import tornado.httputil
import tornado.web

from spreed.hub import Hub
from spreed.page import PageRenderer
from spreed.tokenfile import TokenFile
from spreed.users import UsersMode, make_mode

from . import files, pages, rest, status, users, websocket
from .base import NotFound, RedirectTo
from .security import SecurityHeaders, log_request


@dataclass
class Route:
    regex: re.Pattern[str]
    handler: type[tornado.web.RequestHandler]
    kwargs: dict[str, Any]
    trailing_slash: bool
    methods: tuple[str, ...] | None = None  # None: any method
    gzip: bool = False  # the original wraps only some routes in its gzip handler (protocol.md 2.2)


_VAR = re.compile(r"\{(\w+)(:\.\*)?\}")


def route(template: str, handler: type, methods: tuple[str, ...] | None = None, gzip: bool = False,
          **kwargs: Any) -> Route:
    """`{name}` is one segment, `{name:.*}` anything; matching allows an extra or missing final slash."""
    body = template.rstrip("/")
    parts, pos = [], 0
    for var in _VAR.finditer(body):
        parts.append(re.escape(body[pos:var.start()]))
        parts.append(f"(?P<{var.group(1)}>.*?)" if var.group(2) else f"(?P<{var.group(1)}>[^/]+)")
        pos = var.end()
    parts.append(re.escape(body[pos:]))
    regex = re.compile("^" + "".join(parts) + "(?P<_slash>/?)$")
    return Route(regex, handler, kwargs, template.endswith("/"), methods, gzip)


def clean_path(path: str) -> str:
    """Go's path.Clean, keeping a trailing slash."""
    if path == "":
        return "/"
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


class GoGzip(tornado.web.OutputTransform):
    """The original's gzip wrapper (protocol.md 2.3), unlike Tornado's: only on the routes marked for it,
    only for the exact Accept-Encoding items `gzip` or `deflate` (the first wins; deflate is zlib),
    any content type and size, and `Vary` only when compressing."""

    def __init__(self, request: tornado.httputil.HTTPServerRequest) -> None:
        self.encoding = ""
        self.compressor: Any = None
        if getattr(request, "spreed_gzip", False) and request.method != "HEAD":
            for item in request.headers.get("Accept-Encoding", "").split(","):
                if item.strip() in ("gzip", "deflate"):
                    self.encoding = item.strip()
                    break

    def transform_first_chunk(self, status_code: int, headers: tornado.httputil.HTTPHeaders, chunk: bytes,
                              finishing: bool) -> tuple[int, tornado.httputil.HTTPHeaders, bytes]:
        # 206 stays plain: a Content-Range counts bytes of the uncompressed file.
        if not self.encoding or status_code < 200 or status_code in (204, 206, 304) \
                or "Content-Encoding" in headers:
            return status_code, headers, chunk
        headers["Content-Encoding"] = self.encoding
        headers["Vary"] = f"{headers['Vary']}, Accept-Encoding" if "Vary" in headers else "Accept-Encoding"
        wbits = zlib.MAX_WBITS | 16 if self.encoding == "gzip" else zlib.MAX_WBITS
        self.compressor = zlib.compressobj(1, zlib.DEFLATED, wbits)
        chunk = self.transform_chunk(chunk, finishing)
        if "Content-Length" in headers:
            if finishing:
                headers["Content-Length"] = str(len(chunk))
            else:
                del headers["Content-Length"]
        return status_code, headers, chunk

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        if self.compressor is None:
            return chunk
        data = self.compressor.compress(chunk)
        return data + self.compressor.flush(zlib.Z_FINISH if finishing else zlib.Z_SYNC_FLUSH)


class SpreedApplication(tornado.web.Application):
    def __init__(self, hub: Hub, **settings: Any) -> None:
        self.hub = hub
        self.base = hub.config.base_path
        self.routes = build_routes(hub)
        # the users mode of the channeling route: the fast websocket path (handlers.wsfast) shares it
        self.users_mode = next((r.kwargs.get("users_mode") for r in self.routes
                                if r.handler is websocket.ChannelingSocket), None)
        settings.setdefault("log_function", log_request)
        super().__init__([], transforms=[GoGzip, SecurityHeaders], **settings)

    def find_handler(self, request: tornado.httputil.HTTPServerRequest, **kwargs: Any) -> Any:
        """Cleaning and matching work on the percent-decoded path, as gorilla/mux does on URL.Path."""
        raw = request.path
        path = urllib.parse.unquote(raw)
        query = f"?{request.query}" if request.query else ""
        cleaned = clean_path(path)
        if cleaned != path:
            return self._delegate(request, RedirectTo, {"url": urllib.parse.quote(cleaned, safe="/$&+,:;=@") + query})
        if not path.startswith(self.base):
            if path + "/" == self.base:
                return self._delegate(request, RedirectTo, {"url": self.base + query})
            return self._delegate(request, NotFound, {})
        rel = path[len(self.base):]
        for candidate in self.routes:
            match = candidate.regex.match(rel)
            if match is None or (candidate.methods and request.method not in candidate.methods):
                continue
            # gorilla/mux compares the request path's own final slash with the template's.
            has_slash = rel.endswith("/")
            if has_slash != candidate.trailing_slash and rel != "":
                fixed = raw.rstrip("/") + ("/" if candidate.trailing_slash else "")
                return self._delegate(request, RedirectTo, {"url": fixed + query})
            args = {k: v for k, v in match.groupdict().items() if k != "_slash"}
            request.spreed_gzip = candidate.gzip  # type: ignore[attr-defined]  (read by GoGzip)
            return self._delegate(request, candidate.handler, candidate.kwargs, args)
        return self._delegate(request, NotFound, {})

    def _delegate(self, request: Any, handler: type, kwargs: dict[str, Any],
                  path_kwargs: dict[str, str] | None = None) -> Any:
        return self.get_handler_delegate(request, handler, {"hub": self.hub, **kwargs},
                                         path_kwargs=path_kwargs or {})


def build_routes(hub: Hub) -> list[Route]:
    cfg = hub.config
    static = str(cfg.root / "static")
    renderer = PageRenderer(cfg)
    token_file = TokenFile(cfg.token_file) if cfg.token_file else None
    users_mode = make_mode(cfg)
    table = [
        route("", pages.MainPage, gzip=True, renderer=renderer),
        route("static/img/buddy/{flags}/{image_id}/{idx:.*}", files.BuddyImage),
        route("static/{path:.*}", files.StaticFiles, gzip=True, path=static),
        route("robots.txt", files.SingleFile, path=f"{static}/robots.txt"),
        route("favicon.ico", files.SingleFile, path=f"{static}/img/favicon.ico", fallbacks=[f"{static}/favicon.ico"]),
        route(".well-known/spreed-configuration", pages.WellKnown),
        route("sandbox/{origin_scheme}/{origin_host}/{sandbox}.html", pages.Sandbox, gzip=True),
        route("api/v1/config", rest.ConfigResource),
        route("api/v1/tokens", rest.TokensResource, gzip=True, token_file=token_file),
        route("api/v1/rooms", rest.RoomsResource),
    ]
    table += extra_api_routes(hub, users_mode)
    if cfg.stats:
        table.append(route("api/v1/stats", rest.StatsResource, gzip=True))
        table.append(route("status", status.StatusPage, methods=("GET",)))
    if cfg.metrics:
        from . import metrics  # prometheus_client only where it is switched on
        table.append(route("metrics", metrics.MetricsHandler, methods=("GET",), **metrics.metrics_kwargs(hub)))
    table += [
        route("ws", websocket.ChannelingSocket, methods=("GET",), users_mode=users_mode),
        route("ws", websocket.WebSocketOnlyGet),
        route("{room}", pages.MainPage, gzip=True, renderer=renderer),
        route("{room:.*}", pages.MainPage, methods=("GET",), gzip=True, renderer=renderer),
    ]
    return table


def extra_api_routes(hub: Hub, users_mode: UsersMode | None) -> list[Route]:
    """REST resources that exist only with user accounts on (protocol.md 2.2 route 8)."""
    cfg = hub.config
    if not cfg.users_enabled:
        return []
    table = [route("api/v1/sessions/{session_id}/", users.SessionsResource, users_mode=users_mode)]
    if cfg.users_allow_registration:
        table.append(route("api/v1/users", users.RegistrationResource, users_mode=users_mode))
    return table


def make_app(hub: Hub, **settings: Any) -> SpreedApplication:
    return SpreedApplication(hub, **settings)
