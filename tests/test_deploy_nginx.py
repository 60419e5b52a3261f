"""The nginx configuration of docs/deploy.md, run for real in front of the server under /talk/."""
from __future__ import annotations

import json
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

pytestmark = requires("nginx")


def doc_block() -> str:
    return deploy_doc_block("```nginx\n", "nginx")


@pytest.fixture
def proxied(tmp_path):
    with ThreadedServer({"http": {"basePath": "/talk/"}}) as srv:
        cert, key = self_signed(tmp_path)
        port = free_port()
        block = (doc_block().replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
                 .replace("/etc/letsencrypt/live/talk.example.org/fullchain.pem", str(cert))
                 .replace("/etc/letsencrypt/live/talk.example.org/privkey.pem", str(key))
                 .replace("127.0.0.1:8080", f"127.0.0.1:{srv.port}"))
        temp = {name: tmp_path / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        conf = tmp_path / "nginx.conf"
        conf.write_text(
            f"user root;\nworker_processes 1;\ndaemon off;\npid {tmp_path / 'nginx.pid'};\n"
            f"error_log {tmp_path / 'error.log'} warn;\nevents {{}}\nhttp {{\n  access_log off;\n"
            + "".join(f"  {n}_temp_path {p};\n" for n, p in (("client_body", temp["body"]), ("proxy", temp["proxy"]),
                                                             ("fastcgi", temp["fastcgi"]), ("uwsgi", temp["uwsgi"]),
                                                             ("scgi", temp["scgi"])))
            + block + "\n}\n")
        proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp_path)], stderr=subprocess.PIPE, text=True)
        context = ssl.create_default_context(cafile=str(cert))
        wait_for_port(port)
        try:
            yield port, context, srv
        finally:
            proc.terminate()
            proc.wait(5)


def test_room_through_nginx_under_base_path(proxied):
    port, context, srv = proxied
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/talk/some/room", context=context, timeout=5) as response:
        page = response.read().decode()
    ctx = json.loads(re.search(r'<script id="globalcontext" type="application/json">(.*?)</script>', page).group(1))
    assert ctx["Ssl"] is True and ctx["Host"] == f"127.0.0.1:{port}" and ctx["Cfg"]["B"] == "/talk/"
    assert '<base href="/talk/">' in page

    url = f"wss://127.0.0.1:{port}/talk/ws"
    alice, bob = connect(url, ssl=context), connect(url, ssl=context)
    ids = [json.loads(c.recv(5))["Data"]["Id"] for c in (alice, bob)]
    alice.send(json.dumps({"Type": "Hello", "Hello": {"Name": "behind nginx", "Ua": "t"}, "Iid": "1"}))
    welcome = json.loads(alice.recv(5))
    assert welcome["Iid"] == "1" and welcome["Data"]["Type"] == "Welcome"
    assert welcome["Data"]["Room"]["Name"] == "behind nginx"
    bob.send(json.dumps({"Type": "Hello", "Hello": {"Name": "behind nginx", "Ua": "t"}, "Iid": "1"}))
    joined = json.loads(alice.recv(5))
    assert joined["Data"] == {"Type": "Joined", "Id": ids[1], "Ua": "t", "Prio": 100}
    alice.close()
    bob.close()

    with urllib.request.urlopen(f"https://127.0.0.1:{port}/talk/.well-known/spreed-configuration",
                                context=context, timeout=5) as response:
        assert json.loads(response.read()) == {"spreed-webrtc_endpoint": f"https://127.0.0.1:{port}/talk"}
