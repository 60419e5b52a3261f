"""A client for Janus's websocket API: one session, transactions, keepalives and reconnects.

Only our server talks to Janus (browsers never see its API), so this is the single place that knows
the wire format. Everything is bounded: pending transactions time out, and a reply that never
comes fails its caller instead of piling up.
"""
from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Awaitable, Callable

import orjson
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, websocket_connect

log = logging.getLogger("spreed.sfu")
REQUEST_TIMEOUT = 10.0
MAX_PENDING = 2000
MAX_MESSAGE = 4 << 20

EventCallback = Callable[[int, dict[str, Any]], None]


class JanusError(Exception):
    """Janus answered with an error (code and reason as Janus gives them)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"janus error {code}: {reason}")
        self.code = code
        self.reason = reason


class JanusGone(Exception):
    """The connection to Janus is down (or never came up); the caller falls back to mesh."""


class JanusClient:
    """One websocket and one Janus session; `request` sends and awaits the matching reply."""

    def __init__(self, url: str, api_secret: str = "", keepalive: float = 10.0,
                 timeout: float = REQUEST_TIMEOUT) -> None:
        self.url = url
        self.api_secret = api_secret
        self.keepalive_interval = keepalive
        self.timeout = timeout
        self.ws: WebSocketClientConnection | None = None
        self.session_id = 0
        self.keepalives = 0  # answered keepalives, for tests and stats
        self.pending: dict[str, tuple[asyncio.Future, bool]] = {}
        self.on_event: EventCallback | None = None  # (handle id, message) for unsolicited messages
        self._reader: asyncio.Task | None = None
        self._keeper: asyncio.Task | None = None
        self.closed_event = asyncio.Event()

    @property
    def up(self) -> bool:
        return self.ws is not None and self.session_id != 0

    async def connect(self, timeout: float = 5.0) -> None:
        """Open the websocket and create our session; JanusGone when Janus does not answer."""
        request = HTTPRequest(self.url, connect_timeout=timeout, request_timeout=timeout)
        try:
            self.ws = await asyncio.wait_for(
                websocket_connect(request, subprotocols=["janus-protocol"], max_message_size=MAX_MESSAGE),
                timeout)
        except (OSError, asyncio.TimeoutError, Exception) as exc:  # tornado raises several kinds
            self.ws = None
            raise JanusGone(f"cannot reach Janus at {self.url} ({exc or type(exc).__name__})") from None
        self.closed_event = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        reply = await self.request({"janus": "create"}, session=False)
        self.session_id = int(reply["data"]["id"])
        self._keeper = asyncio.create_task(self._keepalive())

    async def info(self) -> dict[str, Any]:
        return await self.request({"janus": "info"}, session=False)

    async def request(self, body: dict[str, Any], handle: int = 0, session: bool = True,
                      wait_event: bool = False, timeout: float | None = None) -> dict[str, Any]:
        """Send one request and await its reply (for asynchronous plugin requests: the event)."""
        ws = self.ws
        if ws is None or (session and not self.session_id):
            raise JanusGone("Janus is not connected")
        if len(self.pending) >= MAX_PENDING:
            raise JanusGone("too many Janus requests in flight")
        transaction = os.urandom(9).hex()
        doc = dict(body, transaction=transaction)
        if session:
            doc["session_id"] = self.session_id
        if handle:
            doc["handle_id"] = handle
        if self.api_secret:
            doc["apisecret"] = self.api_secret
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.pending[transaction] = (future, wait_event)
        try:
            try:
                await ws.write_message(orjson.dumps(doc).decode())
            except WebSocketClosedError:
                raise JanusGone("Janus connection closed") from None
            reply = await asyncio.wait_for(future, timeout or self.timeout)
        except asyncio.TimeoutError:
            raise JanusGone(f"Janus did not answer {body.get('janus')} in time") from None
        finally:
            self.pending.pop(transaction, None)
        if reply.get("janus") == "error":
            err = reply.get("error") or {}
            raise JanusError(int(err.get("code", 0)), str(err.get("reason", "")))
        data = (reply.get("plugindata") or {}).get("data") or {}
        if data.get("error_code"):
            raise JanusError(int(data["error_code"]), str(data.get("error", "")))
        return reply

    async def _read(self) -> None:
        ws = self.ws
        try:
            while ws is not None:
                text = await ws.read_message()
                if text is None:
                    break
                try:
                    msg = orjson.loads(text)
                except orjson.JSONDecodeError:
                    log.warning("Janus sent a message that is not JSON")
                    continue
                if isinstance(msg, dict):
                    self._dispatch(msg)
        finally:
            self._lost()

    def _dispatch(self, msg: dict[str, Any]) -> None:
        entry = self.pending.get(str(msg.get("transaction", "")))
        kind = msg.get("janus")
        if entry is not None:
            future, wait_event = entry
            if kind == "ack" and wait_event:
                return  # the event with the answer follows with the same transaction
            if not future.done():
                future.set_result(msg)
            return
        if self.on_event is not None and kind not in ("ack", "success", "server_info"):
            try:
                self.on_event(int(msg.get("sender") or 0), msg)
            except Exception:  # one bad event must not stop the reader
                log.exception("error handling a Janus %s event", kind)

    async def _keepalive(self) -> None:
        while self.up:
            await asyncio.sleep(self.keepalive_interval)
            try:
                await self.request({"janus": "keepalive"}, timeout=self.keepalive_interval)
                self.keepalives += 1
            except (JanusGone, JanusError) as exc:
                log.warning("Janus keepalive failed (%s): reconnecting", exc)
                self.close()
                return

    def _lost(self) -> None:
        was_up = self.ws is not None
        self.ws = None
        self.session_id = 0
        for future, _ in list(self.pending.values()):
            if not future.done():
                future.set_exception(JanusGone("Janus connection lost"))
        self.pending.clear()
        if self._keeper is not None and self._keeper is not asyncio.current_task():
            self._keeper.cancel()
        if was_up:
            self.closed_event.set()

    def close(self) -> None:
        ws = self.ws
        if ws is not None:
            ws.close()
        self._lost()


async def probe(url: str, api_secret: str = "", timeout: float = 3.0) -> dict[str, Any]:
    """Janus's `info` answer (for --check); JanusGone when it does not answer."""
    client = JanusClient(url, api_secret, timeout=timeout)
    request = HTTPRequest(url, connect_timeout=timeout, request_timeout=timeout)
    try:
        client.ws = await asyncio.wait_for(websocket_connect(request, subprotocols=["janus-protocol"]), timeout)
    except Exception as exc:  # noqa: BLE001 - any failure means "does not answer"
        raise JanusGone(f"cannot reach Janus at {url} ({exc or type(exc).__name__})") from None
    client._reader = asyncio.create_task(client._read())
    try:
        return await client.info()
    finally:
        client.close()


def on_loop(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run a coroutine on a fresh loop (start-up checks run before the server's loop)."""
    return asyncio.run(coro_fn())
