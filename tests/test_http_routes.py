"""HTTP routing and pages (protocol.md 2.1-2.4, 2.7, 2.8; gotchas 38-40, 45; checklist 10 HTTP)."""
from __future__ import annotations

import gzip
import json
import re
import zlib

import pytest

from helpers import SERVER_TOKEN

NOT_FOUND = b"404 page not found\n"
CONTEXT_KEYS = ["App", "Cfg", "Host", "Ssl", "Csp", "Languages", "S"]


def context_of(body: bytes) -> dict:
    """The globalcontext JSON of a page (2.4.2)."""
    match = re.search(rb'<script id="globalcontext" type="application/json">(.*?)</script>', body, re.S)
    assert match, body[:500]
    return json.loads(match.group(1))


def assert_page(resp) -> dict:
    assert resp.code == 200, (resp.code, resp.body[:200])
    assert resp.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert resp.headers["Expires"] == "-1"
    assert resp.headers["Cache-Control"] == "private, max-age=0"
    if resp.request.method == "HEAD":
        return {}
    return context_of(resp.body)


def assert_router_404(resp) -> None:
    assert resp.code == 404
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.body == NOT_FOUND


# ------------------------------------------------------------------ 2.4 main and room pages

@pytest.mark.gen_test
async def test_main_page_context(server):
    resp = await server.fetch("")
    ctx = assert_page(resp)
    assert list(ctx) == CONTEXT_KEYS
    assert ctx["App"] == "main"
    assert ctx["Host"] == f"127.0.0.1:{server.port}"
    assert ctx["Ssl"] is False and ctx["Csp"] is False
    assert ctx["Languages"] == ["en"]
    assert ctx["S"] == f"static/ver={server.config.static_ver}" == ctx["Cfg"]["S"]
    assert ctx["Cfg"]["Token"] == SERVER_TOKEN
    config = json.loads((await server.fetch("api/v1/config")).body)
    assert ctx["Cfg"] == config and list(ctx["Cfg"]) == list(config)
    assert b'<base href="/">' in resp.body
    # our strict default policy (docs/security.md); app.contentSecurityPolicy replaces it
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self';")
    assert "Content-Security-Policy-Report-Only" not in resp.headers


@pytest.mark.gen_test
@pytest.mark.parametrize("path", ["myroom", "a/b", "a/b/c/d", "%7Eroom", "r%C3%A4um", "api/v1/unknown",
                                  "api/v1/users", "api/v1/sessions/x", "api/v1/pipelines/x", "static",
                                  "ws/extra", "extra/static/x.js"])
async def test_any_get_path_is_the_page(server, path):
    """Gotcha 39: unknown GET paths, even under api/v1 or disabled REST resources, give the page."""
    ctx = assert_page(await server.fetch(path))
    assert list(ctx) == CONTEXT_KEYS


@pytest.mark.gen_test
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
async def test_single_segment_any_method_is_the_page(server, method):
    resp = await server.fetch("myroom", method=method)
    assert_page(resp)
    if method == "HEAD":
        assert resp.body == b""


@pytest.mark.gen_test
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
async def test_multi_segment_non_get_is_404(server, method):
    resp = await server.fetch("a/b", method=method)
    assert resp.code == 404
    if method != "HEAD":
        assert_router_404(resp)


@pytest.mark.gen_test
async def test_disabled_rest_resources_non_get(server):
    """With users disabled, PATCH sessions and POST users are no routes: 404 (2.2)."""
    assert_router_404(await server.fetch("api/v1/sessions/x/", method="PATCH", body="{}"))
    assert_router_404(await server.fetch("api/v1/users", method="POST"))
    assert_router_404(await server.fetch("api/v1/pipelines/x", method="POST"))
    resp = await server.fetch("api/v1/sessions/x/")  # GET: route 13, which strips the slash
    assert (resp.code, resp.headers["Location"]) == (301, "/api/v1/sessions/x")


@pytest.mark.gen_test
async def test_page_title_is_escaped_in_context(make_server):
    srv = await make_server({"app": {"title": "</script><b>&\u2028"}})
    resp = await srv.fetch("room")
    ctx = assert_page(resp)
    assert ctx["Cfg"]["Title"] == "</script><b>&\u2028"
    raw = re.search(rb'id="globalcontext" type="application/json">(.*?)</script>', resp.body, re.S).group(1)
    assert b"\\u003c/script\\u003e\\u003cb\\u003e\\u0026\\u2028" in raw
    assert b"<b>" not in resp.body


@pytest.mark.gen_test
async def test_page_host_and_forwarded_proto(server):
    ctx = assert_page(await server.fetch("", headers={"Host": "talk.example.com:8443"}))
    assert ctx["Host"] == "talk.example.com:8443" and ctx["Ssl"] is False
    ctx = assert_page(await server.fetch("r", headers={"Host": "talk.example.com", "X-Forwarded-Proto": "https"}))
    assert ctx["Host"] == "talk.example.com" and ctx["Ssl"] is True
    ctx = assert_page(await server.fetch("r", headers={"X-Forwarded-Proto": "http"}))
    assert ctx["Ssl"] is False
    ctx = assert_page(await server.fetch("r", headers={"X-Forwarded-Proto": "wss"}))
    assert ctx["Ssl"] is False


@pytest.mark.gen_test
async def test_forwarded_proto_ignored_from_untrusted_peer(make_server):
    srv = await make_server({"http": {"trustedProxies": ["10.1.2.3"]}})
    ctx = assert_page(await srv.fetch("r", headers={"X-Forwarded-Proto": "https"}))
    assert ctx["Ssl"] is False
    resp = await srv.fetch(".well-known/spreed-configuration", headers={"X-Forwarded-Proto": "https"})
    assert json.loads(resp.body)["spreed-webrtc_endpoint"] == f"http://127.0.0.1:{srv.port}"


@pytest.mark.gen_test
async def test_forwarded_proto_trusted_network(make_server):
    srv = await make_server({"http": {"trustedProxies": "10.0.0.0/8 127.0.0.0/8"}})
    ctx = assert_page(await srv.fetch("r", headers={"X-Forwarded-Proto": "https"}))
    assert ctx["Ssl"] is True


@pytest.mark.gen_test
@pytest.mark.parametrize("header,expected", [
    (None, ["en"]),
    ("", ["en"]),
    ("de-DE,de;q=0.9,en;q=0.8", ["de-de", "de", "en"]),
    ("fr;q=0.5, en; q=0.8", ["en", "fr"]),          # "; q=" with a space counts as no quality
    ("da;q=0,en;q=0.5", ["da", "en"]),              # q=0 ranks by position, it does not exclude
    ("en;q=0.3,it;q=abc", ["it", "en"]),            # an unparsable quality is 1
    ("EN_us, ,PT-br;q=0.9", ["en_us", "pt-br"]),    # lowercased, underscores kept, empty items skipped
    (",,", ["en"]),
])
async def test_languages(server, header, expected):
    headers = {} if header is None else {"Accept-Language": header}
    ctx = assert_page(await server.fetch("", headers=headers))
    assert ctx["Languages"] == expected


@pytest.mark.gen_test
async def test_csp_headers(make_server):
    srv = await make_server({"app": {"contentSecurityPolicy": "default-src 'self'; img-src 'self' data:",
                                     "contentSecurityPolicyReportOnly": "default-src 'none'"}})
    for path in ("", "room", "a/b"):
        resp = await srv.fetch(path)
        ctx = assert_page(resp)
        assert resp.headers["Content-Security-Policy"] == "default-src 'self'; img-src 'self' data:"
        assert resp.headers["Content-Security-Policy-Report-Only"] == "default-src 'none'"
        assert ctx["Csp"] is True
    srv = await make_server({"app": {"contentSecurityPolicyReportOnly": "default-src 'none'"}})
    resp = await srv.fetch("")
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self';")
    assert resp.headers["Content-Security-Policy-Report-Only"] == "default-src 'none'"
    assert assert_page(resp)["Csp"] is True


@pytest.mark.gen_test
async def test_crawler_page(server):
    for path in ("myroom?_escaped_fragment_=", "myroom?_escaped_fragment_", "myroom?x=1&_escaped_fragment_=y"):
        resp = await server.fetch(path)
        assert resp.code == 200
        assert resp.headers["Content-Type"] == "text/html; charset=UTF-8"
        assert b'<meta property="og:title" content="/myroom" />' in resp.body
        assert b'<meta property="og:site_name" content="Spreed WebRTC"/>' in resp.body
        image = f'content="http://127.0.0.1:{server.port}/static/img/opengraph-image.png"'.encode()
        assert image in resp.body
        assert b"globalcontext" not in resp.body
    resp = await server.fetch("myroom?_escaped_fragment_=", headers={"X-Forwarded-Proto": "https", "Host": "ex.org"})
    assert b'content="https://ex.org/static/img/opengraph-image.png"' in resp.body
    resp = await server.fetch("a/b%20c?_escaped_fragment_=")
    assert b'content="/a/b c"' in resp.body
    resp = await server.fetch("?_escaped_fragment_=")
    assert b'<meta property="og:title" content="/" />' in resp.body
    # A form body parameter counts too.
    resp = await server.fetch("myroom", method="POST", body="_escaped_fragment_=",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert b'og:title' in resp.body and b"globalcontext" not in resp.body


@pytest.mark.gen_test
async def test_crawler_page_escapes(make_server):
    srv = await make_server({"app": {"title": 'A "quoted" <title>'}})
    resp = await srv.fetch("%3Cb%3E?_escaped_fragment_=")
    assert resp.code == 200
    assert b"<b>" not in resp.body
    assert b"&lt;b&gt;" in resp.body
    assert b'"quoted"' not in resp.body


# ------------------------------------------------------------------ 2.1 router rules

@pytest.mark.gen_test
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
@pytest.mark.parametrize("path,location", [
    ("myroom/", "/myroom"),
    ("a/b/", "/a/b"),
    ("api/v1/config/", "/api/v1/config"),
    ("api/v1/rooms/", "/api/v1/rooms"),
    ("api/v1/tokens/", "/api/v1/tokens"),
    ("static/", "/static"),
    (".well-known/spreed-configuration/", "/.well-known/spreed-configuration"),
])
async def test_strict_slash_redirect_every_method(server, method, path, location):
    resp = await server.fetch(path + "?q=1&r=%20", method=method)
    if method != "GET" and path == "a/b/":
        assert resp.code == 404  # route 13 is GET only: no route matches, so no redirect either
        return
    assert resp.code == 301
    assert resp.headers["Location"] == location + "?q=1&r=%20"
    assert resp.body == b""


@pytest.mark.gen_test
@pytest.mark.parametrize("path,location", [
    ("//foo", "/foo"),
    ("/a//b", "/a/b"),
    ("/a/./b", "/a/b"),
    ("/a/../b", "/b"),
    ("/a/b/.", "/a/b"),
    ("/a/b/./", "/a/b/"),
    ("/a/b/..", "/a"),
    ("/..", "/"),
    ("/api/v1/../v1/config", "/api/v1/config"),
    ("/static/%2e%2e/%2e%2e/etc/passwd", "/etc/passwd"),
    ("/x/./a:b@c;d=e", "/x/a:b@c;d=e"),
    ("/x/./a%20b%3Fc", "/x/a%20b%3Fc"),
])
async def test_path_cleaning(server, path, location):
    for method in ("GET", "POST"):
        resp = await server.fetch(f"http://127.0.0.1:{server.port}{path}?k=v", method=method)
        assert resp.code == 301, (method, path)
        assert resp.headers["Location"] == location + "?k=v"
        assert resp.body == b""


@pytest.mark.gen_test
async def test_redirects_then_page(server):
    resp = await server.fetch(f"http://127.0.0.1:{server.port}/a/./b/")
    assert (resp.code, resp.headers["Location"]) == (301, "/a/b/")
    resp = await server.fetch("a/b/")
    assert (resp.code, resp.headers["Location"]) == (301, "/a/b")
    assert_page(await server.fetch("a/b"))


@pytest.mark.gen_test
async def test_base_path(make_server):
    srv = await make_server({"http": {"basePath": "/foo/"}})
    root = f"http://127.0.0.1:{srv.port}"
    resp = await srv.fetch(root + "/foo")
    assert (resp.code, resp.headers["Location"]) == (301, "/foo/")
    resp = await srv.fetch(root + "/foo?x=1", method="POST")
    assert (resp.code, resp.headers["Location"]) == (301, "/foo/?x=1")
    for path in ("/", "/bar", "/foobar", "/api/v1/config", "/static/x.js", "/ws", "/fo"):
        assert_router_404(await srv.fetch(root + path))
    ctx = assert_page(await srv.fetch(root + "/foo/"))
    assert ctx["Cfg"]["B"] == "/foo/"
    ctx = assert_page(await srv.fetch(root + "/foo/some/room"))
    assert ctx["Cfg"]["B"] == "/foo/"
    resp = await srv.fetch(root + "/foo/room")
    assert b'<base href="/foo/">' in resp.body
    resp = await srv.fetch(root + "/foo/room/")
    assert (resp.code, resp.headers["Location"]) == (301, "/foo/room")
    resp = await srv.fetch(root + "/foo/api/v1/config")
    assert resp.code == 200 and json.loads(resp.body)["B"] == "/foo/"
    resp = await srv.fetch(root + "/foo/api/v1/config/")
    assert (resp.code, resp.headers["Location"]) == (301, "/foo/api/v1/config")
    resp = await srv.fetch(root + "/foo/a/../b")
    assert (resp.code, resp.headers["Location"]) == (301, "/foo/b")
    resp = await srv.fetch(root + "/foo/x?_escaped_fragment_=")
    assert f'content="http://127.0.0.1:{srv.port}/foo/static/img/opengraph-image.png"'.encode() in resp.body


@pytest.mark.gen_test
async def test_base_path_without_trailing_slash(make_server):
    srv = await make_server({"http": {"basePath": "/webrtc"}})
    resp = await srv.fetch(f"http://127.0.0.1:{srv.port}/webrtc")
    assert (resp.code, resp.headers["Location"]) == (301, "/webrtc/")
    assert json.loads((await srv.fetch("api/v1/config")).body)["B"] == "/webrtc/"


@pytest.mark.gen_test
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD", "OPTIONS"])
async def test_ws_other_methods_405(server, method):
    resp = await server.fetch("ws", method=method)
    assert resp.code == 405
    assert resp.body == b""


# ------------------------------------------------------------------ 2.7 well-known

@pytest.mark.gen_test
async def test_well_known(server):
    resp = await server.fetch(".well-known/spreed-configuration")
    assert resp.code == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.body == f'{{\n  "spreed-webrtc_endpoint": "http://127.0.0.1:{server.port}"\n}}'.encode()
    for method in ("POST", "PUT", "DELETE"):
        resp = await server.fetch(".well-known/spreed-configuration", method=method,
                                  headers={"Host": "example.com", "X-Forwarded-Proto": "https"})
        assert resp.code == 200
        assert json.loads(resp.body) == {"spreed-webrtc_endpoint": "https://example.com"}
    resp = await server.fetch(".well-known/spreed-configuration", headers={"X-Forwarded-Proto": "http"})
    assert json.loads(resp.body) == {"spreed-webrtc_endpoint": f"http://127.0.0.1:{server.port}"}
    resp = await server.fetch(".well-known/spreed-configuration", decompress_response=False,
                              headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in resp.headers


@pytest.mark.gen_test
async def test_well_known_base_path(make_server):
    srv = await make_server({"http": {"basePath": "/webrtc/"}})
    resp = await srv.fetch(".well-known/spreed-configuration",
                           headers={"Host": "example.com", "X-Forwarded-Proto": "https"})
    assert resp.body == b'{\n  "spreed-webrtc_endpoint": "https://example.com/webrtc"\n}'
    assert_router_404(await srv.fetch(f"http://127.0.0.1:{srv.port}/.well-known/spreed-configuration"))


# ------------------------------------------------------------------ 2.8 sandbox

@pytest.mark.gen_test
async def test_sandbox_bad_origin(server):
    for path in ("sandbox/https/example.com/pdfcanvas.html", "sandbox/x/y/odfcanvas.html"):
        resp = await server.fetch(path)
        assert resp.code == 400, path
        assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert resp.body == b"Invalid origin path\n"


@pytest.mark.gen_test
async def test_sandbox_unknown(server):
    resp = await server.fetch("sandbox/https:/example.com:8443/nosuchthing.html")
    assert resp.code == 404
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.body == b"404 Unknown Sandbox\n"


# ------------------------------------------------------------------ 2.3 gzip

@pytest.mark.gen_test
@pytest.mark.parametrize("accept,encoding", [
    ("gzip", "gzip"),
    ("deflate", "deflate"),
    ("br, deflate ,gzip", "deflate"),
    ("identity,  gzip", "gzip"),
    ("gzip;q=1.0", None),
    ("x-gzip, br", None),
    ("", None),
    (None, None),
])
async def test_gzip_page(server, accept, encoding):
    headers = {} if accept is None else {"Accept-Encoding": accept}
    plain = (await server.fetch("room")).body
    resp = await server.fetch("room", headers=headers, decompress_response=False)
    assert resp.code == 200
    if encoding is None:
        assert "Content-Encoding" not in resp.headers
        assert "Vary" not in resp.headers
        assert resp.body == plain
    else:
        assert resp.headers["Content-Encoding"] == encoding
        assert resp.headers["Vary"] == "Accept-Encoding"
        body = gzip.decompress(resp.body) if encoding == "gzip" else zlib.decompress(resp.body)
        assert body == plain


@pytest.mark.gen_test
async def test_gzip_only_on_marked_routes(server):
    headers = {"Accept-Encoding": "gzip"}
    resp = await server.fetch("", headers=headers, decompress_response=False)
    assert resp.headers.get("Content-Encoding") == "gzip"
    resp = await server.fetch("a/b/c", headers=headers, decompress_response=False)
    assert resp.headers.get("Content-Encoding") == "gzip"
    resp = await server.fetch("sandbox/x/y/z.html", headers=headers, decompress_response=False)
    assert resp.headers.get("Content-Encoding") == "gzip"
    assert gzip.decompress(resp.body) == b"Invalid origin path\n"
    for path in ("api/v1/config", "a/b/", "static/img/buddy/s46/nope/x/picture.png"):
        resp = await server.fetch(path, headers=headers, decompress_response=False)
        assert "Content-Encoding" not in resp.headers, path
        assert "Vary" not in resp.headers, path
    resp = await server.fetch("room", method="HEAD", headers=headers, decompress_response=False)
    assert resp.code == 200 and resp.body == b""
