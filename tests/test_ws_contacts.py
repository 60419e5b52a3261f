"""Channeling API, contacts and Sessions lookups: ContactRequest chats, contact tokens, subscriptions,
Sessions type contact/session and their errors (protocol.md 4.7.8, 4.7.10, 5.5, 5.7; gotchas 5, 7, 34)."""
from __future__ import annotations

import pytest

USERS = {"users": {"enabled": True, "mode": "httpheader"}}
SESSION_KEYS = ["Type", "Id", "Userid", "Ua", "Rev", "Prio", "Status"]


async def user(srv, userid: str = ""):
    return await srv.connect(headers={"x-users": userid} if userid else None)


def contact_chat(to: str, request: dict, **extra) -> dict:
    return {"Type": "Chat", "Chat": {"To": to, "Type": "Chat",
                                     "Chat": {"Message": "", "Status": {"ContactRequest": request}, **extra}}}


async def sessions(client, kind: str, token: str) -> dict:
    return await client.request("Sessions", {"Type": "Sessions", "Sessions": {"Type": kind, "Token": token}})


def assert_error(msg: dict, code: str, sender: str) -> None:
    assert list(msg) == ["Data", "From", "Iid"] and msg["From"] == sender, msg
    assert list(msg["Data"]) == ["Type", "Code", "Message"], msg
    assert msg["Data"]["Type"] == "Error" and msg["Data"]["Code"] == code, msg


async def befriend(srv):
    """alice asks bob, bob accepts: returns (alice, bob, token)."""
    alice = await user(srv, "alice")
    bob = await user(srv, "bob")
    await alice.send(contact_chat(bob.id, {"Id": "req", "Success": False}, NoEcho=True))
    token = (await bob.recv())["Data"]["Chat"]["Status"]["ContactRequest"]["Token"]
    await bob.send(contact_chat(alice.id, {"Id": "req", "Success": True, "Token": token}, NoEcho=True))
    await alice.recv()
    return alice, bob, token


# ---------------------------------------------------------------- contact requests (4.7.10, gotcha 34)

@pytest.mark.gen_test
async def test_contact_request_accept_and_reject(make_server):
    srv = await make_server(USERS)
    alice = await user(srv, "alice")
    bob = await user(srv, "bob")
    await alice.send(contact_chat(bob.id, {"Id": "req1", "Success": False}))
    echo = await alice.recv()  # the echo goes out before validation, unchanged
    assert echo["Data"]["Chat"]["Status"] == {"ContactRequest": {"Id": "req1", "Success": False}}
    msg = await bob.recv()
    assert list(msg) == ["Data", "From", "To", "A"] and msg["From"] == alice.id
    request = msg["Data"]["Chat"]["Status"]["ContactRequest"]
    assert list(request) == ["Id", "Success", "Userid", "Token"]
    assert request["Id"] == "req1" and request["Success"] is False and request["Userid"] == "alice"
    token = request["Token"]
    assert srv.hub.tickets.decode_contact(token) == ("bob", "alice")  # A = target, B = requester
    # accept: forwarded with the token unchanged and the accepting user's id
    await bob.send(contact_chat(alice.id, {"Id": "req1", "Success": True, "Token": token}, NoEcho=True))
    accepted = (await alice.recv())["Data"]["Chat"]["Status"]["ContactRequest"]
    assert accepted == {"Id": "req1", "Success": True, "Userid": "bob", "Token": token}
    # reject: the token is stripped
    await bob.send(contact_chat(alice.id, {"Id": "req2", "Success": False, "Token": token}, NoEcho=True))
    rejected = (await alice.recv())["Data"]["Chat"]["Status"]["ContactRequest"]
    assert rejected == {"Id": "req2", "Success": False, "Userid": "bob"}


@pytest.mark.gen_test
async def test_contact_request_userid_cannot_be_forged(make_server):
    srv = await make_server(USERS)
    alice = await user(srv, "alice")
    bob = await user(srv, "bob")
    await alice.send(contact_chat(bob.id, {"Id": "r", "Success": False, "Userid": "mallory"}, NoEcho=True))
    assert (await bob.recv())["Data"]["Chat"]["Status"]["ContactRequest"]["Userid"] == "alice"


@pytest.mark.gen_test
async def test_invalid_contact_requests_are_dropped(make_server):
    srv = await make_server(USERS)
    alice = await user(srv, "alice")
    alice2 = await user(srv, "alice")
    bob = await user(srv, "bob")
    anon = await user(srv)
    cases = [
        (anon, bob, {"Id": "1", "Success": False}),           # requester without userid
        (alice, anon, {"Id": "2", "Success": False}),         # target without userid
        (alice, alice2, {"Id": "3", "Success": False}),       # no self-contact
        (alice, bob, {"Id": "5", "Success": True, "Token": "garbage"}),
    ]
    for sender, target, request in cases:
        await sender.send(contact_chat(target.id, request, NoEcho=True, Mid="mid"))
    token = srv.hub.tickets.contact_token("bob", "alice")
    # accepting with the roles swapped (alice is B, not A) is refused
    await alice.send(contact_chat(bob.id, {"Id": "6", "Success": True, "Token": token}, NoEcho=True, Mid="mid"))
    # a request to a session that is not connected
    await alice.send(contact_chat("no-such-session", {"Id": "7", "Success": False}, NoEcho=True, Mid="mid"))
    for client in (alice, alice2, bob, anon):
        assert await client.silent(0.15), "dropped: no forward, no sent receipt, no error"


@pytest.mark.gen_test
async def test_contact_requests_are_dropped_with_contacts_disabled(make_server):
    srv = await make_server({**USERS, "modules": {"contacts": False}})
    alice = await user(srv, "alice")
    bob = await user(srv, "bob")
    await alice.send(contact_chat(bob.id, {"Id": "1", "Success": False}, NoEcho=True))
    assert await bob.silent(0.3)


# ---------------------------------------------------------------- Sessions (4.7.10)

@pytest.mark.gen_test
async def test_sessions_session_with_a_fresh_attestation(server):
    a = await server.connect()
    b = await server.connect()
    await b.hello("r")
    await b.send({"Type": "Status", "Status": {"Type": "Status", "Status": {"displayName": "bee"}}})
    await b.send({"Type": "Offer", "Offer": {"To": a.id, "Type": "Offer", "Offer": {"sdp": ""}}})
    attestation = (await a.recv())["A"]
    reply = await sessions(a, "session", attestation)
    assert list(reply) == ["Data", "From", "Iid"] and reply["From"] == a.id
    doc = reply["Data"]
    assert list(doc) == ["Type", "Sessions", "Users"] and doc["Type"] == "Sessions"
    assert doc["Sessions"] == {"Token": attestation, "Type": "session"}
    assert list(doc["Sessions"]) == ["Token", "Type"]
    # Type is "" here, not "Online" (gotcha 7)
    assert doc["Users"] == [{"Type": "", "Id": b.id, "Ua": "test", "Rev": 2, "Prio": 100,
                             "Status": {"displayName": "bee"}}]


@pytest.mark.gen_test
async def test_sessions_errors(server):
    a = await server.connect()
    b = await server.connect()
    assert_error(await sessions(a, "session", "garbage"), "bad_attestation", a.id)
    # a session token or an id is not an attestation
    assert_error(await sessions(a, "session", b.self_doc["Token"]), "bad_attestation", a.id)
    attestation = server.hub.tickets.attest(b.id)
    b.close()
    await b.closed()
    reply = await sessions(a, "session", attestation)
    assert_error(reply, "no_such_session", a.id)
    assert reply["Data"]["Message"] == "cannot retrieve session"
    reply = await sessions(a, "bogus", "")
    assert_error(reply, "bad_request", a.id)
    assert reply["Data"]["Message"] == "unknown sessions request type"
    for payload in (None, {"Type": "Sessions"}):
        reply = await a.request("Sessions", payload)
        assert_error(reply, "bad_request", a.id)
        assert reply["Data"]["Message"] == "message did not contain Sessions"


@pytest.mark.gen_test
async def test_sessions_contact_returns_the_contacts_sessions(make_server):
    srv = await make_server(USERS)
    alice, bob, token = await befriend(srv)
    bob2 = await user(srv, "bob")
    reply = await sessions(alice, "contact", token)
    doc = reply["Data"]
    assert doc["Type"] == "Sessions" and doc["Sessions"] == {"Token": token, "Type": "contact"}
    assert sorted(u["Id"] for u in doc["Users"]) == sorted([bob.id, bob2.id])
    for entry in doc["Users"]:
        assert entry == {"Type": "", "Id": entry["Id"], "Userid": "bob", "Rev": 1, "Prio": 100}
    # and the other way round, with the same token
    back = await sessions(bob, "contact", token)
    assert [u["Id"] for u in back["Data"]["Users"]] == [alice.id]


@pytest.mark.gen_test
async def test_sessions_contact_for_an_offline_contact_gives_a_stable_fake_session(make_server):
    srv = await make_server(USERS)
    alice = await user(srv, "alice")
    token = srv.hub.tickets.contact_token("alice", "carol")
    first = (await sessions(alice, "contact", token))["Data"]["Users"]
    assert len(first) == 1
    assert first[0]["Type"] == "" and first[0]["Userid"] == "carol" and first[0]["Prio"] == 100
    assert list(first[0]) == ["Type", "Id", "Userid", "Prio"]
    again = (await sessions(alice, "contact", token))["Data"]["Users"]
    assert again == first


@pytest.mark.gen_test
async def test_sessions_contact_with_a_bad_or_foreign_token_is_a_bad_request(make_server):
    srv = await make_server(USERS)
    alice = await user(srv, "alice")
    anon = await user(srv)
    foreign = srv.hub.tickets.contact_token("bob", "carol")
    for client, token in ((alice, "garbage"), (alice, foreign), (anon, foreign), (alice, "")):
        assert_error(await sessions(client, "contact", token), "bad_request", client.id)


@pytest.mark.gen_test
async def test_sessions_contact_with_contacts_disabled(make_server):
    srv = await make_server({**USERS, "modules": {"contacts": False}})
    alice = await user(srv, "alice")
    token = srv.hub.tickets.contact_token("alice", "bob")
    reply = await sessions(alice, "contact", token)
    assert_error(reply, "contacts_not_enabled", alice.id)
    assert reply["Data"]["Message"] == "incoming contacts session request with contacts disabled"


@pytest.mark.gen_test
async def test_subscriptions_get_left_hard_both_ways(make_server):
    srv = await make_server(USERS)
    alice, bob, token = await befriend(srv)
    await sessions(alice, "contact", token)  # alice subscribes to bob's sessions
    bob.close()
    left = await alice.recv()
    assert left == {"Data": {"Type": "Left", "Id": bob.id, "Status": "hard"}, "From": bob.id, "A": left["A"]}
    assert srv.hub.tickets.decode_attestation(left["A"]) == bob.id
    # and a subscriber going away is told to the subscribed session
    bob2 = await user(srv, "bob")
    await sessions(alice, "contact", token)
    alice.close()
    left = await bob2.recv()
    assert left["Data"] == {"Type": "Left", "Id": alice.id, "Status": "hard"} and "To" not in left


@pytest.mark.gen_test
async def test_subscriptions_survive_a_reclaim_while_connected(make_server):
    srv = await make_server(USERS)
    alice, bob, token = await befriend(srv)
    await sessions(alice, "contact", token)
    bob2 = await srv.connect(bob.self_doc["Token"])
    assert bob2.id == bob.id and bob2.self_doc["Userid"] == "bob"
    assert await bob.closed()
    assert await alice.silent(0.3), "no Left for a replaced connection"
    bob2.close()
    left = await alice.recv()
    assert left["Data"] == {"Type": "Left", "Id": bob.id, "Status": "hard"}


@pytest.mark.gen_test
async def test_reclaim_under_another_userid_forgets_the_old_one(make_server):
    srv = await make_server(USERS)
    alice = await user(srv, "alice")
    carol = await user(srv, "carol")
    other = await srv.connect(alice.self_doc["Token"], headers={"x-users": "mallory"})
    assert other.id == alice.id and other.self_doc["Userid"] == "mallory"
    token = srv.hub.tickets.contact_token("carol", "alice")
    found = (await sessions(carol, "contact", token))["Data"]["Users"]
    assert len(found) == 1 and found[0]["Userid"] == "alice" and found[0]["Id"] != alice.id  # offline: fake
