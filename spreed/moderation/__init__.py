"""Room moderation: roles, lock and lobby, removals with bans, mute requests, invite links."""
from __future__ import annotations

from .manager import FEATURE, LobbyWait, Moderation

__all__ = ["FEATURE", "LobbyWait", "Moderation"]
