"""Prometheus series of the notifications service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class NotificationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.raised_to_dispatcher = Histogram(
            "safecampus_alarm_to_dispatcher_seconds",
            "Press accepted at ingress → alarm pushed to the dispatcher stream",
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.feed_entries = Counter(
            "safecampus_dispatcher_feed_entries_total",
            "Entries added to the dispatcher feed, by alarm state",
            ["state"],
            registry=registry,
        )
        self.no_unit_in_range = Counter(
            "safecampus_alarms_without_nearby_unit_total",
            "Raised alarms with no fresh unit inside the search radius",
            registry=registry,
        )
        self.stream_clients = Gauge(
            "safecampus_dispatcher_stream_clients",
            "Connected dispatcher live-stream clients",
            registry=registry,
        )
