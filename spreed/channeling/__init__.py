"""The channeling API's message handlers: one function per incoming `Type`, found in HANDLERS."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..hub import Request

Handler = Callable[["Request"], None]
HANDLERS: dict[str, Handler] = {}


def handles(type_: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        HANDLERS[type_] = func
        return func
    return register


from . import chat, moderation, presence, rooms, sessions, signalling  # noqa: E402,F401  (they register themselves)
