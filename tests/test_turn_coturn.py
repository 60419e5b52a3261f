"""TURN that really works: coturn with `static-auth-secret = app.turnSecret`, credentials taken from a
real Self document, and two Chromium peers that may only use relay candidates."""
from __future__ import annotations

import json
import random
import socket
import subprocess
import time

import pytest
from websockets.sync.client import connect

from helpers import requires
from threaded import ThreadedServer

pytestmark = requires("turnserver", "chromium")

RELAY_ONLY_CALL = """async (ice) => {
  const config = {iceServers: ice, iceTransportPolicy: 'relay'};
  const a = new RTCPeerConnection(config), b = new RTCPeerConnection(config);
  const types = [];
  for (const [from, to] of [[a, b], [b, a]]) {
    from.onicecandidate = (e) => { if (e.candidate) { types.push(e.candidate.type); to.addIceCandidate(e.candidate); } };
  }
  const received = new Promise((resolve) => {
    b.ondatachannel = (e) => { e.channel.onmessage = (m) => resolve(m.data); };
  });
  const channel = a.createDataChannel('probe');
  channel.onopen = () => channel.send('hello through the relay');
  await a.setLocalDescription(); await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(); await a.setRemoteDescription(b.localDescription);
  const message = await Promise.race([received, new Promise((r) => setTimeout(() => r(null), 8000))]);
  let pair = null;
  (await a.getStats()).forEach((s) => {
    if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated) pair = s;
  });
  const local = pair && (await a.getStats()).get(pair.localCandidateId);
  a.close(); b.close();
  return {message, types, localType: local ? local.candidateType : null};
}"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        return udp.getsockname()[1]


@pytest.fixture
def coturn(tmp_path):
    port = free_port()
    low = random.randrange(42000, 60000, 100)
    secret = "coturn-shared-secret"
    proc = subprocess.Popen(
        ["turnserver", "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
         "--use-auth-secret", f"--static-auth-secret={secret}", "--realm=spreed.test", "--no-tls", "--no-dtls",
         "--no-cli", "--allow-loopback-peers", f"--min-port={low}", f"--max-port={low + 99}",
         f"--pidfile={tmp_path / 'turn.pid'}", f"--userdb={tmp_path / 'turndb'}", "--log-file=stdout",
         "--simple-log"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1.0)
    assert proc.poll() is None, proc.stdout.read()
    yield port, secret
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


def self_document(turn_port: int, turn_secret: str) -> dict:
    overrides = {"app": {"turnSecret": turn_secret, "turnURIs": f"turn:127.0.0.1:{turn_port}?transport=udp"}}
    with ThreadedServer(overrides) as srv:
        client = connect(srv.ws_url)
        doc = json.loads(client.recv(5))["Data"]
        client.close()
    assert doc["Type"] == "Self"
    return doc


def call_through_relay(turn: dict) -> dict:
    from playwright.sync_api import sync_playwright
    ice = [{"urls": turn["urls"], "username": turn["username"], "credential": turn["password"]}]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page()
            page.goto("about:blank")
            return page.evaluate(RELAY_ONLY_CALL, ice)
        finally:
            browser.close()


def test_call_through_coturn_with_self_credentials(coturn):
    port, secret = coturn
    turn = self_document(port, secret)["Turn"]
    assert turn["ttl"] == 3600 and turn["urls"] == [f"turn:127.0.0.1:{port}?transport=udp"]
    result = call_through_relay(turn)
    assert result["message"] == "hello through the relay"
    assert result["types"] and set(result["types"]) == {"relay"}
    assert result["localType"] == "relay"


def test_wrong_secret_gets_no_relay(coturn):
    port, _ = coturn
    turn = self_document(port, "not-the-coturn-secret")["Turn"]
    result = call_through_relay(turn)
    assert result["message"] is None
    assert "relay" not in result["types"]
