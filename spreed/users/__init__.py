"""User accounts without a user database: identities proven by HMAC secrets, JWTs or client certificates.

`make_mode(config)` returns the handler for `users.mode` (or None), which the REST end points and the
websocket use to learn a userid from a request and to register new users.
"""
from __future__ import annotations

from ..config import Config, ConfigError
from .base import Login, RequestFacts, UsersMode
from .httpheader import HttpHeaderMode
from .sharedsecret import SharedSecretMode

__all__ = ["Login", "RequestFacts", "UsersMode", "make_mode"]


def make_mode(cfg: Config) -> UsersMode | None:
    """The configured users-mode handler; None when users are off or the mode cannot work."""
    if not cfg.users_enabled:
        return None
    options = cfg.users
    if cfg.users_mode == "sharedsecret":
        secret = options.get("sharedsecret_secret", "")
        return SharedSecretMode(secret.encode()) if secret else None
    if cfg.users_mode == "httpheader":
        return HttpHeaderMode(options.get("httpheader_header") or "x-users")
    if cfg.users_mode == "jwt":
        from .jwtmode import JwtMode  # pyjwt is loaded only where JWT logins are on
        return JwtMode.from_options(options)
    if cfg.users_mode == "certificate":
        from .certificate import CertificateMode  # cryptography's x509 only in this mode
        if not options.get("certificate_certificate"):
            raise ConfigError("users.certificate_certificate", "is required in certificate mode")
        return CertificateMode.from_options(options)
    return None
