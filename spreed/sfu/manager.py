"""Mesh or SFU per room, and the Janus rooms, publishers and subscribers behind the SFU rooms.

Why a room is mesh: fewer than `sfu.minParticipants` members, a member whose client did not announce
the "sfu" feature in its Hello (it could not receive the SFU streams), no Janus reachable, or a
room type other than Conference (ad-hoc calls stay peer to peer). Everything else is SFU.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

from .janus import JanusClient, JanusError, JanusGone

if TYPE_CHECKING:
    from ..hub import Hub
    from ..session import Session

log = logging.getLogger("spreed.sfu")
FEATURE = "sfu"
KINDS = ("camera", "screen")
ANSWER_TIMEOUT = 20.0
MESH_GRACE = 20.0  # seconds the Janus room outlives a switch to mesh (clients overlap both, up to 15 s)
RETRY_MIN, RETRY_MAX = 0.5, 5.0
MAX_SUBSCRIBE_ROUNDS = 20


def new_id() -> int:
    """Janus ids of ours: random and unguessable, below 2**53 so JSON numbers keep them exact."""
    return secrets.randbits(52) | (1 << 52)


class Publisher:
    __slots__ = ("session_id", "kind", "handle", "feed", "ready", "audio_mids")

    def __init__(self, session_id: str, kind: str, handle: int, feed: int) -> None:
        self.session_id = session_id
        self.kind = kind
        self.handle = handle
        self.feed = feed
        self.ready = False  # webrtcup seen: others may subscribe
        self.audio_mids: list[str] = []  # from the offer: what a moderator can mute at Janus


def audio_mids(sdp: str) -> list[str]:
    """The mids of the audio sections of an SDP."""
    mids, in_audio = [], False
    for line in sdp.splitlines():
        if line.startswith("m="):
            in_audio = line.startswith("m=audio")
        elif in_audio and line.startswith("a=mid:"):
            mids.append(line[6:].strip())
    return mids


class Subscriber:
    """One session's multistream subscription; renegotiations run one at a time in `task`."""
    __slots__ = ("session_id", "handle", "feeds", "mids", "task", "answer", "seq", "dirty", "janus_offer")

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.handle = 0
        self.feeds: set[int] = set()
        self.mids: dict[str, tuple[int, str]] = {}  # mid -> (feed, audio/video)
        self.task: asyncio.Task | None = None
        self.answer: asyncio.Future | None = None
        self.seq = 0
        self.dirty = True
        self.janus_offer: dict[str, Any] | None = None  # an offer Janus made by itself (a feed went away)


class Watcher:
    """A handle joined to the Janus room without publishing: Janus tells it about every feed,
    including those published through other processes of a cluster."""
    __slots__ = ("handle",)

    def __init__(self) -> None:
        self.handle = 0


class SfuRoom:
    __slots__ = ("id", "backend", "janus_id", "secret", "pin", "mode", "created", "publishers",
                 "subscribers", "teardown", "creating", "watcher", "remote_feeds")

    def __init__(self, room_id: str, backend: "Backend", key: bytes) -> None:
        self.id = room_id
        self.backend = backend
        # Derived from app.sessionSecret, which every process of a cluster shares: all of them place
        # the room in the same Janus room, and nobody without the secret can guess id, secret or PIN.
        digest = hmac.new(key, b"sfu-room\0" + room_id.encode(), hashlib.sha256).digest()
        self.janus_id = (int.from_bytes(digest[:7], "big") >> 4) | (1 << 52)
        self.secret = digest[8:24].hex()
        self.pin = hmac.new(key, b"sfu-pin\0" + room_id.encode(), hashlib.sha256).hexdigest()[:32]
        self.mode = "mesh"
        self.created = False
        self.creating: asyncio.Task | None = None
        self.publishers: dict[tuple[str, str], Publisher] = {}
        self.subscribers: dict[str, Subscriber] = {}
        self.teardown: asyncio.TimerHandle | None = None
        self.watcher: Watcher | None = None
        self.remote_feeds: dict[int, tuple[str, str]] = {}  # feed -> (session id, kind), other processes


class Backend:
    """One Janus server: its client, reconnected in the background for as long as we run."""

    def __init__(self, manager: "SfuManager", url: str) -> None:
        self.manager = manager
        self.url = url
        self.client = JanusClient(url, manager.api_secret)
        self.client.on_event = self._event
        self.handles: dict[int, tuple[str, Any]] = {}  # handle -> (room id, Publisher | Subscriber)
        self.version = ""
        self.task: asyncio.Task | None = None
        self.warned = False
        self.ready = False  # connected and introduced (version known, the manager told)

    @property
    def up(self) -> bool:
        return self.ready and self.client.up

    async def run(self) -> None:
        delay = RETRY_MIN
        while True:
            try:
                await self.client.connect()
                info = await self.client.info()
                self.version = str(info.get("version_string", ""))
            except (JanusGone, JanusError) as exc:
                self.client.close()
                if not self.warned:
                    log.warning("SFU: %s; rooms stay mesh, retrying in the background", exc)
                    self.warned = True
                await asyncio.sleep(delay)
                delay = min(RETRY_MAX, delay * 2)
                continue
            log.info("SFU: Janus %s at %s", self.version, self.url)
            self.warned = False
            delay = RETRY_MIN
            self.ready = True
            self.manager.backend_up(self)
            await self.client.closed_event.wait()
            self.ready = False
            log.warning("SFU: lost Janus at %s; rooms on it fall back to mesh", self.url)
            self.handles.clear()
            self.manager.backend_down(self)

    def _event(self, handle: int, msg: dict[str, Any]) -> None:
        entry = self.handles.get(handle)
        if entry is not None:
            self.manager.janus_event(entry[0], entry[1], msg)

    async def attach(self, room_id: str, owner: Any) -> int:
        reply = await self.client.request({"janus": "attach", "plugin": "janus.plugin.videoroom"})
        handle = int(reply["data"]["id"])
        self.handles[handle] = (room_id, owner)
        return handle

    async def detach(self, handle: int) -> None:
        self.handles.pop(handle, None)
        if handle and self.up:
            try:
                await self.client.request({"janus": "detach"}, handle=handle, timeout=3)
            except (JanusGone, JanusError):
                pass

    async def message(self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None,
                      wait_event: bool = False) -> dict[str, Any]:
        doc: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            doc["jsep"] = jsep
        return await self.client.request(doc, handle=handle, wait_event=wait_event)


class SfuManager:
    def __init__(self, hub: "Hub") -> None:
        self.hub = hub
        cfg = hub.config
        self.api_secret = cfg.sfu_api_secret
        self.min_participants = cfg.sfu_min_participants
        self.bitrate = cfg.sfu_bitrate
        self.backends = [Backend(self, url) for url in cfg.sfu_urls]
        self.rooms: dict[str, SfuRoom] = {}
        self._scheduled: set[str] = set()
        self.mesh_grace = MESH_GRACE
        self.stats_counters = {"publishes": 0, "subscribes": 0, "fallbacks": 0}

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        for backend in self.backends:
            backend.task = asyncio.create_task(backend.run())

    async def stop(self) -> None:
        for room in list(self.rooms.values()):
            await self._destroy(room)
        for backend in self.backends:
            if backend.task is not None:
                backend.task.cancel()
            backend.client.close()

    def backend_for(self, room_id: str) -> Backend:
        """A stable choice among several Janus servers, the same on every process of a cluster."""
        digest = hashlib.sha1(room_id.encode()).digest()
        return self.backends[int.from_bytes(digest[:4], "big") % len(self.backends)]

    def backend_up(self, backend: Backend) -> None:
        for room_id in list(self.hub.rooms.rooms):
            if self.backend_for(room_id) is backend:
                self.room_changed(room_id)

    def backend_down(self, backend: Backend) -> None:
        for room in [r for r in self.rooms.values() if r.backend is backend]:
            self.stats_counters["fallbacks"] += 1
            self._forget(room)
            self._announce(room.id, "mesh", reason="down")

    # ------------------------------------------------------------ the mode of a room
    def capable(self, session: "Session") -> bool:
        return FEATURE in getattr(session, "features", ())

    def wanted_mode(self, room_id: str) -> str:
        room = self.hub.rooms.rooms.get(room_id)
        if room is None or room.type != "Conference" or not self.backend_for(room_id).up:
            return "mesh"
        members = list(room.members.values())
        if len(members) < self.min_participants or not all(self.capable(m) for m in members):
            return "mesh"
        return "sfu"

    def room_changed(self, room_id: str) -> None:
        """Membership changed: decide again.

        A room already on the SFU that stays there tells a newcomer at once, before its Welcome and
        the Conference list, so that it never starts mesh calls; other changes are decided once
        the current handler has answered.
        """
        room = self.rooms.get(room_id)
        if room is not None and room.mode == "sfu" and room.created and self.wanted_mode(room_id) == "sfu":
            self._decide(room_id)
            return
        if room_id in self._scheduled:
            return
        self._scheduled.add(room_id)
        asyncio.get_running_loop().call_soon(self._decide, room_id)

    def session_left(self, session: "Session", room_id: str) -> None:
        session.sfu_mode = ""
        room = self.rooms.get(room_id)
        if room is not None:
            self._drop_session(room, session.id)
        self.room_changed(room_id)

    def _decide(self, room_id: str) -> None:
        self._scheduled.discard(room_id)
        mode = self.wanted_mode(room_id)
        room = self.rooms.get(room_id)
        if mode == "sfu":
            if room is None:
                room = self.rooms[room_id] = SfuRoom(room_id, self.backend_for(room_id), self.hub.config.session_secret)
            if room.teardown is not None:
                room.teardown.cancel()
                room.teardown = None
            if not room.created:
                if room.creating is None:
                    room.creating = asyncio.create_task(self._create(room))
                return
            room.mode = "sfu"
            self._announce(room_id, "sfu")
            self._sync_all(room)
        elif room is not None:
            if room.mode == "sfu":
                room.mode = "mesh"
                self._announce(room_id, "mesh")
            live = self.hub.rooms.rooms.get(room_id)
            if live is None or not live.members:
                asyncio.ensure_future(self._destroy(room))
            elif room.teardown is None:
                room.teardown = asyncio.get_running_loop().call_later(
                    self.mesh_grace, lambda: asyncio.ensure_future(self._destroy(room)))

    def _announce(self, room_id: str, mode: str, reason: str = "") -> None:
        """Tell the room's capable members (each once per change) whether to use the SFU."""
        room = self.hub.rooms.rooms.get(room_id)
        if room is None:
            return
        log.debug("SFU: room %s is %s %s", room_id[-12:], mode, reason)
        # the room's name: a client that is moving on ignores a late document of the room it leaves
        doc: dict[str, Any] = {"Type": "Sfu", "Sfu": {"Mode": mode, "Reason": reason, "Room": room.name}}
        if mode == "sfu":
            doc["Sfu"]["Feeds"] = self._feeds(room_id)
        for member in list(room.members.values()):
            if not self.capable(member) or member.conn is None:
                continue
            if mode == "mesh" and member.sfu_mode != "sfu":
                continue  # mesh is what a client does unless told otherwise
            member.sfu_mode = mode
            self.hub.reply(member, doc)

    def _feeds(self, room_id: str) -> list[dict[str, Any]]:
        room = self.rooms.get(room_id)
        if room is None:
            return []
        feeds = [{"Id": p.session_id, "Kind": p.kind} for p in room.publishers.values() if p.ready]
        return feeds + [{"Id": sid, "Kind": kind} for sid, kind in room.remote_feeds.values()]

    # ------------------------------------------------------------ Janus rooms
    async def _create(self, room: SfuRoom) -> None:
        backend = room.backend
        try:
            handle = await backend.attach(room.id, room)
            body = {"request": "create", "room": room.janus_id, "secret": room.secret, "pin": room.pin,
                    "is_private": True, "publishers": 64, "bitrate": self.bitrate, "bitrate_cap": True,
                    "audiolevel_event": False, "notify_joining": False, "permanent": False,
                    "description": "spreed"}
            try:
                await backend.message(handle, body)
            except JanusError as exc:
                if exc.code != 427:  # 427: another process of the cluster created it already
                    raise
            await backend.detach(handle)
            room.watcher = Watcher()
            room.watcher.handle = await backend.attach(room.id, room.watcher)
            reply = await backend.message(room.watcher.handle, {
                "request": "join", "room": room.janus_id, "ptype": "publisher", "pin": room.pin,
                "display": "watch"}, wait_event=True)
            self._remote_publishers(room, ((reply.get("plugindata") or {}).get("data") or {}).get("publishers") or [])
            room.created = True
        except (JanusGone, JanusError) as exc:
            log.warning("SFU: cannot create a Janus room (%s): the room stays mesh", exc)
            room.creating = None
            self.rooms.pop(room.id, None)
            return
        room.creating = None
        if self.rooms.get(room.id) is room:
            self._decide(room.id)
        else:
            await self._destroy_janus(room)

    async def _destroy(self, room: SfuRoom) -> None:
        if self.rooms.get(room.id) is room:
            if room.mode == "sfu" and self.wanted_mode(room.id) == "sfu":
                return  # wanted again meanwhile
            del self.rooms[room.id]
        if room.teardown is not None:
            room.teardown.cancel()
            room.teardown = None
        handles = [p.handle for p in room.publishers.values()] + [s.handle for s in room.subscribers.values()]
        if room.watcher is not None:
            handles.append(room.watcher.handle)
            room.watcher = None
        for sub in room.subscribers.values():
            if sub.task is not None:
                sub.task.cancel()
        room.publishers.clear()
        room.subscribers.clear()
        for handle in handles:
            await room.backend.detach(handle)
        await self._destroy_janus(room)
        self._announce(room.id, "mesh", reason="closed")

    async def _destroy_janus(self, room: SfuRoom) -> None:
        if not room.created or not room.backend.up:
            return
        live = self.hub.rooms.rooms.get(room.id)
        if live is not None and any(m.node for m in live.members.values()) and self.wanted_mode(room.id) == "sfu":
            return  # members on other processes still use it
        room.created = False
        try:
            handle = await room.backend.attach(room.id, room)
            await room.backend.message(handle, {"request": "destroy", "room": room.janus_id, "secret": room.secret})
            await room.backend.detach(handle)
        except (JanusGone, JanusError) as exc:
            log.debug("SFU: destroying Janus room: %s", exc)

    def _forget(self, room: SfuRoom) -> None:
        """Janus went away: its handles and rooms are gone with it."""
        self.rooms.pop(room.id, None)
        for sub in room.subscribers.values():
            if sub.task is not None:
                sub.task.cancel()
            if sub.answer is not None and not sub.answer.done():
                sub.answer.cancel()
        if room.teardown is not None:
            room.teardown.cancel()
        room.mode = "mesh"

    # ------------------------------------------------------------ publishers
    def _room_of(self, session: "Session") -> SfuRoom:
        room = self.rooms.get(session.roomid) if session.hello else None
        if room is None or room.mode != "sfu" or not room.created:
            raise SfuUnavailable("this room does not use the SFU now")
        return room

    async def publish(self, session: "Session", kind: str, offer: dict[str, Any]) -> dict[str, Any]:
        """A session's offer for one stream: returns Janus's answer (candidates in the SDP)."""
        room = self._room_of(session)
        key = (session.id, kind)
        old = room.publishers.pop(key, None)
        if old is not None:
            await self._unpublished(room, old)
        backend = room.backend
        pub = Publisher(session.id, kind, 0, new_id())
        pub.audio_mids = audio_mids(str(offer.get("sdp", "")))
        # registered before the first await: an SfuUnpublish, a leave or a newer publish of the same
        # kind that arrives meanwhile takes it out, and it is then given up below (never left behind)
        room.publishers[key] = pub
        pub.handle = await backend.attach(room.id, pub)
        if room.publishers.get(key) is not pub:
            await backend.detach(pub.handle)
            raise SfuUnavailable("unpublished meanwhile")
        body = {"request": "joinandconfigure", "room": room.janus_id, "ptype": "publisher", "id": pub.feed,
                "pin": room.pin, "display": f"{kind} {session.id}", "audio": True, "video": True,
                "bitrate": self.bitrate}
        try:
            reply = await backend.message(pub.handle, body, {"type": "offer", "sdp": offer["sdp"]},
                                          wait_event=True)
            jsep = reply.get("jsep") or {}
            if jsep.get("type") != "answer":
                raise JanusError(0, "no answer from Janus")
            await backend.client.request({"janus": "trickle", "candidate": {"completed": True}}, handle=pub.handle)
        except (JanusGone, JanusError):
            if room.publishers.get(key) is pub:
                del room.publishers[key]
            await backend.detach(pub.handle)
            raise
        if room.publishers.get(key) is not pub:
            raise SfuUnavailable("unpublished meanwhile")  # its handle went with it
        self.stats_counters["publishes"] += 1
        return {"type": "answer", "sdp": jsep.get("sdp", "")}

    async def mute_audio(self, session_id: str, room_id: str, mute: bool = True) -> bool:
        """A moderator's mute that holds whatever the participant's client does: Janus stops (or
        resumes) forwarding the session's microphone. False when its camera stream is not on this
        process's SFU."""
        room = self.rooms.get(room_id)
        pub = room.publishers.get((session_id, "camera")) if room is not None else None
        if pub is None or not pub.audio_mids:
            return False
        for mid in pub.audio_mids:
            body = {"request": "moderate", "room": room.janus_id, "secret": room.secret, "id": pub.feed,
                    "mid": mid, "mute": mute}
            reply = await room.backend.message(pub.handle, body)
            data = ((reply.get("plugindata") or {}).get("data") or {})
            if data.get("error"):
                raise JanusError(int(data.get("error_code") or 0), str(data["error"]))
        return True

    async def unpublish(self, session: "Session", kind: str) -> None:
        """Stop one published stream; for the camera the client leaves the SFU altogether (its
        subscriber connection is closed too, so a later return starts from fresh handles)."""
        room = self.rooms.get(session.roomid)
        if room is None:
            return
        pub = room.publishers.pop((session.id, kind), None)
        if kind == "camera":
            sub = room.subscribers.pop(session.id, None)
            if sub is not None:
                if sub.task is not None:
                    sub.task.cancel()
                await room.backend.detach(sub.handle)
        if pub is not None:
            await self._unpublished(room, pub)

    async def _unpublished(self, room: SfuRoom, pub: Publisher) -> None:
        was_ready = pub.ready
        pub.ready = False
        if was_ready:
            self._feeds_changed(room)  # the tiles go now, not after Janus's round trips
        await room.backend.detach(pub.handle)
        if was_ready:
            self._sync_all(room)

    def _drop_session(self, room: SfuRoom, session_id: str) -> None:
        for kind in KINDS:
            pub = room.publishers.pop((session_id, kind), None)
            if pub is not None:
                asyncio.ensure_future(self._unpublished(room, pub))
        sub = room.subscribers.pop(session_id, None)
        if sub is not None:
            if sub.task is not None:
                sub.task.cancel()
            asyncio.ensure_future(room.backend.detach(sub.handle))

    def _feeds_changed(self, room: SfuRoom) -> None:
        """Who publishes what, for the clients' tiles (sent with each change)."""
        live = self.hub.rooms.rooms.get(room.id)
        if live is None or room.mode != "sfu":
            return
        doc = {"Type": "Sfu", "Sfu": {"Mode": "sfu", "Reason": "", "Room": live.name, "Feeds": self._feeds(room.id)}}
        for member in list(live.members.values()):
            if self.capable(member) and member.conn is not None and member.sfu_mode == "sfu":
                self.hub.reply(member, doc)

    # ------------------------------------------------------------ subscribers
    def _sync_all(self, room: SfuRoom) -> None:
        live = self.hub.rooms.rooms.get(room.id)
        if live is None or room.mode != "sfu":
            return
        for member_id, member in list(live.members.items()):
            if member.conn is None or not self.capable(member):
                continue  # members on other processes are subscribed by their own process
            sub = room.subscribers.get(member_id)
            if sub is None:
                sub = room.subscribers[member_id] = Subscriber(member_id)
            sub.dirty = True
            if sub.task is None or sub.task.done():
                sub.task = asyncio.create_task(self._subscribe_loop(room, sub))

    def _wanted_feeds(self, room: SfuRoom, session_id: str) -> set[int]:
        local = {p.feed for p in room.publishers.values() if p.ready and p.session_id != session_id}
        return local | {feed for feed, (sid, _) in room.remote_feeds.items() if sid != session_id}

    def _remote_publishers(self, room: SfuRoom, publishers: list[dict[str, Any]]) -> bool:
        """Feeds published through other processes (ours are known already); True when any is new."""
        ours = {p.feed for p in room.publishers.values()}
        added = False
        for pub in publishers:
            kind, _, session_id = str(pub.get("display", "")).partition(" ")
            feed = int(pub.get("id") or 0)
            local = session_id in self.hub.sessions  # our own sessions' feeds are in room.publishers
            if feed and session_id and kind in KINDS and not local and feed not in ours \
                    and feed not in room.remote_feeds:
                room.remote_feeds[feed] = (session_id, kind)
                added = True
        return added

    async def _subscribe_loop(self, room: SfuRoom, sub: Subscriber) -> None:
        """Bring the session's subscription to the wanted feeds, one renegotiation at a time."""
        backend = room.backend
        for _ in range(MAX_SUBSCRIBE_ROUNDS):
            if not sub.dirty or room.subscribers.get(sub.session_id) is not sub:
                return
            sub.dirty = False
            wanted = self._wanted_feeds(room, sub.session_id)
            try:
                if sub.janus_offer is not None and sub.handle:
                    offer, sub.janus_offer = sub.janus_offer, None
                    data = (offer.get("plugindata") or {}).get("data") or {}
                    sub.feeds &= {feed for feed, _ in self._mids_of(data.get("streams") or []).values()}
                    self._record_mids(room, sub, data.get("streams") or [])
                    await self._offer_to_client(room, sub, offer["jsep"])
                    sub.dirty = True
                    continue
                if not sub.handle:
                    if not wanted:
                        return
                    sub.handle = await backend.attach(room.id, sub)
                    body = {"request": "join", "room": room.janus_id, "ptype": "subscriber", "pin": room.pin,
                            "streams": [{"feed": f} for f in sorted(wanted)], "use_msid": False}
                    reply = await backend.message(sub.handle, body, wait_event=True)
                else:
                    add, remove = wanted - sub.feeds, sub.feeds - wanted
                    if not add and not remove:
                        continue
                    body = {"request": "update"}
                    if add:
                        body["subscribe"] = [{"feed": f} for f in sorted(add)]
                    if remove:
                        body["unsubscribe"] = [{"feed": f} for f in sorted(remove)]
                    reply = await backend.message(sub.handle, body, wait_event=True)
                sub.feeds = set(wanted)
                jsep = reply.get("jsep")
                data = (reply.get("plugindata") or {}).get("data") or {}
                self._record_mids(room, sub, data.get("streams") or [])
                if not jsep:
                    continue
                await self._offer_to_client(room, sub, jsep)
            except asyncio.CancelledError:
                raise
            except (JanusGone, JanusError, SfuUnavailable) as exc:
                log.info("SFU: subscription of %s failed (%s)", sub.session_id[:8], exc)
                if not isinstance(exc, JanusGone) and sub.handle and self.hub.sessions.get(sub.session_id):
                    # start over with a fresh handle (e.g. a feed went away during the update)
                    await backend.detach(sub.handle)
                    sub.handle, sub.feeds, sub.mids = 0, set(), {}
                    sub.dirty = True
                    self._notify(sub.session_id, {"Event": "restart", "Role": "subscriber"})
                    await asyncio.sleep(0.2)
                    continue
                return
        if sub.dirty:
            asyncio.get_running_loop().call_later(0.5, self._sync_all, room)

    @staticmethod
    def _mids_of(streams: list[dict[str, Any]]) -> dict[str, tuple[int, str]]:
        mids: dict[str, tuple[int, str]] = {}
        for stream in streams:
            if stream.get("active") is False or "feed_id" not in stream:
                continue
            mids[str(stream.get("mid"))] = (int(stream["feed_id"]), str(stream.get("type", "")))
        return mids

    def _record_mids(self, room: SfuRoom, sub: Subscriber, streams: list[dict[str, Any]]) -> None:
        sub.mids = self._mids_of(streams)

    def _stream_list(self, room: SfuRoom, sub: Subscriber) -> list[dict[str, Any]]:
        owners = {p.feed: (p.session_id, p.kind) for p in room.publishers.values()}
        owners.update(room.remote_feeds)
        out = []
        for mid, (feed, media) in sub.mids.items():
            owner = owners.get(feed)
            if owner is not None:
                out.append({"Mid": mid, "Id": owner[0], "Kind": owner[1], "Media": media})
        return out

    async def _offer_to_client(self, room: SfuRoom, sub: Subscriber, jsep: dict[str, Any]) -> None:
        session = self.hub.sessions.get(sub.session_id)
        if session is None or session.conn is None:
            raise SfuUnavailable("subscriber gone")
        sub.seq += 1
        log.debug("SFU: offer %d to %s with %d streams", sub.seq, sub.session_id[:6], len(sub.mids))
        sub.answer = asyncio.get_running_loop().create_future()
        self.hub.reply(session, {"Type": "SfuOffer", "SfuOffer": {
            "Seq": sub.seq, "Offer": {"type": "offer", "sdp": jsep.get("sdp", "")},
            "Streams": self._stream_list(room, sub)}})
        try:
            answer = await asyncio.wait_for(sub.answer, ANSWER_TIMEOUT)
        except asyncio.TimeoutError:
            raise SfuUnavailable("no answer from the client") from None
        finally:
            sub.answer = None
        await room.backend.message(sub.handle, {"request": "start"}, {"type": "answer", "sdp": answer},
                                   wait_event=True)
        self.stats_counters["subscribes"] += 1

    def answer(self, session: "Session", seq: int, sdp: str) -> None:
        room = self.rooms.get(session.roomid)
        sub = room.subscribers.get(session.id) if room is not None else None
        if sub is None or sub.answer is None or sub.answer.done() or seq != sub.seq:
            raise SfuUnavailable("no offer is waiting for this answer")
        sub.answer.set_result(sdp)

    async def layer(self, session: "Session", peer_id: str, kind: str, substream: int) -> None:
        """Pick the simulcast layer of one received video (each tile asks for what fits its size)."""
        room = self.rooms.get(session.roomid)
        sub = room.subscribers.get(session.id) if room is not None else None
        if sub is None or not sub.handle:
            return
        feeds = {p.feed for p in room.publishers.values() if p.session_id == peer_id and p.kind == kind}
        feeds |= {f for f, owner in room.remote_feeds.items() if owner == (peer_id, kind)}
        streams = [{"mid": mid, "substream": substream} for mid, (feed, media) in sub.mids.items()
                   if feed in feeds and media == "video"]
        if streams:
            await room.backend.message(sub.handle, {"request": "configure", "streams": streams})

    # ------------------------------------------------------------ Janus events
    def janus_event(self, room_id: str, owner: Any, msg: dict[str, Any]) -> None:
        room = self.rooms.get(room_id)
        if room is None:
            return
        kind = msg.get("janus")
        if kind != "event":
            log.debug("SFU: janus %s for %s %s", kind, type(owner).__name__, getattr(owner, "session_id", "")[:6])
        if isinstance(owner, Publisher):
            if kind == "webrtcup" and not owner.ready:
                owner.ready = True
                self._sync_all(room)
                self._feeds_changed(room)
            elif kind in ("hangup", "slowlink", "media"):
                self._notify(owner.session_id, self._event_doc(msg, owner.kind, "publisher"))
                if kind == "hangup" and room.publishers.get((owner.session_id, owner.kind)) is owner:
                    del room.publishers[(owner.session_id, owner.kind)]
                    asyncio.ensure_future(self._unpublished(room, owner))
        elif isinstance(owner, Watcher):
            data = (msg.get("plugindata") or {}).get("data") or {}
            changed = self._remote_publishers(room, data.get("publishers") or [])
            for key in ("unpublished", "leaving"):
                gone = data.get(key)
                if isinstance(gone, int) and room.remote_feeds.pop(gone, None) is not None:
                    changed = True
            if changed:
                self._sync_all(room)
                self._feeds_changed(room)
        elif isinstance(owner, Subscriber):
            if kind in ("hangup", "slowlink", "media"):
                self._notify(owner.session_id, self._event_doc(msg, "", "subscriber"))
                if kind == "hangup" and room.subscribers.get(owner.session_id) is owner:
                    owner.handle, owner.feeds, owner.mids = 0, set(), {}
                    asyncio.ensure_future(room.backend.detach(int(msg.get("sender") or 0)))
                    self._sync_all(room)
            elif kind == "event" and (msg.get("jsep") or {}).get("type") == "offer":
                # Janus renegotiates by itself when a feed it sends goes away: the client answers
                # this offer in turn, in the subscriber's loop
                owner.janus_offer = msg
                self._sync_all(room)

    @staticmethod
    def _event_doc(msg: dict[str, Any], kind: str, role: str) -> dict[str, Any]:
        doc: dict[str, Any] = {"Event": msg.get("janus", ""), "Role": role}
        if kind:
            doc["Kind"] = kind
        for key in ("reason", "media", "receiving", "uplink", "mid"):
            if key in msg:
                doc[key.capitalize()] = msg[key]
        if msg.get("janus") == "media" and isinstance(msg.get("type"), str):
            doc["Media"] = msg["type"]  # (Janus names the stopped media "type" in this one event)
        return doc

    def _notify(self, session_id: str, event: dict[str, Any]) -> None:
        session = self.hub.sessions.get(session_id)
        if session is not None:
            self.hub.reply(session, {"Type": "SfuEvent", "SfuEvent": event})

    # ------------------------------------------------------------ for --check, stats and tests
    def stats(self) -> dict[str, Any]:
        return {"backends": [{"url": b.url, "up": b.up, "version": b.version} for b in self.backends],
                "rooms": {rid: {"mode": r.mode, "publishers": len(r.publishers),
                                "subscribers": len(r.subscribers)} for rid, r in self.rooms.items()},
                **self.stats_counters, "time": time.time()}


class SfuUnavailable(Exception):
    """The request needs an SFU room and this room does not use the SFU (now)."""
