"""The page every room URL serves: its globalcontext JSON and HTML (protocol.md 2.4)."""
from __future__ import annotations

import html
from pathlib import Path
from string import Template
from typing import Any

from .config import Config
from .jsonutil import html_safe

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def config_doc(cfg: Config) -> dict[str, Any]:
    """The Config document of /api/v1/config and of the page, keys in the original's order."""
    doc = {
        "Title": cfg.title, "S": f"static/ver={cfg.static_ver}", "B": cfg.base_path,
        "Token": cfg.server_token, "Renegotiation": cfg.renegotiation,
        "StunURIs": list(cfg.stun_uris), "TurnURIs": list(cfg.turn_uris), "Tokens": bool(cfg.token_file),
        "Version": cfg.version, "UsersEnabled": cfg.users_enabled,
        "UsersAllowRegistration": cfg.users_allow_registration, "UsersMode": cfg.users_mode,
        "DefaultRoomEnabled": cfg.default_room_enabled, "Plugin": cfg.plugin,
        "AuthorizeRoomCreation": cfg.authorize_room_creation, "AuthorizeRoomJoin": cfg.authorize_room_join,
        "Modules": cfg.enabled_modules,
    }
    if cfg.test_hooks:
        doc["TestHooks"] = True
    return doc


def languages(header: str | None) -> list[str]:
    """Accept-Language as the original parses it (quality 0 or absent ranks by position)."""
    items = (header or "").split(",")
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(items):
        item = item.lower().strip()
        if not item:
            continue
        lang, _, rest = item.partition(";")
        quality = 0.0
        if rest.startswith("q="):
            try:
                quality = float(rest[2:])
            except ValueError:
                quality = 1.0
        if quality == 0:
            quality = float(len(items) - index)
        ranked.append((quality, index, lang))
    ranked.sort(key=lambda r: (-r[0], r[1]))
    return [lang for _, _, lang in ranked] or ["en"]


def context(cfg: Config, host: str, ssl: bool, accept_language: str | None) -> dict[str, Any]:
    return {"App": "main", "Cfg": config_doc(cfg), "Host": host, "Ssl": ssl,
            "Csp": bool(cfg.csp or cfg.csp_report_only), "Languages": languages(accept_language),
            "S": f"static/ver={cfg.static_ver}"}


class PageRenderer:
    """Renders templates/main.html; the template is read once at start-up."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.main = Template((TEMPLATE_DIR / "main.html").read_text(encoding="utf-8"))

    def main_page(self, ctx: dict[str, Any], room: str) -> str:
        title = f"{room} - {self.cfg.title}" if room else self.cfg.title
        return self.main.substitute(
            title=html.escape(title), base=html.escape(self.cfg.base_path),
            static=html.escape(ctx["S"]), context=html_safe(ctx),
            og_title=html.escape("/" + room), site=html.escape(self.cfg.title),
            lang=html.escape(ctx["Languages"][0].split("-")[0]))

    def crawler_page(self, room: str, scheme: str, host: str) -> str:
        esc = html.escape
        image = f"{scheme}://{host}{self.cfg.base_path}static/img/opengraph-image.png"
        return ("<!doctype html><html><head>\n"
                f'<meta property="og:title" content="/{esc(room)}" />\n'
                f'<meta property="og:site_name" content="{esc(self.cfg.title)}"/>\n'
                f'<meta property="og:image" content="{esc(image)}" />\n'
                '<meta property="og:type" content="article" />\n'
                "</head><body></body></html>\n")
