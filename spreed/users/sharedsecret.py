"""sharedsecret mode: `useridcombo = "<expiry>:<userid>[:<extra>]"`, secret = base64(HMAC-SHA256(combo))."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any, Mapping

from .base import Registration, RequestFacts, UsersMode

REGISTRATION_LIFETIME = 8928 * 3600  # 372 days, as the original issues them


def sign(secret: bytes, combo: str) -> str:
    return base64.b64encode(hmac.new(secret, combo.encode(), hashlib.sha256).digest()).decode()


def mint(secret: bytes, userid: str, lifetime: int = REGISTRATION_LIFETIME) -> tuple[str, str, int]:
    """A login for userid valid for lifetime seconds: (useridcombo, secret, expiry)."""
    expiry = int(time.time()) + lifetime
    combo = f"{expiry}:{userid}"
    return combo, sign(secret, combo), expiry


class SharedSecretMode(UsersMode):
    name = "sharedsecret"

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def validate_login(self, body: Mapping[str, Any], facts: RequestFacts) -> str:
        combo, given = body.get("useridcombo"), body.get("secret")
        if not isinstance(combo, str) or not isinstance(given, str):
            return ""
        parts = combo.split(":", 2)
        if len(parts) < 2:
            return ""
        try:
            expiry = int(parts[0])
        except ValueError:
            return ""
        valid = hmac.compare_digest(sign(self.secret, combo).encode(), given.encode())
        if not valid or expiry < time.time():
            return ""
        return parts[1]

    def register(self, userid: str, params: Mapping[str, Any]) -> Registration:
        combo, secret, expiry = mint(self.secret, userid)
        return Registration(fields={"useridcombo": combo, "secret": secret, "timestamp": expiry})
