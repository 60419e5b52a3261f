"""The client's page for `/` and every room path, the crawler page, discovery and sandboxes."""
from __future__ import annotations

import urllib.parse

from spreed import page

from .base import BaseHandler
from .security import default_csp


class MainPage(BaseHandler):
    """Serves the same page for any room; the room name is only used for titles."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def _serve(self, room: str = "") -> None:
        cfg = self.hub.config
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Expires", "-1")
        self.set_header("Cache-Control", "private, max-age=0")
        host = self.request.host or ""
        # app.contentSecurityPolicy replaces our strict default (protocol.md 2.4 sends it as given)
        self.set_header("Content-Security-Policy", cfg.csp or default_csp(host, cfg.base_path))
        if cfg.csp_report_only:
            self.set_header("Content-Security-Policy-Report-Only", cfg.csp_report_only)
        if "_escaped_fragment_" in self.request.arguments:
            scheme = "https" if self.ssl else "http"
            self.finish(self.route_kwargs["renderer"].crawler_page(room, scheme, host))
            return
        ctx = page.context(cfg, host, self.ssl, self.request.headers.get("Accept-Language"))
        self.finish(self.route_kwargs["renderer"].main_page(ctx, room))

    get = head = post = put = patch = delete = options = _serve  # type: ignore[assignment]


class WellKnown(BaseHandler):
    SUPPORTED_METHODS = MainPage.SUPPORTED_METHODS

    def _serve(self) -> None:
        scheme = "https" if self.ssl else "http"
        endpoint = f"{scheme}://{self.request.host}{self.hub.config.base_path.rstrip('/')}"
        self.set_header("Content-Type", "application/json")
        from spreed.jsonutil import rest
        self.finish(rest({"spreed-webrtc_endpoint": endpoint}))

    get = head = post = put = patch = delete = options = _serve  # type: ignore[assignment]


class Sandbox(BaseHandler):
    """Our client needs no sandbox pages; answer as the original does for unknown ones."""

    SUPPORTED_METHODS = MainPage.SUPPORTED_METHODS

    def _serve(self, origin_scheme: str, origin_host: str, sandbox: str) -> None:
        parsed = urllib.parse.urlsplit(f"{origin_scheme}//{origin_host}")
        if not parsed.scheme or not parsed.netloc:
            self.plain(400, "Invalid origin path\n")
            return
        self.plain(404, "404 Unknown Sandbox\n")

    get = head = post = put = patch = delete = options = _serve  # type: ignore[assignment]
