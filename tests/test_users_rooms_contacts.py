"""Accounts and rooms: join/creation gating, distinct-user stats, and contacts between accounts."""
from __future__ import annotations

import base64
import json

import pytest

from test_users_sharedsecret import SECRET, login

SHARED = {"enabled": True, "mode": "sharedsecret", "sharedsecret_secret": SECRET}


async def signed_in(srv, userid: str):
    client = await srv.connect()
    nonce = (await login(srv, client, userid))["nonce"]
    reply = await client.request("Authentication", {"Authentication": {"Userid": userid, "Nonce": nonce}})
    assert reply["Data"]["Userid"] == userid
    return client


@pytest.mark.gen_test
async def test_authorize_room_join(make_server):
    srv = await make_server({"users": SHARED, "app": {"authorizeRoomJoin": True}})
    member = await signed_in(srv, "alice")
    assert (await member.hello("private"))["Data"]["Type"] == "Welcome"
    anonymous = await srv.connect()
    reply = await anonymous.hello("private")
    assert reply["Data"] == {"Type": "Error", "Code": "room_join_requires_account",
                             "Message": "Room join requires a user account"}
    assert (await anonymous.hello("new-room"))["Data"]["Code"] == "room_join_requires_account"


@pytest.mark.gen_test
async def test_authorize_room_creation(make_server):
    srv = await make_server({"users": SHARED, "app": {"authorizeRoomCreation": True}})
    anonymous = await srv.connect()
    reply = await anonymous.hello("fresh")
    assert reply["Data"] == {"Type": "Error", "Code": "room_join_requires_account",
                             "Message": "Room creation requires a user account"}
    owner = await signed_in(srv, "owner")
    assert (await owner.hello("fresh"))["Data"]["Type"] == "Welcome"
    assert (await anonymous.hello("fresh"))["Data"]["Type"] == "Welcome"


@pytest.mark.gen_test
async def test_gating_needs_users_enabled(make_server):
    srv = await make_server({"app": {"authorizeRoomJoin": True, "authorizeRoomCreation": True}})
    anonymous = await srv.connect()
    assert (await anonymous.hello("open"))["Data"]["Type"] == "Welcome"


@pytest.mark.gen_test
async def test_stats_count_distinct_users(make_server):
    srv = await make_server({"users": SHARED, "http": {"stats": True}})
    await signed_in(srv, "alice")
    await signed_in(srv, "alice")
    bob = await signed_in(srv, "bob")
    await srv.connect()
    hub = json.loads((await srv.fetch("api/v1/stats")).body)["hub"]
    assert hub["users"] == 2 and hub["sessions"] == 4
    bob.close()
    for _ in range(50):
        if srv.hub.stats()["users"] == 1:
            break
        await __import__("asyncio").sleep(0.02)
    assert srv.hub.stats()["users"] == 1


def contact_chat(to: str, request: dict) -> dict:
    return {"Type": "Chat", "Chat": {"To": to, "Type": "Chat", "Chat": {
        "Message": "", "NoEcho": True, "Status": {"ContactRequest": request}}}}


@pytest.mark.gen_test
async def test_contact_request_accept_and_lookup(make_server):
    srv = await make_server({"users": SHARED})
    alice, bob = await signed_in(srv, "alice"), await signed_in(srv, "bob")
    anonymous = await srv.connect()

    await alice.send(contact_chat(bob.id, {"Id": "req1", "Success": False}))
    incoming = (await bob.recv_type("Chat"))["Data"]["Chat"]["Status"]["ContactRequest"]
    token = incoming["Token"]
    assert incoming["Userid"] == "alice" and incoming["Id"] == "req1" and token
    padded = token + "=" * (-len(token) % 4)
    assert b"alice" not in base64.urlsafe_b64decode(padded) and b"bob" not in base64.urlsafe_b64decode(padded)

    await bob.send(contact_chat(alice.id, {"Id": "req1", "Success": True, "Token": token}))
    accepted = (await alice.recv_type("Chat"))["Data"]["Chat"]["Status"]["ContactRequest"]
    assert accepted == {"Id": "req1", "Success": True, "Userid": "bob", "Token": token}

    reply = await alice.request("Sessions", {"Type": "Sessions", "Sessions": {"Type": "contact", "Token": token}})
    data = reply["Data"]
    assert data["Type"] == "Sessions" and data["Sessions"] == {"Token": token, "Type": "contact"}
    assert [u["Id"] for u in data["Users"]] == [bob.id] and data["Users"][0]["Type"] == ""
    # bob's side of the same token finds alice; a subscription sends Left when she goes
    reply = await bob.request("Sessions", {"Sessions": {"Type": "contact", "Token": token}})
    assert [u["Userid"] for u in reply["Data"]["Users"]] == ["alice"]
    alice.close()
    left = await bob.recv_type("Left")
    assert left["Data"] == {"Type": "Left", "Id": alice.id, "Status": "hard"} and "To" not in left

    # an offline contact comes back as a stand-in session with the userid
    reply = await bob.request("Sessions", {"Sessions": {"Type": "contact", "Token": token}})
    (fake,) = reply["Data"]["Users"]
    assert fake["Userid"] == "alice" and fake["Id"] != alice.id

    # a third party cannot use the token
    foreign = await anonymous.request("Sessions", {"Sessions": {"Type": "contact", "Token": token}})
    assert foreign["Data"]["Type"] == "Error" and foreign["Data"]["Code"] == "bad_request"
    garbled = await bob.request("Sessions", {"Sessions": {"Type": "contact", "Token": "nope"}})
    assert garbled["Data"]["Code"] == "bad_request"


@pytest.mark.gen_test
async def test_contact_reject_and_invalid_requests_are_dropped(make_server):
    srv = await make_server({"users": SHARED})
    alice, bob = await signed_in(srv, "alice"), await signed_in(srv, "bob")
    anonymous = await srv.connect()

    await bob.send(contact_chat(alice.id, {"Id": "r", "Success": False, "Token": "some-token"}))
    rejected = (await alice.recv_type("Chat"))["Data"]["Chat"]["Status"]["ContactRequest"]
    assert rejected == {"Id": "r", "Success": False, "Userid": "bob"}

    # anonymous sender, anonymous target, self-contact, forged accept: all dropped silently
    await anonymous.send(contact_chat(alice.id, {"Id": "x", "Success": False}))
    await alice.send(contact_chat(anonymous.id, {"Id": "x", "Success": False}))
    await alice.send(contact_chat(alice.id, {"Id": "x", "Success": False}))
    forged = srv.hub.tickets.contact_token("mallory", "bob")
    await bob.send(contact_chat(alice.id, {"Id": "x", "Success": True, "Token": forged}))
    assert await alice.silent(0.3)
    assert await anonymous.silent(0.1)


@pytest.mark.gen_test
async def test_contacts_module_off(make_server):
    srv = await make_server({"users": SHARED, "modules": {"contacts": False}})
    alice, bob = await signed_in(srv, "alice"), await signed_in(srv, "bob")
    await alice.send(contact_chat(bob.id, {"Id": "x", "Success": False}))
    assert await bob.silent(0.3)
    token = srv.hub.tickets.contact_token("bob", "alice")
    reply = await alice.request("Sessions", {"Sessions": {"Type": "contact", "Token": token}})
    assert reply["Data"]["Code"] == "contacts_not_enabled"
