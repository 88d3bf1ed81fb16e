"""Prometheus series of the alarms service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

STATE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class AlarmMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.presses_received = Counter(
            "safecampus_presses_received_total", "Button presses received", registry=registry
        )
        self.presses_accepted = Counter(
            "safecampus_presses_accepted_total",
            "Presses answered 202: duplicate=true for a repeated press_id; via=broker, journal "
            "(broker unreachable) or recorded (already on the broker before)",
            ["duplicate", "via"],
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
        self.presses_folded = Counter(
            "safecampus_presses_folded_total",
            "Presses folded into an alarm already open at the school",
            registry=registry,
        )
        self.state_seconds = Histogram(
            "safecampus_alarm_state_seconds",
            "Time from the press reaching ingress to the alarm reaching each state",
            ["state"],
            registry=registry,
            buckets=STATE_BUCKETS,
        )
        self.commands = Counter(
            "safecampus_alarm_commands_total",
            "Commands handled, by action and result (applied, refused, forbidden)",
            ["action", "status"],
            registry=registry,
        )
        self.escalations = Counter(
            "safecampus_alarm_escalations_total",
            'Escalations, by reason; test="true" for tests and drills',
            ["reason", "test"],
            registry=registry,
        )
        self.open_alarms = Gauge(
            "safecampus_alarms_open",
            'Open alarms by state (refreshed by the ticker); test="true" for tests and drills',
            ["state", "test"],
            registry=registry,
        )
        self.outbox_backlog = Gauge(
            "safecampus_alarm_outbox_backlog",
            "Alarms with lifecycle events not on the broker RELAY_AFTER after they were written "
            "(seen by the ticker)",
            registry=registry,
        )
        self.journal_backlog = Gauge(
            "safecampus_press_journal_backlog",
            "Presses accepted into the local journal and not yet on the broker",
            registry=registry,
        )
