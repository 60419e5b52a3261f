"""A real `python server.py -c <config>` subprocess on a free loopback port, for tests of the process
itself (signals, restarts, listeners, logs, memory)."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tornado.httpclient
import yaml

from helpers import ENCRYPTION_SECRET, SESSION_SECRET, project_root

SERVER = project_root() / "server.py"
TURN_SECRET = "turn-secret-9876543210"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`python server.py -c <config>` on a free loopback port; killed at teardown if still running."""

    def __init__(self, tmp_path: Path, sections: dict, *args: str) -> None:
        self.port = free_port()
        sections = {**sections, "http": {"listen": f"127.0.0.1:{self.port}", **sections.get("http", {})}}
        sections["app"] = {"sessionSecret": SESSION_SECRET, "encryptionSecret": ENCRYPTION_SECRET,
                           "serverToken": "process-test", "turnSecret": TURN_SECRET,
                           "turnURIs": "turn:turn.example:3478", **sections.get("app", {})}
        self.config_path = tmp_path / "config.yaml"
        self.config_path.write_text(yaml.safe_dump(sections))
        self.args = args
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ServerProcess":
        self.proc = subprocess.Popen([sys.executable, str(SERVER), "-c", str(self.config_path), *self.args],
                                     cwd=project_root(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        return self

    async def ready(self, url: str = "", **kwargs) -> None:
        url = url or f"http://127.0.0.1:{self.port}/api/v1/config"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read().decode()
            try:
                await tornado.httpclient.AsyncHTTPClient().fetch(url, request_timeout=1, **kwargs)
                return
            except (OSError, tornado.httpclient.HTTPClientError):
                await asyncio.sleep(0.05)
        raise AssertionError("server did not answer")

    async def terminate(self) -> float:
        """SIGTERM; returns how long the process took to exit."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        while self.proc.poll() is None:
            assert time.monotonic() - started < 10, "server ignored SIGTERM"
            await asyncio.sleep(0.02)
        assert self.proc.returncode == 0, self.proc.stderr.read().decode()
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(5)
            self.proc.stderr.close()

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def rss(self) -> int:
        """The process's resident memory now, in bytes."""
        with open(f"/proc/{self.proc.pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def processes():
    started: list[ServerProcess] = []

    def factory(tmp_path: Path, sections: dict, *args: str) -> ServerProcess:
        server = ServerProcess(tmp_path, sections, *args)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.kill()
