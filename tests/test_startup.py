"""Start-up and config validation (protocol.md 1, 7.3; issue #2 item 1): the real `python server.py` process."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import tornado.httpclient
import yaml

from helpers import WsClient, project_root

ROOT = project_root()
SERVER = ROOT / "server.py"
BUNDLED = ROOT / "config.yaml"
SECRET_KEYS = {"sessionSecret", "encryptionSecret", "serverToken"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bundled_config_text(port: int) -> str:
    """The bundled config.yaml, unchanged except for http.listen."""
    text = BUNDLED.read_text()
    assert text.count("listen: 127.0.0.1:8080\n") == 1
    return text.replace("listen: 127.0.0.1:8080\n", f"listen: 127.0.0.1:{port}\n")


def bundled_config(port: int) -> dict[str, Any]:
    return yaml.safe_load(bundled_config_text(port))


class Processes:
    """Server subprocesses of one test; whatever is still running at the end is killed."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, *args: str, cwd: Path) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, str(SERVER), *args], cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.procs.append(proc)
        return proc

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(5)
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()


@pytest.fixture
def procs():
    group = Processes()
    yield group
    group.kill_all()


async def wait_ready(proc: subprocess.Popen, port: int, timeout: float = 10.0) -> tornado.httpclient.HTTPResponse:
    """Poll GET /api/v1/config until the server answers."""
    client = tornado.httpclient.AsyncHTTPClient()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stderr.read().decode()}")
        try:
            return await client.fetch(f"http://127.0.0.1:{port}/api/v1/config", request_timeout=1)
        except (ConnectionError, OSError, tornado.httpclient.HTTPClientError):
            await asyncio.sleep(0.05)
    raise AssertionError("server did not answer")


async def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 8
    while proc.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert proc.poll() is not None, "server ignored SIGTERM"
    return proc.returncode


# ------------------------------------------------------------------ the bundled config

@pytest.mark.gen_test(timeout=40)
async def test_bundled_config_starts_and_keeps_secrets(procs, tmp_path):
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(bundled_config_text(port))
    secrets = tmp_path / "spreed-secrets.yaml"

    first = procs.start("-c", str(config), cwd=ROOT)
    resp = await wait_ready(first, port)
    assert secrets.is_file()
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    stored = yaml.safe_load(secrets.read_text())
    assert set(stored) == SECRET_KEYS
    assert len(bytes.fromhex(stored["sessionSecret"])) >= 32
    assert len(bytes.fromhex(stored["encryptionSecret"])) in (16, 24, 32)
    assert stored["serverToken"] and stored["serverToken"] != "i-did-not-change-the-public-token-boo"
    assert json.loads(resp.body)["Token"] == stored["serverToken"]
    content = secrets.read_bytes()

    ws_url = f"ws://127.0.0.1:{port}/ws"
    client = await WsClient.connect(ws_url)
    first_self = client.self_doc
    client.close()
    # SIGHUP (a reload) must not stop the server.
    first.send_signal(signal.SIGHUP)
    await asyncio.sleep(0.2)
    assert first.poll() is None
    await wait_ready(first, port)
    assert await stop(first) == 0
    assert secrets.read_bytes() == content

    # Second run: no arguments at all, from the config's folder (./config.yaml is the default).
    second = procs.start(cwd=tmp_path)
    resp = await wait_ready(second, port)
    assert json.loads(resp.body)["Token"] == stored["serverToken"]
    assert secrets.read_bytes() == content
    reclaimed = await WsClient.connect(f"{ws_url}?t={first_self['Token']}")
    assert reclaimed.self_doc["Id"] == first_self["Id"]
    assert reclaimed.self_doc["Sid"] == first_self["Sid"]
    reclaimed.close()
    assert await stop(second) == 0
    assert second.stderr.read().decode().count("Traceback") == 0


@pytest.mark.gen_test(timeout=30)
async def test_explicit_secrets_logfile_verbose_and_listen_list(procs, tmp_path):
    port1, port2 = free_port(), free_port()
    doc = bundled_config(port1)
    doc["http"]["listen"] = f"127.0.0.1:{port1}  127.0.0.1:{port2}"
    doc["app"].update({"sessionSecret": "c" * 64, "encryptionSecret": "d" * 32, "serverToken": "fixed-token"})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(doc))
    log = tmp_path / "server.log"
    proc = procs.start("-c", "config.yaml", "-l", str(log), "-v", cwd=tmp_path)
    for port in (port1, port2):
        resp = await wait_ready(proc, port)
        assert json.loads(resp.body)["Token"] == "fixed-token"
    assert not (tmp_path / "spreed-secrets.yaml").exists()
    assert await stop(proc) == 0
    text = log.read_text()
    assert f"127.0.0.1:{port1}" in text and f"127.0.0.1:{port2}" in text
    assert "GET /api/v1/config" in text  # -v: the access log is on
    assert proc.stderr.read() == b""


def test_version_flag(tmp_path):
    out = subprocess.run([sys.executable, str(SERVER), "--version"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 0
    from spreed import __version__
    assert out.stdout.strip() == f"Version {__version__}"


# ------------------------------------------------------------------ bad config values: exit 2, one line

def _edit(section: str, **options: Any):
    def apply(doc: dict[str, Any], ctx: dict[str, Any]) -> None:
        target = doc.setdefault(section, {}) or {}
        doc[section] = target
        for key, value in options.items():
            target[key.replace("__", ".")] = value.format(**ctx) if isinstance(value, str) else value
    return apply


def _roomtypes(mapping: dict[str, str]):
    def apply(doc: dict[str, Any], ctx: dict[str, Any]) -> None:
        doc["roomtypes"] = dict(mapping)
    return apply


BAD_CONFIGS: dict[str, tuple[Any, str]] = {
    "bad regex": (_roomtypes({"^conference/(open": "Conference"}), "roomtypes"),
    "unknown room type": (_roomtypes({"^conference/": "Lobby"}), "roomtypes"),
    "short sessionSecret": (_edit("app", sessionSecret="abcdef0123"), "app.sessionSecret"),
    "raw short sessionSecret": (_edit("app", sessionSecret="not hex but short"), "app.sessionSecret"),
    "encryptionSecret length": (_edit("app", encryptionSecret="00" * 20), "app.encryptionSecret"),
    "missing tokenFile": (_edit("app", tokenFile="no-such-codes.txt"), "app.tokenFile"),
    "missing extra": (_edit("app", extra="no-such-dir"), "app.extra"),
    "missing extra.d": (_edit("app", extra__d="no-such-dir"), "app.extra.d"),
    "missing root": (_edit("http", root="{tmp}/no-such-root"), "http.root"),
    "basePath without slash": (_edit("http", basePath="talk/"), "http.basePath"),
    "listen without port": (_edit("http", listen="localhost"), "http.listen"),
    "listen bad port": (_edit("http", listen="127.0.0.1:70000"), "http.listen"),
    "listen foreign address": (_edit("http", listen="192.0.2.1:{port}"), "http.listen"),
    "listen in use": (_edit("http", listen="127.0.0.1:{busy}"), "http.listen"),
    "https missing certificate": (_edit("https", listen="127.0.0.1:{port}", certificate="{tmp}/none.pem",
                                        key="{tmp}/none.key"), "https.certificate"),
    "https minVersion": (_edit("https", minVersion="TLSv9"), "https.minVersion"),
    "users mode": (_edit("users", mode="ldap"), "users.mode"),
    "not a boolean": (_edit("modules", youtube="maybe"), "modules.youtube"),
    "trustedProxies": (_edit("http", trustedProxies="10.0.0.0/8 not-an-address"), "http.trustedProxies"),
    "logfile folder missing": (_edit("log", logfile="{tmp}/no-such-dir/spreed.log"), "log.logfile"),
}


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    """Run every bad config at once (they all exit immediately); name -> (exit code, stdout, stderr)."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    group = Processes()
    started = {}
    try:
        for name, (apply, _) in BAD_CONFIGS.items():
            folder = tmp_path_factory.mktemp("bad")
            port = free_port()
            doc = bundled_config(port)
            apply(doc, {"tmp": str(folder), "port": port, "busy": busy.getsockname()[1]})
            (folder / "config.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
            started[name] = group.start("-c", "config.yaml", cwd=folder)
        folder = tmp_path_factory.mktemp("bad")
        (folder / "config.yaml").write_text("http:\n  listen: [unclosed\n")
        started["invalid yaml"] = group.start("-c", "config.yaml", cwd=folder)
        started["missing config file"] = group.start("-c", str(folder / "nope.yaml"), cwd=folder)
        folder = tmp_path_factory.mktemp("bad")
        (folder / "config.yaml").write_text(bundled_config_text(free_port()))
        started["unwritable -l"] = group.start("-l", str(folder / "none" / "x.log"), cwd=folder)
        results = {}
        for name, proc in started.items():
            try:
                out, err = proc.communicate(timeout=60)  # two dozen start-ups share the cores
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
                results[name] = (None, out.decode(), err.decode())
                continue
            results[name] = (proc.returncode, out.decode(), err.decode())
        yield results
    finally:
        group.kill_all()
        busy.close()


EXPECTED_OPTION = {name: option for name, (_, option) in BAD_CONFIGS.items()}
EXPECTED_OPTION.update({"invalid yaml": "config.yaml", "missing config file": "-c", "unwritable -l": "-l"})


@pytest.mark.parametrize("name", sorted(EXPECTED_OPTION))
def test_bad_config_exits_2_with_one_line(bad_runs, name):
    code, out, err = bad_runs[name]
    assert code == 2, (code, err)
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    assert lines[0].startswith("config error: "), err
    assert EXPECTED_OPTION[name] in lines[0], err
    assert "Traceback" not in err
    assert out == ""


# ------------------------------------------------------------------ config semantics (in-process)

@pytest.mark.gen_test
async def test_roomtypes_apply_in_file_order(make_server):
    """The first matching regex wins, so an earlier `Room` entry exempts names from a later `Conference`."""
    srv = await make_server({"roomtypes": {"^conference/open$": "Room", "^conference/": "Conference",
                                           "Big": "Conference"}})
    client = await srv.connect()
    expected = {"conference/open": "Room", "conference/x": "Conference", "conference/open2": "Conference",
                "aBigRoom": "Conference", "abigroom": "Room", "plain": "Room"}
    for name, kind in expected.items():
        welcome = await client.hello(name)
        assert welcome["Data"]["Type"] == "Welcome", welcome
        assert welcome["Data"]["Room"]["Type"] == kind, name
        assert welcome["Data"]["Room"]["Name"] == name
    client.close()


def test_secrets_file_option_is_relative_to_config(tmp_path, monkeypatch):
    from spreed.config import load
    folder = tmp_path / "etc"
    (folder / "private").mkdir(parents=True)
    doc = bundled_config(free_port())
    doc["app"]["secretsFile"] = "private/secrets.yaml"
    doc["app"]["serverToken"] = "configured-token"
    (folder / "config.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.chdir(tmp_path)
    cfg = load(folder / "config.yaml")
    target = folder / "private" / "secrets.yaml"
    assert cfg.secrets_file == str(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    stored = yaml.safe_load(target.read_text())
    assert set(stored) == {"sessionSecret", "encryptionSecret"}  # serverToken is configured
    assert cfg.server_token == "configured-token"
    assert cfg.session_secret == bytes.fromhex(stored["sessionSecret"])
    again = load(folder / "config.yaml")
    assert again.session_secret == cfg.session_secret and again.encryption_secret == cfg.encryption_secret
