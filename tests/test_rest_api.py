"""REST API v1 (protocol.md 3.1-3.4, 3.7; gotchas 41, 42, 47; Appendix A/B): config, tokens, rooms, stats."""
from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import urllib.parse
import zlib

import pytest

from helpers import SERVER_TOKEN

CONFIG_KEYS = ["Title", "S", "B", "Token", "Renegotiation", "StunURIs", "TurnURIs", "Tokens", "Version",
               "UsersEnabled", "UsersAllowRegistration", "UsersMode", "DefaultRoomEnabled", "Plugin",
               "AuthorizeRoomCreation", "AuthorizeRoomJoin", "Modules"]
RUNTIME_KEYS = ["goroutines", "alloc", "mallocs", "frees", "pauses", "heap", "stack"]
HUB_KEYS = ["rooms", "connections", "sessions", "users", "count", "broadcastchatmessages", "unicastchatmessages"]

INVALID_TOKEN = b'{\n  "code": "invalid_token",\n  "message": "Invalid token",\n  "success": false\n}'
TOO_LARGE = b'{\n  "code": "auth_too_large",\n  "message": "Auth too large",\n  "success": false\n}'


def form(**fields: str) -> dict:
    return {"method": "POST", "body": urllib.parse.urlencode(fields),
            "headers": {"Content-Type": "application/x-www-form-urlencoded"}}


def assert_empty_405(resp) -> None:
    assert resp.code == 405
    assert resp.body == b""
    assert "Content-Type" not in resp.headers


# ------------------------------------------------------------------ 3.2 config

@pytest.mark.gen_test
async def test_config_defaults_keys_and_format(server):
    resp = await server.fetch("api/v1/config")
    assert resp.code == 200
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "Content-Encoding" not in resp.headers  # route 8 (config) is not gzip-wrapped
    doc = json.loads(resp.body)
    assert list(doc) == CONFIG_KEYS
    ver = server.config.static_ver
    assert doc == {
        "Title": "Spreed WebRTC", "S": f"static/ver={ver}", "B": "/", "Token": SERVER_TOKEN,
        "Renegotiation": False, "StunURIs": [], "TurnURIs": [], "Tokens": False,
        "Version": server.config.version, "UsersEnabled": False, "UsersAllowRegistration": False,
        "UsersMode": "", "DefaultRoomEnabled": True, "Plugin": "", "AuthorizeRoomCreation": False,
        "AuthorizeRoomJoin": False, "Modules": doc["Modules"]}
    assert set(doc["Modules"]) == {"screensharing", "youtube", "presentation", "contacts"}
    assert len(doc["Modules"]) == 4
    # Two-space indentation, no trailing newline (0.2).
    assert resp.body.startswith(b'{\n  "Title": "Spreed WebRTC",\n  "S": ')
    assert resp.body.endswith(b"\n}")


@pytest.mark.gen_test
async def test_config_reflects_options_and_hides_secrets(make_server, tmp_path):
    codes = tmp_path / "codes.txt"
    codes.write_text("abc\n")
    srv = await make_server({
        "http": {"basePath": "/talk"},
        "app": {"title": "My <Talk>", "stunURIs": "stun:a stun:b  stun:a ", "turnURIs": ["turn:x", "turn:x", "turn:y"],
                "renegotiation": True, "turnSecret": "turn-secret-value", "tokenFile": str(codes),
                "plugin": "extra/plugin", "defaultRoomEnabled": False, "authorizeRoomJoin": True,
                "authorizeRoomCreation": True, "globalRoom": "lobby-global", "ver": "12"},
        "modules": {"youtube": False, "contacts": "off"},
        "users": {"enabled": True, "mode": "sharedsecret", "allowRegistration": True,
                  "sharedsecret_secret": "shared-secret-value"},
    })
    resp = await srv.fetch("api/v1/config")
    assert resp.code == 200
    doc = json.loads(resp.body)
    assert list(doc) == CONFIG_KEYS
    assert doc["Title"] == "My <Talk>"
    assert doc["B"] == "/talk/"
    assert doc["S"] == "static/ver=12" + doc["Version"].replace(".", "")
    assert doc["StunURIs"] == ["stun:a", "stun:b"]
    assert doc["TurnURIs"] == ["turn:x", "turn:y"]
    assert doc["Renegotiation"] is True and doc["Tokens"] is True
    assert doc["UsersEnabled"] is True and doc["UsersAllowRegistration"] is True
    assert doc["UsersMode"] == "sharedsecret"
    assert doc["DefaultRoomEnabled"] is False
    assert doc["AuthorizeRoomJoin"] is True and doc["AuthorizeRoomCreation"] is True
    assert doc["Plugin"] == "extra/plugin"
    assert sorted(doc["Modules"]) == ["presentation", "screensharing"]
    # HTML-safe escaping in REST output too (0.2).
    assert b'"My \\u003cTalk\\u003e"' in resp.body
    text = resp.body.decode()
    for secret in ("a" * 64, "b" * 64, "turn-secret-value", "shared-secret-value", "lobby-global", "codes.txt"):
        assert secret not in text


@pytest.mark.gen_test
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
async def test_config_other_methods_405(server, method):
    assert_empty_405(await server.fetch("api/v1/config", method=method))


@pytest.mark.gen_test
async def test_config_trailing_slash_redirects(server):
    resp = await server.fetch("api/v1/config/?x=1")
    assert resp.code == 301
    assert resp.headers["Location"] == "/api/v1/config?x=1"
    assert resp.body == b""


# ------------------------------------------------------------------ 3.1 form parsing

@pytest.mark.gen_test
@pytest.mark.parametrize("path,method", [("api/v1/config?x=%zz", "GET"), ("api/v1/rooms?a=%", "POST"),
                                         ("api/v1/tokens?a=%4", "POST")])
async def test_unparsable_query_is_400_empty(server, path, method):
    resp = await server.fetch(path, method=method)
    assert resp.code == 400
    assert resp.body == b""


@pytest.mark.gen_test
async def test_unparsable_form_body_is_400_empty(server):
    resp = await server.fetch("api/v1/tokens", method="POST", body="a=%G1",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.code == 400
    assert resp.body == b""


# ------------------------------------------------------------------ 3.3 tokens

@pytest.mark.gen_test
async def test_tokens_without_token_file(server):
    resp = await server.fetch("api/v1/tokens", **form(a="anything"))
    assert resp.code == 403
    assert resp.body == INVALID_TOKEN
    assert resp.headers["Content-Type"] == "application/json"
    resp = await server.fetch("api/v1/tokens", **form(a="x" * 101))
    assert resp.code == 413
    assert resp.body == TOO_LARGE
    resp = await server.fetch("api/v1/tokens", method="POST")
    assert resp.code == 403
    assert resp.body == INVALID_TOKEN


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "access-codes.txt"
    path.write_text("# access codes, one a line\n"
                    "Secret-One\n"
                    "   spaced:with:extra:fields\n"
                    "\n"
                    "two:fields\n"
                    "#commented-out\n"
                    "trailing \n"
                    '"Quoted:Code":x\n'
                    "windows\r\n")
    return path


@pytest.mark.gen_test
async def test_tokens_check_codes(make_server, token_file):
    srv = await make_server({"app": {"tokenFile": str(token_file)}})
    assert json.loads((await srv.fetch("api/v1/config")).body)["Tokens"] is True

    resp = await srv.fetch("api/v1/tokens", **form(a="SECRET-one"))
    assert resp.code == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.body == b'{\n  "token": "secret-one",\n  "success": true\n}'

    for code in ("spaced", "two", "trailing ", "quoted:code", "windows"):
        resp = await srv.fetch("api/v1/tokens", **form(a=code))
        assert resp.code == 200, code
        assert json.loads(resp.body) == {"token": code, "success": True}

    for code in ("with", "fields", "#commented-out", "commented-out", "trailing", " secret-one", "",
                 '"quoted', "windows\r", "x"):
        resp = await srv.fetch("api/v1/tokens", **form(a=code))
        assert (resp.code, resp.body) == (403, INVALID_TOKEN), code

    # The length check comes first and counts bytes.
    resp = await srv.fetch("api/v1/tokens", **form(a="é" * 51))
    assert (resp.code, resp.body) == (413, TOO_LARGE)
    resp = await srv.fetch("api/v1/tokens", **form(a="y" * 100))
    assert (resp.code, resp.body) == (403, INVALID_TOKEN)


@pytest.mark.gen_test
async def test_tokens_are_not_enforced_on_the_websocket(make_server, token_file):
    """Gotcha 42: the access code is a client-side gate only."""
    srv = await make_server({"app": {"tokenFile": str(token_file)}})
    client = await srv.connect()
    assert client.self_doc["Type"] == "Self"
    welcome = await client.hello("room")
    assert welcome["Data"]["Type"] == "Welcome"
    client.close()


@pytest.mark.gen_test
async def test_tokens_query_string_and_body_precedence(make_server, token_file):
    srv = await make_server({"app": {"tokenFile": str(token_file)}})
    resp = await srv.fetch("api/v1/tokens?a=Two", method="POST")
    assert resp.code == 200 and json.loads(resp.body)["token"] == "two"
    # A form body value wins over the query string (Go's Request.Form order).
    resp = await srv.fetch("api/v1/tokens?a=nope", **form(a="two"))
    assert resp.code == 200 and json.loads(resp.body)["token"] == "two"
    # The first value of a repeated field counts.
    resp = await srv.fetch("api/v1/tokens?a=two&a=nope", method="POST")
    assert resp.code == 200 and json.loads(resp.body)["token"] == "two"


@pytest.mark.gen_test
async def test_tokens_file_reloaded_on_change(make_server, token_file):
    srv = await make_server({"app": {"tokenFile": str(token_file)}})
    assert (await srv.fetch("api/v1/tokens", **form(a="two"))).code == 200
    assert (await srv.fetch("api/v1/tokens", **form(a="fresh"))).code == 403

    before = os.stat(token_file).st_mtime
    token_file.write_text("Fresh\n")
    os.utime(token_file, (before + 5, before + 5))
    assert (await srv.fetch("api/v1/tokens", **form(a="fresh"))).code == 200
    assert (await srv.fetch("api/v1/tokens", **form(a="two"))).code == 403

    # A vanished file keeps the codes we had.
    token_file.unlink()
    assert (await srv.fetch("api/v1/tokens", **form(a="fresh"))).code == 200


@pytest.mark.gen_test
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD", "OPTIONS"])
async def test_tokens_other_methods_405(make_server, token_file, method):
    srv = await make_server({"app": {"tokenFile": str(token_file)}})
    assert_empty_405(await srv.fetch("api/v1/tokens?a=two", method=method))


@pytest.mark.gen_test
async def test_tokens_is_gzip_wrapped(server):
    resp = await server.fetch("api/v1/tokens", decompress_response=False,
                              headers={"Accept-Encoding": "gzip"}, method="POST", body="a=zz")
    assert resp.code == 403
    assert resp.headers.get("Content-Encoding") == "gzip"
    assert gzip.decompress(resp.body) == INVALID_TOKEN


# ------------------------------------------------------------------ 3.4 rooms

@pytest.mark.gen_test
async def test_rooms_random_name(server):
    names = set()
    for _ in range(3):
        resp = await server.fetch("api/v1/rooms", method="POST")
        assert resp.code == 200
        assert resp.headers["Content-Type"] == "application/json"
        doc = json.loads(resp.body)
        assert list(doc) == ["name", "url"]  # no "success" (gotcha 41)
        assert re.fullmatch(r"[A-Za-z0-9]{11}", doc["name"])
        assert doc["url"] == "/" + doc["name"]
        assert resp.body == f'{{\n  "name": "{doc["name"]}",\n  "url": "/{doc["name"]}"\n}}'.encode()
        names.add(doc["name"])
    assert len(names) == 3


@pytest.mark.gen_test
async def test_rooms_url_ignores_base_path(make_server):
    srv = await make_server({"http": {"basePath": "/talk/"}})
    resp = await srv.fetch("api/v1/rooms", method="POST")
    assert resp.code == 200
    doc = json.loads(resp.body)
    assert doc["url"] == "/" + doc["name"]


@pytest.mark.gen_test
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
async def test_rooms_other_methods_405(server, method):
    assert_empty_405(await server.fetch("api/v1/rooms", method=method))


@pytest.mark.gen_test
async def test_rooms_not_gzip_wrapped(server):
    resp = await server.fetch("api/v1/rooms", method="POST", decompress_response=False,
                              headers={"Accept-Encoding": "gzip"})
    assert resp.code == 200
    assert "Content-Encoding" not in resp.headers
    assert json.loads(resp.body)["url"].startswith("/")


# ------------------------------------------------------------------ 3.7 stats

def assert_counters(doc: dict) -> None:
    assert list(doc) == ["runtime", "hub"]
    assert list(doc["runtime"]) == RUNTIME_KEYS
    for key, value in doc["runtime"].items():
        assert isinstance(value, int) and not isinstance(value, bool) and value >= 0, key


@pytest.mark.gen_test
async def test_stats_disabled_falls_through(server):
    resp = await server.fetch("api/v1/stats")
    assert resp.code == 200
    assert resp.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert b'id="globalcontext"' in resp.body
    resp = await server.fetch("api/v1/stats?details=1", method="POST")
    assert resp.code == 404
    assert resp.body == b"404 page not found\n"


@pytest.mark.gen_test
async def test_stats_empty_hub(make_server):
    srv = await make_server({"http": {"stats": True}})
    resp = await srv.fetch("api/v1/stats")
    assert resp.code == 200
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    doc = json.loads(resp.body)
    assert_counters(doc)
    assert doc["hub"] == dict.fromkeys(HUB_KEYS, 0)
    assert list(doc["hub"]) == HUB_KEYS
    assert doc["runtime"]["heap"] > 0 and doc["runtime"]["goroutines"] >= 1
    assert resp.body.startswith(b'{\n  "runtime": {\n    "goroutines": ')


@pytest.mark.gen_test
async def test_stats_counters_and_details(make_server):
    srv = await make_server({"http": {"stats": True}})
    a = await srv.connect()
    b = await srv.connect()
    await a.hello("statsroom")
    await b.hello("statsroom")
    await a.recv_type("Joined")
    await a.send({"Type": "Status", "Status": {"Type": "Status", "Status": {"displayName": "Alice"}}})
    await b.recv_type("Status")
    await a.send({"Type": "Chat", "Chat": {"To": "", "Type": "Chat", "Chat": {"Message": "all"}}})
    await b.recv_type("Chat")
    await a.send({"Type": "Chat", "Chat": {"To": b.id, "Type": "Chat", "Chat": {"Message": "you"}}})
    await b.recv_type("Chat")

    resp = await srv.fetch("api/v1/stats")
    doc = json.loads(resp.body)
    assert_counters(doc)
    assert list(doc["hub"]) == HUB_KEYS
    assert doc["hub"] == {"rooms": 1, "connections": 2, "sessions": 2, "users": 0, "count": 2,
                          "broadcastchatmessages": 1, "unicastchatmessages": 1}

    for query in ("details=0", "details=true", "details=", "details=11"):
        doc = json.loads((await srv.fetch("api/v1/stats?" + query)).body)
        assert list(doc["hub"]) == HUB_KEYS, query

    resp = await srv.fetch("api/v1/stats?details=1")
    doc = json.loads(resp.body)
    assert list(doc["hub"]) == HUB_KEYS + ["sessionsbyid", "connectionsbyidx"]
    byid = doc["hub"]["sessionsbyid"]
    assert set(byid) == {a.id, b.id}
    assert byid[a.id] == {"Type": "", "Id": a.id, "Ua": "test", "Rev": 2, "Prio": 100,
                          "Status": {"displayName": "Alice"}}
    assert byid[b.id] == {"Type": "", "Id": b.id, "Ua": "test", "Rev": 1, "Prio": 100}
    assert doc["hub"]["connectionsbyidx"] == {"1": a.id, "2": b.id}
    # Never any secret: no Sid, no session token.
    for client in (a, b):
        assert client.self_doc["Sid"] not in resp.body.decode()
        assert client.self_doc["Token"] not in resp.body.decode()
    assert "Sid" not in resp.body.decode() and "Token" not in resp.body.decode()
    assert "idsinroom" not in doc["hub"] and "usersbyid" not in doc["hub"]

    # A disconnect drops the session; count is monotonic; a reconnect gets the next index.
    b.close()
    for _ in range(100):
        doc = json.loads((await srv.fetch("api/v1/stats?details=1")).body)
        if doc["hub"]["connections"] == 1:
            break
        await asyncio.sleep(0.02)
    assert doc["hub"]["connections"] == doc["hub"]["sessions"] == 1
    assert doc["hub"]["count"] == 2
    assert doc["hub"]["connectionsbyidx"] == {"1": a.id}
    assert list(doc["hub"]["sessionsbyid"]) == [a.id]
    c = await srv.connect(token=a.self_doc["Token"])
    assert c.id == a.id
    doc = json.loads((await srv.fetch("api/v1/stats?details=1")).body)
    assert doc["hub"]["count"] == 3
    assert doc["hub"]["connections"] == 1
    assert doc["hub"]["connectionsbyidx"] == {"3": a.id}
    c.close()
    a.close()


@pytest.mark.gen_test
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
async def test_stats_other_methods_405(make_server, method):
    srv = await make_server({"http": {"stats": True}})
    assert_empty_405(await srv.fetch("api/v1/stats", method=method))


@pytest.mark.gen_test
async def test_stats_is_gzip_wrapped(make_server):
    srv = await make_server({"http": {"stats": True}})
    resp = await srv.fetch("api/v1/stats", decompress_response=False, headers={"Accept-Encoding": "deflate"})
    assert resp.code == 200
    assert resp.headers.get("Content-Encoding") == "deflate"
    assert list(json.loads(zlib.decompress(resp.body))) == ["runtime", "hub"]
