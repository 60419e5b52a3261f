"""Test harness: a real server on a free loopback port (in this process) and real websocket clients."""
from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import tornado.httpclient
import tornado.httpserver
import tornado.testing
import tornado.websocket

from handlers.app import make_app
from handlers.frontdoor import FrontDoor
from spreed.config import Config, build
from spreed.hub import Hub

SESSION_SECRET = "a" * 64
ENCRYPTION_SECRET = "b" * 64
SERVER_TOKEN = "test-server-token"


def test_config(overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """A config with fixed secrets (no secrets file is written) and any overrides by section."""
    sections: dict[str, dict[str, Any]] = {
        "app": {"sessionsecret": SESSION_SECRET, "encryptionsecret": ENCRYPTION_SECRET,
                "servertoken": SERVER_TOKEN},
    }
    for name, options in (overrides or {}).items():
        key = name if name == "roomtypes" else name.lower()
        target = sections.setdefault(key, {})
        target.update(options if key == "roomtypes" else {k.lower(): v for k, v in options.items()})
    return build(sections)


class ServerHandle:
    """A running in-process server: its URLs, hub and config."""

    def __init__(self, hub: Hub, port: int, server: Any) -> None:
        self.hub = hub
        self.config = hub.config
        self.port = port
        self.server = server
        base = hub.config.base_path
        self.url = f"http://127.0.0.1:{port}{base}"
        self.ws_url = f"ws://127.0.0.1:{port}{base}ws"

    async def fetch(self, path: str, **kwargs: Any) -> tornado.httpclient.HTTPResponse:
        """An HTTP request relative to the base path; never raises on HTTP errors or redirects."""
        kwargs.setdefault("raise_error", False)
        kwargs.setdefault("follow_redirects", False)
        if kwargs.get("method") in ("POST", "PUT", "PATCH") and "body" not in kwargs:
            kwargs["body"] = b""
        url = path if path.startswith("http") else self.url + path.lstrip("/")
        return await tornado.httpclient.AsyncHTTPClient().fetch(url, **kwargs)

    async def connect(self, token: str = "", headers: dict[str, str] | None = None) -> "WsClient":
        url = self.ws_url + (f"?t={token}" if token else "")
        return await WsClient.connect(url, headers)

    def stop(self) -> None:
        self.server.stop()
        self.hub.stop()


async def start_server(overrides: dict[str, dict[str, Any]] | None = None) -> ServerHandle:
    hub = Hub(test_config(overrides))
    sock, port = tornado.testing.bind_unused_port()
    server = FrontDoor(make_app(hub))  # as server.py serves plain HTTP
    server.add_sockets([sock])
    hub.start()
    return ServerHandle(hub, port, server)


class WsClient:
    """A channeling client: send documents, receive parsed envelopes (each checked to end in '\\n')."""

    _iids = itertools.count(1)

    def __init__(self, conn: tornado.websocket.WebSocketClientConnection) -> None:
        self.conn = conn
        self.self_doc: dict[str, Any] = {}

    @classmethod
    async def connect(cls, url: str, headers: dict[str, str] | None = None) -> "WsClient":
        request = tornado.httpclient.HTTPRequest(url, headers=headers or {})
        client = cls(await tornado.websocket.websocket_connect(request))
        first = await client.recv()
        assert first["Data"]["Type"] == "Self", first
        client.self_doc = first["Data"]
        return client

    @property
    def id(self) -> str:
        return self.self_doc["Id"]

    async def send(self, doc: dict[str, Any] | str | bytes) -> None:
        await self.conn.write_message(doc if isinstance(doc, (str, bytes)) else json.dumps(doc),
                                      binary=isinstance(doc, bytes))

    async def recv(self, timeout: float = 3.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.conn.read_message(), timeout)
        assert raw is not None, "connection closed"
        assert isinstance(raw, str) and raw.endswith("\n"), raw
        return json.loads(raw)

    async def recv_type(self, type_: str, timeout: float = 3.0) -> dict[str, Any]:
        """The next envelope whose Data.Type is type_, skipping others."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            msg = await self.recv(max(0.01, deadline - loop.time()))
            if isinstance(msg.get("Data"), dict) and msg["Data"].get("Type") == type_:
                return msg

    async def request(self, type_: str, payload: Any, timeout: float = 3.0) -> dict[str, Any]:
        """Send with a fresh Iid and return the reply carrying it."""
        iid = str(next(self._iids))
        await self.send({"Type": type_, type_: payload, "Iid": iid})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            msg = await self.recv(max(0.01, deadline - loop.time()))
            if msg.get("Iid") == iid:
                return msg

    async def hello(self, name: str, **extra: Any) -> dict[str, Any]:
        return await self.request("Hello", {"Version": "1.0.0", "Ua": "test", "Name": name, "Type": "", **extra})

    async def silent(self, timeout: float = 0.3) -> bool:
        """True if nothing arrives within timeout."""
        try:
            msg = await asyncio.wait_for(self.conn.read_message(), timeout)
        except asyncio.TimeoutError:
            return True
        raise AssertionError(f"unexpected message: {msg!r}")

    async def closed(self, timeout: float = 3.0) -> bool:
        """True once the server has closed the connection (messages before that are skipped)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            msg = await asyncio.wait_for(self.conn.read_message(), max(0.01, deadline - loop.time()))
            if msg is None:
                return True
        return False

    def close(self) -> None:
        self.conn.close()


async def joined_pair(srv: "ServerHandle", room: str = "r") -> tuple["WsClient", "WsClient"]:
    """Two clients in one room, the first having heard the second join."""
    a = await srv.connect()
    b = await srv.connect()
    await a.hello(room)
    await b.hello(room)
    await a.recv_type("Joined")
    return a, b


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def deploy_doc_block(fence: str, name: str) -> str:
    """A configuration block of docs/deploy.md, so the tests run exactly what the docs say."""
    import re
    text = (project_root() / "docs" / "deploy.md").read_text()
    match = re.search(fence + r"(.*?)```", text, re.S)
    assert match, f"docs/deploy.md has no {name} block"
    return match.group(1)
test_config.__test__ = False  # a helper, not a test


def requires(*tools: str):
    """Skip where a Debian tool is missing on a developer machine; in CI (CI=true) never skip."""
    import os
    import shutil

    import pytest
    missing = [t for t in tools if not shutil.which(t)]
    return pytest.mark.skipif(bool(missing) and not os.environ.get("CI"),
                              reason=f"needs {', '.join(missing)} (installed by .ci/run)")
