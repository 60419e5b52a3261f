"""The Caddy configuration of docs/deploy.md, run for real in front of the server under /talk/."""
from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import urllib.request

import pytest
from websockets.sync.client import connect

from certs import self_signed
from cluster_harness import free_port, wait_for_port
from helpers import deploy_doc_block, requires
from threaded import ThreadedServer

pytestmark = requires("caddy")


def doc_block() -> str:
    return deploy_doc_block("## Caddy\n\n```\n", "Caddy")


@pytest.fixture
def proxied(tmp_path):
    with ThreadedServer({"http": {"basePath": "/talk/"}}) as srv:
        cert, key = self_signed(tmp_path)
        port = free_port()
        site = (doc_block().replace("talk.example.org {", f"https://127.0.0.1:{port} {{\n    tls {cert} {key}", 1)
                .replace("127.0.0.1:8080", f"127.0.0.1:{srv.port}"))
        caddyfile = tmp_path / "Caddyfile"
        # test-only global options: no admin API, no certificate automation, no port 80
        caddyfile.write_text("{\n    admin off\n    auto_https disable_redirects\n    skip_install_trust\n}\n\n" + site)
        env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
               "HOME": str(tmp_path)}
        proc = subprocess.Popen(["caddy", "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
                                stdout=open(tmp_path / "caddy.log", "wb"), stderr=subprocess.STDOUT, env=env)
        wait_for_port(port)
        try:
            yield port, ssl.create_default_context(cafile=str(cert)), srv
        finally:
            proc.terminate()
            proc.wait(10)


def test_room_through_caddy_under_base_path(proxied):
    port, context, srv = proxied
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/talk/team/room", context=context, timeout=5) as response:
        page = response.read().decode()
    ctx = json.loads(re.search(r'<script id="globalcontext" type="application/json">(.*?)</script>', page).group(1))
    assert ctx["Ssl"] is True and ctx["Host"] == f"127.0.0.1:{port}" and ctx["Cfg"]["B"] == "/talk/"

    url = f"wss://127.0.0.1:{port}/talk/ws"
    alice, bob = connect(url, ssl=context), connect(url, ssl=context)
    ids = [json.loads(c.recv(5))["Data"]["Id"] for c in (alice, bob)]
    for client in (alice, bob):
        client.send(json.dumps({"Type": "Hello", "Hello": {"Name": "behind caddy", "Ua": "t"}, "Iid": "1"}))
        assert json.loads(client.recv(5))["Data"]["Type"] == "Welcome"
    assert json.loads(alice.recv(5))["Data"] == {"Type": "Joined", "Id": ids[1], "Ua": "t", "Prio": 100}
    alice.close()
    bob.close()
