"""Room moderation over the websocket (docs/moderation.md): roles, lock and lobby, removal with a ban,
mute requests, end of meeting, invite links, and what clients without the capability see."""
from __future__ import annotations

import asyncio
import json
import time

import jwt
import pytest

from test_users_jwt import HS_KEY, HS_USERS, authenticate, claims, jwt_login

MOD = ["moderation"]


async def member(srv, room: str = "m", **extra):
    client = await srv.connect()
    welcome = (await client.hello(room, Features=MOD, **extra))["Data"]
    return client, welcome


async def moderate(client, action: str, **extra) -> dict:
    return (await client.request("Moderate", {"Action": action, **extra}))["Data"]


async def next_state(client) -> dict:
    return (await client.recv_type("Moderation"))["Data"]["Moderation"]


async def state_where(client, check) -> dict:
    """The first Moderation state (of those queued and coming) for which check() holds."""
    while True:
        state = await next_state(client)
        if check(state):
            return state


async def event(client, timeout: float = 3.0) -> dict:
    return (await client.recv_type("Moderated", timeout))["Data"]["Moderated"]


@pytest.mark.gen_test
async def test_opener_is_moderator_and_welcome_carries_the_state(make_server):
    srv = await make_server()
    a, welcome = await member(srv)
    assert welcome["Type"] == "Welcome" and welcome["Features"] == MOD
    assert welcome["Moderation"] == {"Room": "m", "Moderators": [a.id], "Locked": False, "Lobby": [],
                                     "Role": "moderator"}
    b, welcome_b = await member(srv)
    assert welcome_b["Moderation"]["Role"] == "participant" and welcome_b["Moderation"]["Moderators"] == [a.id]
    error = await moderate(b, "lock")
    assert error == {"Type": "Error", "Code": "not_moderator", "Message": "Only a moderator of this room can do that"}


@pytest.mark.gen_test
async def test_clients_without_the_capability_see_nothing_new(make_server):
    srv = await make_server()
    old = await srv.connect()
    welcome = (await old.hello("m"))["Data"]
    assert set(welcome) == {"Type", "Room", "Users"}
    capable, _ = await member(srv)
    await old.recv_type("Joined")
    assert await old.silent(0.3), "no Moderation document for the original client"
    await old.send({"Type": "Moderate", "Moderate": {"Action": "lock"}, "Iid": "9"})
    assert await old.silent(0.3), "Moderate is an unknown, ignored Type for it"
    # the first capable client becomes moderator beside the original client that opened the room
    assert (await moderate(capable, "lock"))["Moderation"]["Locked"] is True


@pytest.mark.gen_test
async def test_lock_knock_admit_and_deny(make_server):
    srv = await make_server()
    mod, _ = await member(srv)
    assert (await moderate(mod, "lock"))["Moderation"]["Locked"] is True

    knocker = await srv.connect()
    await knocker.send({"Type": "Status", "Status": {"Type": "Status", "Status": {"displayName": "Kim"}}})
    reply = (await knocker.hello("m", Features=MOD))["Data"]
    assert reply == {"Type": "Moderated", "Moderated": {"Action": "waiting", "Room": "m"}}
    state = await next_state(mod)
    assert state["Lobby"] == [{"Id": knocker.id, "Name": "Kim", "Userid": ""}]
    assert knocker.id not in srv.hub.rooms.rooms["Room:m"].members

    assert (await moderate(mod, "admit", Target=knocker.id))["Moderation"]["Lobby"] == []
    assert await event(knocker) == {"Action": "admitted", "Room": "m", "By": mod.id}
    welcome = (await knocker.hello("m", Features=MOD))["Data"]
    assert welcome["Type"] == "Welcome" and welcome["Moderation"]["Locked"] is True

    other = await srv.connect()
    assert (await other.hello("m", Features=MOD))["Data"]["Moderated"]["Action"] == "waiting"
    await moderate(mod, "deny", Target=other.id)
    assert await event(other) == {"Action": "denied", "Room": "m", "By": mod.id}
    assert (await moderate(mod, "admit", Target=other.id))["Code"] == "no_such_session"

    # the original client gets a clear Error instead of hanging
    old = await srv.connect()
    error = (await old.hello("m"))["Data"]
    assert error == {"Type": "Error", "Code": "room_locked",
                     "Message": "This room is locked; ask a moderator for an invite link"}


@pytest.mark.gen_test
async def test_unlock_lets_the_lobby_in_and_a_knocker_that_leaves_is_forgotten(make_server):
    srv = await make_server()
    mod, _ = await member(srv)
    await moderate(mod, "lock")
    first, second = await srv.connect(), await srv.connect()
    await first.hello("m", Features=MOD)
    await second.hello("m", Features=MOD)
    second.close()
    await state_where(mod, lambda state: [w["Id"] for w in state["Lobby"]] == [first.id])
    await moderate(mod, "unlock")
    assert (await event(first))["Action"] == "admitted"
    assert (await first.hello("m", Features=MOD))["Data"]["Type"] == "Welcome"


@pytest.mark.gen_test
async def test_remove_ends_calls_bans_for_ten_minutes_also_with_the_token(make_server):
    srv = await make_server()
    mod, _ = await member(srv)
    target, _ = await member(srv)
    bystander = await srv.connect()
    await bystander.hello("m")  # an original client: it must see the calls end too
    await moderate(mod, "remove", Target=target.id)
    bye = await bystander.recv_type("Bye")
    assert bye["From"] == target.id and bye["Data"] == {"Type": "Bye", "To": bystander.id, "Bye": {"Reason": "removed"}}
    left = await bystander.recv_type("Left")
    assert left["Data"] == {"Type": "Left", "Id": target.id, "Status": "soft"}
    assert await event(target) == {"Action": "removed", "Room": "m", "By": mod.id}
    error = (await target.hello("m", Features=MOD))["Data"]
    assert error["Code"] == "room_banned"
    # a new connection with its token is the same session: still banned
    again = await srv.connect(token=target.self_doc["Token"])
    assert again.id == target.id
    assert (await again.hello("m"))["Data"]["Code"] == "room_banned"
    # other rooms are open to it; after the ban (shortened here) the room is too
    assert (await again.hello("elsewhere"))["Data"]["Type"] == "Welcome"
    state = srv.hub.moderation.state("Room:m")
    state.bans = {k: time.time() - 1 for k in state.bans}
    assert (await again.hello("m"))["Data"]["Type"] == "Welcome"


@pytest.mark.gen_test
async def test_removing_an_original_client_closes_its_socket(make_server):
    srv = await make_server()
    mod, _ = await member(srv)
    old = await srv.connect()
    await old.hello("m")
    await moderate(mod, "remove", Target=old.id)
    assert await old.closed()
    assert old.conn.close_code == 4001
    back = await srv.connect(token=old.self_doc["Token"])
    assert (await back.hello("m"))["Data"] == {"Type": "Error", "Code": "room_banned",
                                             "Message": "You were removed from this room; try again later"}


@pytest.mark.gen_test
async def test_remove_bans_the_user_in_a_new_session(make_server):
    srv = await make_server(HS_USERS)
    mod, _ = await member(srv)
    user = await srv.connect()
    await authenticate(user, json.loads((await jwt_login(srv, user, jwt.encode(claims("eve"), HS_KEY))).body))
    await user.hello("m", Features=MOD)
    await moderate(mod, "remove", Target=user.id)
    fresh = await srv.connect()
    await authenticate(fresh, json.loads((await jwt_login(srv, fresh, jwt.encode(claims("eve"), HS_KEY))).body))
    assert fresh.id != user.id
    assert (await fresh.hello("m", Features=MOD))["Data"]["Code"] == "room_banned"


@pytest.mark.gen_test
async def test_mute_one_or_everyone(make_server):
    srv = await make_server()
    mod, _ = await member(srv)
    b, _ = await member(srv)
    c, _ = await member(srv)
    await moderate(mod, "mute", Target=b.id)
    assert await event(b) == {"Action": "mute", "Room": "m", "By": mod.id}
    await moderate(mod, "mute")
    assert (await event(b))["Action"] == "mute" and (await event(c))["Action"] == "mute"
    with pytest.raises(asyncio.TimeoutError):
        await event(mod, timeout=0.3)


@pytest.mark.gen_test
async def test_end_meeting_puts_everyone_out(make_server):
    srv = await make_server()
    mod, _ = await member(srv)
    b, _ = await member(srv)
    old = await srv.connect()
    await old.hello("m")
    await moderate(mod, "lock")
    reply = await moderate(mod, "end")
    assert reply == {"Type": "Moderated", "Moderated": {"Action": "ended", "Room": "m", "By": mod.id}}
    assert await event(b) == {"Action": "ended", "Room": "m", "By": mod.id}
    assert await old.closed() and old.conn.close_code == 4002
    assert not srv.hub.rooms.rooms["Room:m"].members
    # the room opens again, unlocked, to whoever comes first
    again, welcome = await member(srv)
    assert welcome["Moderation"]["Locked"] is False and welcome["Moderation"]["Role"] == "moderator"


@pytest.mark.gen_test
async def test_role_passes_to_the_longest_present_logged_in_first_and_can_be_handed_over(make_server):
    srv = await make_server(HS_USERS)
    mod, _ = await member(srv)
    early, _ = await member(srv)
    user = await srv.connect()
    await authenticate(user, json.loads((await jwt_login(srv, user, jwt.encode(claims("ulla"), HS_KEY))).body))
    await user.hello("m", Features=MOD)
    mod.close()
    state = await state_where(user, lambda state: state["Moderators"] == [user.id])
    assert state["Role"] == "moderator"
    reply = await moderate(user, "handover", Target=early.id)
    assert reply["Moderation"]["Role"] == "participant" and reply["Moderation"]["Moderators"] == [early.id]
    state = await state_where(early, lambda state: state["Role"] == "moderator")
    assert state["Moderators"] == [early.id]
    assert (await moderate(user, "lock"))["Code"] == "not_moderator"


@pytest.mark.gen_test
async def test_jwt_moderator_claim_and_locked_rooms(make_server):
    srv = await make_server(HS_USERS)
    opener, _ = await member(srv)
    await moderate(opener, "lock")
    boss = await srv.connect()
    await authenticate(boss, json.loads((await jwt_login(srv, boss, jwt.encode(claims("boss", moderator=True), HS_KEY))).body))
    welcome = (await boss.hello("m", Features=MOD))["Data"]
    assert welcome["Type"] == "Welcome", "a moderator JWT enters a locked room"
    assert welcome["Moderation"]["Role"] == "moderator"
    assert set(welcome["Moderation"]["Moderators"]) == {opener.id, boss.id}


@pytest.mark.gen_test
async def test_invite_links_pass_pin_and_lock_until_revoked(make_server):
    srv = await make_server()
    mod, _ = await member(srv, "vault", Credentials={"PIN": "4242"})
    await moderate(mod, "lock")
    invite = await moderate(mod, "invite", Expires=3600)
    assert invite["Type"] == "Invite" and abs(invite["Invite"]["Expires"] - (time.time() + 3600)) < 5
    token = invite["Invite"]["Token"]

    guest = await srv.connect()
    assert (await guest.hello("vault", Features=MOD, Invite=token))["Data"]["Type"] == "Welcome"
    old = await srv.connect()  # the original client with the link's token: in, without PIN
    assert (await old.hello("vault", Invite=token))["Data"]["Type"] == "Welcome"
    wrong_room = await srv.connect()
    assert (await wrong_room.hello("other", Invite=token))["Data"]["Code"] == "invalid_invite"
    assert (await wrong_room.hello("vault", Invite=token + "x"))["Data"]["Code"] == "invalid_invite"
    assert (await moderate(mod, "invite", Expires=10))["Code"] == "bad_request"

    await moderate(mod, "revokeInvites")
    late = await srv.connect()
    assert (await late.hello("vault", Features=MOD, Invite=token))["Data"] == {
        "Type": "Error", "Code": "invalid_invite", "Message": "This invite link is not valid (any more)"}
    fresh = (await moderate(mod, "invite"))["Invite"]
    assert abs(fresh["Expires"] - (time.time() + 86400)) < 5  # 24 h by default
    assert (await late.hello("vault", Features=MOD, Invite=fresh["Token"]))["Data"]["Type"] == "Welcome"


@pytest.mark.gen_test
async def test_bad_moderate_documents(make_server):
    srv = await make_server()
    mod, _ = await member(srv)
    assert (await moderate(mod, "explode"))["Code"] == "bad_request"
    assert (await moderate(mod, "remove", Target="nobody"))["Code"] == "no_such_session"
    assert (await moderate(mod, "remove", Target=mod.id))["Code"] == "bad_request"
    assert (await mod.request("Moderate", {"Action": 5}))["Data"]["Code"] == "bad_request"
    outside = await srv.connect()
    await outside.hello("x", Features=MOD)
    await outside.send({"Type": "Leave", "Leave": {}})
    assert (await moderate(outside, "lock"))["Code"] == "not_in_room"


@pytest.mark.gen_test
async def test_a_moderator_whose_connection_drops_gets_the_role_back(make_server):
    srv = await make_server()
    mod, _ = await member(srv)
    other, _ = await member(srv)
    mod.close()
    await state_where(other, lambda state: state["Role"] == "moderator")
    back = await srv.connect(token=mod.self_doc["Token"])
    assert back.id == mod.id
    welcome = (await back.hello("m", Features=MOD))["Data"]
    assert welcome["Moderation"]["Role"] == "moderator"
    assert set(welcome["Moderation"]["Moderators"]) == {mod.id, other.id}
    # leaving on purpose is different: the role is not kept for a return
    await back.send({"Type": "Leave", "Leave": {}})
    await state_where(other, lambda state: state["Moderators"] == [other.id])
    assert (await back.hello("m", Features=MOD))["Data"]["Moderation"]["Role"] == "participant"


@pytest.mark.gen_test
async def test_a_knocker_that_leaves_the_lobby_is_forgotten_and_the_joiner_hears_nothing_before_welcome(make_server):
    srv = await make_server()
    mod, _ = await member(srv)
    await moderate(mod, "lock")
    knocker = await srv.connect()
    assert (await knocker.hello("m", Features=MOD))["Data"]["Moderated"]["Action"] == "waiting"
    await state_where(mod, lambda state: len(state["Lobby"]) == 1)
    await knocker.send({"Type": "Leave", "Leave": {}})
    await state_where(mod, lambda state: state["Lobby"] == [])
    await moderate(mod, "unlock")
    joiner = await srv.connect()
    await joiner.send({"Type": "Hello", "Hello": {"Version": "1.0.0", "Ua": "t", "Name": "m", "Features": MOD},
                       "Iid": "w"})
    first = await joiner.recv()
    assert first["Iid"] == "w" and first["Data"]["Type"] == "Welcome", first


@pytest.mark.gen_test
async def test_stream_mute_needs_the_sfu(make_server):
    srv = await make_server()
    mod, _ = await member(srv)
    other, _ = await member(srv)
    error = await moderate(mod, "muteStream", Target=other.id)
    assert error == {"Type": "Error", "Code": "sfu_unavailable", "Message": "This room is not on the SFU"}
    assert (await moderate(other, "muteStream", Target=mod.id))["Code"] == "not_moderator"


@pytest.mark.gen_test
@pytest.mark.parametrize("room", ["conference/board", "everyone"])
async def test_server_managed_and_global_rooms_follow_the_same_rules(make_server, room):
    srv = await make_server({"roomtypes": {"^conference/": "Conference"}, "app": {"globalRoom": "everyone"}})
    mod, welcome = await member(srv, room)
    assert welcome["Room"]["Type"] == ("Conference" if room.startswith("conference/") else "Room")
    assert welcome["Moderation"]["Role"] == "moderator"
    await moderate(mod, "lock")
    knocker = await srv.connect()
    assert (await knocker.hello(room, Features=MOD))["Data"]["Moderated"]["Action"] == "waiting"
    await moderate(mod, "admit", Target=knocker.id)
    await event(knocker)
    assert (await knocker.hello(room, Features=MOD))["Data"]["Type"] == "Welcome"
    await moderate(mod, "remove", Target=knocker.id)
    assert (await knocker.hello(room, Features=MOD))["Data"]["Code"] == "room_banned"
    mod.close()  # the room empties: nobody moderates it, its lock is gone
    state = srv.hub.moderation.state(srv.hub.rooms.room_id(room, "")[0])
    for _ in range(60):
        if not state.moderators:
            break
        await asyncio.sleep(0.05)
    assert state.moderators == set() and state.locked is False
