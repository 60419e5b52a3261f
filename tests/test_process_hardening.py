"""The real `python server.py` process (issue #6 items 4, 5, 8): SIGTERM closes every websocket with
1001 and exits within 5 s; after a restart with the same secrets clients reclaim their Ids and rooms;
HTTP and HTTPS serve the same application; debug logs and the stats end point never show secrets."""
from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import time
from pathlib import Path

import pytest
import tornado.httpclient
import tornado.websocket
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from helpers import ENCRYPTION_SECRET, SESSION_SECRET, WsClient
from server_process import TURN_SECRET, free_port, processes  # noqa: F401  (processes: a fixture)

SHARED_SECRET = "shared-secret-for-logins-0123456789"


async def closed_with(client: WsClient, timeout: float = 5.0) -> int | None:
    """Read until the server closes; the close code it sent."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await asyncio.wait_for(client.conn.read_message(), max(0.01, deadline - loop.time())) is not None:
        pass
    return client.conn.close_code


def chat(text: str) -> dict:
    return {"Type": "Chat", "Chat": {"To": "", "Type": "Chat", "Chat": {"Message": text, "NoEcho": True}}}


# ---------------------------------------------------------------- SIGTERM and restart (item 4)

@pytest.mark.gen_test(timeout=60)
async def test_sigterm_says_going_away_and_a_restart_loses_nothing_recoverable(processes, tmp_path):
    server = processes(tmp_path, {}).start()
    await server.ready()
    a = await WsClient.connect(server.ws_url)
    b = await WsClient.connect(server.ws_url)
    await a.hello("lasting")
    await b.hello("lasting")
    assert (await a.recv_type("Joined"))["Data"]["Id"] == b.id
    # a third client that never reads again must not hold up the shutdown
    stuck = socket.create_connection(("127.0.0.1", server.port))
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    for i in range(50):
        await a.send(chat(f"{i} {'x' * 20000}"))
    await b.recv_type("Chat")

    codes = asyncio.gather(closed_with(a), closed_with(b))
    took = await server.terminate()
    assert await codes == [1001, 1001]
    assert took < 5.0, f"exit took {took:.1f} s"
    stuck.close()

    server.start()  # same config, same secrets, same port
    await server.ready()
    a2 = await WsClient.connect(f"{server.ws_url}?t={a.self_doc['Token']}")
    b2 = await WsClient.connect(f"{server.ws_url}?t={b.self_doc['Token']}")
    assert (a2.id, a2.self_doc["Sid"]) == (a.id, a.self_doc["Sid"])
    assert (b2.id, b2.self_doc["Sid"]) == (b.id, b.self_doc["Sid"])
    await a2.hello("lasting")
    welcome = await b2.hello("lasting")
    assert sorted(u["Id"] for u in welcome["Data"]["Users"]) == sorted([a.id, b.id])
    assert (await a2.recv_type("Joined"))["Data"]["Id"] == b.id
    await a2.send(chat("after the restart"))
    msg = await b2.recv_type("Chat")
    assert msg["From"] == a.id and msg["Data"]["Chat"]["Message"] == "after the restart"
    await server.terminate()


# ---------------------------------------------------------------- TLS (item 5)

def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 (its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "tls.pem", tmp_path / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def tls_client(cert: Path, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    if maximum is not None:
        context.maximum_version = maximum
    return context


@pytest.mark.gen_test(timeout=40)
async def test_https_and_http_serve_the_same_application(processes, tmp_path):
    cert, key = self_signed(tmp_path)
    tls_port = free_port()
    server = processes(tmp_path, {"https": {"listen": f"127.0.0.1:{tls_port}", "certificate": str(cert),
                                            "key": str(key)}}).start()
    base = f"https://127.0.0.1:{tls_port}/"
    context = tls_client(cert)
    await server.ready(base + "api/v1/config", ssl_options=context)
    client = tornado.httpclient.AsyncHTTPClient()
    page = await client.fetch(base + "aroom", ssl_options=context)
    assert page.code == 200 and b'"Ssl":true' in page.body
    assert f"wss://127.0.0.1:{tls_port}/ws" in page.headers["Content-Security-Policy"]
    plain = await client.fetch(f"http://127.0.0.1:{server.port}/aroom")
    assert b'"Ssl":false' in plain.body
    # a TLS 1.2 client is welcome (minVersion defaults to TLS 1.2)
    old = await client.fetch(base + "api/v1/config", ssl_options=tls_client(cert, ssl.TLSVersion.TLSv1_2))
    assert old.code == 200

    request = tornado.httpclient.HTTPRequest(f"wss://127.0.0.1:{tls_port}/ws", ssl_options=context)
    secure = WsClient(await tornado.websocket.websocket_connect(request))
    secure.self_doc = (await secure.recv())["Data"]
    other = await WsClient.connect(server.ws_url)
    await secure.hello("mixed")
    await other.hello("mixed")
    await secure.send(chat("over TLS"))
    assert (await other.recv_type("Chat"))["Data"]["Chat"]["Message"] == "over TLS"
    # the session token works on either listener: one hub
    again = await WsClient.connect(f"{server.ws_url}?t={secure.self_doc['Token']}")
    assert again.id == secure.id
    await server.terminate()


@pytest.mark.gen_test(timeout=40)
async def test_https_min_version_is_enforced(processes, tmp_path):
    cert, key = self_signed(tmp_path)
    tls_port = free_port()
    server = processes(tmp_path, {"https": {"listen": f"127.0.0.1:{tls_port}", "certificate": str(cert),
                                            "key": str(key), "minVersion": "TLSv1.3"}}).start()
    url = f"https://127.0.0.1:{tls_port}/api/v1/config"
    await server.ready(url, ssl_options=tls_client(cert))
    with pytest.raises(ssl.SSLError):
        await tornado.httpclient.AsyncHTTPClient().fetch(
            url, ssl_options=tls_client(cert, ssl.TLSVersion.TLSv1_2), request_timeout=5)
    await server.terminate()


def test_default_tls_context_refuses_anything_below_tls_1_2(tmp_path):
    import server as server_main
    from helpers import test_config
    cert, key = self_signed(tmp_path)
    cfg = test_config({"https": {"listen": "127.0.0.1:0", "certificate": str(cert), "key": str(key)}})
    assert server_main.tls_context(cfg).minimum_version == ssl.TLSVersion.TLSv1_2


# ---------------------------------------------------------------- secrets in logs and stats (item 8)

def login(userid: str) -> tuple[str, str]:
    combo = f"{int(time.time()) + 3600}:{userid}"
    mac = hmac.new(SHARED_SECRET.encode(), combo.encode(), hashlib.sha256).digest()
    return combo, base64.b64encode(mac).decode()


@pytest.mark.gen_test(timeout=60)
async def test_debug_logs_and_stats_never_show_secrets(processes, tmp_path):
    logfile = tmp_path / "server.log"
    codes = tmp_path / "codes.txt"
    codes.write_text("access-code-that-is-secret\n")
    server = processes(tmp_path, {"http": {"stats": True, "metrics": True},
                                  "app": {"tokenFile": str(codes)},
                                  "users": {"enabled": True, "mode": "sharedsecret",
                                            "sharedsecret_secret": SHARED_SECRET}},
                       "-v", "-l", str(logfile)).start()
    await server.ready()
    http = tornado.httpclient.AsyncHTTPClient()
    base = f"http://127.0.0.1:{server.port}/"
    secrets = {SESSION_SECRET, ENCRYPTION_SECRET, SHARED_SECRET, TURN_SECRET, "access-code-that-is-secret"}

    alice = await WsClient.connect(server.ws_url)
    secrets |= {alice.self_doc["Sid"], alice.self_doc["Token"], alice.self_doc["Turn"]["password"]}
    combo, mac = login("alice")
    secrets.add(mac)
    resp = await http.fetch(f"{base}api/v1/sessions/{alice.id}/", method="PATCH", headers={
        "Content-Type": "application/json"}, body=json.dumps({
            "id": alice.id, "sid": alice.self_doc["Sid"], "useridcombo": combo, "secret": mac}))
    nonce = json.loads(resp.body)["nonce"]
    secrets.add(nonce)
    me = await alice.request("Authentication", {"Type": "Authentication", "Authentication": {
        "Userid": "alice", "Nonce": nonce}})
    secrets.add(me["Data"]["Token"])
    alice.close()
    alice = await WsClient.connect(f"{server.ws_url}?t={me['Data']['Token']}")
    bob = await WsClient.connect(server.ws_url)
    secrets |= {bob.self_doc["Sid"], bob.self_doc["Token"]}
    carol = await WsClient.connect(server.ws_url)
    await carol.hello("pinned", Credentials={"PIN": "pin-that-is-secret"})
    for i in range(12):  # past limits.pinAttemptsPerMinute: the refusal is logged, the PINs are not
        await bob.hello("pinned", Credentials={"PIN": f"guess-{i}-secret"})
        secrets.add(f"guess-{i}-secret")
    secrets.add("pin-that-is-secret")
    await alice.hello("secretive")
    await bob.hello("secretive")
    await bob.send({"Type": "Whatever", "Whatever": {}})  # a debug line of the hub
    await bob.send(chat("hello alice"))
    await alice.recv_type("Chat")
    for query in ("?a=access-code-that-is-secret", ""):
        await http.fetch(f"{base}api/v1/tokens{query}", method="POST", raise_error=False,
                         body="a=access-code-that-is-secret")
    await http.fetch(f"{base}nowhere?t={bob.self_doc['Token']}", method="DELETE", raise_error=False)

    exposed = []
    for path in ("api/v1/stats?details=1&history=1", "api/v1/stats", "metrics", "api/v1/config", "status"):
        body = (await http.fetch(base + path)).body.decode()
        exposed += [(path, s) for s in secrets if s in body]
    assert not exposed
    for client in (alice, bob, carol):
        client.close()
    await server.terminate()

    log = logfile.read_text()
    assert "ignoring message of type 'Whatever'" in log and "GET /ws?t=…" in log, log[-2000:]
    assert "limit pinAttemptsPerMinute refused session" in log
    leaked = [s for s in secrets if s in log]
    assert not leaked, leaked
