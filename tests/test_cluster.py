"""Several server processes on one NATS behave as one server (issue: scale-out over NATS)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cluster_harness import Nats, Node, Peer, eventually, free_port
from helpers import project_root, requires
from spreed.users.sharedsecret import mint

pytestmark = requires("nats-server")
SECRET = "cluster-users"


@pytest.fixture
def nats_server(tmp_path):
    server = Nats(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def cluster(tmp_path, nats_server):
    """Two nodes on one NATS; more can be started with `spawn`."""
    nodes: list[Node] = []

    def spawn(extra: dict | None = None, name: str = "") -> Node:
        options = {"nats": {"url": nats_server.url, "heartbeat": 0.3, "nodeTimeout": 2},
                   "app": {"globalRoom": "lobby-everyone"},
                   "users": {"enabled": True, "mode": "sharedsecret", "sharedsecret_secret": SECRET},
                   "roomtypes": {"^conference/": "Conference"}}
        for section, values in (extra or {}).items():
            options.setdefault(section, {}).update(values)
        node = Node(tmp_path, name or f"node{len(nodes) + 1}", options)
        nodes.append(node)
        return node

    first, second = spawn(), spawn()
    eventually(lambda: first.stats()["cluster"]["nodes"] == 2 and second.stats()["cluster"]["nodes"] == 2)
    yield first, second, spawn, nats_server
    for node in nodes:
        node.kill()


def hello_and_see(peer: Peer, room: str, expected: set[str], **extra) -> dict:
    """Join; the members elsewhere are in the Welcome or, if their join is still on its way, arrive as
    Joined a moment later (the replicas are eventually consistent)."""
    welcome = peer.hello(room, **extra)
    assert welcome["Type"] == "Welcome", welcome
    seen = {u["Id"] for u in welcome["Users"]}
    deadline = time.time() + 5
    while not expected <= seen and time.time() < deadline:
        seen.add(peer.recv_type("Joined", timeout=max(0.01, deadline - time.time()))["Data"]["Id"])
    assert expected <= seen, (expected, seen)
    return welcome


def chat(to: str, message: str, **extra) -> dict:
    return {"Type": "Chat", "Chat": {"To": to, "Type": "Chat", "Chat": {"Message": message, "NoEcho": True, **extra}}}


def test_same_room_across_processes(cluster):
    first, second, _, _ = cluster
    alice, bob = Peer(first.ws_url), Peer(second.ws_url)
    assert alice.hello("shared")["Type"] == "Welcome"
    hello_and_see(bob, "shared", {alice.id, bob.id})
    joined = alice.recv_type("Joined")
    assert joined["Data"]["Id"] == bob.id and joined["From"] == bob.id and joined["A"]

    users = alice.request("Users", {})["Data"]["Users"]
    assert {u["Id"] for u in users} == {alice.id, bob.id}

    bob.send({"Type": "Status", "Status": {"Type": "Status", "Status": {"displayName": "Bob"}}})
    status = alice.recv_type("Status")["Data"]
    assert status["Id"] == bob.id and status["Status"] == {"displayName": "Bob"} and status["Rev"] == 2
    assert any(u.get("Status") == {"displayName": "Bob"}
               for u in eventually(lambda: alice.request("Users", {})["Data"]["Users"]))

    alice.send(chat("", "hello room"))
    message = bob.recv_type("Chat")
    assert message["Data"]["Chat"]["Message"] == "hello room" and message["From"] == alice.id

    alice.send({"Type": "Room", "Room": {"Type": "Room", "Name": "shared", "Credentials": {"PIN": "4711"}}, "Iid": "p"})
    room = bob.recv_type("Room")["Data"]
    assert room == {"Type": "Room", "Name": "shared", "Credentials": {"PIN": "4711"}}

    bob.send({"Type": "Leave", "Leave": {}})
    assert alice.recv_type("Left")["Data"] == {"Type": "Left", "Id": bob.id, "Status": "soft"}
    bob.hello("shared", Credentials={"PIN": "4711"})
    alice.recv_type("Joined")
    bob.close()
    assert alice.recv_type("Left")["Data"] == {"Type": "Left", "Id": bob.id, "Status": "hard"}
    assert [u["Id"] for u in alice.request("Users", {})["Data"]["Users"]] == [alice.id]


def test_calls_and_lookups_across_processes(cluster):
    first, second, _, _ = cluster
    alice, bob = Peer(first.ws_url), Peer(second.ws_url)
    for kind, payload in (("Offer", {"sdp": "v=0", "type": "offer"}), ("Answer", {"sdp": "v=0", "type": "answer"}),
                          ("Candidate", {"candidate": "c", "sdpMid": "0"}), ("Bye", {"Reason": "busy"})):
        alice.send({"Type": kind, kind: {"To": bob.id, "Type": kind, kind: payload}})
        got = bob.recv_type(kind)
        assert got["Data"] == {"Type": kind, "To": bob.id, kind: payload}
        assert got["From"] == alice.id and got["To"] == bob.id and got["A"]

    alice.send(chat(bob.id, "psst", Mid="m1"))
    private = bob.recv_type("Chat")
    assert private["Data"]["Chat"]["Message"] == "psst" and private["To"] == bob.id
    receipt = alice.recv_type("Chat")["Data"]
    assert receipt["Chat"]["Status"] == {"State": "sent"} and receipt["Chat"]["Mid"] == "m1"

    carol = Peer(second.ws_url)
    alice.send({"Type": "Conference", "Conference": {"Id": "conf1", "Type": "Conference",
                                                     "Conference": [alice.id, bob.id, carol.id]}})
    for peer in (bob, carol):
        assert peer.recv_type("Conference")["Data"]["Conference"] == [alice.id, bob.id, carol.id]

    # Sessions by attestation: bob looks alice up with the A of her message
    lookup = bob.request("Sessions", {"Type": "Sessions", "Sessions": {"Type": "session", "Token": private["A"]}})
    assert [u["Id"] for u in lookup["Data"]["Users"]] == [alice.id]


def test_shared_room_state(cluster):
    first, second, _, _ = cluster
    owner, guest = Peer(first.ws_url), Peer(second.ws_url)
    assert owner.hello("locked", Credentials={"PIN": "1234"})["Type"] == "Welcome"
    time.sleep(0.2)
    assert guest.hello("locked")["Code"] == "authorization_required"
    assert guest.hello("locked", Credentials={"PIN": "0000"})["Code"] == "invalid_credentials"
    assert guest.hello("locked", Credentials={"PIN": "1234"})["Type"] == "Welcome"

    # a server-managed conference room lists members of both processes to everyone
    one, two = Peer(first.ws_url), Peer(second.ws_url)
    one.hello("conference/weekly")
    hello_and_see(two, "conference/weekly", {one.id, two.id})
    for peer in (one, two):
        update = peer.recv_type("Conference")
        assert set(update["Data"]["Conference"]) == {one.id, two.id}
        assert update["To"] == "Conference:conference/weekly" and "From" not in update

    # the global room: its members are listed in every room and their broadcasts reach everyone
    host = Peer(first.ws_url)
    host.hello("lobby-everyone")
    visitor = Peer(second.ws_url)
    hello_and_see(visitor, "somewhere", {host.id})
    host.send(chat("", "announcement"))
    assert visitor.recv_type("Chat")["Data"]["Chat"]["Message"] == "announcement"


def test_reclaim_on_another_process(cluster):
    first, second, _, _ = cluster
    alice, bob = Peer(first.ws_url), Peer(second.ws_url)
    alice.hello("meet")
    hello_and_see(bob, "meet", {alice.id})
    alice.recv_type("Joined")
    again = Peer(second.ws_url, token=alice.me["Token"])
    assert again.id == alice.id
    assert alice.closed(5)
    assert bob.quiet(0.8, ignore=())  # no Left for the others
    again.hello("meet")
    assert bob.recv_type("Joined")["Data"]["Id"] == alice.id
    users = bob.request("Users", {})["Data"]["Users"]
    assert sorted(u["Id"] for u in users) == sorted([alice.id, bob.id])


def test_killed_process_leaves_hard_and_cleans_up(cluster):
    first, second, _, _ = cluster
    doomed, survivor = Peer(first.ws_url), Peer(second.ws_url)
    doomed.hello("fragile", Credentials={"PIN": "9"})
    time.sleep(0.3)
    hello_and_see(survivor, "fragile", {doomed.id}, Credentials={"PIN": "9"})
    started = time.time()
    first.kill(signal.SIGKILL)
    left = survivor.recv_type("Left", timeout=15)
    assert left["Data"] == {"Type": "Left", "Id": doomed.id, "Status": "hard"}
    assert time.time() - started < 15
    assert [u["Id"] for u in survivor.request("Users", {})["Data"]["Users"]] == [survivor.id]
    stats = second.stats()["cluster"]
    assert stats["nodes"] == 1 and stats["sessions"] == 1


def test_nats_restart_is_survived(cluster):
    first, second, _, nats_server = cluster
    alice, bob = Peer(first.ws_url), Peer(second.ws_url)
    alice.hello("durable")
    hello_and_see(bob, "durable", {alice.id})
    alice.recv_type("Joined")
    nats_server.stop()
    time.sleep(1)
    nats_server.start()

    def delivered() -> bool:
        alice.send(chat("", "ping"))
        try:
            return bob.recv_type("Chat", timeout=0.5)["Data"]["Chat"]["Message"] == "ping"
        except TimeoutError:
            return False
    assert eventually(delivered, timeout=20, interval=0.2)
    users = eventually(lambda: len(bob.request("Users", {})["Data"]["Users"]) == 2, timeout=10)
    assert users


def test_login_through_another_process(cluster):
    first, second, _, _ = cluster
    client = Peer(second.ws_url)
    combo, secret, _ = mint(SECRET.encode(), "zoe", 600)
    body = json.dumps({"id": client.id, "sid": client.me["Sid"], "useridcombo": combo, "secret": secret}).encode()
    status, raw = first.http(f"api/v1/sessions/{client.id}/", "PATCH", body, {"Content-Type": "application/json"})
    assert status == 200, raw
    nonce = json.loads(raw)["nonce"]
    me = client.request("Authentication", {"Authentication": {"Userid": "zoe", "Nonce": nonce}})["Data"]
    assert me["Type"] == "Self" and me["Userid"] == "zoe"


def test_stats_per_process_and_cluster(cluster):
    first, second, _, _ = cluster
    peers = [Peer(first.ws_url), Peer(second.ws_url), Peer(second.ws_url)]
    for peer in peers:
        peer.hello("counted")
    one, two = first.stats(), second.stats()
    assert one["connections"] == 1 and two["connections"] == 2
    assert eventually(lambda: first.stats()["cluster"]["sessions"] == 3 and second.stats()["cluster"]["sessions"] == 3)
    assert first.stats()["cluster"]["rooms"] == 1


def test_processes_option(tmp_path, nats_server):
    port = free_port()
    config = tmp_path / "multi.yaml"
    base = f"http: {{listen: '127.0.0.1:{port}'}}\napp: {{sessionSecret: '{'a' * 64}', encryptionSecret: '{'b' * 64}'}}\n"
    config.write_text(base)
    result = subprocess.run([sys.executable, str(project_root() / "server.py"), "-c", str(config), "--processes", "2"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["config error: --processes: several processes share rooms over NATS: set nats.url"]

    config.write_text(base + f"nats: {{url: '{nats_server.url}', heartbeat: 0.3}}\n")
    proc = subprocess.Popen([sys.executable, str(project_root() / "server.py"), "-c", str(config), "--processes", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        from cluster_harness import wait_for_port
        wait_for_port(port)
        url = f"ws://127.0.0.1:{port}/ws"
        peers = [Peer(url) for _ in range(12)]
        time.sleep(0.5)
        for peer in peers:
            peer.hello("many")
        # the other process hears of its peers' joins over NATS: give a busy machine a moment
        users = eventually(lambda: len(peers[-1].request("Users", {})["Data"]["Users"]) == 12, timeout=10)
        assert users, peers[-1].request("Users", {})["Data"]["Users"]
        workers = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        assert len(workers) == 2
        # `kill <master>` alone (a supervisor without process groups) must not leave workers behind
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(10)
        assert eventually(lambda: not any(Path(f"/proc/{w}").exists() for w in workers), timeout=10), workers
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)


def test_channelling_triggers(tmp_path, nats_server):
    import nats as nats_client

    received: list[dict] = []

    async def listen(ready, done):
        nc = await nats_client.connect(nats_server.url)

        async def collect(msg):
            received.append({"subject": msg.subject, **json.loads(msg.data)})
        await nc.subscribe("channelling.trigger.>", cb=collect)
        await nc.flush()
        ready.set()
        while not done.is_set():
            await asyncio.sleep(0.05)
        await nc.close()

    import threading
    ready, done = threading.Event(), threading.Event()

    async def ready_wait(ev=ready):
        pass

    loop_thread = threading.Thread(target=lambda: asyncio.run(listen(_Flag(ready), done)), daemon=True)
    loop_thread.start()
    assert ready.wait(10)
    node = Node(tmp_path, "triggers", {"nats": {"url": nats_server.url, "channelling_trigger": True,
                                                "client_id": "node-7"}})
    try:
        alice, bob = Peer(node.ws_url), Peer(node.ws_url)
        alice.send({"Type": "Offer", "Offer": {"To": bob.id, "Type": "Offer", "Offer": {"sdp": "x"}}})
        alice.send({"Type": "Offer", "Offer": {"To": bob.id, "Type": "Offer", "Offer": {"sdp": "x", "_token": "t"}}})
        alice.send({"Type": "Bye", "Bye": {"To": bob.id, "Type": "Bye", "Bye": {}}})
        bob.recv_type("Bye")
        alice.close()
        assert eventually(lambda: any(r["Name"] == "disconnect" for r in received), timeout=5)
    finally:
        done.set()
        node.kill()
    names = [(r["subject"], r["Name"], r["From"], r.get("Payload")) for r in received]
    assert ("channelling.trigger.startup", "startup", "node-7", None) in names
    assert ("channelling.trigger.connect", "connect", alice.id, None) in names
    assert ("channelling.trigger.session", "session", alice.id, None) in names
    assert ("channelling.trigger.offer", "offer", alice.id, bob.id) in names
    assert [n for n in names if n[1] == "offer"] == [("channelling.trigger.offer", "offer", alice.id, bob.id)]
    assert ("channelling.trigger.bye", "bye", alice.id, bob.id) in names
    assert ("channelling.trigger.disconnect", "disconnect", alice.id, None) in names
    assert all(r["Id"] == "node-7" for r in received)


class _Flag:
    """A threading.Event that an asyncio coroutine can set."""

    def __init__(self, event) -> None:
        self.event = event

    def set(self) -> None:
        self.event.set()
