"""`GET /metrics`: Prometheus text exposition of this process (when http.metrics is on).

Imported by the routing only when http.metrics is on, so prometheus_client is loaded only then.
"""
from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from spreed.prometheus import registry_for

from .base import BaseHandler


class MetricsHandler(BaseHandler):
    def initialize(self, hub, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(hub, **kwargs)
        self.registry = kwargs["registry"]

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.set_header("Cache-Control", "no-store")
        self.finish(generate_latest(self.registry))


def metrics_kwargs(hub) -> dict[str, Any]:
    return {"registry": registry_for(hub)}
