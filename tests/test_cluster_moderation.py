"""Moderation across processes on NATS: roles, lock and lobby, removals with bans, invite revocations
and the end of a meeting hold whichever process a session is connected to (issue #15 point 5)."""
from __future__ import annotations

import time

from cluster_harness import Peer, eventually
from helpers import requires
from test_cluster import cluster, nats_server  # noqa: F401  (the fixtures)

pytestmark = requires("nats-server")
MOD = ["moderation"]


def moderate(peer: Peer, action: str, **extra) -> dict:
    return peer.request("Moderate", {"Action": action, **extra})["Data"]


def state_where(peer: Peer, check, timeout: float = 5) -> dict:
    deadline = time.time() + timeout
    while True:
        state = peer.recv_type("Moderation", timeout=max(0.01, deadline - time.time()))["Data"]["Moderation"]
        if check(state):
            return state


def event(peer: Peer) -> dict:
    return peer.recv_type("Moderated")["Data"]["Moderated"]


def test_lobby_admit_remove_and_ban_across_processes(cluster):  # noqa: F811
    first, second, _, _ = cluster
    mod = Peer(first.ws_url)
    assert mod.hello("meet", Features=MOD)["Moderation"]["Role"] == "moderator"
    assert moderate(mod, "lock")["Moderation"]["Locked"] is True

    knocker = Peer(second.ws_url)
    waiting = {"Type": "Moderated", "Moderated": {"Action": "waiting", "Room": "meet"}}
    assert eventually(lambda: knocker.hello("meet", Features=MOD) == waiting)
    state_where(mod, lambda s: [w["Id"] for w in s["Lobby"]] == [knocker.id])
    old = Peer(second.ws_url)
    assert old.hello("meet")["Code"] == "room_locked"

    moderate(mod, "admit", Target=knocker.id)
    assert event(knocker) == {"Action": "admitted", "Room": "meet", "By": mod.id}
    welcome = knocker.hello("meet", Features=MOD)
    assert welcome["Type"] == "Welcome" and welcome["Moderation"]["Moderators"] == [mod.id]
    state_where(mod, lambda s: s["Lobby"] == [])

    moderate(mod, "remove", Target=knocker.id)
    assert event(knocker) == {"Action": "removed", "Room": "meet", "By": mod.id}
    assert mod.recv_type("Left")["Data"]["Id"] == knocker.id
    assert knocker.hello("meet", Features=MOD)["Code"] == "room_banned"
    # its token on the other process: still banned
    again = Peer(first.ws_url, token=knocker.me["Token"])
    assert again.hello("meet")["Code"] == "room_banned"


def test_invites_roles_and_end_across_processes(cluster):  # noqa: F811
    first, second, _, _ = cluster
    mod = Peer(first.ws_url)
    mod.hello("vault", Features=MOD, Credentials={"PIN": "7"})
    token = moderate(mod, "invite")["Invite"]["Token"]
    guest = Peer(second.ws_url)
    assert eventually(lambda: guest.hello("vault", Features=MOD, Invite=token)["Type"] == "Welcome")
    moderate(mod, "revokeInvites")
    late = Peer(second.ws_url)
    assert eventually(lambda: late.hello("vault", Features=MOD, Invite=token).get("Code") == "invalid_invite")
    fresh = moderate(mod, "invite")["Invite"]["Token"]
    assert eventually(lambda: late.hello("vault", Features=MOD, Invite=fresh)["Type"] == "Welcome")

    # the moderator leaves: a member elsewhere (present longest) takes the role
    while mod.recv_type("Joined")["Data"]["Id"] != late.id:  # its process has seen everyone join
        pass
    mod.close()
    state = state_where(guest, lambda s: s["Role"] == "moderator")
    assert state["Moderators"] == [guest.id]
    assert moderate(late, "lock")["Code"] == "not_moderator"

    onlooker = Peer(first.ws_url)
    assert eventually(lambda: onlooker.hello("vault", Features=MOD, Invite=fresh)["Type"] == "Welcome")
    while guest.recv_type("Joined")["Data"]["Id"] != onlooker.id:  # the moderator's process knows it is in
        pass
    assert moderate(guest, "end")["Moderated"]["Action"] == "ended"
    assert event(late)["Action"] == "ended"
    assert event(onlooker)["Action"] == "ended"
    # the room is empty everywhere: whoever comes next opens it and is its moderator
    assert eventually(lambda: onlooker.hello("vault", Features=MOD, Invite=fresh)
                      .get("Moderation", {}).get("Role") == "moderator")
