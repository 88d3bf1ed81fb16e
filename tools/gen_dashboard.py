"""Writes deploy/grafana/safecampus.json: the ops dashboard (Grafana 10+ JSON model).

    python -m tools.gen_dashboard

Generated so the panels stay few, regular and checked: a test verifies that every metric a
panel queries is one the services export.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def quantile(q: float, histogram: str, *, by: str = "", window: str = "5m") -> str:
    """PromQL for the q-quantile of a histogram, optionally per label."""
    labels = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, sum by ({labels}) (rate({histogram}_bucket[{window}])))"


# (title, unit, [(expr, legend)]) — a row of panels each
PANELS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "Open alarms by state",
        "short",
        [('sum by (state) (safecampus_alarms_open{test="false"})', "{{state}}")],
    ),
    (
        "Press → dispatcher stream",
        "s",
        [
            (
                quantile(0.5, "safecampus_alarm_to_dispatcher_seconds"),
                "p50",
            ),
            (
                quantile(0.99, "safecampus_alarm_to_dispatcher_seconds"),
                "p99",
            ),
        ],
    ),
    (
        "Press → first unit's order",
        "s",
        [
            (quantile(0.5, "safecampus_alarm_to_unit_seconds"), "p50"),
            (quantile(0.99, "safecampus_alarm_to_unit_seconds"), "p99"),
        ],
    ),
    (
        "Notifications by channel and state",
        "short",
        [
            (
                "sum by (channel, state) (increase(safecampus_notification_deliveries_total[1h]))",
                "{{channel}} {{state}}",
            ),
            ("sum(increase(safecampus_units_passed_over_total[1h]))", "units passed over"),
            (
                "sum by (channel) (increase(safecampus_outbound_retries_total[1h]))",
                "{{channel}} retries",
            ),
            (
                "sum by (channel) (increase(safecampus_outbound_dead_letters_total[1h]))",
                "{{channel}} dead-lettered",
            ),
        ],
    ),
    (
        "Press → each state (p90)",
        "s",
        [
            (
                quantile(0.9, "safecampus_alarm_state_seconds", by="state", window="15m"),
                "{{state}}",
            ),
        ],
    ),
    (
        "Presses",
        "reqps",
        [
            ("sum by (via) (rate(safecampus_presses_accepted_total[5m]))", "accepted via {{via}}"),
            (
                "sum by (reason) (rate(safecampus_presses_rejected_total[5m]))",
                "rejected: {{reason}}",
            ),
        ],
    ),
    (
        "Escalations",
        "short",
        [
            ("sum by (reason) (increase(safecampus_alarm_escalations_total[1h]))", "{{reason}}"),
        ],
    ),
    (
        "Panic buttons in trouble (报警按钮故障)",
        "short",
        [
            ("max by (kind) (safecampus_devices_in_trouble)", "{{kind}}"),
            (
                'sum(rate(safecampus_device_heartbeats_total{outcome="recorded"}[5m]))',
                "heartbeats/s",
            ),
        ],
    ),
    (
        "Consumer lag",
        "short",
        [("max by (group, topic) (safecampus_consumer_lag)", "{{group}} / {{topic}}")],
    ),
    (
        "Dead letters",
        "short",
        [
            (
                "sum by (topic, reason) (increase(safecampus_dlq_messages_total[1h]))",
                "{{topic}} ({{reason}})",
            ),
        ],
    ),
    (
        "Journal and outbox backlog",
        "short",
        [
            ("max(safecampus_press_journal_backlog)", "press journal"),
            ("max(safecampus_alarm_outbox_backlog)", "alarm outbox"),
        ],
    ),
    (
        "Position fixes",
        "short",
        [
            ("sum(rate(safecampus_fixes_accepted_total[5m]))", "accepted/s"),
            ("sum by (reason) (rate(safecampus_fixes_refused_total[5m]))", "refused/s: {{reason}}"),
            ("sum(rate(safecampus_fixes_out_of_order_total[5m]))", "out of order/s"),
        ],
    ),
    (
        "Guard-post windows today",
        "short",
        [
            (
                "sum by (window, state) "
                '(increase(safecampus_guard_post_windows_total{final="true"}[24h]))',
                "{{window}} {{state}}",
            ),
            (
                "sum by (window) "
                '(increase(safecampus_guard_post_windows_total{final="false"}[24h]))',
                "{{window}} gaps raised",
            ),
        ],
    ),
    (
        "HTTP p99 by route",
        "s",
        [
            (
                quantile(0.99, "safecampus_http_request_duration_seconds", by="route"),
                "{{route}}",
            ),
        ],
    ),
    (
        "Background failures",
        "short",
        [
            (
                "sum by (job, kind) (increase(safecampus_background_failures_total[1h]))",
                "{{job}} ({{kind}})",
            ),
        ],
    ),
]


def panel(index: int, title: str, unit: str, targets: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard() -> dict[str, Any]:
    return {
        "uid": "safecampus-ops",
        "title": "SafeCampus operations",
        "tags": ["safecampus"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                }
            ]
        },
        "panels": [panel(i, *spec) for i, spec in enumerate(PANELS)],
    }


def main() -> None:
    json.dump(dashboard(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
