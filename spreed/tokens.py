"""Signed (and optionally encrypted) tokens in the securecookie scheme, and the ids built on them.

Clients treat every value here as opaque; what matters is that they are URL-safe, authenticated,
time-limited and (where the payload is private) encrypted.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import string
import time
from typing import Any

import orjson

MAX_TOKEN_LENGTH = 4096
ALNUM = string.ascii_letters + string.digits
THIRTY_DAYS = 30 * 86400


class TokenError(ValueError):
    """A token that cannot be trusted; the message is shown to clients in some Error documents."""


def random_string(length: int, alphabet: str = ALNUM) -> str:
    """Uniform over the alphabet, from one read of the system's random source (not one per character):
    bytes at or above the largest multiple of the alphabet's size are skipped."""
    size = len(alphabet)
    limit = 256 - 256 % size
    chars: list[str] = []
    while len(chars) < length:
        chars.extend(alphabet[b % size] for b in secrets.token_bytes(length + length // 2) if b < limit)
    return "".join(chars[:length])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def b64url_decode(text: str | bytes) -> bytes:
    try:
        return base64.urlsafe_b64decode(text)
    except (ValueError, TypeError):
        raise TokenError("securecookie: the value is not valid") from None


class Codec:
    """One securecookie codec: HMAC-SHA256 over name|ts|value, AES-CTR when a block key is given."""

    __slots__ = ("_hash_key", "_block_key", "_aes", "max_age")

    def __init__(self, hash_key: bytes, block_key: bytes | None = None, max_age: int = 0) -> None:
        self._hash_key = hash_key
        self._block_key = block_key
        self._aes: Any = None  # (Cipher, CTR, the AES key object), at the first use
        self.max_age = max_age

    def _mac(self, name: str, ts: bytes, value: bytes) -> bytes:
        return hmac.digest(self._hash_key, name.encode() + b"|" + ts + b"|" + value, "sha256")

    def _crypt(self, iv: bytes, data: bytes) -> bytes:
        if self._aes is None:
            # imported at the first session, not at start-up: cryptography weighs 6 MB of RSS
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

            self._aes = (Cipher, modes.CTR, algorithms.AES(self._block_key))
        cipher, ctr, key = self._aes
        return cipher(key, ctr(iv)).encryptor().update(data)

    def encode_raw(self, name: str, value: Any) -> bytes:
        data = orjson.dumps(value)
        if self._block_key:
            iv = os.urandom(16)
            data = iv + self._crypt(iv, data)
        v64 = base64.urlsafe_b64encode(data)
        ts = str(int(time.time())).encode()
        return ts + b"|" + v64 + b"|" + self._mac(name, ts, v64)

    def encode(self, name: str, value: Any) -> str:
        return b64url(self.encode_raw(name, value))

    def decode_raw(self, name: str, raw: bytes, max_age: int | None = None) -> Any:
        parts = raw.split(b"|", 2)
        if len(parts) != 3:
            raise TokenError("securecookie: the value is not valid")
        ts, v64, mac = parts
        if not hmac.compare_digest(mac, self._mac(name, ts, v64)):
            raise TokenError("securecookie: the value is not valid")
        try:
            stamp = int(ts)
        except ValueError:
            raise TokenError("securecookie: invalid timestamp") from None
        age = self.max_age if max_age is None else max_age
        if age and stamp < time.time() - age:
            raise TokenError("securecookie: expired timestamp")
        data = b64url_decode(v64)
        if self._block_key:
            if len(data) < 16:
                raise TokenError("securecookie: the value could not be decrypted")
            data = self._crypt(data[:16], data[16:])
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise TokenError("securecookie: the value could not be decoded") from None

    def decode(self, name: str, token: str, max_age: int | None = None) -> Any:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise TokenError("securecookie: the value is too long")
        return self.decode_raw(name, b64url_decode(token.encode()), max_age)


class Tickets:
    """All the tokens of one server: session ids and tokens, attestations, nonces, contact tokens."""

    def __init__(self, session_secret: bytes, encryption_secret: bytes, computed_realm: str,
                 turn_secret: bytes = b"", shared_nonces: bool = False) -> None:
        self.session = Codec(session_secret, encryption_secret, THIRTY_DAYS)
        self.attestation = Codec(session_secret, None, 300)
        # Per process, so a restart kills pending nonces; a cluster derives one key for all its nodes,
        # because a login's REST call and its websocket may reach different processes.
        nonce_key = hmac.new(session_secret, b"spreed login nonces", hashlib.sha256).digest() \
            if shared_nonces else os.urandom(64)
        self.nonce = Codec(nonce_key, None, 60)
        self.contact = Codec(session_secret, encryption_secret, 0)
        self.invite = Codec(session_secret, encryption_secret, 0)  # expiry is inside (docs/moderation.md)
        self._encryption_secret = encryption_secret
        self.realm = computed_realm
        self.turn_secret = turn_secret

    # ---- session Id and Sid (5.3): the Id is the encoded Sid with its bytes reversed
    def new_sid(self) -> str:
        return random_string(32)

    def session_id(self, sid: str) -> str:
        return b64url(self.session.encode_raw("id", sid)[::-1])

    def validate_session(self, session_id: str, sid: str) -> bool:
        if not session_id or not sid or len(session_id) > MAX_TOKEN_LENGTH:
            return False
        try:
            raw = b64url_decode(session_id.encode())[::-1]
            return hmac.compare_digest(str(self.session.decode_raw("id", raw)).encode(), sid.encode())
        except (TokenError, UnicodeError):
            return False

    # ---- session token (5.4)
    def session_token(self, session_id: str, sid: str, userid: str, grants: dict[str, Any] | None = None) -> str:
        value: dict[str, Any] = {"Id": session_id, "Sid": sid, "Userid": userid}
        if grants:
            value["G"] = grants  # what a login token allowed (room, moderator): it survives reconnects
        return self.session.encode("token@" + self.realm, value)

    def claim_session(self, token: str) -> tuple[str, str, str, dict[str, Any] | None] | None:
        """Id, Sid, Userid and login grants of a session token; None when it is not ours or broken."""
        try:
            value = self.session.decode("token@" + self.realm, token)
            ids = (value["Id"], value["Sid"], value.get("Userid", ""))
            grants = value.get("G")
        except (TokenError, KeyError, TypeError, AttributeError):
            return None
        if not all(isinstance(x, str) for x in ids) or not ids[0] or not ids[1]:
            return None
        return (*ids, grants if isinstance(grants, dict) else None)

    def decode_session_token(self, token: str) -> tuple[str, str, str] | None:
        claimed = self.claim_session(token)
        return claimed[:3] if claimed else None

    # ---- attestation (5.5)
    def attest(self, session_id: str) -> str:
        return self.attestation.encode("attestation", session_id)

    def decode_attestation(self, token: str) -> str:
        value = self.attestation.decode("attestation", token)
        if not isinstance(value, str):
            raise TokenError("securecookie: the value is not valid")
        return value

    # ---- login nonce (5.6)
    def make_nonce(self, sid: str, userid: str, grants: dict[str, Any] | None = None) -> str:
        """Random salt makes every nonce unique, so "only the latest one counts" holds within a second.

        Grants of the login (a JWT's room and moderator claims) travel inside the sealed nonce, so the
        process that holds the websocket learns them whichever process checked the login.
        """
        value: list[Any] = [userid, random_string(8)]
        if grants:
            value.append(grants)
        return self.nonce.encode(f"{sid}@{self.realm}", value)

    def decode_nonce(self, sid: str, nonce: str) -> str:
        return self.decode_login(sid, nonce)[0]

    def decode_login(self, sid: str, nonce: str) -> tuple[str, dict[str, Any] | None]:
        value = self.nonce.decode(f"{sid}@{self.realm}", nonce)
        if not isinstance(value, list) or not value or not isinstance(value[0], str):
            raise TokenError("securecookie: the value is not valid")
        grants = value[2] if len(value) > 2 and isinstance(value[2], dict) else None
        return value[0], grants

    # ---- invite links (ours): a room, its invite generation and an expiry, sealed
    def invite_token(self, room_id: str, generation: str, expires: int) -> str:
        return self.invite.encode("invite@" + self.realm, {"R": room_id, "G": generation, "E": expires})

    def decode_invite(self, token: str) -> tuple[str, str, int]:
        value = self.invite.decode("invite@" + self.realm, token)
        if not isinstance(value, dict) or not isinstance(value.get("R"), str) or not isinstance(value.get("G"), str) \
                or not isinstance(value.get("E"), int):
            raise TokenError("securecookie: the value is not valid")
        return value["R"], value["G"], value["E"]

    # ---- contact token (5.7)
    def contact_token(self, userid_a: str, userid_b: str) -> str:
        return self.contact.encode("contact", {"A": userid_a, "B": userid_b})

    def decode_contact(self, token: str) -> tuple[str, str]:
        value = self.contact.decode("contact", token)
        if not isinstance(value, dict) or not isinstance(value.get("A"), str) or not isinstance(value.get("B"), str):
            raise TokenError("securecookie: the value is not valid")
        return value["A"], value["B"]

    # ---- secure userid (5.8)
    def suserid(self, userid: str) -> str:
        if not userid:
            return ""
        digest = hmac.new(self._encryption_secret, userid.encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    # ---- TURN REST credentials (6)
    def turn(self, session_id: str, urls: list[str], ttl: int = 3600) -> dict[str, Any]:
        if not self.turn_secret:
            return {"username": "", "password": "", "ttl": 0, "urls": None}
        user = base64.b64encode(hashlib.sha256(session_id.encode()).digest()).decode()
        username = f"{int(time.time()) + ttl}:{user}"
        password = base64.b64encode(hmac.new(self.turn_secret, username.encode(), hashlib.sha1).digest()).decode()
        return {"username": username, "password": password, "ttl": ttl, "urls": list(urls)}
