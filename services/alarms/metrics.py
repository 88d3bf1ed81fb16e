"""Prometheus series of the alarms service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from shared.instruments import Instruments, counter, gauge, histogram

STATE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class AlarmMetrics(Instruments):
    presses_received: Counter = counter(
        "safecampus_presses_received_total", "Button presses received"
    )
    presses_accepted: Counter = counter(
        "safecampus_presses_accepted_total",
        "Presses answered 202: duplicate=true for a repeated press_id; via=broker, journal "
        "(broker unreachable) or recorded (already on the broker before)",
        "duplicate",
        "via",
    )
    presses_rejected: Counter = counter(
        "safecampus_presses_rejected_total", "Presses refused, by reason", "reason"
    )
    ingress_seconds: Histogram = histogram(
        "safecampus_press_ingress_seconds",
        "Time from request to durable acceptance of a press",
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    )
    alarms_raised: Counter = counter(
        "safecampus_alarms_raised_total",
        "Alarms raised (test=true for tests and drills)",
        "kind",
        "test",
    )
    presses_folded: Counter = counter(
        "safecampus_presses_folded_total", "Presses folded into an alarm already open at the school"
    )
    state_seconds: Histogram = histogram(
        "safecampus_alarm_state_seconds",
        "Time from the press reaching ingress to the alarm reaching each state",
        "state",
        buckets=STATE_BUCKETS,
    )
    commands: Counter = counter(
        "safecampus_alarm_commands_total",
        "Commands handled, by action and result (applied, refused, forbidden)",
        "action",
        "status",
    )
    escalations: Counter = counter(
        "safecampus_alarm_escalations_total",
        'Escalations, by reason; test="true" for tests and drills',
        "reason",
        "test",
    )
    open_alarms: Gauge = gauge(
        "safecampus_alarms_open",
        'Open alarms by state (refreshed by the ticker); test="true" for tests and drills',
        "state",
        "test",
    )
    outbox_backlog: Gauge = gauge(
        "safecampus_alarm_outbox_backlog",
        "Alarms with lifecycle events not on the broker RELAY_AFTER after they were written "
        "(seen by the ticker)",
    )
    journal_backlog: Gauge = gauge(
        "safecampus_press_journal_backlog",
        "Presses accepted into the local journal and not yet on the broker",
    )
    heartbeats: Counter = counter(
        "safecampus_device_heartbeats_total",
        "Device heartbeats, by outcome (recorded, or the reason they were refused)",
        "outcome",
    )
    heartbeat_seconds: Histogram = histogram(
        "safecampus_device_heartbeat_seconds",
        "Time from request to a heartbeat's batch written",
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    )
    device_troubles: Counter = counter(
        "safecampus_device_troubles_total",
        "Device trouble announcements made by this instance, by kind and status "
        "(raised, repeated, restored)",
        "kind",
        "status",
    )
    devices_in_trouble: Gauge = gauge(
        "safecampus_devices_in_trouble",
        "Supervised devices with an open trouble of each kind (offline, battery_low, tamper); "
        "every instance reports the same figures: aggregate with max",
        "kind",
    )
