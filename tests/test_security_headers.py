"""Security headers and the websocket Origin check (issue #6 item 6, docs/security.md): a strict default
Content-Security-Policy for our client, nosniff and no-referrer everywhere, the server's own origin
(plus http.allowedOrigins) for websockets, and access logs that never show query values."""
from __future__ import annotations

import json
import logging
import re

import pytest
import tornado.httpclient
import tornado.websocket

from handlers.security import default_csp, origin_allowed, redacted_uri
from helpers import test_config
from spreed.config import ConfigError


def directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


@pytest.mark.gen_test
async def test_default_csp_of_the_page(server):
    resp = await server.fetch("someroom")
    policy = directives(resp.headers["Content-Security-Policy"])
    host = f"127.0.0.1:{server.port}"
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:", "blob:"]
    assert policy["media-src"] == ["'self'", "blob:"]
    assert policy["connect-src"] == ["'self'", f"ws://{host}/ws", f"wss://{host}/ws"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'self'"]
    assert not any("unsafe" in v or v == "*" for values in policy.values() for v in values)
    # nothing in the page needs an exception: every script is a file from 'self' or JSON data
    for tag in re.findall(rb"<script\b[^>]*>", resp.body):
        assert b' src="' in tag or b'type="application/json"' in tag, tag
    assert not re.search(rb"<style|\sstyle=|\son[a-z]+=", resp.body, re.IGNORECASE)


@pytest.mark.gen_test
async def test_default_csp_follows_base_path_and_host(make_server):
    srv = await make_server({"http": {"basePath": "/talk/"}})
    resp = await srv.fetch("", headers={"Host": "chat.example.org"})
    assert "connect-src 'self' ws://chat.example.org/talk/ws wss://chat.example.org/talk/ws;" \
        in resp.headers["Content-Security-Policy"]
    # a Host that could smuggle directives leaves the policy with 'self' only
    assert default_csp("evil.example; script-src *", "/") == default_csp("", "/")
    assert "connect-src 'self';" in default_csp("", "/")


@pytest.mark.gen_test
async def test_configured_csp_replaces_the_default(make_server):
    srv = await make_server({"app": {"contentSecurityPolicy": "default-src 'self'"}})
    resp = await srv.fetch("")
    assert resp.headers["Content-Security-Policy"] == "default-src 'self'"


@pytest.mark.gen_test
async def test_status_page_has_the_default_csp(make_server):
    srv = await make_server({"http": {"stats": True}})
    resp = await srv.fetch("status")
    assert resp.code == 200
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self';")


@pytest.mark.gen_test
@pytest.mark.parametrize("path, method", [("", "GET"), ("room", "GET"), ("static/css/app.css", "GET"),
                                          ("api/v1/config", "GET"), ("api/v1/rooms", "POST"),
                                          ("api/v1/nothing/here", "POST"), ("ws", "GET"), ("a/../b", "GET"),
                                          ("robots.txt", "GET"), ("static/nope.js", "GET")])
async def test_nosniff_and_no_referrer_everywhere(server, path, method):
    resp = await server.fetch(path, method=method)
    assert resp.headers["X-Content-Type-Options"] == "nosniff", resp.code
    assert resp.headers["Referrer-Policy"] == "no-referrer", resp.code


# ---------------------------------------------------------------- websocket Origin

async def ws_connect(srv, origin: str | None, **headers: str):
    if origin is not None:
        headers["Origin"] = origin
    request = tornado.httpclient.HTTPRequest(srv.ws_url, headers=headers)
    return await tornado.websocket.websocket_connect(request)


async def origin_refused(srv, origin: str, **headers: str) -> None:
    with pytest.raises(tornado.httpclient.HTTPClientError) as exc:
        await ws_connect(srv, origin, **headers)
    assert exc.value.code == 403
    body = exc.value.response.body if exc.value.response else b""
    if body:
        assert json.loads(body)["code"] == "origin_not_allowed"


@pytest.mark.gen_test
async def test_websocket_origin_default_is_the_servers_own(server, make_server):
    own = f"http://127.0.0.1:{server.port}"
    for origin in (own, own.upper().replace("HTTP", "https"), None):  # and non-browser clients
        conn = await ws_connect(server, origin)
        assert json.loads(await conn.read_message())["Data"]["Type"] == "Self"
        conn.close()
    for origin in ("https://evil.example", "null", f"http://127.0.0.1:{server.port + 1}", "file://"):
        await origin_refused(server, origin)


@pytest.mark.gen_test
async def test_refused_origin_answers_json_and_logs_once(server):
    handler = Collect()
    logging.getLogger("spreed.limits").addHandler(handler)
    try:
        client = tornado.httpclient.AsyncHTTPClient()
        for _ in range(3):
            resp = await client.fetch(server.ws_url.replace("ws://", "http://"), raise_error=False, headers={
                "Origin": "https://evil.example", "Connection": "Upgrade", "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
            assert resp.code == 403
            assert json.loads(resp.body) == {"code": "origin_not_allowed", "success": False,
                                             "message": "Websocket connections from this origin are not allowed"}
    finally:
        logging.getLogger("spreed.limits").removeHandler(handler)
    assert len([line for line in handler.lines if "https://evil.example" in line]) == 1
    assert not server.hub.sessions


@pytest.mark.gen_test
async def test_allowed_origins_option(make_server):
    srv = await make_server({"http": {"allowedOrigins": ["https://embed.example", "http://localhost:3000"]}})
    for origin in ("https://embed.example", "http://localhost:3000", f"http://127.0.0.1:{srv.port}"):
        conn = await ws_connect(srv, origin)
        conn.close()
    for origin in ("http://embed.example", "https://embed.example:8443", "https://other.example"):
        await origin_refused(srv, origin)
    anything = await make_server({"http": {"allowedOrigins": "*"}})
    (await ws_connect(anything, "https://whoever.example")).close()
    (await ws_connect(anything, "null")).close()


@pytest.mark.gen_test
async def test_origin_behind_a_trusted_proxy_uses_x_forwarded_host(make_server):
    srv = await make_server({})
    conn = await ws_connect(srv, "https://chat.example.org", **{"X-Forwarded-Host": "chat.example.org"})
    conn.close()
    untrusting = await make_server({"http": {"trustedProxies": []}})
    await origin_refused(untrusting, "https://chat.example.org", **{"X-Forwarded-Host": "chat.example.org"})


def test_origin_rules():
    assert origin_allowed("https://a.example", "a.example", [])
    assert origin_allowed("https://a.example", "a.example:443", [])
    assert origin_allowed("http://a.example:8080", "a.example:8080", [])
    assert not origin_allowed("https://a.example.evil", "a.example", [])
    assert not origin_allowed("https://a.example@evil", "a.example", [])
    assert not origin_allowed("javascript://a.example", "a.example", [])
    assert origin_allowed("https://b.example", "a.example", ["https://b.example"])
    with pytest.raises(ConfigError) as exc:
        test_config({"http": {"allowedOrigins": "b.example"}})
    assert exc.value.option == "http.allowedOrigins"
    assert test_config({"http": {"allowedOrigins": "HTTPS://B.example/"}}).allowed_origins == ["https://b.example"]


# ---------------------------------------------------------------- logs

class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_query_values_are_redacted():
    assert redacted_uri("/ws?t=secret-token") == "/ws?t=…"
    assert redacted_uri("/api/v1/stats?details=1&history=1") == "/api/v1/stats?details=…&history=…"
    assert redacted_uri("/room") == "/room"


@pytest.mark.gen_test
async def test_access_log_hides_the_session_token(server):
    handler = Collect()
    access = logging.getLogger("tornado.access")
    level = access.level
    access.setLevel(logging.DEBUG)
    access.addHandler(handler)
    try:
        first = await server.connect()
        token = first.self_doc["Token"]
        first.close()
        again = await server.connect(token=token)
        again.close()
        await server.fetch(f"api/v1/tokens?a={token}", method="POST")
        await server.fetch(f"nowhere/x?t={token}", method="DELETE")  # a 404 is logged as a warning
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert any("/ws?t=…" in line for line in handler.lines), handler.lines
    assert not any(token in line for line in handler.lines)
