"""Server-rendered HTML and SVG for the dashboard and the printable report: no script, no
online assets, every number escaped and drawn from the same Overview as the JSON reports."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from services.reporting import figures, tallies
from services.reporting.models import Overview

BAR_HEIGHT = 22
LABEL_WIDTH = 190
PLOT_WIDTH = 300
VALUE_WIDTH = 90
# A scope with more schools prints its per-school tables per township: a province's schools
# would fill a thousand pages; a township's own report lists its schools.
PRINTED_SCHOOLS_MAX = 500
GUARD_SUMS = ("windows", "staffed", "late", "empty")
DEVICE_COLUMNS = (
    "buttons",
    "offline",
    "battery low",
    "tamper",
    "hours offline",
    "availability",
    "in trouble at the end",
)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # what is written next to the bar


def bar_chart(
    chart_id: str, title: str, bars: Sequence[Bar], *, maximum: float | None = None
) -> str:
    """A horizontal bar chart; each bar carries its label and value as data attributes."""
    top = max([maximum or 0.0, *(b.value for b in bars)]) or 1.0
    height = max(1, len(bars)) * BAR_HEIGHT + 8
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    rows = []
    for i, bar in enumerate(bars):
        y = 4 + i * BAR_HEIGHT
        length = round(PLOT_WIDTH * bar.value / top, 1)
        rows.append(
            f'<g class="bar" data-label="{escape(bar.label)}" data-value="{bar.value:g}">'
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end">{escape(bar.label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{length}" height="{BAR_HEIGHT - 6}"/>'
            f'<text class="value" x="{LABEL_WIDTH + length + 6}" y="{y + 15}">'
            f"{escape(bar.text)}</text></g>"
        )
    if not bars:
        rows.append(f'<text x="{LABEL_WIDTH}" y="18" class="empty">nothing in this period</text>')
    return (
        f'<figure class="chart" id="{escape(chart_id)}"><figcaption>{escape(title)}</figcaption>'
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">{"".join(rows)}</svg></figure>'
    )


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:g} s"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _period(overview: Overview) -> str:
    s = overview.summary

    def day(at: datetime | None) -> str:
        return at.isoformat() if at else "…"

    where = "".join(f", {place}" for place in (s.township, s.school_id) if place)
    return f"{day(s.since)} to {day(s.until)}{where}"


def charts(overview: Overview) -> list[str]:
    """The dashboard's charts, in the order they are shown."""
    times = overview.response_times.intervals
    alarms: Counter[str] = Counter()
    for row in overview.alarms:
        alarms[row.kind] += row.alarms
    posts = {w: [r for r in overview.guard_posts if r.window == w] for w in tallies.WINDOWS}
    return [
        bar_chart(
            "chart-response",
            f"Press → state, p50 (real alarms; {overview.response_times.tests_excluded} "
            "tests and drills left out)",
            [
                Bar(r.interval.removeprefix("press_to_"), r.p50_s or 0, _seconds(r.p50_s))
                for r in times
            ],
        ),
        bar_chart(
            "chart-alarms",
            "Real alarms by kind",
            [Bar(kind, n, str(n)) for kind, n in sorted(alarms.items())],
        ),
        bar_chart(
            "chart-violations",
            f"Violations by kind ({overview.violations.total} in "
            f"{overview.violations.campaigns} campaigns)",
            [Bar(kind, n, str(n)) for kind, n in overview.violations.by_kind.items()],
        ),
        bar_chart(
            "chart-guard-posts",
            "Guard posts staffed on time, by window",
            [
                Bar(window, rate, f"{_percent(rate)} of {n}")
                for window, rows in posts.items()
                if (n := sum(r.windows for r in rows))
                for rate in [sum(r.staffed for r in rows) / n]
            ],
            maximum=1.0,
        ),
        bar_chart(
            "chart-inspections",
            f"Inspection items passed ({overview.inspections.inspections} inspections)",
            [
                Bar(row.item, row.pass_rate or 0, _percent(row.pass_rate))
                for row in overview.inspections.items
                if row.checked
            ],
            maximum=1.0,
        ),
        bar_chart(
            "chart-outreach",
            "Outreach sessions by topic",
            [Bar(row.topic, row.sessions, str(row.sessions)) for row in overview.outreach.by_topic],
        ),
    ]


def _tiles(overview: Overview) -> str:
    s = overview.summary
    tiles = [
        ("alarms", "Real alarms", str(s.alarms)),
        ("ack-p50", "Press → acknowledged, p50", _seconds(s.press_to_acknowledged_p50_s)),
        ("campaigns", "Campaigns", str(s.campaigns)),
        ("violations", "Violations", str(s.violations)),
        ("schools-reached", "Schools reached", str(s.schools_reached)),
        ("sessions", "Sessions", str(s.sessions)),
        ("letters", "Letters to parents", f"{s.letters:,}"),
        ("three-defences", "Three defences met", _percent(s.three_defences_rate)),
        ("staffing", "Guard posts on time", _percent(s.guard_post_staffing_rate)),
        ("covered", "Schools covered", f"{s.schools_covered} of {s.schools}"),
    ]
    return (
        '<div class="tiles">'
        + "".join(
            f'<div class="tile" id="tile-{key}"><span>{escape(label)}</span>'
            f"<strong>{escape(value)}</strong></div>"
            for key, label, value in tiles
        )
        + "</div>"
    )


def dashboard(overview: Overview) -> str:
    """The dashboard's body: the period, the sentence, tiles and charts."""
    return (
        f'<p class="period">{escape(_period(overview))}</p>'
        f'<p class="sentence" id="sentence">{escape(overview.summary.sentence)}</p>'
        + _tiles(overview)
        + '<div class="charts">'
        + "".join(charts(overview))
        + "</div>"
    )


def _table(
    table_id: str, caption: str, header: Sequence[str], rows: Sequence[Sequence[object]]
) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('—' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    if not rows:
        body = f'<tr><td colspan="{len(header)}">nothing in this period</td></tr>'
    return (
        f'<table id="{escape(table_id)}"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def printable(overview: Overview) -> str:
    """The period's report as tables, one page when printed."""
    s = overview.summary
    heading = (
        f"<h2>{escape(_period(overview))}</h2>"
        f'<p class="sentence" id="sentence">{escape(s.sentence)}</p>'
    )
    return heading + "".join(table(overview) for table in PRINTED_TABLES)


def _response_table(overview: Overview) -> str:
    s = overview.summary
    return _table(
        "t-response",
        f"Response times, real alarms ({s.tests} tests and drills left out)",
        ["interval", "alarms", "missing", "p50", "p90", "p99", "max"],
        [
            [r.interval, r.alarms, r.missing, r.p50_s, r.p90_s, r.p99_s, r.max_s]
            for r in overview.response_times.intervals
        ],
    )


def _alarms_table(overview: Overview) -> str:
    return _table(
        "t-alarms",
        "Alarms by kind and outcome",
        ["kind", "outcome", "alarms", "tests"],
        [[r.kind, r.outcome, r.alarms, r.tests] for r in overview.alarms],
    )


def _violations_table(overview: Overview) -> str:
    return _table(
        "t-violations",
        f"Violations: {overview.violations.total} in {overview.violations.campaigns} campaigns",
        ["campaign", "kind", "violations"],
        [[r.campaign, r.kind, r.violations] for r in overview.violations.rows],
    )


def _campaigns_table(overview: Overview) -> str:
    return _table(
        "t-campaigns",
        f"Campaigns: {overview.violations.campaigns}",
        ["campaign", "from", "to", "violations"],
        [[c.name, c.starts_on, c.ends_on, c.violations] for c in overview.violations.held],
    )


def by_township(overview: Overview) -> bool:
    """Whether the printed report lists townships rather than schools."""
    return overview.summary.schools > PRINTED_SCHOOLS_MAX


def _guard_posts_table(overview: Overview) -> str:
    if by_township(overview):
        return _guard_posts_per_township(overview)
    return _table(
        "t-guard-posts",
        "Guard posts",
        ["school", "window", "windows", "staffed", "late", "empty", "rate", "gaps"],
        [
            [
                r.name,
                r.window,
                r.windows,
                r.staffed,
                r.late,
                r.empty,
                _percent(r.staffing_rate),
                " ".join(r.gap_days),
            ]
            for r in overview.guard_posts
        ],
    )


def _inspections_table(overview: Overview) -> str:
    return _table(
        "t-inspections",
        f"Inspections: {overview.inspections.inspections} at {overview.inspections.schools} "
        f"schools, three defences met in {_percent(overview.inspections.three_defences_rate)}",
        ["item", "defence", "checked", "passed", "rate"],
        [
            [r.item, r.defence, r.checked, r.passed, _percent(r.pass_rate)]
            for r in overview.inspections.items
        ],
    )


def _outreach_table(overview: Overview) -> str:
    return _table(
        "t-outreach",
        f"Outreach: {overview.outreach.schools_reached} schools, "
        f"{overview.outreach.drills} drills ({overview.outreach.drill_participants} people)",
        ["topic", "sessions", "audience", "letters"],
        [[r.topic, r.sessions, r.audience, r.letters] for r in overview.outreach.by_topic],
    )


def _guard_posts_per_township(overview: Overview) -> str:
    sums: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for r in overview.guard_posts:
        sums[(r.township, r.window)].update({k: getattr(r, k) for k in GUARD_SUMS})
    return _table(
        "t-guard-posts",
        "Guard posts, per township",
        ["township", "window", *GUARD_SUMS, "rate"],
        [
            [township, window, *(n[k] for k in GUARD_SUMS), _percent(_staffing(n))]
            for (township, window), n in sorted(sums.items())
        ],
    )


def _staffing(sums: Counter[str]) -> float | None:
    return figures.rate(sums["staffed"], sums["windows"])


def _coverage_table(overview: Overview) -> str:
    s = overview.summary
    if by_township(overview):
        return _coverage_per_township(overview)
    return _table(
        "t-coverage",
        f"Patrol coverage: {s.schools_covered} of {s.schools} schools covered",
        ["school", "points", "reached", "check-ins", "flagged", "visits", "minutes", "days"],
        [
            [
                r.name,
                r.points,
                r.points_visited,
                r.checkins,
                r.flagged,
                r.visits,
                round(r.dwell_s / 60, 1),
                r.days_visited,
            ]
            for r in overview.coverage
        ],
    )


def _coverage_per_township(overview: Overview) -> str:
    s = overview.summary
    sums: dict[str, Counter[str]] = defaultdict(Counter)
    minutes: dict[str, float] = defaultdict(float)
    for r in overview.coverage:
        sums[r.township].update(
            schools=1,
            covered=int(r.covered),
            points=r.points,
            reached=r.points_visited,
            checkins=r.checkins,
            flagged=r.flagged,
            visits=r.visits,
        )
        minutes[r.township] += r.dwell_s / 60
    keys = ("schools", "covered", "points", "reached", "checkins", "flagged", "visits")
    header = ["township", "schools", "covered", "points", "reached", "check-ins", "flagged"]
    return _table(
        "t-coverage",
        f"Patrol coverage: {s.schools_covered} of {s.schools} schools covered, per township",
        [*header, "visits", "minutes"],
        [
            [township, *(n[k] for k in keys), round(minutes[township], 1)]
            for township, n in sorted(sums.items())
        ],
    )


def _devices_table(overview: Overview) -> str:
    report = overview.devices
    if report is None:
        return ""
    kinds = report.troubles_by_kind
    per_township = by_township(overview)
    rows = report.townships if per_township else report.schools
    where = ["township"] if per_township else ["school", "township"]
    return _table(
        "t-devices",
        f"Panic buttons (报警按钮), {report.since:%Y-%m-%d} to {report.until:%Y-%m-%d}: "
        f"{kinds.get('offline', 0)} offline, {kinds.get('battery_low', 0)} battery low, "
        f"{kinds.get('tamper', 0)} tampered" + (", per township" if per_township else ""),
        [*where, *DEVICE_COLUMNS],
        [
            [
                *([r.name] if per_township else [r.name, r.township]),
                r.devices,
                r.offline,
                r.battery_low,
                r.tamper,
                r.offline_hours,
                _percent(r.availability),
                r.in_trouble_at_end,
            ]
            for r in rows
            if r.devices
        ],
    )


PRINTED_TABLES = (
    _response_table,
    _alarms_table,
    _violations_table,
    _campaigns_table,
    _guard_posts_table,
    _inspections_table,
    _outreach_table,
    _coverage_table,
    _devices_table,
)
