"""Buddy pictures as hostile input (issue #6 item 7): only PNG, JPEG, GIF and WebP, bounded data URLs
and pixel counts checked before decoding, fresh encodings served with headers that stop sniffing and
scripts, and a process-wide budget for decoding so a flood of pictures cannot stall the event loop."""
from __future__ import annotations

import base64
import io
import struct
import time
import zlib

import pytest
from PIL import Image

from spreed import images
from spreed.images import ImageCache, ImageRejected
from test_ws_status import pair, picture, set_status


def data_url(raw: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(raw).decode()


def encoded(fmt: str, size=(8, 8), color=(1, 2, 3), **save) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels: a decompression bomb's calling card."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack("!I", len(body)) + kind + body + struct.pack("!I", zlib.crc32(kind + body))
    header = struct.pack("!IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


async def served(srv, ref: str):
    return await srv.fetch(f"static/img/buddy/s46/{ref[4:]}")


@pytest.mark.gen_test
async def test_a_polyglot_is_served_as_a_fresh_image_that_cannot_run(server):
    a, b = await pair(server)
    payload = b"<html><script>alert(document.cookie)</script></html>"
    url = data_url(encoded("PNG") + payload)
    ref = (await set_status(a, b, {"buddyPicture": url}))["Data"]["Status"]["buddyPicture"]
    resp = await served(server, ref)
    assert resp.code == 200 and payload not in resp.body and b"<script" not in resp.body
    assert resp.headers["Content-Type"] == "image/png"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert resp.body != base64.b64decode(url.partition(",")[2])


@pytest.mark.gen_test
@pytest.mark.parametrize("fmt, mime", [("BMP", "image/png"), ("TIFF", "image/png"), ("ICO", "image/png"),
                                       ("PNG", "image/svg+xml"), ("PNG", "image/bmp"), ("PNG", "text/html")])
async def test_only_png_jpeg_gif_and_webp_are_accepted(server, fmt, mime):
    a, b = await pair(server)
    msg = await set_status(a, b, {"displayName": "x", "buddyPicture": data_url(encoded(fmt), mime)})
    assert msg["Data"]["Status"] == {"displayName": "x"}
    assert not server.hub.images.images


@pytest.mark.gen_test
async def test_an_animated_gif_becomes_one_png_frame(server):
    a, b = await pair(server)
    frames = [Image.new("RGB", (16, 16), (i * 20, 0, 0)) for i in range(10)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], loop=0)
    ref = (await set_status(a, b, {"buddyPicture": data_url(buffer.getvalue(), "image/gif")}))["Data"]["Status"]
    resp = await served(server, ref["buddyPicture"])
    assert resp.headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(resp.body)) as img:
        assert img.format == "PNG" and getattr(img, "n_frames", 1) == 1


@pytest.mark.gen_test
async def test_pixel_count_is_checked_before_decoding(server):
    a, b = await pair(server)
    for claim in ((100_000, 100_000), (1025, 1024), (2**30, 1)):
        started = time.monotonic()
        msg = await set_status(a, b, {"buddyPicture": data_url(png_claiming(*claim))})
        assert msg["Data"]["Status"] == {}
        assert time.monotonic() - started < 0.5
    ok = (await set_status(a, b, {"buddyPicture": picture(size=(1024, 1024))}))["Data"]["Status"]
    with Image.open(io.BytesIO((await served(server, ok["buddyPicture"])).body)) as img:
        assert max(img.size) <= images.MAX_SIDE


def test_data_url_cap_is_checked_before_base64_decoding():
    with pytest.raises(ImageRejected, match="over the"):
        images.parse_data_url("data:image/png;base64," + "A" * images.MAX_DATA_URL)


def test_decoding_has_a_process_wide_time_budget(monkeypatch):
    """Past the budget pictures are refused without decoding; it refills with time."""
    monkeypatch.setattr(images, "DECODE_BURST_SECONDS", 0.02)
    monkeypatch.setattr(images, "DECODE_SECONDS_PER_SECOND", 0.2)
    urls = [data_url(encoded("PNG", size=(512, 512), color=(i, i, i))) for i in range(100)]
    cache = ImageCache()
    accepted = refused = 0
    for url in urls:
        try:
            cache.update("", url)
            accepted += 1
        except ImageRejected as exc:
            assert "too many pictures" in str(exc)
            refused += 1
    assert accepted >= 1 and refused > 75, (accepted, refused)
    deadline = time.monotonic() + 3
    while True:  # the budget refills at 0.2 s per second
        try:
            cache.update("", data_url(encoded("PNG", color=(7, 7, 7))))
            break
        except ImageRejected:
            assert time.monotonic() < deadline, "the budget never refilled"
            time.sleep(0.05)


@pytest.mark.gen_test
async def test_a_picture_flood_costs_the_flooder_its_pictures_not_the_others_their_latency(server, monkeypatch):
    monkeypatch.setattr(server.hub.images, "_budget", 0.0)
    monkeypatch.setattr(images, "DECODE_BURST_SECONDS", 0.05)
    flooder, watcher = await pair(server, "flood")
    calm = await server.connect()
    for i in range(20):
        big = data_url(encoded("PNG", size=(1024, 1024), color=(i, 0, 0)))
        await flooder.send({"Type": "Status", "Status": {"Type": "Status", "Status": {"buddyPicture": big}}})
        started = time.monotonic()
        assert (await calm.request("Alive", {"Type": "Alive", "Alive": i}))["Data"]["Alive"] == i
        assert time.monotonic() - started < 1.0
    statuses = [(await watcher.recv_type("Status"))["Data"]["Status"] for _ in range(20)]
    dropped = sum("buddyPicture" not in s for s in statuses)
    assert dropped >= 10, f"only {dropped} of 20 pictures were refused"
