"""jwt mode: an integrator's site signs a JSON Web Token; `sub` becomes the userid.

Only the configured algorithms are ever accepted, and the kind of key decides which can be: an
HS* secret never verifies RS/ES/EdDSA tokens and a public key never serves as an HMAC secret, so
neither `alg: none` nor algorithm confusion (a public key used as a shared secret) gets through.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import jwt
from cryptography.hazmat.primitives import serialization

from ..config import ConfigError
from .base import Login, RequestFacts, UsersMode

SYMMETRIC = ("HS256", "HS384", "HS512")
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY = 30  # seconds of clock skew allowed on exp, nbf and iat
MAX_TOKEN = 8192  # characters; a login token is a few hundred


class JwtMode(UsersMode):
    name = "jwt"

    def __init__(self, key: Any, algorithms: list[str], audience: str = "", issuer: str = "") -> None:
        self.key = key
        self.algorithms = algorithms
        self.audience = audience or None
        self.issuer = issuer or None

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> "JwtMode":
        algorithms = options.get("jwt_algorithms", "").split() or ["HS256"]
        unknown = [a for a in algorithms if a not in SYMMETRIC + ASYMMETRIC]
        if unknown:
            raise ConfigError("users.jwt_algorithms", f"unsupported {unknown[0]!r} (use {', '.join(SYMMETRIC + ASYMMETRIC)})")
        symmetric = {a in SYMMETRIC for a in algorithms}
        if len(symmetric) > 1:
            raise ConfigError("users.jwt_algorithms", "HS* and public-key algorithms cannot share one key")
        value = options.get("jwt_key", "")
        if not value:
            raise ConfigError("users.jwt_key", "is required in jwt mode (an HS256 secret or a PEM public key file)")
        if symmetric == {True}:
            if value.lstrip().startswith("-----BEGIN") or Path(value).is_file():
                raise ConfigError("users.jwt_key", "HS* algorithms need a secret, not a key file")
            if len(value.encode()) < 32:
                raise ConfigError("users.jwt_key", "an HS* secret must have at least 32 bytes")
            key: Any = value.encode()
        else:
            key = _public_key(value)
        return cls(key, algorithms, options.get("jwt_audience", ""), options.get("jwt_issuer", ""))

    def validate_login(self, body: Mapping[str, Any], facts: RequestFacts) -> str:
        login = self.login(body, facts)
        return login.userid if login else ""

    def login(self, body: Mapping[str, Any], facts: RequestFacts) -> Login | None:
        """The verified claims as a Login; None for any token that is not exactly right."""
        token = body.get("jwt")
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
            return None
        try:
            claims = jwt.decode(token, self.key, algorithms=self.algorithms, audience=self.audience,
                                issuer=self.issuer, leeway=LEEWAY,
                                options={"require": ["exp", "sub"], "verify_aud": self.audience is not None})
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        sub, room, name = claims.get("sub"), claims.get("room", "*"), claims.get("name", "")
        if not isinstance(sub, str) or not sub or len(sub) > 256 or not isinstance(room, str):
            return None
        return Login(userid=sub, room=room, moderator=claims.get("moderator") is True,
                     name=name if isinstance(name, str) else "")


def _public_key(value: str) -> Any:
    """A PEM public key, given inline or as the path of a file."""
    try:
        pem = value.encode() if value.lstrip().startswith("-----BEGIN") else Path(value).read_bytes()
    except OSError as exc:
        raise ConfigError("users.jwt_key", f"cannot read {value} ({exc.strerror})") from None
    try:
        return serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ConfigError("users.jwt_key", f"not a PEM public key ({exc})") from None
