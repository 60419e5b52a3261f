"""Self, Alive, Authentication and Sessions: the session's own identity and lookups (4.7.1, 4.7.10-12)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ChannelError, bad_request
from ..tokens import TokenError
from . import handles
from .presence import status_doc

if TYPE_CHECKING:
    from ..hub import Request
    from ..session import Session


@handles("Self")
def on_self(req: "Request") -> None:
    req.reply(req.hub.self_doc(req.session))


@handles("Alive")
def on_alive(req: "Request") -> None:
    alive = req.msg.get("Alive") or {}
    req.reply({"Type": alive.get("Type", "Alive") or "Alive", "Alive": alive.get("Alive", 0)})


@handles("Authentication")
def on_authentication(req: "Request") -> None:
    auth = (req.msg.get("Authentication") or {}).get("Authentication")
    if auth is None:
        raise bad_request("message did not contain Authentication")
    hub, session = req.hub, req.session
    if session.userid:
        raise ChannelError("already_authenticated", "session already authenticated")
    nonce = auth.get("Nonce", "")
    if not session.nonce or session.nonce != nonce:
        raise ChannelError("invalid_session_token", "nonce validation failed")
    try:
        userid, grants = hub.tickets.decode_login(session.sid, nonce)
    except TokenError as exc:
        raise ChannelError("invalid_session_token", str(exc)) from None
    if userid != auth.get("Userid", ""):
        raise ChannelError("invalid_session_token", "user id mismatch")
    if session.hello and not hub.rooms.granted(grants, session.roomid):
        raise ChannelError("room_not_allowed", "This login is for another room")
    session.nonce = ""
    hub.authenticate(session, userid, grants)
    hub.profile_changed(session)
    req.reply(hub.self_doc(session))
    hub.broadcast(session, status_doc(session))


def _contact_sessions(req: "Request", token: str) -> list["Session"]:
    hub, session = req.hub, req.session
    if not hub.config.modules.get("contacts", True):
        raise ChannelError("contacts_not_enabled", "incoming contacts session request with contacts disabled")
    try:
        userid_a, userid_b = hub.tickets.decode_contact(token)
    except TokenError as exc:
        raise bad_request(f"invalid contact token: {exc}") from None
    if session.userid and userid_a == session.userid:
        other = userid_b
    elif session.userid and userid_b == session.userid:
        other = userid_a
    else:
        raise bad_request("contact token is not yours")
    found = hub.user_sessions(other)
    for peer in found:
        session.link(peer)
    return found or [hub.fake_session(other)]


def _attested_session(req: "Request", token: str) -> list["Session"]:
    try:
        session_id = req.hub.tickets.decode_attestation(token)
    except TokenError as exc:
        raise ChannelError("bad_attestation", str(exc)) from None
    peer = req.hub.find_session(session_id)
    if peer is None:
        raise ChannelError("no_such_session", "cannot retrieve session")
    return [peer]


@handles("Sessions")
def on_sessions(req: "Request") -> None:
    query = (req.msg.get("Sessions") or {}).get("Sessions")
    if query is None:
        raise bad_request("message did not contain Sessions")
    kind, token = query.get("Type", ""), query.get("Token", "")
    if kind == "contact":
        found = _contact_sessions(req, token)
    elif kind == "session":
        found = _attested_session(req, token)
    else:
        raise bad_request("unknown sessions request type")
    req.reply({"Type": "Sessions", "Sessions": {"Token": token, "Type": kind},
               "Users": [s.doc("") for s in found]})
