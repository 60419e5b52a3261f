"""Configuration advice: what will hurt users or operators, for `--check` and the status page."""
from __future__ import annotations

import ipaddress
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from .config import DEFAULT_SERVER_TOKEN, Config

SECRET_NAMES = {"session_secret", "encryption_secret", "turn_secret", "sharedsecret_secret", "sfu_api_secret"}
# well-known sample values (the original's server.conf.in and our own docs); using them is as bad as none
SAMPLE_SECRETS = {b"the-default-secret-do-not-keep-me", b"tne-default-encryption-block-key",
                  b"PUT-THE-SECRET-HERE", b"change-me"}


def _public(address: str) -> bool:
    if address.startswith("/"):
        return False
    host = address.rpartition(":")[0].strip("[]")
    if host in ("", "0.0.0.0", "::"):
        return True
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host != "localhost"


def warnings(cfg: Config) -> list[str]:
    out: list[str] = []
    if cfg.server_token == DEFAULT_SERVER_TOKEN:
        out.append("app.serverToken is the well-known default: set your own (or remove it to have one generated)")
    for name, value in (("app.sessionSecret", cfg.session_secret), ("app.encryptionSecret", cfg.encryption_secret),
                        ("app.turnSecret", cfg.turn_secret)):
        if value in SAMPLE_SECRETS:
            out.append(f"{name} is a sample value from the documentation: anyone can forge tokens")
    if not cfg.turn_uris or not cfg.turn_secret:
        out.append("no TURN server configured (app.turnURIs and app.turnSecret): calls between people behind "
                   "NAT routers or firewalls will fail; see docs/turn.md")
    if cfg.stats and any(_public(a) for a in cfg.listen):
        out.append("http.stats is on and http.listen is reachable from other hosts: put the server behind a "
                   "proxy that hides /api/v1/stats, or switch stats off")
    if cfg.users_enabled and not cfg.https_listen and any(_public(a) for a in cfg.listen):
        out.append("users are enabled but this server speaks plain HTTP on a public address: logins travel in "
                   "clear unless a TLS proxy is in front")
    if cfg.users_enabled and cfg.users_mode == "httpheader" and any(_public(a) for a in cfg.listen):
        out.append("users.mode httpheader on a public address: anyone can send the header; only a proxy may "
                   "reach this server")
    if not cfg.limits.enabled:
        out.append("limits.enabled is false: flooding clients are not held back")
    return out


def _masked(name: str, value: Any) -> Any:
    if isinstance(value, bytes) or name.rpartition(".")[2].lower() in SECRET_NAMES:
        return "(set, hidden)" if value else "(not set)"
    if name == "jwt_key" and isinstance(value, str) and not Path(value).is_file():  # an HS* secret
        return "(set, hidden)" if value else "(not set)"
    if isinstance(value, str) and "://" in value and "@" in value:  # credentials in a URL
        scheme, _, rest = value.partition("://")
        return f"{scheme}://(hidden)@{rest.rpartition('@')[2]}"
    return value


def effective(cfg: Config) -> dict[str, Any]:
    """Every setting, secrets masked, for printing."""
    def walk(obj: Any, prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in fields(obj):
            value = getattr(obj, field.name)
            name = f"{prefix}{field.name}"
            if is_dataclass(value):
                out.update(walk(value, f"{name}."))
            elif isinstance(value, dict):
                out[name] = {k: _masked(k, v) for k, v in value.items()}
            elif isinstance(value, list) and value and isinstance(value[0], tuple):
                out[name] = [f"{regex.pattern} -> {kind}" for regex, kind in value]
            else:
                out[name] = _masked(name, value if not hasattr(value, "__fspath__") else str(value))
        return out
    return walk(cfg)


def sfu_report(cfg: Config, timeout: float = 3.0) -> list[str]:
    """For --check: does each configured Janus answer, and which version is it (Janus `info`)."""
    if not cfg.sfu_urls:
        return []
    import asyncio
    from .sfu.janus import JanusError, JanusGone, probe

    async def ask(url: str) -> str:
        try:
            info = await probe(url, cfg.sfu_api_secret, timeout)
        except (JanusGone, JanusError) as exc:
            return f"WARNING: SFU: Janus at {url} does not answer ({exc}): conferences stay mesh until it does"
        return f"SFU: Janus at {url} answers: {info.get('name', 'Janus')} {info.get('version_string', '?')}"

    async def ask_all() -> list[str]:
        return [await ask(url) for url in cfg.sfu_urls]
    return asyncio.run(ask_all())
