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
        self.radius_widened = Counter(
            "safecampus_alarms_radius_widened_total",
            "Raised alarms whose nearest units were found only after widening the radius",
            registry=registry,
        )
        self.raised_to_unit = Histogram(
            "safecampus_alarm_to_unit_seconds",
            "Press accepted at ingress → order sent to the first unit",
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.orders = Counter(
            "safecampus_unit_orders_total",
            "Orders sent to units, by the unit's rank (1 = first told)",
            ["rank"],
            registry=registry,
        )
        self.deliveries = Counter(
            "safecampus_notification_deliveries_total",
            "Notification state changes, by channel and state",
            ["channel", "state"],
            registry=registry,
        )
        self.order_ack_seconds = Histogram(
            "safecampus_unit_order_ack_seconds",
            "Order sent → acknowledged by the unit",
            registry=registry,
            buckets=(1, 2.5, 5, 10, 15, 20, 30, 60, 120),
        )
        self.passed_over = Counter(
            "safecampus_units_passed_over_total",
            "Orders that expired unacknowledged; the next unit was told",
            registry=registry,
        )
        self.outbound_retries = Counter(
            "safecampus_outbound_retries_total",
            "Webhook and SMS-gateway POSTs tried again after a failure, by channel",
            ["channel"],
            registry=registry,
        )
        self.outbound_dead_letters = Counter(
            "safecampus_outbound_dead_letters_total",
            "Webhook and SMS messages given up after the last try (dead-lettered), by channel",
            ["channel"],
            registry=registry,
        )
        self.commands = Counter(
            "safecampus_notifications_commands_total",
            "Commands sent to the alarms service (dispatch, assign on acceptance, escalate)",
            ["action"],
            registry=registry,
        )
        self.stream_clients = Gauge(
            "safecampus_dispatcher_stream_clients",
            "Connected dispatcher live-stream clients",
            registry=registry,
        )
