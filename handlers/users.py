"""REST end points of user accounts: log a session in (PATCH sessions) and register (POST users)."""
from __future__ import annotations

import uuid
from typing import Any

import orjson
import tornado.web

from spreed.errors import ChannelError
from spreed.users import RequestFacts, UsersMode
from spreed.users.base import RegistrationError

from .rest import RestHandler

MAX_BODY = 64 * 1024


def request_facts(handler: tornado.web.RequestHandler, stream: Any = None) -> RequestFacts:
    """Headers and the verified TLS client certificate (if our listener got one).

    A websocket has detached its stream from the HTTP connection, so it passes the stream itself.
    """
    der = None
    try:
        if stream is not None:
            der = stream.socket.getpeercert(binary_form=True)
        else:
            der = handler.request.get_ssl_certificate(binary_form=True)
    except (AttributeError, OSError, ValueError):  # plain HTTP, or no certificate presented
        der = None
    return RequestFacts(headers=handler.request.headers, client_cert_der=der or None)


class UsersResource(RestHandler):
    """Shared by both end points: the users mode and a cap on body size."""

    mode: UsersMode | None

    def initialize(self, hub, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(hub, **kwargs)
        self.mode = kwargs.get("users_mode")

    def prepare(self) -> None:
        super().prepare()
        if self._finished:
            return
        if len(self.request.body or b"") > MAX_BODY:
            self.error_doc(413, "request_too_large", f"Request bodies are limited to {MAX_BODY} bytes")

    def json_body(self) -> Any:
        try:
            return orjson.loads(self.request.body or b"")
        except orjson.JSONDecodeError:
            return None


class SessionsResource(UsersResource):
    """PATCH /api/v1/sessions/{id}/: proof of a userid in exchange for a login nonce."""

    async def patch(self, session_id: str) -> None:
        content_type = self.request.headers.get("Content-Type", "")
        body = None if content_type.startswith("application/x-www-form-urlencoded") else self.json_body()
        ok = isinstance(body, dict)
        body = body if ok else {}
        sid = body.get("sid") if isinstance(body.get("sid"), str) else ""
        ok &= body.get("id") == session_id
        ok &= bool(sid)
        ok &= self.hub.tickets.validate_session(session_id, sid)
        login = self.mode.login(body, request_facts(self)) if self.mode else None
        ok &= login is not None
        nonce = userid = ""
        if ok:
            userid = login.userid
            try:
                nonce = await self.hub.authorize_anywhere(session_id, sid, userid, login.grants())
            except ChannelError:
                ok = False
        if not ok:
            self.error_doc(403, "session_patch_failed", "Failed to patch session")
            return
        self.reply(200, {"nonce": nonce, "userid": userid, "success": True})


class RegistrationResource(UsersResource):
    """POST /api/v1/users: a new userid for a connected session, proven the mode's way."""

    async def post(self) -> None:
        if self.mode is None:
            self.plain(404, "No handler found")
            return
        params = self._params()
        if params is None:
            return
        session_id, sid = params.get("id"), params.get("sid")
        if not isinstance(session_id, str) or not isinstance(sid, str) or not session_id or not sid:
            self.error_doc(400, "users_bad_request", "Incomplete request")
            return
        userid = f"{uuid.uuid4()}@{self.hub.config.server_realm}"
        if not self.hub.tickets.validate_session(session_id, sid):
            self.error_doc(403, "users_invalid_session", "Invalid session")
            return
        try:
            nonce = await self.hub.authorize_anywhere(session_id, sid, userid)
            created = self.mode.register(userid, params)
        except (ChannelError, RegistrationError) as exc:
            code = "users_request_failed" if isinstance(exc, ChannelError) else "users_create_failed"
            self.error_doc(400, code, f'Error: "{exc}"')
            return
        if created.fields is None:
            self.set_status(200)
            for name, value in created.headers.items():
                self.set_header(name, value)
            self.finish(created.body)
            return
        self.reply(200, {"nonce": nonce, "userid": userid, **created.fields, "success": True})

    def _params(self) -> dict[str, Any] | None:
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            body = self.json_body()
            if not isinstance(body, dict):
                self.error_doc(400, "users_bad_request", "Failed to parse request")
                return None
            return body
        if content_type.startswith("application/x-www-form-urlencoded"):
            try:
                return {k: self.get_body_argument(k) for k in self.request.body_arguments}
            except tornado.web.HTTPError:  # not UTF-8
                self.error_doc(400, "users_bad_request", "Failed to parse request")
                return None
        self.error_doc(400, "users_invalid_request", "Invalid request type")
        return None
