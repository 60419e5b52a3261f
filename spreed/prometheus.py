"""The Prometheus view of the hub (`http.metrics: true`): imported only when that is switched on."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

if TYPE_CHECKING:
    from .hub import Hub


class HubCollector(Collector):
    """Reads the hub when Prometheus scrapes; labels every sample with this process."""

    def __init__(self, hub: "Hub") -> None:
        self.hub = hub
        self.process = str(os.getpid())

    def collect(self) -> Iterator[Any]:
        hub, counters = self.hub, self.hub.metrics
        labels = ["process"]
        value = [self.process]

        def gauge(name: str, doc: str, number: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, doc, labels=labels)
            family.add_metric(value, number)
            return family

        def counter(name: str, doc: str, number: float) -> CounterMetricFamily:
            family = CounterMetricFamily(name, doc, labels=labels)
            family.add_metric(value, number)
            return family

        yield gauge("spreed_sessions", "Sessions connected to this process", len(hub.sessions))
        yield gauge("spreed_rooms", "Rooms with at least one member", hub.rooms.live_count())
        yield gauge("spreed_users", "Distinct signed-in users connected to this process", len(hub.users))
        yield counter("spreed_connections_accepted", "Websocket connections accepted", hub.count)
        yield counter("spreed_frames_out", "Websocket messages sent", counters.frames_out)
        yield counter("spreed_bytes_in", "Websocket payload bytes received", counters.bytes_in)
        yield counter("spreed_bytes_out", "Websocket payload bytes sent", counters.bytes_out)
        yield counter("spreed_slow_consumer_disconnects",
                      "Clients cut off because they stopped reading", counters.slow_consumers)
        incoming = CounterMetricFamily("spreed_messages_in", "Channeling messages received, by Type",
                                       labels=["process", "type"])
        for kind, number in sorted(counters.messages_in.items()):
            incoming.add_metric([self.process, kind], number)
        yield incoming
        errors = CounterMetricFamily("spreed_errors", "Error documents sent, by code", labels=["process", "code"])
        for code, number in sorted(counters.errors.items()):
            errors.add_metric([self.process, code], number)
        yield errors
        refusals = CounterMetricFamily("spreed_limit_refusals", "Requests refused by an abuse limit, by limit",
                                       labels=["process", "limit"])
        guard = getattr(hub, "guard", None)
        for limit, number in sorted(getattr(getattr(guard, "log", None), "counts", {}).items()):
            refusals.add_metric([self.process, limit], number)
        yield refusals
        if hub.cluster is not None:
            stats = hub.cluster.stats()
            yield gauge("spreed_cluster_nodes", "Nodes of the cluster this process sees", stats["nodes"])
            yield gauge("spreed_cluster_sessions", "Sessions in the whole cluster", stats["sessions"])
            yield gauge("spreed_cluster_rooms", "Rooms in the whole cluster", stats["rooms"])


def registry_for(hub: "Hub") -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector(hub))
    return registry
