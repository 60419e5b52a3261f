"""Channeling API, rooms: Hello/Welcome, Joined/Left, Leave, Users, Room updates and PINs, room types,
the default and global rooms, join/creation authorization, expiry and server-managed conferences
(protocol.md 4.6, 4.7.2-4.7.6, 8.1-8.20; gotchas 3, 4, 6, 7, 13, 21-30, 36)."""
from __future__ import annotations

import asyncio

import pytest

ERROR_KEYS = ["Type", "Code", "Message"]
ROOM_KEYS = ["Type", "Name", "Credentials"]


def assert_error(msg: dict, code: str, sender: str, iid: str | None = None, message: str | None = None) -> None:
    assert list(msg) == (["Data", "From", "Iid"] if iid else ["Data", "From"]), msg
    assert msg["From"] == sender
    if iid:
        assert msg["Iid"] == iid
    assert list(msg["Data"]) == ERROR_KEYS and msg["Data"]["Type"] == "Error", msg
    assert msg["Data"]["Code"] == code, msg
    if message is not None:
        assert msg["Data"]["Message"] == message, msg


async def hello_error(client, name: str, code: str, message: str | None = None, **extra) -> None:
    reply = await client.hello(name, **extra)
    assert_error(reply, code, client.id, reply.get("Iid"), message)


async def in_room(srv, name: str, count: int, **extra):
    """count clients in one room, each having seen all Joined of the later ones."""
    clients = []
    for _ in range(count):
        c = await srv.connect()
        welcome = await c.hello(name, **extra)
        assert welcome["Data"]["Type"] == "Welcome", welcome
        for earlier in clients:
            await earlier.recv_type("Joined")
        clients.append(c)
    return clients


def pin(value: str) -> dict:
    return {"Credentials": {"PIN": value}}


# ---------------------------------------------------------------- Hello / Welcome / Joined (4.7.2)

@pytest.mark.gen_test
async def test_hello_welcome_shape(server):
    a = await server.connect()
    reply = await a.hello("room1")
    assert list(reply) == ["Data", "From", "Iid"] and reply["From"] == a.id
    doc = reply["Data"]
    assert list(doc) == ["Type", "Room", "Users"] and doc["Type"] == "Welcome"
    assert list(doc["Room"]) == ROOM_KEYS
    assert doc["Room"] == {"Type": "Room", "Name": "room1", "Credentials": None}
    # the joining session itself is listed (gotcha 24), Type Online (gotcha 7)
    assert doc["Users"] == [{"Type": "Online", "Id": a.id, "Ua": "test", "Rev": 1, "Prio": 100}]
    assert list(doc["Users"][0]) == ["Type", "Id", "Ua", "Rev", "Prio"]


@pytest.mark.gen_test
async def test_hello_without_iid_still_gets_welcome(server):
    a = await server.connect()
    await a.send({"Type": "Hello", "Hello": {"Version": "1.0.0", "Ua": "x", "Name": "r", "Type": ""}})
    msg = await a.recv()
    assert list(msg) == ["Data", "From"] and msg["Data"]["Type"] == "Welcome"


@pytest.mark.gen_test
async def test_hello_id_is_the_fallback_for_name(server):
    a = await server.connect()
    b = await server.connect()
    reply = await a.request("Hello", {"Id": "foobar"})
    assert reply["Data"]["Room"] == {"Type": "Room", "Name": "foobar", "Credentials": None}
    await b.hello("foobar")
    assert (await a.recv_type("Joined"))["Data"]["Id"] == b.id  # same room Room:foobar


@pytest.mark.gen_test
async def test_hello_without_payload_is_bad_request(server):
    a = await server.connect()
    await a.send({"Type": "Hello", "Iid": "h"})
    assert_error(await a.recv(), "bad_request", a.id, "h", "message did not contain Hello")
    await a.send({"Type": "Hello"})  # errors are sent even without an Iid (gotcha 4)
    assert_error(await a.recv(), "bad_request", a.id, None, "message did not contain Hello")


@pytest.mark.gen_test
async def test_joined_is_broadcast_once_without_rev(server):
    a, b = await in_room(server, "r", 2)
    c = await server.connect()
    await c.send({"Type": "Status", "Status": {"Type": "Status", "Status": {"displayName": "cee"}}})
    await c.hello("r")
    for peer in (a, b):
        joined = await peer.recv()
        assert list(joined) == ["Data", "From", "A"] and joined["From"] == c.id
        # no Rev in Joined; Status present once set (gotcha 6)
        assert joined["Data"] == {"Type": "Joined", "Id": c.id, "Ua": "test", "Prio": 100,
                                  "Status": {"displayName": "cee"}}
        assert list(joined["Data"]) == ["Type", "Id", "Ua", "Prio", "Status"]
        assert await peer.silent(0.2)  # exactly one broadcast
    assert await c.silent(0.2)  # the joiner gets only its Welcome


@pytest.mark.gen_test
async def test_joined_without_ua_or_status(server):
    a = await server.connect()
    b = await server.connect()
    await a.hello("r")
    await b.request("Hello", {"Name": "r"})
    joined = await a.recv_type("Joined")
    assert joined["Data"] == {"Type": "Joined", "Id": b.id, "Prio": 100}


@pytest.mark.gen_test
async def test_rejoining_the_same_room_broadcasts_joined_again_without_left(server):
    a, b = await in_room(server, "r", 2)
    await b.hello("r")
    msg = await a.recv()
    assert msg["Data"]["Type"] == "Joined" and msg["Data"]["Id"] == b.id
    users = await a.request("Users", {})
    assert sorted(u["Id"] for u in users["Data"]["Users"]) == sorted([a.id, b.id])


@pytest.mark.gen_test
async def test_switching_rooms_sends_left_soft_to_the_old_room(server):
    a, b = await in_room(server, "r1", 2)
    c = (await in_room(server, "r2", 1))[0]
    welcome = await b.hello("r2")
    left = await a.recv()
    assert list(left) == ["Data", "From", "A"] and left["From"] == b.id
    assert left["Data"] == {"Type": "Left", "Id": b.id, "Status": "soft"}
    assert list(left["Data"]) == ["Type", "Id", "Status"]
    joined = await c.recv()
    assert joined["Data"]["Type"] == "Joined" and joined["Data"]["Id"] == b.id
    assert sorted(u["Id"] for u in welcome["Data"]["Users"]) == sorted([b.id, c.id])
    assert await a.silent(0.2)


@pytest.mark.gen_test
async def test_disconnect_sends_left_hard(server):
    a, b = await in_room(server, "r", 2)
    b.close()
    left = await a.recv()
    assert left == {"Data": {"Type": "Left", "Id": b.id, "Status": "hard"}, "From": b.id, "A": left["A"]}
    users = await a.request("Users", {})
    assert [u["Id"] for u in users["Data"]["Users"]] == [a.id]


# ---------------------------------------------------------------- Leave (4.7.2.1)

@pytest.mark.gen_test
async def test_leave_never_replies_and_broadcasts_left_soft(server):
    a, b = await in_room(server, "r", 2)
    await b.send({"Type": "Leave", "Leave": {}, "Iid": "l1"})
    left = await a.recv()
    assert left["Data"] == {"Type": "Left", "Id": b.id, "Status": "soft"} and left["From"] == b.id
    assert await b.silent(0.3)
    # not in a room any more
    await b.send({"Type": "Users", "Iid": "u"})
    assert_error(await b.recv(), "not_in_room", b.id, "u", "Cannot list users without a current room")
    # a second Leave does nothing at all
    await b.send({"Type": "Leave", "Iid": "l2"})
    assert await b.silent(0.2) and await a.silent(0.1)


# ---------------------------------------------------------------- Users (4.7.6)

@pytest.mark.gen_test
async def test_users_lists_the_room(server):
    a, b = await in_room(server, "r", 2)
    await b.send({"Type": "Status", "Status": {"Type": "Status", "Status": {"displayName": "bee"}}})
    await a.recv_type("Status")
    reply = await a.request("Users", {"Type": "Users", "Users": {}})
    assert list(reply) == ["Data", "From", "Iid"]
    assert list(reply["Data"]) == ["Type", "Users"] and reply["Data"]["Type"] == "Users"
    by_id = {u["Id"]: u for u in reply["Data"]["Users"]}
    assert by_id == {a.id: {"Type": "Online", "Id": a.id, "Ua": "test", "Rev": 1, "Prio": 100},
                     b.id: {"Type": "Online", "Id": b.id, "Ua": "test", "Rev": 2, "Prio": 100,
                            "Status": {"displayName": "bee"}}}


@pytest.mark.gen_test
async def test_users_without_room_is_not_in_room(server):
    a = await server.connect()
    reply = await a.request("Users", {})
    assert_error(reply, "not_in_room", a.id, reply["Iid"], "Cannot list users without a current room")


# ---------------------------------------------------------------- PINs (4.6, 8.9-8.15, gotchas 22, 26)

@pytest.mark.gen_test
async def test_pin_rules_on_join(server):
    owner = await server.connect()
    reply = await owner.hello("secret", **pin("1234"))
    assert reply["Data"]["Room"] == {"Type": "Room", "Name": "secret", "Credentials": None}  # never echoed
    guest = await server.connect()
    await hello_error(guest, "secret", "authorization_required",
                      "Valid credentials are required to join this room")
    await hello_error(guest, "secret", "invalid_credentials", "The provided credentials are incorrect",
                      **pin("1235"))
    await hello_error(guest, "secret", "invalid_credentials", None, **pin("12345"))
    await hello_error(guest, "secret", "invalid_credentials", None, Credentials={})
    assert await owner.silent(0.1), "failed joins broadcast nothing (8.4)"
    ok = await guest.hello("secret", **pin("1234"))
    assert ok["Data"]["Type"] == "Welcome"
    assert len(ok["Data"]["Users"]) == 2


@pytest.mark.gen_test
async def test_credentials_on_an_open_room_are_refused(server):
    a = await server.connect()
    await a.hello("open")
    b = await server.connect()
    for creds in ({}, {"PIN": ""}, {"PIN": "x"}):
        await hello_error(b, "open", "authorization_not_required",
                          "No credentials may be provided for this room", Credentials=creds)
    # creating a room with empty credentials creates it (without a PIN) and then fails the join
    await hello_error(b, "fresh", "authorization_not_required", None, Credentials={})
    c = await server.connect()
    assert (await c.hello("fresh"))["Data"]["Type"] == "Welcome"
    assert [u["Id"] for u in (await c.request("Users", {}))["Data"]["Users"]] == [c.id]


@pytest.mark.gen_test
async def test_room_update_sets_and_clears_the_pin(server):
    a, b = await in_room(server, "r", 2)
    reply = await a.request("Room", {"Type": "Room", "Name": "r", "Credentials": {"PIN": "9876"}})
    assert list(reply) == ["Data", "From", "Iid"]
    assert reply["Data"] == {"Type": "Room", "Name": "r", "Credentials": {"PIN": "9876"}}
    assert list(reply["Data"]) == ROOM_KEYS
    update = await b.recv()  # broadcast with the PIN in clear (gotcha 26)
    assert list(update) == ["Data", "From", "A"] and update["From"] == a.id
    assert update["Data"] == {"Type": "Room", "Name": "r", "Credentials": {"PIN": "9876"}}
    c = await server.connect()
    await hello_error(c, "r", "authorization_required")
    await hello_error(c, "r", "invalid_credentials", None, **pin("0000"))
    # null credentials keep the PIN (8.15); b (any member) may change it
    keep = await b.request("Room", {"Name": "r", "Credentials": None})
    assert keep["Data"] == {"Type": "Room", "Name": "r", "Credentials": None}
    assert (await a.recv())["Data"] == {"Type": "Room", "Name": "r", "Credentials": None}
    await hello_error(c, "r", "authorization_required")
    # an empty PIN clears it (8.14)
    clear = await b.request("Room", {"Name": "r", "Credentials": {"PIN": ""}})
    assert clear["Data"] == {"Type": "Room", "Name": "r", "Credentials": {"PIN": ""}}
    assert (await a.recv())["Data"]["Credentials"] == {"PIN": ""}
    await hello_error(c, "r", "authorization_not_required", None, Credentials={})
    assert (await c.hello("r"))["Data"]["Type"] == "Welcome"


@pytest.mark.gen_test
async def test_room_update_with_empty_credentials_object_clears(server):
    a, b = await in_room(server, "r", 2, **pin("1"))
    reply = await a.request("Room", {"Name": "r", "Credentials": {}})
    assert reply["Data"] == {"Type": "Room", "Name": "r", "Credentials": {"PIN": ""}}
    assert list(reply["Data"]["Credentials"]) == ["PIN"]
    assert (await b.recv())["Data"] == reply["Data"]
    c = await server.connect()
    assert (await c.hello("r"))["Data"]["Type"] == "Welcome"


@pytest.mark.gen_test
async def test_room_update_errors(server):
    a = await server.connect()
    reply = await a.request("Room", {"Type": "Room", "Name": "r"})
    assert_error(reply, "not_in_room", a.id, reply["Iid"], "Cannot update other rooms")  # 8.18
    await a.hello("r")
    reply = await a.request("Room", {"Type": "Room", "Name": "other"})
    assert_error(reply, "not_in_room", a.id, reply["Iid"], "Cannot update other rooms")  # 8.19
    reply = await a.request("Room", {"Type": "Conference", "Name": "r"})
    assert_error(reply, "not_in_room", a.id, reply["Iid"])  # another type is another room
    await a.send({"Type": "Room", "Iid": "x"})
    assert_error(await a.recv(), "bad_request", a.id, "x", "message did not contain Room")


@pytest.mark.gen_test
async def test_room_update_forces_the_rooms_type(make_server):
    srv = await make_server({"roomtypes": {"^conference/": "Conference"}})
    a = await srv.connect()
    await a.hello("conference/x")
    reply = await a.request("Room", {"Type": "", "Name": "conference/x", "Credentials": None})
    assert reply["Data"] == {"Type": "Conference", "Name": "conference/x", "Credentials": None}


# ---------------------------------------------------------------- room types (4.6, gotcha 21)

@pytest.mark.gen_test
async def test_roomtypes_and_client_supplied_types(make_server):
    srv = await make_server({"roomtypes": {"^conf/.+": "Conference", "^Room-x$": "Room"}})
    a = await srv.connect()
    assert (await a.hello("conf/abc"))["Data"]["Room"]["Type"] == "Conference"
    assert (await a.hello("my/conf/abc"))["Data"]["Room"]["Type"] == "Room"  # anchored regex
    assert (await a.hello("Room-x"))["Data"]["Room"]["Type"] == "Room"
    # a client-supplied type is used as-is: it escapes [roomtypes] and can invent types
    assert (await a.hello("conf/abc", Type="Room"))["Data"]["Room"] == {
        "Type": "Room", "Name": "conf/abc", "Credentials": None}
    assert (await a.hello("plain", Type="Conference"))["Data"]["Room"]["Type"] == "Conference"
    assert (await a.hello("plain", Type="Foo"))["Data"]["Room"]["Type"] == "Foo"


@pytest.mark.gen_test
async def test_room_names_are_case_sensitive_and_typed(make_server):
    srv = await make_server({})
    a = await srv.connect()
    b = await srv.connect()
    await a.hello("Lobby")
    await b.hello("lobby")
    await b.hello("Lobby", Type="Conference")  # Conference:Lobby is not Room:Lobby
    assert await a.silent(0.3)


# ---------------------------------------------------------------- default and global rooms

@pytest.mark.gen_test
async def test_default_room_enabled_by_default(server):
    a = await server.connect()
    reply = await a.hello("")
    assert reply["Data"]["Room"] == {"Type": "Room", "Name": "", "Credentials": None}


@pytest.mark.gen_test
async def test_default_room_disabled(make_server):
    srv = await make_server({"app": {"defaultRoomEnabled": False}})
    a = await srv.connect()
    await hello_error(a, "", "default_room_disabled", "The default room is not enabled")
    # only exactly Room: is blocked
    assert (await a.hello("", Type="Conference"))["Data"]["Room"]["Type"] == "Conference"
    assert (await a.hello("x"))["Data"]["Type"] == "Welcome"


@pytest.mark.gen_test
async def test_failed_hello_leaves_the_old_room_first(server):
    """Gotcha 23: the old room is left before the join, so a failed Hello leaves the client roomless."""
    owner = await server.connect()
    await owner.hello("locked", **pin("p"))
    a, b = await in_room(server, "r", 2)
    await hello_error(b, "locked", "authorization_required")
    left = await a.recv()
    assert left["Data"] == {"Type": "Left", "Id": b.id, "Status": "soft"}
    reply = await b.request("Users", {})
    assert reply["Data"]["Code"] == "not_in_room"
    assert await owner.silent(0.1)


@pytest.mark.gen_test
async def test_failed_rejoin_of_the_same_room_does_not_leave_a_ghost(server):
    a, b = await in_room(server, "r", 2)
    await hello_error(b, "r", "authorization_not_required", None, Credentials={})
    reply = await b.request("Users", {})
    assert reply["Data"]["Code"] == "not_in_room"
    users = await a.request("Users", {})
    assert [u["Id"] for u in users["Data"]["Users"]] == [a.id]
    b.close()
    # b is not in the room: no Left for a hard disconnect (a may have seen a soft one)
    msgs = []
    try:
        while True:
            msgs.append(await a.recv(0.3))
    except asyncio.TimeoutError:
        pass
    assert all(m["Data"].get("Status") != "hard" for m in msgs), msgs


@pytest.mark.gen_test
async def test_global_room(make_server):
    srv = await make_server({"app": {"globalRoom": "lobby"}})
    g = await srv.connect()
    welcome = await g.hello("lobby")
    assert welcome["Data"]["Room"] == {"Type": "Room", "Name": "lobby", "Credentials": None}
    a = await srv.connect()
    welcome = await a.hello("r1")
    # own members first, then the global room's members (gotcha 24)
    assert [u["Id"] for u in welcome["Data"]["Users"]] == [a.id, g.id]
    assert all(u["Type"] == "Online" for u in welcome["Data"]["Users"])
    b = await srv.connect()
    await b.hello("r2")
    # ordinary rooms' broadcasts do not reach the global room (gotcha 25)
    assert await g.silent(0.2)
    users = await g.request("Users", {})
    assert [u["Id"] for u in users["Data"]["Users"]] == [g.id]
    # a global member's broadcasts reach every room
    await g.send({"Type": "Status", "Status": {"Type": "Status", "Status": {"displayName": "gee"}}})
    for peer in (a, b):
        status = await peer.recv_type("Status")
        assert status["From"] == g.id and status["Data"]["Status"] == {"displayName": "gee"}
        assert "To" not in status
    await g.send({"Type": "Chat", "Chat": {"To": "", "Type": "Chat", "Chat": {"Message": "all", "NoEcho": True}}})
    for peer in (a, b):
        assert (await peer.recv_type("Chat"))["Data"]["Chat"]["Message"] == "all"
    await a.send({"Type": "Chat", "Chat": {"To": "", "Type": "Chat", "Chat": {"Message": "r1", "NoEcho": True}}})
    assert await g.silent(0.2) and await b.silent(0.1)
    g2 = await srv.connect()
    await g2.hello("lobby")
    assert (await g.recv_type("Joined"))["Data"]["Id"] == g2.id
    for peer in (a, b):
        assert (await peer.recv_type("Joined"))["Data"]["Id"] == g2.id
    g2.close()
    for peer in (g, a, b):
        left = await peer.recv_type("Left")
        assert left["Data"] == {"Type": "Left", "Id": g2.id, "Status": "hard"}


# ---------------------------------------------------------------- authorization (4.6, 8.16, 8.17, gotcha 29)

@pytest.mark.gen_test
async def test_authorize_room_creation(make_server):
    srv = await make_server({"users": {"enabled": True, "mode": "httpheader"},
                             "app": {"authorizeRoomCreation": True}})
    anon = await srv.connect()
    await hello_error(anon, "new", "room_join_requires_account", "Room creation requires a user account")
    user = await srv.connect(headers={"x-users": "alice"})
    assert user.self_doc["Userid"] == "alice"
    assert (await user.hello("new"))["Data"]["Type"] == "Welcome"
    assert (await anon.hello("new"))["Data"]["Type"] == "Welcome"  # existing rooms may be joined


@pytest.mark.gen_test
async def test_authorize_room_join(make_server):
    srv = await make_server({"users": {"enabled": True, "mode": "httpheader"},
                             "app": {"authorizeRoomJoin": True}})
    user = await srv.connect(headers={"x-users": "alice"})
    assert (await user.hello("r"))["Data"]["Type"] == "Welcome"
    anon = await srv.connect()
    await hello_error(anon, "r", "room_join_requires_account", "Room join requires a user account")
    await hello_error(anon, "other", "room_join_requires_account", "Room join requires a user account")


@pytest.mark.gen_test
async def test_authorize_options_need_users_enabled(make_server):
    srv = await make_server({"app": {"authorizeRoomJoin": True, "authorizeRoomCreation": True}})
    anon = await srv.connect()
    assert (await anon.hello("r"))["Data"]["Type"] == "Welcome"


@pytest.mark.gen_test
async def test_default_room_check_comes_before_authorization(make_server):
    srv = await make_server({"users": {"enabled": True}, "app": {"defaultRoomEnabled": False,
                                                                 "authorizeRoomJoin": True}})
    anon = await srv.connect()
    await hello_error(anon, "", "default_room_disabled")


# ---------------------------------------------------------------- expiry (4.6, gotcha 30)

@pytest.mark.gen_test
async def test_empty_rooms_expire_with_their_pin(make_server):
    srv = await make_server({"app": {"roomIdleSeconds": 0.3}})
    a = await srv.connect()
    await a.hello("temp", **pin("42"))
    await a.send({"Type": "Leave", "Leave": {}})
    b = await srv.connect()
    await hello_error(b, "temp", "authorization_required")  # still there right after leaving
    await asyncio.sleep(0.8)
    reply = await b.hello("temp")
    assert reply["Data"]["Type"] == "Welcome"
    assert [u["Id"] for u in reply["Data"]["Users"]] == [b.id]


@pytest.mark.gen_test
async def test_occupied_rooms_do_not_expire(make_server):
    srv = await make_server({"app": {"roomIdleSeconds": 0.2}})
    a = await srv.connect()
    await a.hello("stay", **pin("42"))
    await asyncio.sleep(0.6)
    b = await srv.connect()
    await hello_error(b, "stay", "authorization_required")


# ---------------------------------------------------------------- server-managed conferences (4.7.3, gotcha 27)

@pytest.mark.gen_test
async def test_conference_room_update_goes_to_everyone(make_server):
    srv = await make_server({"roomtypes": {"^conference/.+": "Conference"}})
    a = await srv.connect()
    welcome = await a.hello("conference/x")
    assert welcome["Data"]["Room"]["Type"] == "Conference"
    assert await a.silent(0.2), "no conference document for a single member"
    b = await srv.connect()
    welcome = await b.hello("conference/x")
    assert welcome["Data"]["Type"] == "Welcome"
    for client in (b, a):
        if client is a:
            assert (await a.recv())["Data"]["Type"] == "Joined"
        msg = await client.recv()
        assert list(msg) == ["Data", "To"], msg  # no From, no A
        assert msg["To"] == "Conference:conference/x"
        assert list(msg["Data"]) == ["Id", "Type", "Conference"]
        assert msg["Data"]["Id"] == "Conference:conference/x" and msg["Data"]["Type"] == "Conference"
        assert sorted(msg["Data"]["Conference"]) == sorted([a.id, b.id])
    # a Room update triggers it too, after the reply (whose Type is the room type, here "Conference")
    reply = await a.request("Room", {"Name": "conference/x"})
    assert reply["Data"] == {"Type": "Conference", "Name": "conference/x", "Credentials": None}
    broadcast = await b.recv()
    assert broadcast["Data"] == reply["Data"] and broadcast["From"] == a.id
    for client in (a, b):
        msg = await client.recv()
        assert list(msg) == ["Data", "To"] and "Conference" in msg["Data"], msg
        assert sorted(msg["Data"]["Conference"]) == sorted([a.id, b.id])
    # nothing when members leave
    b.close()
    left = await a.recv()
    assert left["Data"]["Type"] == "Left"
    assert await a.silent(0.2)


@pytest.mark.gen_test
async def test_client_typed_conference_room_is_server_managed(server):
    a = await server.connect()
    b = await server.connect()
    await a.hello("meet", Type="Conference")
    await b.hello("meet", Type="Conference")
    msg = await b.recv()
    assert msg["To"] == "Conference:meet" and sorted(msg["Data"]["Conference"]) == sorted([a.id, b.id])


@pytest.mark.gen_test
async def test_plain_rooms_get_no_conference_document(server):
    a, b = await in_room(server, "r", 2)
    assert await a.silent(0.2) and await b.silent(0.1)


@pytest.mark.gen_test
async def test_failed_hello_still_updates_ua_and_rev(server):
    owner = await server.connect()
    await owner.hello("locked", **pin("p"))
    a = await server.connect()
    reply = await a.request("Hello", {"Name": "locked", "Ua": "first"})
    assert reply["Data"]["Code"] == "authorization_required"
    welcome = await a.request("Hello", {"Name": "open", "Ua": "second"})
    assert welcome["Data"]["Users"] == [{"Type": "Online", "Id": a.id, "Ua": "second", "Rev": 2, "Prio": 100}]


@pytest.mark.gen_test
async def test_joined_and_welcome_carry_the_userid(make_server):
    srv = await make_server({"users": {"enabled": True, "mode": "httpheader"}})
    a = await srv.connect()
    await a.hello("r")
    u = await srv.connect(headers={"x-users": "alice"})
    welcome = await u.hello("r")
    me = next(e for e in welcome["Data"]["Users"] if e["Id"] == u.id)
    assert me == {"Type": "Online", "Id": u.id, "Userid": "alice", "Ua": "test", "Rev": 2, "Prio": 100}
    assert list(me) == ["Type", "Id", "Userid", "Ua", "Rev", "Prio"]
    joined = await a.recv()
    assert joined["Data"] == {"Type": "Joined", "Id": u.id, "Userid": "alice", "Ua": "test", "Prio": 100}
    assert list(joined["Data"]) == ["Type", "Id", "Userid", "Ua", "Prio"]
