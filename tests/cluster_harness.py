"""Real NATS and real server processes for the cluster tests, and a small synchronous peer."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from websockets.sync.client import connect

from helpers import ENCRYPTION_SECRET, SERVER_TOKEN, SESSION_SECRET, project_root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.3):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


class Nats:
    """A nats-server on a free loopback port, restartable on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.workdir / "nats.log", "ab")
        self.proc = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(self.port)],
                                     stdout=log, stderr=log)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


class Node:
    """One `python server.py` process of the cluster."""

    def __init__(self, workdir: Path, name: str, options: dict[str, Any], args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.name = name
        config = {"http": {"listen": f"127.0.0.1:{self.port}", "stats": True},
                  "app": {"sessionSecret": SESSION_SECRET, "encryptionSecret": ENCRYPTION_SECRET,
                          "serverToken": SERVER_TOKEN},
                  "limits": {"enabled": False}}
        for section, values in options.items():
            config.setdefault(section, {}).update(values)
        self.config_path = workdir / f"{name}.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = workdir / f"{name}.log"
        self.proc = subprocess.Popen([sys.executable, str(project_root() / "server.py"), "-c",
                                      str(self.config_path), *args],
                                     stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)
        wait_for_port(self.port)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def http(self, path: str, method: str = "GET", body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/{path}", data=body, method=method,
                                         headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def stats(self) -> dict[str, Any]:
        return json.loads(self.http("api/v1/stats")[1])["hub"]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(10)


class Peer:
    """A synchronous channeling client."""

    def __init__(self, url: str, token: str = "") -> None:
        self.ws = connect(url + (f"?t={token}" if token else ""), open_timeout=5)
        self.me = self.recv_type("Self")["Data"]
        self.id = self.me["Id"]
        self.iid = 0

    def send(self, doc: dict[str, Any]) -> None:
        self.ws.send(json.dumps(doc))

    def recv(self, timeout: float = 5) -> dict[str, Any]:
        return json.loads(self.ws.recv(timeout))

    def recv_type(self, type_: str, timeout: float = 5) -> dict[str, Any]:
        deadline = time.time() + timeout
        while True:
            msg = self.recv(max(0.01, deadline - time.time()))
            if isinstance(msg.get("Data"), dict) and msg["Data"].get("Type") == type_:
                return msg

    def request(self, type_: str, payload: Any, timeout: float = 5) -> dict[str, Any]:
        self.iid += 1
        iid = f"r{self.iid}"
        self.send({"Type": type_, type_: payload, "Iid": iid})
        deadline = time.time() + timeout
        while True:
            msg = self.recv(max(0.01, deadline - time.time()))
            if msg.get("Iid") == iid:
                return msg

    def hello(self, room: str, **extra: Any) -> dict[str, Any]:
        return self.request("Hello", {"Name": room, "Ua": "cluster-test", **extra})["Data"]

    def quiet(self, timeout: float = 0.5, ignore: tuple[str, ...] = ()) -> bool:
        """True if nothing but `ignore` types arrives within timeout."""
        deadline = time.time() + timeout
        while True:
            try:
                msg = self.recv(max(0.01, deadline - time.time()))
            except TimeoutError:
                return True
            if (msg.get("Data") or {}).get("Type") not in ignore:
                raise AssertionError(f"unexpected: {msg}")

    def closed(self, timeout: float = 5) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                self.ws.recv(max(0.01, deadline - time.time()))
            except TimeoutError:
                return False
            except Exception:
                return True
        return False

    def close(self) -> None:
        self.ws.close()


def eventually(check, timeout: float = 5, interval: float = 0.05) -> Any:
    deadline = time.time() + timeout
    while True:
        result = check()
        if result or time.time() > deadline:
            return result
        time.sleep(interval)
