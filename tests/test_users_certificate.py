"""Accounts in httpheader and certificate modes: userids from headers, CSR/SPKAC registration, TLS logins."""
from __future__ import annotations

import base64
import datetime
import json
import ssl
import subprocess

import pytest
import tornado.httpclient
import tornado.httpserver
import tornado.testing
import tornado.websocket
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import server as server_main
from handlers.app import make_app
from certs import make_ca, server_cert
from helpers import WsClient, test_config
from spreed.hub import Hub


def csr_pem(key) -> str:
    request = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ignored")]))
               .sign(key, hashes.SHA256()))
    return request.public_bytes(serialization.Encoding.PEM).decode()


class TlsServer:
    def __init__(self, hub, port, https):
        self.hub, self.port, self.https = hub, port, https


async def start_tls_server(tmp_path, users_options):
    ca_cert, ca_key, ca_path, ca_key_path = make_ca(tmp_path)
    srv_cert, srv_key = server_cert(tmp_path, ca_cert, ca_key)
    users = {"enabled": True, "mode": "certificate", "allowRegistration": True,
             "certificate_certificate": str(ca_path), "certificate_key": str(ca_key_path),
             "certificate_organization": "Test Org", "certificate_validForDays": 10, **users_options}
    cfg = test_config({"users": users, "https": {"listen": "127.0.0.1:0", "certificate": str(srv_cert),
                                                  "key": str(srv_key)}})
    hub = Hub(cfg)
    app = make_app(hub)
    plain_sock, plain_port = tornado.testing.bind_unused_port()
    tls_sock, tls_port = tornado.testing.bind_unused_port()
    tornado.httpserver.HTTPServer(app).add_sockets([plain_sock])
    tornado.httpserver.HTTPServer(app, ssl_options=server_main.tls_context(cfg)).add_sockets([tls_sock])
    return hub, plain_port, tls_port, ca_path


def client_context(ca_path, cert_path=None, key_path=None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_path))
    if cert_path:
        context.load_cert_chain(str(cert_path), str(key_path))
    return context


async def register(port, client, body) -> tornado.httpclient.HTTPResponse:
    return await tornado.httpclient.AsyncHTTPClient().fetch(
        f"http://127.0.0.1:{port}/api/v1/users", method="POST", raise_error=False,
        body=json.dumps({"id": client.id, "sid": client.self_doc["Sid"], **body}),
        headers={"Content-Type": "application/json"})


# ---------------------------------------------------------------- httpheader

@pytest.mark.gen_test
async def test_httpheader_mode(make_server):
    srv = await make_server({"users": {"enabled": True, "mode": "httpheader", "allowRegistration": True}})
    alice = await srv.connect(headers={"X-Users": "alice"})
    assert alice.self_doc["Userid"] == "alice" and alice.self_doc["Suserid"]
    anonymous = await srv.connect()
    assert anonymous.self_doc["Userid"] == ""
    await alice.hello("office")
    await anonymous.hello("office")
    await alice.recv_type("Joined")

    body = json.dumps({"id": anonymous.id, "sid": anonymous.self_doc["Sid"]})
    response = await srv.fetch(f"api/v1/sessions/{anonymous.id}/", method="PATCH", body=body,
                               headers={"Content-Type": "application/json", "x-users": "bob"})
    doc = json.loads(response.body)
    assert response.code == 200 and doc["userid"] == "bob"
    reply = await anonymous.request("Authentication", {"Authentication": {"Userid": "bob", "Nonce": doc["nonce"]}})
    assert reply["Data"]["Userid"] == "bob"
    status = await alice.recv_type("Status")  # the peer learns who joined the room
    assert status["Data"]["Id"] == anonymous.id and status["Data"]["Userid"] == "bob"

    other = await srv.connect()
    body = json.dumps({"id": other.id, "sid": other.self_doc["Sid"]})
    response = await srv.fetch(f"api/v1/sessions/{other.id}/", method="PATCH", body=body,
                               headers={"Content-Type": "application/json"})
    assert response.code == 403
    response = await srv.fetch("api/v1/users", method="POST", body=body, headers={"Content-Type": "application/json"})
    assert response.code == 400
    assert json.loads(response.body) == {"code": "users_create_failed",
                                         "message": 'Error: "create is not possible in httpheader mode"',
                                         "success": False}


@pytest.mark.gen_test
async def test_custom_header_name(make_server):
    srv = await make_server({"users": {"enabled": True, "mode": "httpheader", "httpheader_header": "X-Remote-User"}})
    client = await srv.connect(headers={"X-Remote-User": "carol", "X-Users": "mallory"})
    assert client.self_doc["Userid"] == "carol"


# ---------------------------------------------------------------- certificate

@pytest.mark.gen_test(timeout=30)
async def test_certificate_registration_and_tls_login(io_loop, tmp_path):
    hub, plain_port, tls_port, ca_path = await start_tls_server(tmp_path, {})
    client = await WsClient.connect(f"ws://127.0.0.1:{plain_port}/ws")
    user_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = await register(plain_port, client, {"csr": csr_pem(user_key)})
    assert response.code == 200, response.body
    assert response.headers["Content-Type"] == "application/x-x509-user-cert"
    cert = x509.load_der_x509_certificate(response.body)
    userid = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert userid.endswith("@local")
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Test Org"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert ExtendedKeyUsageOID.CLIENT_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(days=9) < lifetime <= datetime.timedelta(days=10, minutes=1)
    assert cert.public_key().public_numbers() == user_key.public_key().public_numbers()

    cert_path, key_path = tmp_path / "user.pem", tmp_path / "user.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(user_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    # over the TLS listener, presenting the issued certificate: Self carries that userid
    request = tornado.httpclient.HTTPRequest(f"wss://127.0.0.1:{tls_port}/ws",
                                             ssl_options=client_context(ca_path, cert_path, key_path))
    conn = await tornado.websocket.websocket_connect(request)
    me = json.loads(await conn.read_message())["Data"]
    assert me["Type"] == "Self" and me["Userid"] == userid
    conn.close()
    # without a certificate: anonymous, and the connection still works
    request = tornado.httpclient.HTTPRequest(f"wss://127.0.0.1:{tls_port}/ws", ssl_options=client_context(ca_path))
    conn = await tornado.websocket.websocket_connect(request)
    assert json.loads(await conn.read_message())["Data"]["Userid"] == ""
    conn.close()


@pytest.mark.gen_test(timeout=30)
async def test_certificate_registration_with_spkac_and_errors(io_loop, tmp_path):
    hub, plain_port, _, ca_path = await start_tls_server(tmp_path, {})
    key_path = tmp_path / "spkac.key"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    spkac = subprocess.run(["openssl", "spkac", "-key", str(key_path), "-challenge", "hello"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert spkac.startswith("SPKAC=")
    client = await WsClient.connect(f"ws://127.0.0.1:{plain_port}/ws")
    response = await tornado.httpclient.AsyncHTTPClient().fetch(
        f"http://127.0.0.1:{plain_port}/api/v1/users", method="POST", raise_error=False,
        body=f"id={client.id}&sid={client.self_doc['Sid']}&pubkey={__import__('urllib.parse').parse.quote(spkac[6:])}",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.code == 200, response.body
    cert = x509.load_der_x509_certificate(response.body)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()

    for body in ({"pubkey": base64.b64encode(b"garbage").decode()}, {"csr": "-----BEGIN CERTIFICATE REQUEST-----\nxx"},
                 {}, {"csr": 5}):
        other = await WsClient.connect(f"ws://127.0.0.1:{plain_port}/ws")
        response = await register(plain_port, other, body)
        assert response.code == 400, body
        assert json.loads(response.body)["code"] == "users_create_failed"


@pytest.mark.gen_test(timeout=30)
async def test_certificate_from_proxy_headers(io_loop, tmp_path):
    options = {"certificate_verifiedHeader": "X-SSL-Verified", "certificate_verifiedHeaderValue": "SUCCESS",
               "certificate_certificateHeader": "X-SSL-Client-Cert"}
    hub, plain_port, _, ca_path = await start_tls_server(tmp_path, options)
    client = await WsClient.connect(f"ws://127.0.0.1:{plain_port}/ws")
    key = ec.generate_private_key(ec.SECP256R1())
    response = await register(plain_port, client, {"csr": csr_pem(key)})
    cert = x509.load_der_x509_certificate(response.body)
    userid = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    nginx_style = cert.public_bytes(serialization.Encoding.PEM).decode().strip().replace("\n", " ")

    url = f"ws://127.0.0.1:{plain_port}/ws"
    proxied = await WsClient.connect(url, {"X-SSL-Verified": "SUCCESS", "X-SSL-Client-Cert": nginx_style})
    assert proxied.self_doc["Userid"] == userid
    spoofed = await WsClient.connect(url, {"X-SSL-Verified": "NONE", "X-SSL-Client-Cert": nginx_style})
    assert spoofed.self_doc["Userid"] == ""
    no_verify = await WsClient.connect(url, {"X-SSL-Client-Cert": nginx_style})
    assert no_verify.self_doc["Userid"] == ""
    garbage = await WsClient.connect(url, {"X-SSL-Verified": "SUCCESS", "X-SSL-Client-Cert": "nope"})
    assert garbage.self_doc["Userid"] == ""

    # the same proof logs in an existing session through PATCH, then Authentication; the room hears it
    await proxied.hello("lab")
    await spoofed.hello("lab")
    await proxied.recv_type("Joined")
    body = json.dumps({"id": spoofed.id, "sid": spoofed.self_doc["Sid"]})
    response = await tornado.httpclient.AsyncHTTPClient().fetch(
        f"http://127.0.0.1:{plain_port}/api/v1/sessions/{spoofed.id}/", method="PATCH", body=body, raise_error=False,
        headers={"Content-Type": "application/json", "X-SSL-Verified": "SUCCESS", "X-SSL-Client-Cert": nginx_style})
    assert response.code == 200 and json.loads(response.body)["userid"] == userid
    nonce = json.loads(response.body)["nonce"]
    me = await spoofed.request("Authentication", {"Authentication": {"Userid": userid, "Nonce": nonce}})
    assert me["Data"]["Type"] == "Self" and me["Data"]["Userid"] == userid and me["Data"]["Suserid"]
    status = await proxied.recv_type("Status")
    assert status["Data"]["Id"] == spoofed.id and status["Data"]["Userid"] == userid
