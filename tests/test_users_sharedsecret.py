"""Accounts in sharedsecret mode: REST login and registration, then Authentication over the websocket."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time

import pytest

from helpers import project_root
from spreed.users.sharedsecret import mint

SECRET = "site-shared-secret"
USERS = {"users": {"enabled": True, "mode": "sharedsecret", "sharedsecret_secret": SECRET,
                   "allowRegistration": True}}


def combo_for(userid: str, lifetime: int = 3600, secret: str = SECRET) -> tuple[str, str]:
    combo, signature, _ = mint(secret.encode(), userid, lifetime)
    return combo, signature


async def patch(srv, client, **body):
    doc = {"id": client.id, "sid": client.self_doc["Sid"], **body}
    return await srv.fetch(f"api/v1/sessions/{client.id}/", method="PATCH", body=json.dumps(doc),
                           headers={"Content-Type": "application/json"})


def rest_error(response) -> dict:
    doc = json.loads(response.body)
    assert list(doc) == ["code", "message", "success"] and doc["success"] is False
    return doc


async def login(srv, client, userid: str) -> dict:
    combo, secret = combo_for(userid)
    response = await patch(srv, client, useridcombo=combo, secret=secret)
    assert response.code == 200, response.body
    return json.loads(response.body)


@pytest.mark.gen_test
async def test_login_end_to_end(make_server):
    srv = await make_server(USERS)
    alice, peer = await srv.connect(), await srv.connect()
    await alice.hello("lobby")
    await peer.hello("lobby")
    await alice.recv_type("Joined")

    doc = await login(srv, alice, "alice")
    assert list(doc) == ["nonce", "userid", "success"] and doc["userid"] == "alice"

    reply = await alice.request("Authentication", {"Type": "Authentication", "Authentication": {
        "Userid": "alice", "Nonce": doc["nonce"]}})
    me = reply["Data"]
    assert me["Type"] == "Self" and me["Userid"] == "alice" and me["Id"] == alice.id
    expected = base64.b64encode(hmac.new(bytes.fromhex("b" * 64), b"alice", hashlib.sha256).digest()).decode()
    assert me["Suserid"] == expected
    status = await peer.recv_type("Status")
    assert status["Data"]["Userid"] == "alice" and status["Data"]["Id"] == alice.id

    # the new token carries the userid: reconnecting with it is still alice
    again = await srv.connect(token=me["Token"])
    assert again.self_doc["Userid"] == "alice" and again.id == alice.id

    stats = srv.hub.stats()
    assert stats["users"] == 1


@pytest.mark.gen_test
async def test_bad_logins_are_refused(make_server):
    srv = await make_server(USERS)
    client = await srv.connect()
    good_combo, good_secret = combo_for("bob")
    expired_combo, expired_secret = combo_for("bob", lifetime=-10)
    foreign_combo, foreign_secret = combo_for("bob", secret="another-site")
    cases = [
        {"useridcombo": expired_combo, "secret": expired_secret},
        {"useridcombo": good_combo.replace("bob", "eve"), "secret": good_secret},
        {"useridcombo": good_combo, "secret": good_secret[:-4] + "AAA="},
        {"useridcombo": foreign_combo, "secret": foreign_secret},
        {"useridcombo": "bob", "secret": good_secret},
        {"useridcombo": "notanumber:bob", "secret": good_secret},
        {"useridcombo": 12, "secret": good_secret},
    ]
    for body in cases:
        response = await patch(srv, client, **body)
        assert response.code == 403, body
        assert rest_error(response)["code"] == "session_patch_failed"

    # id mismatch, missing sid, malformed JSON, form content type
    path = f"api/v1/sessions/{client.id}/"
    json_headers = {"Content-Type": "application/json"}
    bodies = [
        (json.dumps({"id": "other", "sid": client.self_doc["Sid"], "useridcombo": good_combo,
                     "secret": good_secret}), json_headers),
        (json.dumps({"id": client.id, "useridcombo": good_combo, "secret": good_secret}), json_headers),
        ("{not json", json_headers),
        ("[1,2]", json_headers),
        ("id=x&sid=y", {"Content-Type": "application/x-www-form-urlencoded"}),
    ]
    for body, headers in bodies:
        response = await srv.fetch(path, method="PATCH", body=body, headers=headers)
        assert response.code == 403 and rest_error(response)["code"] == "session_patch_failed", body

    # a three-part combo signs the whole string and logs in as the middle part
    combo = f"{int(time.time()) + 60}:carol:Carol C."
    signature = base64.b64encode(hmac.new(SECRET.encode(), combo.encode(), hashlib.sha256).digest()).decode()
    response = await patch(srv, client, useridcombo=combo, secret=signature)
    assert response.code == 200 and json.loads(response.body)["userid"] == "carol"


@pytest.mark.gen_test
async def test_disconnected_or_authenticated_sessions_get_no_nonce(make_server):
    srv = await make_server(USERS)
    gone = await srv.connect()
    ids = (gone.id, gone.self_doc["Sid"])
    gone.close()
    for _ in range(50):
        if ids[0] not in srv.hub.sessions:
            break
        await __import__("asyncio").sleep(0.02)
    combo, secret = combo_for("dave")
    body = json.dumps({"id": ids[0], "sid": ids[1], "useridcombo": combo, "secret": secret})
    response = await srv.fetch(f"api/v1/sessions/{ids[0]}/", method="PATCH", body=body,
                               headers={"Content-Type": "application/json"})
    assert response.code == 403

    client = await srv.connect()
    doc = await login(srv, client, "dave")
    await client.request("Authentication", {"Authentication": {"Userid": "dave", "Nonce": doc["nonce"]}})
    response = await patch(srv, client, useridcombo=combo, secret=secret)
    assert response.code == 403
    reply = await client.request("Authentication", {"Authentication": {"Userid": "dave", "Nonce": doc["nonce"]}})
    assert reply["Data"]["Code"] == "already_authenticated"


@pytest.mark.gen_test
async def test_nonce_replay_mismatch_and_foreign_session(make_server):
    srv = await make_server(USERS)
    a, b = await srv.connect(), await srv.connect()
    nonce_a = (await login(srv, a, "anna"))["nonce"]
    nonce_b = (await login(srv, b, "bert"))["nonce"]

    wrong_user = await a.request("Authentication", {"Authentication": {"Userid": "bert", "Nonce": nonce_a}})
    assert wrong_user["Data"]["Code"] == "invalid_session_token"
    foreign = await a.request("Authentication", {"Authentication": {"Userid": "bert", "Nonce": nonce_b}})
    assert foreign["Data"] == {"Type": "Error", "Code": "invalid_session_token",
                               "Message": "nonce validation failed"}
    ok = await a.request("Authentication", {"Authentication": {"Userid": "anna", "Nonce": nonce_a}})
    assert ok["Data"]["Userid"] == "anna"
    replay = await b.request("Authentication", {"Authentication": {"Userid": "anna", "Nonce": nonce_a}})
    assert replay["Data"]["Code"] == "invalid_session_token"
    # only the latest nonce of a session counts
    newer = (await login(srv, b, "bert"))["nonce"]
    stale = await b.request("Authentication", {"Authentication": {"Userid": "bert", "Nonce": nonce_b}})
    assert stale["Data"]["Code"] == "invalid_session_token"
    fresh = await b.request("Authentication", {"Authentication": {"Userid": "bert", "Nonce": newer}})
    assert fresh["Data"]["Userid"] == "bert"


@pytest.mark.gen_test
async def test_expired_nonce(make_server):
    srv = await make_server(USERS)
    client = await srv.connect()
    session = srv.hub.sessions[client.id]
    tickets = srv.hub.tickets
    stale = tickets.nonce.encode_raw(f"{session.sid}@{tickets.realm}", ["old", "salt"])
    parts = stale.split(b"|")
    # re-sign the same payload with a timestamp two minutes in the past
    ts = str(int(time.time()) - 120).encode()
    raw = ts + b"|" + parts[1] + b"|" + tickets.nonce._mac(f"{session.sid}@{tickets.realm}", ts, parts[1])
    session.nonce = base64.urlsafe_b64encode(raw).decode()
    reply = await client.request("Authentication", {"Authentication": {"Userid": "old", "Nonce": session.nonce}})
    assert reply["Data"]["Code"] == "invalid_session_token"
    assert "expired" in reply["Data"]["Message"]


@pytest.mark.gen_test
async def test_registration(make_server):
    srv = await make_server(USERS)
    client = await srv.connect()
    body = json.dumps({"id": client.id, "sid": client.self_doc["Sid"]})
    response = await srv.fetch("api/v1/users", method="POST", body=body,
                               headers={"Content-Type": "application/json"})
    assert response.code == 200, response.body
    doc = json.loads(response.body)
    assert list(doc) == ["nonce", "userid", "useridcombo", "secret", "timestamp", "success"]
    assert doc["userid"].endswith("@local") and len(doc["userid"]) == 36 + len("@local")
    assert abs(doc["timestamp"] - (time.time() + 8928 * 3600)) < 60
    assert doc["useridcombo"] == f"{doc['timestamp']}:{doc['userid']}"
    expected = base64.b64encode(hmac.new(SECRET.encode(), doc["useridcombo"].encode(), hashlib.sha256).digest())
    assert doc["secret"] == expected.decode()
    reply = await client.request("Authentication", {"Authentication": {"Userid": doc["userid"], "Nonce": doc["nonce"]}})
    assert reply["Data"]["Userid"] == doc["userid"]

    # the registered login works for a later session
    later = await srv.connect()
    response = await patch(srv, later, useridcombo=doc["useridcombo"], secret=doc["secret"])
    assert json.loads(response.body)["userid"] == doc["userid"]

    # form-encoded works too
    other = await srv.connect()
    response = await srv.fetch("api/v1/users", method="POST",
                               body=f"id={other.id}&sid={other.self_doc['Sid']}",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.code == 200


@pytest.mark.gen_test
async def test_registration_errors(make_server):
    srv = await make_server(USERS)
    client = await srv.connect()
    json_headers = {"Content-Type": "application/json"}
    cases = [
        ("{bad", json_headers, 400, "users_bad_request"),
        ("id=1", {"Content-Type": "text/plain"}, 400, "users_invalid_request"),
        (json.dumps({"id": client.id}), json_headers, 400, "users_bad_request"),
        (json.dumps({"id": client.id, "sid": "wrong"}), json_headers, 403, "users_invalid_session"),
        (json.dumps({"id": 5, "sid": []}), json_headers, 400, "users_bad_request"),
    ]
    for body, headers, status, code in cases:
        response = await srv.fetch("api/v1/users", method="POST", body=body, headers=headers)
        assert response.code == status, body
        assert rest_error(response)["code"] == code

    huge = json.dumps({"id": client.id, "sid": "x" * 200_000})
    response = await srv.fetch("api/v1/users", method="POST", body=huge, headers=json_headers)
    assert response.code == 413 and rest_error(response)["code"] == "request_too_large"
    response = await srv.fetch(f"api/v1/sessions/{client.id}/", method="PATCH", body=huge, headers=json_headers)
    assert response.code == 413

    ids = (client.id, client.self_doc["Sid"])
    client.close()
    for _ in range(50):
        if ids[0] not in srv.hub.sessions:
            break
        await __import__("asyncio").sleep(0.02)
    response = await srv.fetch("api/v1/users", method="POST", body=json.dumps({"id": ids[0], "sid": ids[1]}),
                               headers=json_headers)
    assert response.code == 400
    assert rest_error(response) == {"code": "users_request_failed", "message": 'Error: "no such session"',
                                    "success": False}
    assert (await srv.fetch("api/v1/users", method="GET")).code in (200, 405)
    assert (await srv.fetch("api/v1/users", method="PUT", body="")).code == 405


@pytest.mark.gen_test
async def test_end_points_follow_the_config(make_server):
    off = await make_server()
    client = await off.connect()
    response = await off.fetch(f"api/v1/sessions/{client.id}/", method="PATCH", body="{}")
    assert response.code == 404 and response.body == b"404 page not found\n"

    no_registration = await make_server({"users": {"enabled": True, "mode": "sharedsecret",
                                                   "sharedsecret_secret": SECRET}})
    response = await no_registration.fetch("api/v1/users", method="POST", body="{}")
    assert response.code == 404

    no_secret = await make_server({"users": {"enabled": True, "mode": "sharedsecret", "allowRegistration": True}})
    response = await no_secret.fetch("api/v1/users", method="POST", body="{}",
                                     headers={"Content-Type": "application/json"})
    assert response.code == 404 and response.body == b"No handler found"


def test_cli_mint(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"app:\n  sessionSecret: {'a' * 64}\n  encryptionSecret: {'b' * 64}\n"
                      f"users:\n  enabled: true\n  mode: sharedsecret\n  sharedsecret_secret: {SECRET}\n")
    out = subprocess.run([sys.executable, str(project_root() / "server.py"), "users", "mint",
                          "--userid", "alice", "--days", "30", "-c", str(config)],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    lines = dict(line.split(": ", 1) for line in out.strip().splitlines())
    combo, secret = lines["useridcombo"], lines["secret"]
    expiry, userid = combo.split(":")
    assert userid == "alice" and abs(int(expiry) - (time.time() + 30 * 86400)) < 60
    assert secret == base64.b64encode(hmac.new(SECRET.encode(), combo.encode(), hashlib.sha256).digest()).decode()

    bare = tmp_path / "bare.yaml"
    bare.write_text(f"app:\n  sessionSecret: {'a' * 64}\n  encryptionSecret: {'b' * 64}\n")
    result = subprocess.run([sys.executable, str(project_root() / "server.py"), "users", "mint",
                             "--userid", "alice", "-c", str(bare)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "users.sharedsecret_secret" in result.stderr
