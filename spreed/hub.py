"""The hub: the one object that owns sessions, rooms and connections, and routes every message."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable

from . import API_VERSION
from .bus import Bus, LocalBus
from .config import Config
from .errors import ChannelError, bad_request
from .images import ImageCache
from .jsonutil import BadJSON, frame, loads
from .history import History
from .limits import Guard
from .metrics import Counters
from .rooms import RoomManager
from .schema import DocError, Incoming, find_iid
from .session import Connection, Session
from .tokens import Tickets

log = logging.getLogger("spreed.hub")
MAX_LIST = 5001
MAX_FAKE_SESSIONS = 1000


def envelope(data: Any, sender: str = "", to: str = "", iid: str = "", attestation: str = "") -> bytes:
    """An outgoing envelope: Data, From, To, Iid, A, each left out when empty."""
    doc: dict[str, Any] = {"Data": data} if data is not None else {}
    if sender:
        doc["From"] = sender
    if to:
        doc["To"] = to
    if iid:
        doc["Iid"] = iid
    if attestation:
        doc["A"] = attestation
    return frame(doc)


class Request:
    """One incoming message being handled: who sent it, what it says, how to answer."""

    __slots__ = ("hub", "session", "msg", "iid", "raw")

    def __init__(self, hub: "Hub", session: Session, msg: dict[str, Any], iid: str,
                 raw: str | bytes = b"") -> None:
        self.hub = hub
        self.session = session
        self.msg = msg
        self.iid = iid
        self.raw = raw

    @property
    def size(self) -> int:
        """Bytes of the frame as received (UTF-8), for the size limits of Chat and Status."""
        raw = self.raw
        return len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))

    def reply(self, data: Any) -> None:
        self.hub.reply(self.session, data, self.iid)


class Hub:
    def __init__(self, config: Config, bus: Bus | None = None) -> None:
        from .channeling import HANDLERS  # the registry, filled by the handler modules
        from .moderation import Moderation
        self.handlers = HANDLERS
        self.moderation = Moderation(self)
        self.config = config
        self.tickets = Tickets(config.session_secret, config.encryption_secret, config.computed_realm,
                               config.turn_secret, shared_nonces=bool(config.nats.get("url")))
        self.guard = Guard(config.limits.enabled, config.limits)
        self.rooms = RoomManager(config, self.guard)
        self.images = ImageCache()
        self.sessions: dict[str, Session] = {}
        self.users: dict[str, set[str]] = {}
        self.fake_sessions: dict[str, Session] = {}
        self.connections_by_idx: dict[int, str] = {}
        self.count = 0
        self.broadcast_chats = 0
        self.unicast_chats = 0
        self.started = time.time()
        self.metrics = Counters()
        self.history = History(self)
        self.bus: Bus = bus or LocalBus(self)
        self.remote: dict[str, Session] = {}  # stand-ins for sessions connected to other nodes
        self.cluster: Any = None  # the cluster bus, when nats.url is set
        self.trigger: Callable[[str, str, str], None] | None = None  # NATS channelling triggers
        self.sfu: Any = None  # the SFU adapter (spreed.sfu), when sfu.url is set
        self._sweeper: asyncio.TimerHandle | None = None
        self._sampler: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------ lifecycle of the hub
    def start(self) -> None:
        self._schedule_sweep()
        self.history.sample()
        self._sampler = asyncio.get_running_loop().call_later(self.history.interval, self._sample)

    def _sample(self) -> None:
        self.history.sample()
        self._sampler = asyncio.get_running_loop().call_later(self.history.interval, self._sample)

    def stop(self) -> None:
        for timer in (self._sweeper, self._sampler):
            if timer is not None:
                timer.cancel()
        self._sweeper = self._sampler = None

    def _schedule_sweep(self) -> None:
        interval = max(0.05, min(10.0, self.config.room_idle_seconds / 4))
        self._sweeper = asyncio.get_running_loop().call_later(interval, self._sweep)

    def _sweep(self) -> None:
        self.rooms.sweep(self.config.room_idle_seconds)
        self._schedule_sweep()

    # ------------------------------------------------------------ connections
    def connect(self, conn: Connection, token: str = "", request_userid: str = "") -> Session:
        """A websocket opened: make (or reclaim) its session, register it and send Self."""
        claimed = self.tickets.claim_session(token) if token else None
        grants = None
        if claimed:
            session_id, sid, token_userid, grants = claimed
        else:
            sid = self.tickets.new_sid()
            session_id, token_userid = self.tickets.session_id(sid), ""
        session = Session(session_id, sid, conn)
        if self.config.users_enabled:
            userid = request_userid or token_userid
            if userid:
                self.authenticate(session, userid, grants if userid == token_userid else None)
        self.count += 1
        conn.index = self.count
        self.connections_by_idx[self.count] = session_id
        old = self.sessions.get(session_id)
        if old is not None:
            self._replace(old, session)
        self.sessions[session_id] = session
        if self.cluster is not None:
            self.cluster.session_connected(session, reclaimed=bool(claimed))
        self.reply(session, self.self_doc(session))
        self.fire("connect", session.id)
        return session

    def _replace(self, old: Session, new: Session) -> None:
        """Reclaim while the old socket lives: the new session inherits its links and picture."""
        new.subscriptions, new.subscribers = old.subscriptions, old.subscribers
        new.image_id = old.image_id
        self.retire(old)
        if old.userid and old.userid != new.userid:  # same Id: the old user must not list it any more
            self.forget_user(old)

    def retire(self, old: Session) -> None:
        """A session reclaimed by another connection (here or on another node): no Left for anyone,
        it silently leaves its room and its socket is closed."""
        old.replaced = True
        if old.hello:
            self.rooms.leave(old, old.roomid)
            old.hello = False
            self.left(old, old.roomid)
        self.connections_by_idx.pop(getattr(old.conn, "index", 0), None)
        if old.conn is not None:
            old.conn.close(1000, "session reclaimed by another connection")

    def disconnect(self, session: Session) -> None:
        """The socket went away: Left "hard" to its room and contacts, then forget it."""
        if session.closed:
            return
        session.closed = True
        self.fire("disconnect", session.id)
        if session.replaced:
            return
        if session.hello:
            self.broadcast(session, {"Type": "Left", "Id": session.id, "Status": "hard"}, membership=True)
            self.rooms.leave(session, session.roomid)
            session.hello = False
            self.moderation.left(session, session.roomid)
            if self.sfu is not None:
                self.sfu.session_left(session, session.roomid)
        self.moderation.session_gone(session)
        linked = session.subscribers | session.subscriptions
        if linked:
            data = envelope({"Type": "Left", "Id": session.id, "Status": "hard"}, session.id,
                            attestation=self.attestation(session))
            for other_id in linked:
                other = self.sessions.get(other_id)
                if other is not None:
                    other.unlink(session.id)
                self.bus.unicast(other_id, data)
        self.forget_user(session)
        if session.image_id:
            self.images.delete(session.image_id)
        if self.sessions.get(session.id) is session:
            del self.sessions[session.id]
            if self.cluster is not None:
                self.cluster.session_gone(session)
        self.connections_by_idx.pop(getattr(session.conn, "index", 0), None)

    # ------------------------------------------------------------ incoming
    def handle(self, session: Session, text: str | bytes) -> None:
        """Decode one text frame and run its Type's handler; bad input gets an Error, never a crash."""
        if session.replaced or session.closed:
            return  # frames still arriving on a reclaimed connection would act for the new one
        self.metrics.bytes_in += len(text)
        try:
            raw = loads(text)
        except BadJSON:
            self.reply(session, bad_request("message is not valid JSON").doc())
            return
        try:
            msg = Incoming.decode(raw) if isinstance(raw, dict) else None
            if msg is None:
                raise DocError("message is not a JSON object")
        except DocError as exc:
            self.reply(session, bad_request(f"invalid message: {exc}").doc(), find_iid(raw))
            return
        kind = msg.get("Type", "")
        self.metrics.messages_in[kind if kind in self.handlers else "other"] += 1
        handler = self.handlers.get(kind)
        if handler is None:
            log.debug("%s: ignoring message of type %r", session.id[:8], msg.get("Type", ""))
            return
        request = Request(self, session, msg, msg.get("Iid", ""), text)
        try:
            handler(request)
        except ChannelError as exc:
            request.reply(exc.doc())
        except Exception:  # a bug must not take the connection (or anyone else) down
            log.exception("%s: error handling %s", session.id[:8], msg.get("Type"))
            request.reply({"Type": "Error", "Code": "unknown", "Message": "internal error"})

    # ------------------------------------------------------------ outgoing
    def attestation(self, session: Session) -> str:
        return session.attestation(self.tickets.attest)

    def reply(self, session: Session, data: Any, iid: str = "") -> None:
        if isinstance(data, dict) and data.get("Type") == "Error":
            self.metrics.errors[data.get("Code", "")] += 1
        if session.conn is not None:
            encoded = envelope(data, session.id, iid=iid)
            self.metrics.frames_out += 1
            self.metrics.bytes_out += len(encoded)
            session.conn.send(encoded)

    def unicast(self, sender: Session, to_id: str, data: Any) -> bool:
        if not to_id:
            return False
        return self.bus.unicast(to_id, envelope(data, sender.id, to_id, attestation=self.attestation(sender)))

    def broadcast(self, sender: Session, data: Any, membership: bool = False) -> None:
        """Send to the sender's room (everyone, for a global-room member), encoded once.

        Joined and Left (`membership`) go to this node's members only: other nodes of a cluster
        announce them when they apply the replicated join or leave, so nobody misses or doubles one.
        """
        if not sender.hello:
            return
        data = envelope(data, sender.id, attestation=self.attestation(sender))
        if sender.roomid == self.rooms.global_room_id:
            (self.deliver_everyone_local if membership else self.bus.everyone)(data, sender.id)
        elif membership:
            self.deliver_room_local(sender.roomid, data, sender.id)
        else:
            self.bus.room(sender.roomid, data, sender.id)

    def conference_update(self, room_id: str, membership: bool = False) -> None:
        """Server-managed conference rooms: tell every member who is in it (protocol.md 4.7.3).

        After a join (`membership`) only this node's members are told; the other nodes tell theirs
        when they apply the replicated join.
        """
        room = self.rooms.rooms.get(room_id)
        if room is None or room.type != "Conference" or len(room.members) < 2:
            return
        data = envelope({"Id": room.id, "Type": "Conference", "Conference": list(room.members)}, to=room.id)
        (self.deliver_room_local if membership else self.bus.room)(room.id, data, "")

    # ------------------------------------------------------------ local delivery (used by the bus)
    def deliver_local(self, to_id: str, data: bytes) -> bool:
        target = self.sessions.get(to_id)
        if target is None or target.conn is None:
            return False
        self.metrics.frames_out += 1
        self.metrics.bytes_out += len(data)
        target.conn.send(data)
        return True

    def deliver_room_local(self, room_id: str, data: bytes, exclude_id: str) -> None:
        room = self.rooms.rooms.get(room_id)
        if room is None:
            return
        room.last_active = time.monotonic()
        sent = 0
        for member_id, member in room.members.items():
            if member_id != exclude_id and member.conn is not None:
                member.conn.send(data)
                sent += 1
        self.metrics.frames_out += sent
        self.metrics.bytes_out += sent * len(data)

    def deliver_everyone_local(self, data: bytes, exclude_id: str) -> None:
        for room_id in list(self.rooms.rooms):
            self.deliver_room_local(room_id, data, exclude_id)

    # ------------------------------------------------------------ state other nodes replicate
    def joined(self, session: Session) -> None:
        if self.cluster is not None:
            self.cluster.session_joined(session)
        if self.sfu is not None:
            self.sfu.room_changed(session.roomid)

    def left(self, session: Session, room_id: str, status: str = "") -> None:
        """`status` "soft" or "hard" is announced by the other nodes; "" leaves silently."""
        self.moderation.left(session, room_id)
        if self.cluster is not None:
            self.cluster.session_left(session, room_id, status)
        if self.sfu is not None:
            self.sfu.session_left(session, room_id)

    def profile_changed(self, session: Session) -> None:
        if self.cluster is not None:
            self.cluster.session_changed(session)

    def room_changed(self, room_id: str) -> None:
        if self.cluster is not None:
            self.cluster.room_changed(room_id)

    def fire(self, name: str, sender: str, payload: str = "") -> None:
        """A NATS channelling trigger (protocol.md 7.4), when they are switched on."""
        if self.trigger is not None:
            self.trigger(name, sender, payload)

    def find_session(self, session_id: str) -> Session | None:
        """A connected session on this node or, in a cluster, on another."""
        return self.sessions.get(session_id) or self.remote.get(session_id)

    # ------------------------------------------------------------ documents
    def self_doc(self, session: Session) -> dict[str, Any]:
        cfg = self.config
        self.fire("session", session.id, session.userid)
        return {"Type": "Self", "Id": session.id, "Sid": session.sid, "Userid": session.userid,
                "Suserid": self.tickets.suserid(session.userid),
                "Token": self.tickets.session_token(session.id, session.sid, session.userid, session.grants),
                "Version": cfg.version, "ApiVersion": API_VERSION,
                "Turn": self.tickets.turn(session.id, cfg.turn_uris), "Stun": list(cfg.stun_uris),
                **({"Features": ["sfu"]} if self.sfu is not None else {})}

    def users_list(self, room_id: str) -> list[dict[str, Any]]:
        docs = [s.doc("Online") for s in self.rooms.members(room_id)]
        global_id = self.rooms.global_room_id
        if global_id and room_id != global_id:
            docs.extend(s.doc("Online") for s in self.rooms.members(global_id))
        room = self.rooms.rooms.get(room_id)
        if room is not None:
            room.touch()
        return docs[:MAX_LIST]

    # ------------------------------------------------------------ users
    def authorize(self, session_id: str, sid: str, userid: str, grants: dict[str, Any] | None = None) -> str:
        """Mint the login nonce for a connected session (REST sessions/users end points)."""
        session = self.sessions.get(session_id)
        if session is None or session.conn is None:
            raise ChannelError("no_such_session", "no such session")
        if session.sid != sid:
            raise ChannelError("invalid_session_token", "session id mismatch")
        if session.userid:
            raise ChannelError("already_authenticated", "session already authenticated")
        if session.hello and not self.rooms.granted(grants, session.roomid):
            raise ChannelError("room_not_allowed", "This login is for another room")
        session.nonce = self.tickets.make_nonce(sid, userid, grants)
        return session.nonce

    async def authorize_anywhere(self, session_id: str, sid: str, userid: str,
                                 grants: dict[str, Any] | None = None) -> str:
        """authorize() for a session connected to this node or, in a cluster, to another one."""
        if self.cluster is not None and session_id not in self.sessions:
            return await self.cluster.authorize_remote(session_id, sid, userid, grants)
        return self.authorize(session_id, sid, userid, grants)

    def authenticate(self, session: Session, userid: str, grants: dict[str, Any] | None = None) -> None:
        session.userid = userid
        session.grants = grants
        session.stamp = int(time.time())
        session.rev += 1
        self.users.setdefault(userid, set()).add(session.id)

    def forget_user(self, session: Session) -> None:
        ids = self.users.get(session.userid)
        if ids is not None:
            ids.discard(session.id)
            if not ids:
                del self.users[session.userid]

    def user_sessions(self, userid: str) -> list[Session]:
        found = [s for s in (self.sessions.get(i) for i in self.users.get(userid, ())) if s is not None]
        found.extend(s for s in self.remote.values() if s.userid == userid)
        return sorted(found, key=lambda s: (s.prio, s.stamp))

    def fake_session(self, userid: str) -> Session:
        """A never-connected stand-in for a contact who is offline (protocol.md 4.7.10)."""
        session = self.fake_sessions.get(userid)
        if session is None:
            if len(self.fake_sessions) >= MAX_FAKE_SESSIONS:
                self.fake_sessions.pop(next(iter(self.fake_sessions)))
            sid = "fake-" + self.tickets.new_sid()[:27]
            session = Session(self.tickets.session_id(sid), sid, None)
            session.userid = userid
            self.fake_sessions[userid] = session
        return session

    # ------------------------------------------------------------ stats
    def stats(self, details: bool = False) -> dict[str, Any]:
        hub: dict[str, Any] = {
            "rooms": self.rooms.live_count(), "connections": len(self.sessions),
            "sessions": len(self.sessions), "users": len(self.users), "count": self.count,
            "broadcastchatmessages": self.broadcast_chats, "unicastchatmessages": self.unicast_chats}
        if self.cluster is not None:
            hub["cluster"] = self.cluster.stats()
        if details:
            hub["sessionsbyid"] = {sid: s.doc("") for sid, s in self.sessions.items()}
            hub["connectionsbyidx"] = {str(i): sid for i, sid in self.connections_by_idx.items()}
        return hub
