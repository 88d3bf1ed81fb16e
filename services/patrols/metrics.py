"""Prometheus series of the patrols service."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from shared.instruments import Instruments, counter, histogram


class PatrolMetrics(Instruments):
    fixes_received: Counter = counter("safecampus_fixes_received_total", "GPS fixes received")
    fixes_accepted: Counter = counter("safecampus_fixes_accepted_total", "GPS fixes published")
    fixes_refused: Counter = counter(
        "safecampus_fixes_refused_total", "GPS fixes refused, by reason", "reason"
    )
    fixes_stored: Counter = counter(
        "safecampus_fixes_stored_total",
        "Fixes written to history (a redelivered or repeated fix is not)",
    )
    fixes_pruned: Counter = counter(
        "safecampus_fixes_pruned_total", "Fixes deleted from history by the retention policy"
    )
    status_changes: Counter = counter(
        "safecampus_unit_status_changes_total", "Unit status changes, by the new status", "status"
    )
    violations: Counter = counter(
        "safecampus_violations_recorded_total", "Violations recorded, by kind", "kind"
    )
    violations_refused: Counter = counter(
        "safecampus_violations_refused_total",
        "Violation reports refused (future time, unknown school or campaign, ...)",
    )
    checkins: Counter = counter(
        "safecampus_checkins_total",
        "Check-ins at patrol points: accepted, flagged (outside, insisted), refused_geofence",
        "outcome",
    )
    post_windows: Counter = counter(
        "safecampus_guard_post_windows_total",
        "Guard-post windows judged: final=false is a coverage gap during the window, "
        "final=true the window's outcome (staffed, late, empty)",
        "window",
        "state",
        "final",
    )
    point_visits: Counter = counter(
        "safecampus_point_visits_total",
        "Visits to patrol points that ended, by how: left, gap, silent",
        "closed_by",
    )
    hazards: Counter = counter(
        "safecampus_hazard_changes_total",
        "Hazards' changes: reported, assigned, overdue, rectified, verified, rejected",
        "change",
    )
    hazards_overdue: Counter = counter(
        "safecampus_hazards_overdue_total", "Hazards that passed their deadline unrectified"
    )
    community_checks: Counter = counter(
        "safecampus_community_checks_total",
        "Community checks of rental housing and hotels near schools, published",
        "premises_kind",
    )
    person_reads: Counter = counter(
        "safecampus_person_reads_total",
        "Audited reads of people's records in community checks: check, people (clear), match",
        "action",
    )
    people_erased: Counter = counter(
        "safecampus_people_erased_total",
        "People whose personal fields were erased at the end of their retention period",
    )
    gate_visits: Counter = counter(
        "safecampus_gate_visits_total",
        "Visitors at schools' gates: arrived, after_hours (flagged), left",
        "change",
    )
    visitors_after_hours: Counter = counter(
        "safecampus_visitors_after_hours_total",
        "Visitors still inside when their school closed",
    )
    school_windows: Counter = counter(
        "safecampus_school_windows_total",
        "Schools' rush-hour windows worked out: seen (a unit near) or unseen",
        "visibility",
    )
    fixes_out_of_order: Counter = counter(
        "safecampus_fixes_out_of_order_total",
        "Fixes older than the unit's latest: kept in history, not used as its position",
    )
    batch_size: Histogram = histogram(
        "safecampus_fix_batch_size",
        "Fixes per posted batch",
        buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
    )
