"""Static files (with the `ver=` cache-busting segment), robots.txt, favicon and buddy pictures."""
from __future__ import annotations

import datetime
import email.utils
import os
import time
from typing import Any

import tornado.web

from .base import BaseHandler

ONE_YEAR = 365 * 86400


class StaticFiles(tornado.web.StaticFileHandler):
    """`static/ver=<anything>/x` serves `static/x` with a year of caching; `static/x` without."""

    def initialize(self, path: str, default_filename: str | None = None, **kwargs: Any) -> None:
        super().initialize(path, default_filename)

    async def get(self, path: str, include_body: bool = True) -> None:
        parts = path.split("/", 1)
        self._versioned = len(parts) == 2 and parts[0].startswith("ver=")
        if self._versioned:
            path = parts[1]
        await super().get(path, include_body)

    def get_cache_time(self, path: str, modified: datetime.datetime | None, mime_type: str) -> int:
        """No caching from Tornado's `?v=` rule; only the `ver=` segment earns far-future headers."""
        return 0

    def set_extra_headers(self, path: str) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        if self._versioned:
            self.set_header("Expires", email.utils.formatdate(time.time() + ONE_YEAR, usegmt=True))
            self.set_header("Cache-Control", "public, max-age=31536000")

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        if os.path.isdir(absolute_path):
            raise tornado.web.HTTPError(403)
        return super().validate_absolute_path(root, absolute_path)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish({403: "403 Forbidden\n", 404: "404 Not Found\n"}.get(status_code, f"{status_code}\n"))

    async def _any_method(self, path: str = "") -> None:
        """The original's file server answers every method like GET."""
        await self.get(path)

    post = put = patch = delete = options = _any_method  # type: ignore[assignment]


class SingleFile(StaticFiles):
    """robots.txt and favicon.ico: one fixed file, or the first existing one of `fallbacks` (absolute paths)."""

    def initialize(self, path: str, default_filename: str | None = None, **kwargs: Any) -> None:
        super().initialize(os.path.dirname(path))
        self._candidates = [path, *kwargs.get("fallbacks", [])]

    async def get(self, path: str = "", include_body: bool = True) -> None:
        for candidate in self._candidates:
            if os.path.isfile(candidate):
                # The root moves to the file's own folder, so Tornado's in-root check still holds.
                self.root = os.path.dirname(candidate)
                await super().get(os.path.basename(candidate), include_body)
                return
        self.set_status(404)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("404 page not found\n")


class BuddyImage(BaseHandler):
    """Pictures by image id; `{flags}` and `{idx}` are ignored (protocol.md 3.8)."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def compute_etag(self) -> None:
        return None

    def _serve(self, flags: str, image_id: str, idx: str) -> None:
        image = self.hub.images.get(image_id)
        if image is None:
            self.plain(404, "Unknown image\n")
            return
        changed = datetime.datetime.fromtimestamp(int(image.last_change), datetime.timezone.utc)
        self.set_header("Content-Type", image.mimetype)
        self.set_header("ETag", image.change_id)
        self.set_header("Last-Modified", email.utils.format_datetime(changed, usegmt=True))
        self.set_header("Cache-Control", "public, no-transform, max-age=86400")
        self.set_header("Expires", email.utils.formatdate(time.time() + 86400, usegmt=True))
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "default-src 'none'; sandbox")  # opened on its own
        age = int(time.time() - image.last_change)
        if age >= 1:
            self.set_header("Age", str(age))
        if self._not_modified(image.change_id, changed):
            self.set_status(304)
            self.finish()
            return
        self.finish(image.data)  # Tornado drops the body of a HEAD but keeps the real Content-Length

    def _not_modified(self, etag: str, changed: datetime.datetime) -> bool:
        match = self.request.headers.get("If-None-Match")
        if match is not None:
            return match.strip() in (etag, "*", f'"{etag}"')
        since = self.request.headers.get("If-Modified-Since")
        if since:
            try:
                return email.utils.parsedate_to_datetime(since) >= changed
            except (TypeError, ValueError):
                return False
        return False

    get = head = post = put = patch = delete = options = _serve  # type: ignore[assignment]
