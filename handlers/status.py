"""`GET /status`: the operator's health page (when http.stats is on); it reads /api/v1/stats."""
from __future__ import annotations

import html
from string import Template

from spreed.page import TEMPLATE_DIR

from .base import BaseHandler
from .security import default_csp

TEMPLATE = Template((TEMPLATE_DIR / "status.html").read_text(encoding="utf-8"))


class StatusPage(BaseHandler):
    def get(self) -> None:
        cfg = self.hub.config
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Security-Policy", default_csp(self.request.host or "", cfg.base_path))
        self.finish(TEMPLATE.substitute(title=html.escape(cfg.title), base=html.escape(cfg.base_path),
                                        static=html.escape(f"static/ver={cfg.static_ver}")))
