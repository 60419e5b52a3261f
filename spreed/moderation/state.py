"""What moderation remembers of one room; it outlives the Room object (bans last 10 minutes)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

BAN_SECONDS = 600
ADMISSION_SECONDS = 300  # an admitted knocker has this long to send its Hello again
RETURN_SECONDS = 120  # a moderator whose connection dropped gets the role back when it reconnects this soon
MAX_LOBBY = 100  # waiting sessions per room; more knocks get room_locked
MAX_BANS = 1000  # per room


def new_generation() -> str:
    return os.urandom(9).hex()


@dataclass
class RoomModeration:
    moderators: set[str] = field(default_factory=set)
    locked: bool = False
    lobby: dict[str, dict[str, str]] = field(default_factory=dict)  # session id -> Id, Name, Userid
    admitted: dict[str, float] = field(default_factory=dict)  # session id -> until (monotonic)
    returning: dict[str, float] = field(default_factory=dict)  # dropped moderators -> until (monotonic)
    bans: dict[str, float] = field(default_factory=dict)  # "id:<session>" / "user:<userid>" -> until (wall clock)
    invite_generation: str = field(default_factory=new_generation)
    revocations: int = 0  # how often invites were revoked: the generation of the most revocations wins
    version: int = 0  # a Lamport clock of the record, with `origin` (the process) to break ties
    origin: str = ""

    def banned(self, keys: list[str], now: float | None = None) -> bool:
        now = time.time() if now is None else now
        for key in [k for k, until in self.bans.items() if until <= now]:
            del self.bans[key]
        return any(key in self.bans for key in keys)

    def ban(self, keys: list[str]) -> None:
        until = time.time() + BAN_SECONDS
        for key in keys:
            self.bans[key] = until
        while len(self.bans) > MAX_BANS:
            self.bans.pop(next(iter(self.bans)))

    def is_admitted(self, session_id: str) -> bool:
        until = self.admitted.get(session_id)
        if until is None:
            return False
        if until < time.monotonic():
            del self.admitted[session_id]
            return False
        return True

    def remember_moderator(self, session_id: str) -> None:
        now = time.monotonic()
        for key in [k for k, until in self.returning.items() if until < now]:
            del self.returning[key]
        if len(self.returning) < MAX_LOBBY:
            self.returning[session_id] = now + RETURN_SECONDS

    def admit(self, session_id: str) -> None:
        self.lobby.pop(session_id, None)
        self.admitted[session_id] = time.monotonic() + ADMISSION_SECONDS
        while len(self.admitted) > MAX_LOBBY * 2:
            self.admitted.pop(next(iter(self.admitted)))

    # ---- the cluster copies the whole record (docs/moderation.md, several processes)
    def export(self) -> dict[str, Any]:
        now_wall, now_mono = time.time(), time.monotonic()
        return {"m": sorted(self.moderators), "l": self.locked, "q": self.lobby,
                "a": {k: v - now_mono for k, v in self.admitted.items()},
                "t": {k: v - now_mono for k, v in self.returning.items()},
                "b": {k: v - now_wall for k, v in self.bans.items()}, "g": self.invite_generation,
                "r": self.revocations, "v": self.version, "o": self.origin}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> "RoomModeration":
        now_wall, now_mono = time.time(), time.monotonic()
        return cls(moderators=set(data.get("m", ())), locked=bool(data.get("l")), lobby=dict(data.get("q", {})),
                   admitted={k: now_mono + float(v) for k, v in dict(data.get("a", {})).items()},
                   returning={k: now_mono + float(v) for k, v in dict(data.get("t", {})).items()},
                   bans={k: now_wall + float(v) for k, v in dict(data.get("b", {})).items()},
                   invite_generation=str(data.get("g") or ""), revocations=int(data.get("r", 0)),
                   version=int(data.get("v", 0)), origin=str(data.get("o", "")))

    def merge(self, other: "RoomModeration") -> None:
        """Take what is newer of another process's copy; both sides end with the same record.

        Roles, lock and lobby follow the newer version; bans are united (the later end wins); the
        invite generation with more revocations wins, so a revocation is never undone by a race.
        """
        if (other.version, other.origin) > (self.version, self.origin):
            self.moderators, self.locked, self.lobby = set(other.moderators), other.locked, dict(other.lobby)
            self.admitted, self.returning = dict(other.admitted), dict(other.returning)
            self.version, self.origin = other.version, other.origin
        for key, until in other.bans.items():
            self.bans[key] = max(until, self.bans.get(key, 0.0))
        if (other.revocations, other.invite_generation) > (self.revocations, self.invite_generation):
            self.revocations, self.invite_generation = other.revocations, other.invite_generation


def ban_keys(session_id: str, userid: str) -> list[str]:
    """A removal bans the session (its token reclaims the same Id) and its user, if logged in."""
    return [f"id:{session_id}"] + ([f"user:{userid}"] if userid else [])
