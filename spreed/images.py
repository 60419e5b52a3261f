"""Buddy pictures: data URLs from Status documents, checked and re-encoded, served by image id.

Pictures are decoded and re-encoded with Pillow before anyone else receives them, so only real
PNG/JPEG/GIF/WebP images of bounded size are ever served (no polyglots, no decompression bombs).
Decoding runs on the event loop, so the time it may take is budgeted for the whole process: a flood
of pictures costs the flooder its pictures, not everyone else their latency.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import os
import time
from dataclasses import dataclass


log = logging.getLogger("spreed.images")

MAX_DATA_URL = 512 * 1024       # characters of the data URL
MAX_PIXELS = 1024 * 1024        # before decoding; clients send small squares (ours: 128x128)
DECODE_SECONDS_PER_SECOND = 0.2  # of event-loop time for pictures, process-wide
DECODE_BURST_SECONDS = 1.0
MAX_SIDE = 256                  # stored pictures are scaled down to this
FORMATS = {"image/png": ("PNG", "picture.png"), "image/jpeg": ("JPEG", "picture.jpg"),
           "image/gif": ("PNG", "picture.png"), "image/webp": ("WEBP", "picture.webp")}
OUT_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
PIL_FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}


class ImageRejected(ValueError):
    """The picture is dropped from the Status; str() is the logged reason."""


@dataclass
class BuddyImage:
    mimetype: str
    data: bytes
    source_digest: bytes
    last_change: float
    change_id: str
    filename: str


def uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def parse_data_url(url: str) -> tuple[str, bytes]:
    """Split `data:<mime>;base64,<data>` into its mimetype and bytes."""
    if len(url) > MAX_DATA_URL:
        raise ImageRejected(f"data URL of {len(url)} characters is over the {MAX_DATA_URL} limit")
    rest = url[5:]
    mimetype, sep, rest = rest.partition(";")
    if not sep:
        raise ImageRejected("data URL without a mimetype")
    encoding, sep, payload = rest.partition(",")
    if encoding != "base64" or not sep:
        raise ImageRejected("data URL is not base64")
    try:
        return mimetype.lower(), base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageRejected("data URL has invalid base64") from None


def reencode(mimetype: str, raw: bytes) -> tuple[str, bytes, str]:
    """Decode with Pillow under strict limits and write a fresh file; returns (mime, bytes, filename)."""
    if mimetype not in FORMATS:
        raise ImageRejected(f"mimetype {mimetype!r} is not PNG, JPEG, GIF or WebP")
    out_format, filename = FORMATS[mimetype]
    from PIL import Image, UnidentifiedImageError  # loaded with the first picture, not at start-up
    try:
        with Image.open(io.BytesIO(raw), formats=sorted(PIL_FORMATS)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise ImageRejected(f"{img.width}x{img.height} pixels is too large")
            img.load()
            picture = img.convert("RGBA" if out_format != "JPEG" else "RGB")
    except ImageRejected:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise ImageRejected("not a decodable image") from None
    picture.thumbnail((MAX_SIDE, MAX_SIDE))
    buffer = io.BytesIO()
    picture.save(buffer, format=out_format, **({"quality": 85} if out_format != "PNG" else {}))
    return OUT_MIME[out_format], buffer.getvalue(), filename


class ImageCache:
    """One picture per session, keyed by a stable random image id."""

    def __init__(self) -> None:
        self.images: dict[str, BuddyImage] = {}
        self._budget = DECODE_BURST_SECONDS
        self._budget_stamp = time.monotonic()

    def _decode_allowed(self) -> bool:
        now = time.monotonic()
        self._budget = min(DECODE_BURST_SECONDS,
                           self._budget + (now - self._budget_stamp) * DECODE_SECONDS_PER_SECOND)
        self._budget_stamp = now
        return self._budget > 0

    def update(self, image_id: str, data_url: str) -> tuple[str, str]:
        """Store the picture of a Status; returns (image_id, `img:` reference). Raises ImageRejected."""
        mimetype, raw = parse_data_url(data_url)
        digest = hashlib.sha256(mimetype.encode() + b"\0" + raw).digest()
        current = self.images.get(image_id) if image_id else None
        if current is None or current.source_digest != digest:
            if not self._decode_allowed():
                raise ImageRejected("too many pictures to decode right now")
            started = time.monotonic()
            try:
                out_mime, data, filename = reencode(mimetype, raw)
            finally:
                self._budget -= time.monotonic() - started
            now = time.time()
            change_id = base64.urlsafe_b64encode(uvarint(time.time_ns())).decode()
            current = BuddyImage(out_mime, data, digest, now, change_id, filename)
            image_id = image_id or base64.urlsafe_b64encode(os.urandom(15)).decode()
            self.images[image_id] = current
        return image_id, f"img:{image_id}/{current.change_id}/{current.filename}"

    def get(self, image_id: str) -> BuddyImage | None:
        return self.images.get(image_id)

    def delete(self, image_id: str) -> None:
        self.images.pop(image_id, None)
