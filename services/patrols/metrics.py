"""Prometheus series of the patrols service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class PatrolMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.fixes_received = Counter(
            "safecampus_fixes_received_total", "GPS fixes received", registry=registry
        )
        self.fixes_accepted = Counter(
            "safecampus_fixes_accepted_total", "GPS fixes published", registry=registry
        )
        self.fixes_refused = Counter(
            "safecampus_fixes_refused_total",
            "GPS fixes refused, by reason",
            ["reason"],
            registry=registry,
        )
        self.fixes_stored = Counter(
            "safecampus_fixes_stored_total",
            "Fixes written to history (a redelivered or repeated fix is not)",
            registry=registry,
        )
        self.fixes_pruned = Counter(
            "safecampus_fixes_pruned_total",
            "Fixes deleted from history by the retention policy",
            registry=registry,
        )
        self.status_changes = Counter(
            "safecampus_unit_status_changes_total",
            "Unit status changes, by the new status",
            ["status"],
            registry=registry,
        )
        self.violations = Counter(
            "safecampus_violations_recorded_total",
            "Violations recorded, by kind",
            ["kind"],
            registry=registry,
        )
        self.violations_refused = Counter(
            "safecampus_violations_refused_total",
            "Violation reports refused (future time, unknown school or campaign, ...)",
            registry=registry,
        )
        self.checkins = Counter(
            "safecampus_checkins_total",
            "Check-ins at patrol points: accepted, flagged (outside, insisted), refused_geofence",
            ["outcome"],
            registry=registry,
        )
        self.post_windows = Counter(
            "safecampus_guard_post_windows_total",
            "Guard-post windows judged: final=false is a coverage gap during the window, "
            "final=true the window's outcome (staffed, late, empty)",
            ["window", "state", "final"],
            registry=registry,
        )
        self.point_visits = Counter(
            "safecampus_point_visits_total",
            "Visits to patrol points that ended, by how: left, gap, silent",
            ["closed_by"],
            registry=registry,
        )
        self.fixes_out_of_order = Counter(
            "safecampus_fixes_out_of_order_total",
            "Fixes older than the unit's latest: kept in history, not used as its position",
            registry=registry,
        )
        self.batch_size = Histogram(
            "safecampus_fix_batch_size",
            "Fixes per posted batch",
            registry=registry,
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
        )
