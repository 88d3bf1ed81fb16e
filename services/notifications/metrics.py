"""Prometheus series of the notifications service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from shared.instruments import Instruments, counter, gauge, histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class NotificationMetrics(Instruments):
    raised_to_dispatcher: Histogram = histogram(
        "safecampus_alarm_to_dispatcher_seconds",
        "Press accepted at ingress → alarm pushed to the dispatcher stream",
        buckets=LATENCY_BUCKETS,
    )
    feed_entries: Counter = counter(
        "safecampus_dispatcher_feed_entries_total",
        "Entries added to the dispatcher feed, by alarm state",
        "state",
    )
    no_unit_in_range: Counter = counter(
        "safecampus_alarms_without_nearby_unit_total",
        "Raised alarms with no fresh unit inside the search radius",
    )
    radius_widened: Counter = counter(
        "safecampus_alarms_radius_widened_total",
        "Raised alarms whose nearest units were found only after widening the radius",
    )
    raised_to_unit: Histogram = histogram(
        "safecampus_alarm_to_unit_seconds",
        "Press accepted at ingress → order sent to the first unit",
        buckets=LATENCY_BUCKETS,
    )
    orders: Counter = counter(
        "safecampus_unit_orders_total",
        "Orders sent to units, by the unit's rank (1 = first told)",
        "rank",
    )
    deliveries: Counter = counter(
        "safecampus_notification_deliveries_total",
        "Notification state changes, by channel and state",
        "channel",
        "state",
    )
    order_ack_seconds: Histogram = histogram(
        "safecampus_unit_order_ack_seconds",
        "Order sent → acknowledged by the unit",
        buckets=(1, 2.5, 5, 10, 15, 20, 30, 60, 120),
    )
    passed_over: Counter = counter(
        "safecampus_units_passed_over_total",
        "Orders that expired unacknowledged; the next unit was told",
    )
    outbound_retries: Counter = counter(
        "safecampus_outbound_retries_total",
        "Webhook and SMS-gateway POSTs tried again after a failure, by channel",
        "channel",
    )
    outbound_dead_letters: Counter = counter(
        "safecampus_outbound_dead_letters_total",
        "Webhook and SMS messages given up after the last try (dead-lettered), by channel",
        "channel",
    )
    commands: Counter = counter(
        "safecampus_notifications_commands_total",
        "Commands sent to the alarms service (dispatch, assign on acceptance, escalate)",
        "action",
    )
    stream_clients: Gauge = gauge(
        "safecampus_dispatcher_stream_clients", "Connected dispatcher live-stream clients"
    )
