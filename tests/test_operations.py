"""Operations: Prometheus metrics, the status page (in Chromium), the config doctor and logging."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from helpers import ENCRYPTION_SECRET, SESSION_SECRET, project_root, requires
from threaded import ThreadedServer


def samples(text: str) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted((k, v) for k, v in sample.labels.items() if k != "process")))] = sample.value
    return out


@pytest.mark.gen_test
async def test_metrics_end_point(make_server):
    off = await make_server()
    assert (await off.fetch("metrics")).headers["Content-Type"].startswith("text/html")  # just a room page

    srv = await make_server({"http": {"metrics": True}, "limits": {"enabled": False}})
    alice, bob = await srv.connect(), await srv.connect()
    await alice.hello("measured")
    await bob.hello("measured")
    await alice.send({"Type": "Chat", "Chat": {"To": "", "Type": "Chat", "Chat": {"Message": "x", "NoEcho": True}}})
    await bob.recv_type("Chat")
    await alice.request("Users", {})
    await alice.send("{broken")
    await alice.recv_type("Error")

    response = await srv.fetch("metrics")
    assert response.code == 200 and response.headers["Content-Type"].startswith("text/plain; version=")
    values = samples(response.body.decode())
    assert values[("spreed_sessions", ())] == 2
    assert values[("spreed_rooms", ())] == 1
    assert values[("spreed_connections_accepted_total", ())] == 2
    assert values[("spreed_messages_in_total", (("type", "Hello"),))] == 2
    assert values[("spreed_messages_in_total", (("type", "Chat"),))] == 1
    assert values[("spreed_errors_total", (("code", "bad_request"),))] == 1
    assert values[("spreed_frames_out_total", ())] >= 7  # 2 Self, 2 Welcome, Joined, Chat, Users, Error
    assert values[("spreed_bytes_out_total", ())] > values[("spreed_frames_out_total", ())] * 10
    assert values[("spreed_slow_consumer_disconnects_total", ())] == 0
    other = await srv.fetch("metrics", method="POST", body=b"")  # only GET: the rest is the room "metrics"
    assert other.headers["Content-Type"].startswith("text/html")


@requires("chromium")
def test_status_page_in_a_browser():
    from playwright.sync_api import sync_playwright
    with ThreadedServer({"http": {"stats": True}}) as srv:
        clients = [connect(srv.ws_url) for _ in range(3)]
        for client in clients:
            json.loads(client.recv(5))
            client.send(json.dumps({"Type": "Hello", "Hello": {"Name": "status-room"}, "Iid": "1"}))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
            try:
                page = browser.new_page(viewport={"width": 900, "height": 700})
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(srv.url + "status")
                page.wait_for_function("document.getElementById('sessions').textContent === '3'", timeout=10000)
                assert page.text_content("#rooms") == "1"
                assert page.text_content("#version") == "1.0.0"
                assert page.locator("#chart-sessions polyline").count() == 1
                warnings = page.locator("#warning-list li").all_text_contents()
                assert any("no TURN server configured" in w for w in warnings)
                page.screenshot(path=str(project_root() / "test-artifacts" / "status-page.png"))
                assert not errors
            finally:
                browser.close()
        for client in clients:
            client.close()


def run_check(tmp_path, text: str) -> subprocess.CompletedProcess:
    config = tmp_path / "check.yaml"
    config.write_text(text)
    return subprocess.run([sys.executable, str(project_root() / "server.py"), "--check", "-c", str(config)],
                          capture_output=True, text=True, timeout=30)


def test_config_doctor(tmp_path):
    risky = (f"http: {{listen: '0.0.0.0:8080', stats: true}}\n"
             f"app: {{sessionSecret: '{SESSION_SECRET}', encryptionSecret: '{ENCRYPTION_SECRET}',"
             f" serverToken: i-did-not-change-the-public-token-boo}}\n"
             "users: {enabled: true, mode: sharedsecret, sharedsecret_secret: do-not-print-me}\n"
             "nats: {url: 'nats://user:hunter2@127.0.0.1:4222'}\n")
    result = run_check(tmp_path, risky)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for secret in (SESSION_SECRET, ENCRYPTION_SECRET, "do-not-print-me", "hunter2"):
        assert secret not in out
    assert "session_secret: (set, hidden)" in out and "turn_secret: (not set)" in out
    warnings = [line for line in out.splitlines() if line.startswith("WARNING: ")]
    assert any("serverToken is the well-known default" in w for w in warnings)
    assert any("no TURN server configured" in w for w in warnings)
    assert any("http.stats is on" in w for w in warnings)
    assert any("users are enabled but this server speaks plain HTTP" in w for w in warnings)

    calm = (f"app: {{sessionSecret: '{SESSION_SECRET}', encryptionSecret: '{ENCRYPTION_SECRET}', serverToken: mine,"
            " turnSecret: s, turnURIs: 'turn:turn.example.org:3478'}\n")
    result = run_check(tmp_path, calm)
    assert result.returncode == 0 and "# no warnings" in result.stdout

    broken = run_check(tmp_path, "app: {encryptionSecret: short}\n")
    assert broken.returncode == 2 and broken.stderr.startswith("config error: app.encryptionSecret")


def test_log_file_lines(tmp_path):
    config = tmp_path / "log.yaml"
    log_path = tmp_path / "server.log"
    config.write_text(f"http: {{listen: '127.0.0.1:0'}}\n"
                      f"app: {{sessionSecret: '{SESSION_SECRET}', encryptionSecret: '{ENCRYPTION_SECRET}'}}\n")
    proc = subprocess.Popen([sys.executable, str(project_root() / "server.py"), "-c", str(config), "-l", str(log_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    import time
    deadline = time.time() + 15
    while time.time() < deadline and (not log_path.exists() or "ready" not in log_path.read_text()):
        time.sleep(0.1)
    proc.terminate()
    proc.wait(10)
    lines = log_path.read_text().splitlines()
    assert any(line.endswith("ready") for line in lines)
    import re
    pattern = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) \S+: .+")
    assert lines and all(pattern.match(line) for line in lines), lines
    assert SESSION_SECRET not in log_path.read_text()
