"""Prometheus series of the alarms service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class AlarmMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.presses_received = Counter(
            "safecampus_presses_received_total", "Button presses received", registry=registry
        )
        self.presses_accepted = Counter(
            "safecampus_presses_accepted_total",
            "Presses answered 202 (duplicate=true for a repeated press_id)",
            ["duplicate"],
            registry=registry,
        )
        self.presses_rejected = Counter(
            "safecampus_presses_rejected_total",
            "Presses refused, by reason",
            ["reason"],
            registry=registry,
        )
        self.ingress_seconds = Histogram(
            "safecampus_press_ingress_seconds",
            "Time from request to durable acceptance of a press",
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.alarms_raised = Counter(
            "safecampus_alarms_raised_total",
            "Alarms raised (test=true for tests and drills)",
            ["kind", "test"],
            registry=registry,
        )
