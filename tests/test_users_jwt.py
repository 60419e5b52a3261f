"""Accounts in jwt mode: PATCH sessions with a signed token, then Authentication over the websocket.

Every refusal named by issue #15 point 1 has a case here; each must answer 403 session_patch_failed.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from spreed.config import ConfigError
from test_users_sharedsecret import patch, rest_error

HS_KEY = "an-hs256-secret-of-at-least-32-bytes!"
HS_USERS = {"users": {"enabled": True, "mode": "jwt", "jwt_key": HS_KEY}}


def claims(sub: str = "alice", lifetime: int = 300, **extra) -> dict:
    now = int(time.time())
    return {"sub": sub, "iat": now, "exp": now + lifetime, **extra}


def hs(payload: dict, key: str = HS_KEY, alg: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=alg)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(payload: dict, alg: str = "none") -> str:
    """A token pyjwt would refuse to make: header and payload by hand, any alg, empty signature."""
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{head}.{b64(json.dumps(payload).encode())}."


def hand_signed(payload: dict, secret: bytes, alg: str = "HS256") -> str:
    """An HMAC token over any secret bytes (pyjwt refuses a PEM as an HMAC secret, an attacker need not)."""
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = f"{head}.{b64(json.dumps(payload).encode())}"
    return f"{body}.{b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())}"


def pem_public(private) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)


async def jwt_login(srv, client, token: str):
    return await patch(srv, client, jwt=token)


async def authenticate(client, doc: dict) -> dict:
    reply = await client.request("Authentication", {"Type": "Authentication", "Authentication": {
        "Userid": doc["userid"], "Nonce": doc["nonce"]}})
    return reply["Data"]


@pytest.mark.gen_test
async def test_hs256_login_end_to_end(make_server):
    srv = await make_server(HS_USERS)
    alice, peer = await srv.connect(), await srv.connect()
    await alice.hello("lobby")
    await peer.hello("lobby")
    await alice.recv_type("Joined")

    response = await jwt_login(srv, alice, hs(claims("alice", name="Alice A.")))
    assert response.code == 200, response.body
    doc = json.loads(response.body)
    assert list(doc) == ["nonce", "userid", "success"] and doc["userid"] == "alice" and doc["success"] is True
    me = await authenticate(alice, doc)
    assert me["Type"] == "Self" and me["Userid"] == "alice" and me["Id"] == alice.id
    status = await peer.recv_type("Status")
    assert status["Data"]["Userid"] == "alice"
    again = await srv.connect(token=me["Token"])  # the new token keeps the login across reconnects
    assert again.self_doc["Userid"] == "alice"


@pytest.mark.gen_test
@pytest.mark.parametrize("kind", ["RS256", "ES256", "EdDSA"])
async def test_public_key_algorithms(make_server, tmp_path, kind):
    private = {"RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
               "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
               "EdDSA": ed25519.Ed25519PrivateKey.generate}[kind]()
    key_file = tmp_path / "login.pub.pem"
    key_file.write_bytes(pem_public(private))
    srv = await make_server({"users": {"enabled": True, "mode": "jwt", "jwt_key": str(key_file),
                                       "jwt_algorithms": [kind]}})
    client = await srv.connect()
    response = await jwt_login(srv, client, jwt.encode(claims("carol"), private, algorithm=kind))
    assert response.code == 200, response.body
    assert (await authenticate(client, json.loads(response.body)))["Userid"] == "carol"
    # a token signed by another key of the same kind is refused
    other = {"RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
             "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
             "EdDSA": ed25519.Ed25519PrivateKey.generate}[kind]()
    stranger = await srv.connect()
    refused = await jwt_login(srv, stranger, jwt.encode(claims("carol"), other, algorithm=kind))
    assert refused.code == 403 and rest_error(refused)["code"] == "session_patch_failed"


@pytest.mark.gen_test
async def test_every_bad_token_is_refused(make_server, tmp_path):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "rsa.pub.pem"
    key_file.write_bytes(pem_public(rsa_key))
    srv = await make_server(HS_USERS)
    rs_srv = await make_server({"users": {"enabled": True, "mode": "jwt", "jwt_key": str(key_file),
                                          "jwt_algorithms": ["RS256"]}})
    good = hs(claims())
    head, body, signature = good.split(".")
    tampered_body = b64(json.dumps(claims("mallory")).encode())
    cases = {
        "alg none": (srv, unsigned(claims())),
        "alg none on a public-key server": (rs_srv, unsigned(claims())),
        "algorithm not in the list (HS512)": (srv, hs(claims(), alg="HS512")),
        "confusion: the RS256 public key used as an HS256 secret": (rs_srv, hand_signed(claims(), key_file.read_bytes())),
        "tampered payload": (srv, f"{head}.{tampered_body}.{signature}"),
        "tampered signature": (srv, f"{head}.{body}.{signature[:-3]}AAA"),
        "another secret": (srv, hs(claims(), key="another-secret-of-at-least-32-bytes-long")),
        "expired (past the 30 s leeway)": (srv, hs(claims(lifetime=-60))),
        "no exp": (srv, hs({"sub": "alice"})),
        "no sub": (srv, hs({"exp": int(time.time()) + 300})),
        "not yet valid (nbf)": (srv, hs(claims(nbf=int(time.time()) + 600))),
        "issued in the future (iat)": (srv, hs(claims(iat=int(time.time()) + 600, lifetime=900))),
        "not a JWT": (srv, "hello"),
        "a number": (srv, 12),
        "huge": (srv, "a" * 20000),
    }
    for name, (server, token) in cases.items():
        client = await server.connect()
        response = await jwt_login(server, client, token)
        assert response.code == 403, name
        assert rest_error(response) == {"code": "session_patch_failed", "message": "Failed to patch session",
                                        "success": False}, name
    # within the leeway an expired token is still good
    client = await srv.connect()
    assert (await jwt_login(srv, client, hs(claims(lifetime=-10)))).code == 200


@pytest.mark.gen_test
async def test_audience_and_issuer_are_checked_when_set(make_server):
    srv = await make_server({"users": {"enabled": True, "mode": "jwt", "jwt_key": HS_KEY,
                                       "jwt_audience": "spreed", "jwt_issuer": "https://portal.example"}})
    right = {"aud": "spreed", "iss": "https://portal.example"}
    for extra, code in [(right, 200), ({**right, "aud": "other"}, 403), ({**right, "iss": "https://evil.example"}, 403),
                        ({"iss": "https://portal.example"}, 403), ({"aud": "spreed"}, 403)]:
        client = await srv.connect()
        assert (await jwt_login(srv, client, hs(claims(**extra)))).code == code, extra


@pytest.mark.gen_test
async def test_room_claim_admits_to_that_room_only(make_server):
    srv = await make_server(HS_USERS)
    # a session already in another room cannot use the token
    elsewhere = await srv.connect()
    await elsewhere.hello("other")
    refused = await jwt_login(srv, elsewhere, hs(claims(room="team")))
    assert refused.code == 403 and rest_error(refused)["code"] == "session_patch_failed"

    # logged in first: the named room is open, any other is refused, also after a reconnect
    client = await srv.connect()
    me = await authenticate(client, json.loads((await jwt_login(srv, client, hs(claims(room="team")))).body))
    error = (await client.hello("other"))["Data"]
    assert error["Type"] == "Error" and error["Code"] == "room_not_allowed"
    assert (await client.hello("team"))["Data"]["Type"] == "Welcome"
    again = await srv.connect(token=me["Token"])
    assert (await again.hello("other"))["Data"]["Code"] == "room_not_allowed"

    # "*" admits anywhere
    free = await srv.connect()
    await authenticate(free, json.loads((await jwt_login(srv, free, hs(claims("bob", room="*")))).body))
    assert (await free.hello("other"))["Data"]["Type"] == "Welcome"


@pytest.mark.gen_test
async def test_moderator_claim_is_kept_with_the_session(make_server):
    srv = await make_server(HS_USERS)
    client = await srv.connect()
    await authenticate(client, json.loads((await jwt_login(srv, client, hs(claims(moderator=True)))).body))
    assert srv.hub.sessions[client.id].grants == {"moderator": True}
    plain = await srv.connect()
    await authenticate(plain, json.loads((await jwt_login(srv, plain, hs(claims("bob", moderator="yes")))).body))
    assert srv.hub.sessions[plain.id].grants is None  # only a JSON true counts


@pytest.mark.parametrize("options, option", [
    ({"jwt_key": ""}, "users.jwt_key"),
    ({"jwt_key": "short"}, "users.jwt_key"),
    ({"jwt_key": HS_KEY, "jwt_algorithms": ["none"]}, "users.jwt_algorithms"),
    ({"jwt_key": HS_KEY, "jwt_algorithms": ["HS256", "RS256"]}, "users.jwt_algorithms"),
    ({"jwt_key": "/nonexistent/key.pem", "jwt_algorithms": ["RS256"]}, "users.jwt_key"),
    ({"jwt_key": "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----", "jwt_algorithms": ["RS256"]},
     "users.jwt_key"),
])
def test_bad_jwt_options_name_the_option(options, option):
    from helpers import test_config
    from spreed.users import make_mode
    with pytest.raises(ConfigError) as failure:
        make_mode(test_config({"users": {"enabled": True, "mode": "jwt", **options}}))
    assert failure.value.option == option


def test_check_hides_an_hs256_secret():
    from helpers import test_config
    from spreed.doctor import effective
    shown = json.dumps(effective(test_config(HS_USERS)), default=str)
    assert HS_KEY not in shown and '"jwt_key": "(set, hidden)"' in shown
