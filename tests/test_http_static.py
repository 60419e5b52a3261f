"""Static files, robots.txt, favicon and buddy images (protocol.md 2.5, 2.6, 3.8; gotchas 35, 43, 44, 45)."""
from __future__ import annotations

import asyncio
import base64
import email.utils
import gzip
import io
import os
import time
import zlib

import pytest
from PIL import Image

MAIN_JS = b"console.log('main');\n" * 20
ROBOTS = b"User-agent: *\nDisallow: /api/\n"
FAVICON = b"\x00\x00\x01\x00fallback-icon"


@pytest.fixture
def web_root(tmp_path):
    """An http.root with a small static tree (a directory, a few files, no static/img/favicon.ico)."""
    static = tmp_path / "static"
    (static / "js").mkdir(parents=True)
    (static / "css").mkdir()
    (static / "img").mkdir()
    (static / "js" / "main.js").write_bytes(MAIN_JS)
    (static / "css" / "main.min.css").write_text("body{}\n")
    (static / "robots.txt").write_bytes(ROBOTS)
    (static / "favicon.ico").write_bytes(FAVICON)
    return tmp_path


@pytest.fixture
def static_server(make_server, web_root, io_loop):
    return io_loop.run_sync(lambda: make_server({"http": {"root": str(web_root)}}))


def http_date(value: str) -> float:
    parsed = email.utils.parsedate_to_datetime(value)
    assert parsed.tzinfo is not None and parsed.utcoffset().total_seconds() == 0, value
    assert value.endswith(" GMT"), value
    return parsed.timestamp()


def assert_text_error(resp, code: int, body: bytes) -> None:
    assert resp.code == code
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.body == body


# ------------------------------------------------------------------ 2.5 static files

@pytest.mark.gen_test
async def test_static_file_plain(static_server):
    resp = await static_server.fetch("static/js/main.js")
    assert resp.code == 200
    assert resp.body == MAIN_JS
    assert "javascript" in resp.headers["Content-Type"]
    assert "Last-Modified" in resp.headers
    assert "Expires" not in resp.headers
    assert "max-age=31536000" not in resp.headers.get("Cache-Control", "")
    # Tornado's own `?v=` caching must not kick in either.
    resp = await static_server.fetch("static/js/main.js?v=123")
    assert "Expires" not in resp.headers
    assert "max-age" not in resp.headers.get("Cache-Control", "")


@pytest.mark.gen_test
@pytest.mark.parametrize("ver", ["ver=1234", "ver=", "ver=whatever-value", "ver=100"])
async def test_static_versioned(static_server, ver):
    resp = await static_server.fetch(f"static/{ver}/js/main.js")
    assert resp.code == 200
    assert resp.body == MAIN_JS
    assert resp.headers["Cache-Control"] == "public, max-age=31536000"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    expires = http_date(resp.headers["Expires"])
    assert abs(expires - (time.time() + 365 * 86400)) < 120


@pytest.mark.gen_test
@pytest.mark.parametrize("path", ["static/ver=1/ver=2/js/main.js", "static/js/ver=1/main.js", "static/ver=1",
                                  "static/version=1/js/main.js", "static/nope.js", "static/ver=1/nope.js",
                                  "static/js/main.js.map", "static/ver=1/xx/main.js"])
async def test_static_missing(static_server, path):
    assert_text_error(await static_server.fetch(path), 404, b"404 Not Found\n")


@pytest.mark.gen_test
@pytest.mark.parametrize("path", ["static/css", "static/ver=1/css", "static/img", "static/js"])
async def test_static_directory_forbidden(static_server, path):
    assert_text_error(await static_server.fetch(path), 403, b"403 Forbidden\n")


@pytest.mark.gen_test
async def test_static_directory_with_slash_redirects(static_server):
    resp = await static_server.fetch("static/css/")
    assert (resp.code, resp.headers["Location"]) == (301, "/static/css")


@pytest.mark.gen_test
async def test_static_conditional_and_range(static_server):
    first = await static_server.fetch("static/js/main.js")
    resp = await static_server.fetch("static/js/main.js", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert resp.code == 304 and resp.body == b""
    resp = await static_server.fetch("static/ver=9/js/main.js", decompress_response=False,
                                     headers={"Range": "bytes=0-6", "Accept-Encoding": "gzip"})
    assert resp.code == 206
    assert "Content-Encoding" not in resp.headers  # a byte range of the file itself
    assert resp.body == MAIN_JS[:7]
    assert resp.headers["Content-Range"] == f"bytes 0-6/{len(MAIN_JS)}"


@pytest.mark.gen_test
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD"])
async def test_static_any_method(static_server, method):
    resp = await static_server.fetch("static/js/main.js", method=method)
    assert resp.code == 200
    assert resp.body == (b"" if method == "HEAD" else MAIN_JS)


@pytest.mark.gen_test
async def test_static_gzip(static_server):
    resp = await static_server.fetch("static/ver=1/js/main.js", decompress_response=False,
                                     headers={"Accept-Encoding": "gzip"})
    assert resp.code == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(resp.body) == MAIN_JS
    resp = await static_server.fetch("static/ver=1/js/main.js", decompress_response=False)
    assert "Content-Encoding" not in resp.headers and "Vary" not in resp.headers
    assert resp.body == MAIN_JS


@pytest.mark.gen_test
async def test_static_gzip_large_file_streamed(static_server, web_root):
    """Files are sent in several chunks; the compressed stream must still be one valid gzip member."""
    big = b"".join(b"%08d some text that compresses\n" % i for i in range(20000))
    (web_root / "static" / "js" / "big.js").write_bytes(big)
    for encoding, decompress in (("gzip", gzip.decompress), ("deflate", zlib.decompress)):
        resp = await static_server.fetch("static/js/big.js", decompress_response=False,
                                         headers={"Accept-Encoding": encoding})
        assert resp.code == 200
        assert resp.headers["Content-Encoding"] == encoding
        assert len(resp.body) < len(big) // 3
        assert decompress(resp.body) == big


@pytest.mark.gen_test
async def test_static_symlink_out_of_root_refused(static_server, web_root, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("secret")
    os.symlink(outside, web_root / "static" / "js" / "leak.txt")
    resp = await static_server.fetch("static/js/leak.txt")
    assert resp.code in (403, 404)
    assert b"secret" not in resp.body


# ------------------------------------------------------------------ 2.6 robots.txt and favicon.ico

@pytest.mark.gen_test
async def test_robots(static_server):
    resp = await static_server.fetch("robots.txt")
    assert resp.code == 200
    assert resp.body == ROBOTS
    assert resp.headers["Content-Type"].startswith("text/plain")
    resp2 = await static_server.fetch("robots.txt", headers={"If-Modified-Since": resp.headers["Last-Modified"]})
    assert resp2.code == 304
    resp = await static_server.fetch("robots.txt/")
    assert (resp.code, resp.headers["Location"]) == (301, "/robots.txt")


@pytest.mark.gen_test
async def test_favicon_fallback_and_preference(static_server, web_root):
    resp = await static_server.fetch("favicon.ico")
    assert resp.code == 200
    assert resp.body == FAVICON
    (web_root / "static" / "img" / "favicon.ico").write_bytes(b"img-icon")
    resp = await static_server.fetch("favicon.ico")
    assert resp.code == 200 and resp.body == b"img-icon"


@pytest.mark.gen_test
async def test_robots_and_favicon_missing(make_server, tmp_path):
    (tmp_path / "static").mkdir()
    srv = await make_server({"http": {"root": str(tmp_path)}})
    for path in ("robots.txt", "favicon.ico"):
        assert_text_error(await srv.fetch(path), 404, b"404 page not found\n")


# ------------------------------------------------------------------ 3.8 buddy images

@pytest.mark.gen_test
@pytest.mark.parametrize("method", ["GET", "POST", "HEAD", "DELETE"])
async def test_buddy_image_unknown(server, method):
    resp = await server.fetch("static/img/buddy/s46/AAAAAAAAAAAAAAAAAAAA/abc/picture.jpg", method=method)
    assert resp.code == 404
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    if method != "HEAD":
        assert resp.body == b"Unknown image\n"


def png_data_url(color: str = "red") -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.gen_test
async def test_buddy_image_served_and_dropped_on_disconnect(server):
    a = await server.connect()
    b = await server.connect()
    await a.hello("pictures")
    await b.hello("pictures")
    await a.recv_type("Joined")
    await a.send({"Type": "Status", "Status": {"Type": "Status",
                                               "Status": {"displayName": "A", "buddyPicture": png_data_url()}}})
    status = await b.recv_type("Status")
    picture = status["Data"]["Status"]["buddyPicture"]
    assert picture.startswith("img:")
    image_id, change_id, filename = picture[4:].split("/")
    assert len(image_id) == 20 and filename == "picture.png"

    path = f"static/img/buddy/s46/{image_id}/{change_id}/{filename}"
    resp = await server.fetch(path, decompress_response=False, headers={"Accept-Encoding": "gzip"})
    assert resp.code == 200
    assert resp.headers["Content-Type"] == "image/png"
    assert resp.headers["ETag"] == change_id  # unquoted
    assert resp.headers["Cache-Control"] == "public, no-transform, max-age=86400"
    assert "Content-Encoding" not in resp.headers
    assert abs(http_date(resp.headers["Expires"]) - (time.time() + 86400)) < 120
    assert abs(http_date(resp.headers["Last-Modified"]) - time.time()) < 120
    assert Image.open(io.BytesIO(resp.body)).size == (8, 8)

    # {flags} and {idx} are ignored.
    other = await server.fetch(f"static/img/buddy/zz/{image_id}/whatever/else/x.gif")
    assert other.code == 200 and other.body == resp.body
    # Conditional requests.
    for match in (change_id, "*"):
        resp304 = await server.fetch(path, headers={"If-None-Match": match})
        assert resp304.code == 304 and resp304.body == b""
    assert (await server.fetch(path, headers={"If-None-Match": "different"})).code == 200
    resp304 = await server.fetch(path, headers={"If-Modified-Since": resp.headers["Last-Modified"]})
    assert resp304.code == 304
    old = email.utils.formatdate(time.time() - 3600, usegmt=True)
    assert (await server.fetch(path, headers={"If-Modified-Since": old})).code == 200
    head = await server.fetch(path, method="HEAD")
    assert head.code == 200 and head.body == b"" and head.headers["Content-Type"] == "image/png"
    assert head.headers["Content-Length"] == str(len(resp.body))

    a.close()
    for _ in range(100):
        resp = await server.fetch(path)
        if resp.code == 404:
            break
        await asyncio.sleep(0.02)
    assert resp.code == 404 and resp.body == b"Unknown image\n"
    b.close()
