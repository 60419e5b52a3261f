"""Where a new connection goes: a plain-TCP websocket upgrade to the channeling path is answered by
`handlers.wsfast`, every other connection is Tornado's HTTP server's, for its whole life.

The first request is looked at without reading it (MSG_PEEK), so Tornado gets the connection with
every byte still in the socket. TLS listeners and Unix sockets stay entirely Tornado's.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any, Callable

import tornado.httpserver
import tornado.netutil

from .app import SpreedApplication
from .wsfast import MAX_HEAD, parse_upgrade, upgrade

log = logging.getLogger("spreed.ws")
SNIFF_WAIT = 10.0  # seconds a connection may stay silent before Tornado (and its timeouts) take it


class FrontDoor:
    """The listener of a plain HTTP port: Tornado's HTTPServer with a faster entrance for websockets."""

    def __init__(self, app: SpreedApplication, **server_options: Any) -> None:
        self.app = app
        self.server = tornado.httpserver.HTTPServer(app, **server_options)
        self.ws_path = app.hub.config.base_path + "ws"
        self._sockets: list[socket.socket] = []
        self._stop_accepting: list[Callable[[], None]] = []

    def add_sockets(self, sockets: list[socket.socket]) -> None:
        for sock in sockets:
            if sock.family not in (socket.AF_INET, socket.AF_INET6):
                self.server.add_sockets([sock])  # Unix sockets: no peer address for the limits
                continue
            self._sockets.append(sock)
            self._stop_accepting.append(tornado.netutil.add_accept_handler(sock, self._accepted))

    def stop(self) -> None:
        for stop in self._stop_accepting:
            stop()
        for sock in self._sockets:
            sock.close()
        self._stop_accepting, self._sockets = [], []
        self.server.stop()

    def _accepted(self, conn: socket.socket, address: Any) -> None:
        """Wait for the first bytes of the request (or SNIFF_WAIT), then route the connection."""
        conn.setblocking(False)
        loop = asyncio.get_running_loop()
        fd = conn.fileno()

        def readable() -> None:
            loop.remove_reader(fd)
            timer.cancel()
            self._route(conn, address)

        def silent() -> None:
            loop.remove_reader(fd)
            self._to_tornado(conn, address)

        timer = loop.call_later(SNIFF_WAIT, silent)
        loop.add_reader(fd, readable)

    def _route(self, conn: socket.socket, address: Any) -> None:
        try:
            data = conn.recv(MAX_HEAD, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            data = b"-"  # not there after all: Tornado waits for it
        except OSError:
            conn.close()
            return
        if not data:
            conn.close()  # closed before saying anything
            return
        head = parse_upgrade(data, self.ws_path, address[0]) if data.startswith(b"GET ") else None
        if head is None:
            self._to_tornado(conn, address)
            return
        try:
            conn.recv(head.size)  # the head alone: frames the client may have sent already stay queued
        except OSError:
            conn.close()
            return
        try:
            upgrade(self.app.hub, self.app.users_mode, conn, head)
        except Exception:  # noqa: BLE001 - a bug costs this connection (closed, not left hanging)
            log.exception("websocket upgrade failed")
            conn.close()

    def _to_tornado(self, conn: socket.socket, address: Any) -> None:
        self.server._handle_connection(conn, address)  # what its own accept handler does
