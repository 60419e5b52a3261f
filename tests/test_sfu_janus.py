"""SFU stage (a): the Janus adapter against a real, private Janus (tests/janus_harness.py).

Session and info, rooms created with a secret and PIN (nobody enters without them), keepalives
holding the session, reconnection after a Janus restart, Janus unreachable at start, --check, and
the `sfu:` options.
"""
from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import janus_harness
from helpers import start_server
from spreed.config import ConfigError, build

pytestmark = pytest.mark.skipif(not janus_harness.available(), reason="janus (Debian package) or gcc missing")
SERVER = Path(__file__).resolve().parent.parent / "server.py"


@pytest.fixture(scope="module")
def janus(tmp_path_factory):
    instance = janus_harness.Janus(tmp_path_factory.mktemp("janus"), session_timeout=3).start()
    yield instance
    instance.stop()


async def until(predicate, timeout: float = 10.0, step: float = 0.05) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(step)


@pytest.mark.gen_test(timeout=20)
async def test_session_info_and_room_with_secret_and_pin(janus):
    from spreed.sfu.janus import JanusClient, JanusError
    client = JanusClient(janus.url)
    await client.connect()
    try:
        assert client.session_id > 0
        info = await client.info()
        assert info["janus"] == "server_info" and info["version_string"].startswith("1.")
        assert "janus.plugin.videoroom" in info["plugins"]
        reply = await client.request({"janus": "attach", "plugin": "janus.plugin.videoroom"})
        handle = int(reply["data"]["id"])
        from spreed.sfu.manager import new_id
        room = new_id()
        assert room > 2 ** 52
        body = {"request": "create", "room": room, "secret": "s3cret", "pin": "p1n", "is_private": True}
        await client.request({"janus": "message", "body": body}, handle=handle)
        exists = await client.request({"janus": "message", "body": {"request": "exists", "room": room}}, handle=handle)
        assert exists["plugindata"]["data"]["exists"] is True
        listed = await client.request({"janus": "message", "body": {"request": "list"}}, handle=handle)
        assert room not in [r["room"] for r in listed["plugindata"]["data"]["list"]]  # private
        # without the PIN nobody joins, without the secret nobody destroys
        with pytest.raises(JanusError) as err:
            await client.request({"janus": "message", "body": {"request": "join", "room": room, "ptype": "publisher", "pin": "nope"}},
                                 handle=handle, wait_event=True)
        assert err.value.code == 433
        with pytest.raises(JanusError):
            await client.request({"janus": "message", "body": {"request": "destroy", "room": room, "secret": "x"}},
                                 handle=handle)
        await client.request({"janus": "message", "body": {"request": "destroy", "room": room, "secret": "s3cret"}},
                             handle=handle)
        exists = await client.request({"janus": "message", "body": {"request": "exists", "room": room}}, handle=handle)
        assert exists["plugindata"]["data"]["exists"] is False
    finally:
        client.close()


@pytest.mark.gen_test(timeout=30)
async def test_keepalives_hold_the_session(janus):
    """Janus here drops idle sessions after 3 s: ours, kept alive every 0.5 s, lives on."""
    from spreed.sfu.janus import JanusClient
    kept = JanusClient(janus.url, keepalive=0.5)
    await kept.connect()
    try:
        await asyncio.sleep(4.5)
        assert kept.keepalives >= 6
        await kept.request({"janus": "attach", "plugin": "janus.plugin.videoroom"})
    finally:
        kept.close()


@pytest.mark.gen_test(timeout=20)
async def test_pending_requests_are_bounded_by_a_timeout(janus):
    """A Janus that stops answering (SIGSTOP): the caller gets JanusGone, nothing stays pending."""
    import os
    import signal
    from spreed.sfu.janus import JanusClient, JanusGone
    client = JanusClient(janus.url, timeout=0.3)
    await client.connect()
    os.kill(janus.proc.pid, signal.SIGSTOP)
    try:
        with pytest.raises(JanusGone):
            await client.request({"janus": "attach", "plugin": "janus.plugin.videoroom"})
        assert client.pending == {}
    finally:
        os.kill(janus.proc.pid, signal.SIGCONT)
        client.close()


@pytest.mark.gen_test(timeout=40)
async def test_server_reconnects_after_janus_restart_and_waits_when_absent(tmp_path, caplog):
    """Janus missing at start: one warning, retried in the background; a restart is picked up."""
    from spreed.sfu import attach
    instance = janus_harness.Janus(tmp_path / "j")
    handle = await start_server({"sfu": {"url": instance.url}})
    closers = []
    try:
        with caplog.at_level(logging.WARNING, logger="spreed.sfu"):
            closers = await attach(handle.hub)
            backend = handle.hub.sfu.backends[0]
            await asyncio.sleep(2.0)
            assert not backend.up
            warnings = [r for r in caplog.records if "rooms stay mesh" in r.getMessage()]
            assert len(warnings) == 1
            instance.start()
            await until(lambda: backend.up, 10)
            first = backend.client.session_id
            assert backend.version.startswith("1.")
            instance.kill()
            await until(lambda: not backend.up, 5)
            instance.start()
            await until(lambda: backend.up, 10)
            assert backend.client.session_id != first
    finally:
        for close in closers:
            await close()
        handle.stop()
        instance.stop()


def test_sfu_options_and_bad_values():
    cfg = build({})
    assert cfg.sfu_urls == [] and cfg.sfu_min_participants == 3
    cfg = build({"sfu": {"url": "ws://127.0.0.1:1 ws://127.0.0.1:2", "apisecret": "x", "minparticipants": 2,
                         "bitrate": 256000}})
    assert cfg.sfu_urls == ["ws://127.0.0.1:1", "ws://127.0.0.1:2"] and cfg.sfu_api_secret == "x"
    assert cfg.sfu_min_participants == 2 and cfg.sfu_bitrate == 256000
    for options, name in (({"url": "http://x"}, "sfu.url"), ({"minparticipants": 1}, "sfu.minParticipants"),
                          ({"bitrate": "fast"}, "sfu.bitrate"), ({"bitrate": 10}, "sfu.bitrate")):
        with pytest.raises(ConfigError) as err:
            build({"sfu": dict(options)})
        assert str(err.value).startswith(f"config error: {name}:")


def _run_server(tmp_path: Path, sfu: dict, *args: str) -> subprocess.CompletedProcess:
    config = {"http": {"listen": "127.0.0.1:0"}, "sfu": sfu}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run([sys.executable, str(SERVER), "-c", str(path), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=30)


def test_check_reports_janus_version_and_absence(janus, tmp_path):
    out = _run_server(tmp_path, {"url": janus.url, "apiSecret": "hide-me"}, "--check")
    assert out.returncode == 0, out.stderr
    assert f"SFU: Janus at {janus.url} answers: Janus WebRTC Server 1." in out.stdout
    assert "hide-me" not in out.stdout
    dead = f"ws://127.0.0.1:{janus_harness.free_port()}"
    out = _run_server(tmp_path, {"url": dead}, "--check")
    assert out.returncode == 0
    assert f"WARNING: SFU: Janus at {dead} does not answer" in out.stdout


def test_bad_sfu_value_stops_startup_with_exit_2(tmp_path):
    out = _run_server(tmp_path, {"url": "ws://127.0.0.1:1", "minParticipants": "many"})
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == ["config error: sfu.minParticipants: expected a number, got 'many'"]


def test_without_sfu_url_nothing_of_the_sfu_is_imported(tmp_path):
    code = ("import sys, asyncio; sys.path.insert(0, '.'); sys.path.insert(0, 'tests');"
            "from helpers import start_server; import spreed.channeling;"
            "h = asyncio.run(start_server()); "
            "print(sorted(m for m in sys.modules if 'sfu' in m)); print('SfuPublish' in spreed.channeling.HANDLERS)")
    out = subprocess.run([sys.executable, "-c", code], cwd=SERVER.parent, capture_output=True, text=True, timeout=30)
    assert out.stdout.split() == ["[]", "False"], out.stderr
