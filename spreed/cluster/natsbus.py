"""The NATS bus: room broadcasts, unicasts and room state shared by every node of a cluster.

Subjects (under `<prefix>.`): `b` carries broadcasts and state changes to every node in publication
order; `n.<node>` carries unicasts and requests for the sessions of one node. Each node beats every
`heartbeat` seconds; a node not heard for `nodeTimeout` seconds is dead and its sessions leave their
rooms "hard". After a NATS outage every node says hello again and the others resend their state.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TYPE_CHECKING, Any

import nats
import nats.errors

from ..errors import ChannelError
from .replica import Replica
from .wire import pack, session_state, unpack

if TYPE_CHECKING:
    from ..hub import Hub
    from ..session import Session

log = logging.getLogger("spreed.cluster")
MAX_OUTGOING = 10_000  # messages queued while NATS is away; older ones are dropped


class ClusterError(Exception):
    """NATS cannot be reached at start-up."""


async def connect_nats(url: str, name: str, timeout: float, **callbacks: Any) -> Any:
    """Connect, retrying every second until `timeout`; later outages are handled by reconnects."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await nats.connect(servers=[url], name=name, connect_timeout=2, allow_reconnect=True,
                                      max_reconnect_attempts=-1, reconnect_time_wait=0.5, no_echo=True,
                                      **callbacks)
        except (OSError, nats.errors.Error, asyncio.TimeoutError) as exc:
            if time.monotonic() >= deadline:
                raise ClusterError(f"cannot connect to NATS at {url} ({exc or type(exc).__name__})") from None
            await asyncio.sleep(1)


class ClusterBus:
    def __init__(self, hub: "Hub", options: dict[str, Any]) -> None:
        self.hub = hub
        self.url = str(options["url"])
        self.prefix = str(options.get("cluster_subject") or "spreed.cluster")
        self.heartbeat = float(options.get("heartbeat", 2))
        self.node_timeout = float(options.get("nodetimeout", 10))
        self.establish_timeout = float(options.get("establishtimeout", 30))
        self.node = os.urandom(6).hex()
        self.replica = Replica(hub)
        self.nodes: dict[str, float] = {}
        self.nc: Any = None
        self._outgoing: list[tuple[str, bytes]] = []
        self._flushing = False
        self._tasks: list[asyncio.Task] = []

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self.nc = await connect_nats(self.url, f"spreed-{self.node}", self.establish_timeout,
                                     reconnected_cb=self._reconnected, disconnected_cb=self._disconnected,
                                     error_cb=self._error)
        await self.nc.subscribe(f"{self.prefix}.b", cb=self._on_broadcast)
        await self.nc.subscribe(f"{self.prefix}.n.{self.node}", cb=self._on_direct)
        await self.nc.subscribe(f"{self.prefix}.auth", cb=self._on_authorize)
        self.hub.bus = self
        self.hub.cluster = self
        self._state({"e": "hello"})
        self._tasks.append(asyncio.create_task(self._beat()))
        log.info("cluster node %s on %s", self.node, self.url)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.nc is not None and not self.nc.is_closed:
            await self._flush()
            await self.nc.close()

    async def _reconnected(self) -> None:
        log.info("NATS reconnected; resynchronising")
        self._state({"e": "hello"})
        self._send_snapshot()

    async def _disconnected(self) -> None:
        log.warning("NATS connection lost; reconnecting")

    async def _error(self, exc: Exception) -> None:
        log.warning("NATS error: %s", exc)

    # ------------------------------------------------------------ publishing (never blocks the hub)
    def _publish(self, subject: str, data: bytes) -> None:
        if len(self._outgoing) >= MAX_OUTGOING:
            self._outgoing.pop(0)
        self._outgoing.append((subject, data))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._flush()))

    async def _flush(self) -> None:
        try:
            while self._outgoing:
                batch, self._outgoing = self._outgoing, []
                for subject, data in batch:
                    try:
                        await self.nc.publish(subject, data)
                    except (nats.errors.Error, OSError) as exc:
                        log.warning("NATS publish to %s dropped: %s", subject, exc)
        finally:
            self._flushing = False

    def _state(self, event: dict[str, Any]) -> None:
        event["k"], event["n"] = "s", self.node
        self._publish(f"{self.prefix}.b", pack(event))

    # ------------------------------------------------------------ the Bus interface
    def unicast(self, to_id: str, data: bytes) -> bool:
        if self.hub.deliver_local(to_id, data):
            return True
        stub = self.hub.remote.get(to_id)
        # not (yet) known here: its node may not have told us about it; let every node look
        subject = f"{self.prefix}.n.{stub.node}" if stub is not None else f"{self.prefix}.b"
        self._publish(subject, pack({"k": "u", "t": to_id}, data))
        return True

    def room(self, room_id: str, data: bytes, exclude_id: str) -> None:
        self.hub.deliver_room_local(room_id, data, exclude_id)
        if self.nodes:  # members elsewhere may have joined a moment ago: do not filter here
            self._publish(f"{self.prefix}.b", pack({"k": "r", "r": room_id, "x": exclude_id}, data))

    def everyone(self, data: bytes, exclude_id: str) -> None:
        self.hub.deliver_everyone_local(data, exclude_id)
        if self.nodes:
            self._publish(f"{self.prefix}.b", pack({"k": "a", "x": exclude_id}, data))

    # ------------------------------------------------------------ local changes other nodes mirror
    def session_connected(self, session: "Session", reclaimed: bool) -> None:
        if reclaimed:
            self._state({"e": "claim", "id": session.id})
        self._state({"e": "session", "s": session_state(session)})

    def session_gone(self, session: "Session") -> None:
        self._state({"e": "gone", "id": session.id})

    def session_joined(self, session: "Session") -> None:
        self._state({"e": "join", "s": session_state(session), "r": self._room_state(session.roomid)})

    def session_left(self, session: "Session", room_id: str, status: str) -> None:
        self._state({"e": "leave", "id": session.id, "r": room_id, "status": status})

    def session_changed(self, session: "Session") -> None:
        self._state({"e": "session", "s": session_state(session)})

    def room_changed(self, room_id: str) -> None:
        room = self.hub.rooms.rooms.get(room_id)
        if room is not None:
            self._state({"e": "pin", "r": room_id, "pin": room.pin})

    def moderation_changed(self, room_id: str, record: dict[str, Any]) -> None:
        """A room's whole moderation record (roles, lock, lobby, bans, invite generation): last one wins."""
        self._state({"e": "mod", "r": room_id, "m": record})

    def moderation_put_out(self, session_id: str, event: str, by: str) -> None:
        """Ask the node holding a session to take it out of its room (a removal or the end of a meeting)."""
        self._state({"e": "out", "id": session_id, "ev": event, "by": by})

    def _room_state(self, room_id: str) -> dict[str, Any]:
        room = self.hub.rooms.rooms[room_id]
        return {"id": room.id, "type": room.type, "name": room.name, "pin": room.pin}

    def _send_snapshot(self) -> None:
        for session in list(self.hub.sessions.values()):
            if session.closed:
                continue
            if session.hello and session.roomid in self.hub.rooms.rooms:
                self._state({"e": "join", "s": session_state(session), "r": self._room_state(session.roomid),
                             "snap": True})
            else:
                self._state({"e": "session", "s": session_state(session)})
        for room_id, record in self.hub.moderation.records():
            self.moderation_changed(room_id, record)

    # ------------------------------------------------------------ receiving
    async def _on_broadcast(self, msg: Any) -> None:
        try:
            meta, frame = unpack(msg.data)
            kind = meta.get("k")
            if kind == "r":
                self.hub.deliver_room_local(meta["r"], frame, meta.get("x", ""))
            elif kind == "a":
                self.hub.deliver_everyone_local(frame, meta.get("x", ""))
            elif kind == "u":
                self.hub.deliver_local(meta["t"], frame)
            elif kind == "s":
                self._apply(meta)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("bad cluster message dropped: %s", exc)

    def _apply(self, event: dict[str, Any]) -> None:
        node, kind, replica = event["n"], event["e"], self.replica
        fresh = node not in self.nodes
        self.nodes[node] = time.monotonic()
        if kind == "hello" or fresh:  # a new (or returning) node needs our state
            log.info("node %s joined", node)
            self._send_snapshot()
        if kind == "session":
            replica.upsert(node, event["s"])
        elif kind == "join":
            replica.join(node, event["s"], event["r"], snapshot=bool(event.get("snap")))
        elif kind == "leave":
            replica.leave(event["id"], event.get("status", ""), node)
        elif kind == "gone":
            replica.gone(event["id"], "hard", node)
        elif kind == "claim":
            replica.claim(node, event["id"])
        elif kind == "pin":
            replica.room_pin(event["r"], event.get("pin", ""))
        elif kind == "mod":
            self.hub.moderation.apply_remote(event["r"], event["m"])
        elif kind == "out":
            self.hub.moderation.put_out_local(event["id"], event["ev"], event.get("by", ""))

    async def _on_direct(self, msg: Any) -> None:
        try:
            meta, frame = unpack(msg.data)
            if meta.get("k") == "u":
                self.hub.deliver_local(meta["t"], frame)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("bad cluster message dropped: %s", exc)

    async def _on_authorize(self, msg: Any) -> None:
        """Only the node holding the session answers; the others stay silent."""
        try:
            meta, _ = unpack(msg.data)
            if meta["id"] not in self.hub.sessions or not msg.reply:
                return
            try:
                answer = {"nonce": self.hub.authorize(meta["id"], meta["sid"], meta["u"], meta.get("g"))}
            except ChannelError as exc:
                answer = {"code": exc.code, "message": exc.message}
            await msg.respond(pack(answer))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("bad cluster message dropped: %s", exc)

    async def authorize_remote(self, session_id: str, sid: str, userid: str,
                               grants: dict[str, Any] | None = None) -> str:
        """Mint a login nonce in the node that holds the session's connection, wherever it is."""
        request = pack({"id": session_id, "sid": sid, "u": userid, **({"g": grants} if grants else {})})
        try:
            reply = await self.nc.request(f"{self.prefix}.auth", request, timeout=2)
            answer, _ = unpack(reply.data)
        except (nats.errors.Error, asyncio.TimeoutError, ValueError):
            raise ChannelError("no_such_session", "no such session") from None
        if "nonce" not in answer:
            raise ChannelError(answer.get("code", "unknown"), answer.get("message", "failed"))
        return answer["nonce"]

    # ------------------------------------------------------------ liveness of the other nodes
    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            self._state({"e": "beat"})
            now = time.monotonic()
            for node, seen in list(self.nodes.items()):
                if now - seen > self.node_timeout:
                    del self.nodes[node]
                    # one survivor (the lowest id) passes on the moderator roles the dead node's sessions held
                    count = self.replica.purge_node(node, decide=self.node == min([self.node, *self.nodes]))
                    log.warning("node %s silent for %.0f s: %d of its sessions left", node, now - seen, count)

    def stats(self) -> dict[str, Any]:
        hub = self.hub
        rooms = sum(1 for room in hub.rooms.rooms.values() if room.members)
        return {"node": self.node, "nodes": len(self.nodes) + 1,
                "sessions": len(hub.sessions) + len(hub.remote), "rooms": rooms}
