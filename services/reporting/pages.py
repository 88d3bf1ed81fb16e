"""Server-rendered HTML and SVG for the dashboard and the printable report: no script, no
online assets, every number escaped and drawn from the same Overview as the JSON reports, in
the chosen language (shared/labels.py) and the county's time zone."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from html import escape

from services.reporting import figures, tallies
from services.reporting.charts import alarm_map, percent, side_by_side, side_table, trend_charts
from services.reporting.exports import shown
from services.reporting.models import (
    Overview,
    SchoolAlarmCount,
    Trends,
    VideoBulletin,
    VideoCheckRow,
)
from shared.labels import DEFAULT_WORDS, Words
from shared.period import Period
from shared.provisioning import School

BAR_HEIGHT = 22
LABEL_WIDTH = 190
PLOT_WIDTH = 300
VALUE_WIDTH = 130  # room for "100.0%，共12岗次"
# A scope with more schools prints its per-school tables per township: a province's schools
# would fill a thousand pages; a township's own report lists its schools.
PRINTED_SCHOOLS_MAX = 500
GUARD_SUMS = ("windows", "staffed", "late", "empty")
COVERAGE_SUMS = (
    "schools",
    "schools_covered",
    "points",
    "points_visited",
    "checkins",
    "flagged",
    "visits",
)
DEVICE_COLUMNS = (
    "devices",
    "offline",
    "battery_low",
    "tamper",
    "offline_hours",
    "availability",
    "in_trouble_at_end",
)


@dataclass(frozen=True)
class Bar:
    key: str  # what the bar counts, as the API names it
    label: str  # the same in people's words
    value: float
    text: str  # what is written next to the bar


def bar_chart(
    chart_id: str,
    title: str,
    bars: Sequence[Bar],
    *,
    maximum: float | None = None,
    words: Words = DEFAULT_WORDS,
) -> str:
    """A horizontal bar chart; each bar carries its key and value as data attributes."""
    top = max([maximum or 0.0, *(b.value for b in bars)]) or 1.0
    height = max(1, len(bars)) * BAR_HEIGHT + 8
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    rows = []
    for i, bar in enumerate(bars):
        y = 4 + i * BAR_HEIGHT
        length = round(PLOT_WIDTH * bar.value / top, 1)
        rows.append(
            f'<g class="bar" data-label="{escape(bar.key)}" data-value="{bar.value:g}">'
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end">{escape(bar.label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{length}" height="{BAR_HEIGHT - 6}"/>'
            f'<text class="value" x="{LABEL_WIDTH + length + 6}" y="{y + 15}">'
            f"{escape(bar.text)}</text></g>"
        )
    if not bars:
        rows.append(f'<text x="{LABEL_WIDTH}" y="18" class="empty">{words("nothing")}</text>')
    return (
        f'<figure class="chart" id="{escape(chart_id)}"><figcaption>{escape(title)}</figcaption>'
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">{"".join(rows)}</svg></figure>'
    )


def _seconds(value: float | None, words: Words) -> str:
    return "—" if value is None else words("seconds", value=f"{value:g}")


def _moment(at: datetime, zone: tzinfo, *, end: bool = False) -> str:
    """A period's bound in the county's time: a day when it falls at midnight (an end, being
    exclusive, shows the day before), else the day and the minute."""
    local = at.astimezone(zone)
    if local.time() != time(0):
        return f"{local:%Y-%m-%d %H:%M}"
    return f"{(local - timedelta(days=1)) if end else local:%Y-%m-%d}"


def period_text(since: datetime | None, until: datetime | None, words: Words, zone: tzinfo) -> str:
    """What a period is, in words: both ends inclusive, in the county's time."""
    first = None if since is None else _moment(since, zone)
    last = None if until is None else _moment(until, zone, end=True)
    if first and last:
        return first if first == last else words("from_to", since=first, until=last)
    if first:
        return words("from", since=first)
    return words("until", until=last) if last else words("all_time")


def _period(overview: Overview, words: Words, zone: tzinfo) -> str:
    s = overview.summary
    where = "".join(f" · {place}" for place in (s.township, s.school_id) if place)
    return period_text(s.since, s.until, words, zone) + where


def _sentence(overview: Overview, words: Words) -> str:
    s = overview.summary
    counts = ("campaigns", "violations", "schools_reached", "sessions", "letters")
    return words("sentence", **{name: f"{getattr(s, name):,}" for name in counts})


def charts(overview: Overview, words: Words = DEFAULT_WORDS) -> list[str]:
    """The dashboard's charts, in the order they are shown."""
    times = overview.response_times.intervals
    alarms: Counter[str] = Counter()
    for row in overview.alarms:
        alarms[row.kind] += row.alarms
    posts = {w: [r for r in overview.guard_posts if r.window == w] for w in tallies.WINDOWS}
    violations = overview.violations
    return [
        bar_chart(
            "chart-response",
            words("chart_response", tests=overview.response_times.tests_excluded),
            [
                Bar(
                    r.interval.removeprefix("press_to_"),
                    words.of("response_interval", r.interval),
                    r.p50_s or 0,
                    _seconds(r.p50_s, words),
                )
                for r in times
            ],
            words=words,
        ),
        bar_chart(
            "chart-alarms",
            words("chart_alarms"),
            [
                Bar(kind, words.of("alarm_kind", kind), n, str(n))
                for kind, n in sorted(alarms.items())
            ],
            words=words,
        ),
        bar_chart(
            "chart-violations",
            words("chart_violations", total=violations.total, campaigns=violations.campaigns),
            [
                Bar(kind, words.of("violation_kind", kind), n, str(n))
                for kind, n in violations.by_kind.items()
            ],
            words=words,
        ),
        bar_chart(
            "chart-guard-posts",
            words("chart_guard_posts"),
            [
                Bar(
                    window,
                    words.of("guard_window", window),
                    rate,
                    words("rate_of", rate=percent(rate), n=n),
                )
                for window, rows in posts.items()
                if (n := sum(r.windows for r in rows))
                for rate in [sum(r.staffed for r in rows) / n]
            ],
            maximum=1.0,
            words=words,
        ),
        bar_chart(
            "chart-inspections",
            words("chart_inspections", inspections=overview.inspections.inspections),
            [
                Bar(
                    row.item,
                    words.of("inspection_item", row.item),
                    row.pass_rate or 0,
                    percent(row.pass_rate),
                )
                for row in overview.inspections.items
                if row.checked
            ],
            maximum=1.0,
            words=words,
        ),
        bar_chart(
            "chart-outreach",
            words("chart_outreach"),
            [
                Bar(
                    row.topic,
                    words.of("outreach_topic", row.topic),
                    row.sessions,
                    str(row.sessions),
                )
                for row in overview.outreach.by_topic
            ],
            words=words,
        ),
    ]


def _tiles(overview: Overview, words: Words) -> str:
    s = overview.summary
    tiles = [
        ("alarms", "tile_alarms", str(s.alarms)),
        ("ack-p50", "tile_ack", _seconds(s.press_to_acknowledged_p50_s, words)),
        ("campaigns", "tile_campaigns", str(s.campaigns)),
        ("violations", "tile_violations", str(s.violations)),
        ("schools-reached", "tile_schools_reached", str(s.schools_reached)),
        ("sessions", "tile_sessions", str(s.sessions)),
        ("letters", "tile_letters", f"{s.letters:,}"),
        ("three-defences", "tile_three_defences", percent(s.three_defences_rate)),
        ("staffing", "tile_staffing", percent(s.guard_post_staffing_rate)),
        ("visibility", "tile_visibility", percent(s.visibility_rate)),
        ("covered", "tile_covered", words("of", part=s.schools_covered, whole=s.schools)),
    ]
    return (
        '<div class="tiles">'
        + "".join(
            f'<div class="tile" id="tile-{key}"><span>{escape(words(text))}</span>'
            f"<strong>{escape(value)}</strong></div>"
            for key, text, value in tiles
        )
        + "</div>"
    )


@dataclass(frozen=True)
class Around:
    """What the dashboard shows beside a period's figures: its weeks, and its schools with
    their alarms (for the comparison and the map)."""

    trend: Trends
    schools: Sequence[School]
    alarms: Sequence[SchoolAlarmCount]


def dashboard(
    overview: Overview,
    *,
    words: Words = DEFAULT_WORDS,
    zone: tzinfo = UTC,
    around: Around | None = None,
) -> str:
    """The dashboard's body: the period, the sentence, tiles and charts; with `around`, the
    trends, the side-by-side table and the map of alarms, else a word on where they are."""
    html = (
        f'<p class="period">{escape(_period(overview, words, zone))}</p>'
        f'<p class="sentence" id="sentence">{escape(_sentence(overview, words))}</p>'
        + _tiles(overview, words)
        + '<div class="charts">'
        + "".join(charts(overview, words))
        + "</div>"
    )
    if around is None:
        return html + f'<p class="note" id="trends-note">{escape(words("trends_by_township"))}</p>'
    named, rows = side_by_side(overview, around.alarms, around.schools)
    return (
        html
        + '<div class="charts">'
        + "".join(trend_charts(around.trend, words))
        + "</div>"
        + '<div class="charts">'
        + side_table(named, rows, words)
        + alarm_map(around.alarms, around.schools, words)
        + "</div>"
    )


def _table(
    table_id: str,
    caption: str,
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    words: Words,
) -> str:
    """A table whose header names columns by the catalogue's `column` keys."""
    head = "".join(f"<th>{escape(words.of('column', h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('—' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    if not rows:
        body = f'<tr><td colspan="{len(header)}">{escape(words("nothing"))}</td></tr>'
    return (
        f'<table id="{escape(table_id)}"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def printable(overview: Overview, *, words: Words = DEFAULT_WORDS, zone: tzinfo = UTC) -> str:
    """The period's report as tables, one page when printed."""
    heading = (
        f"<h2>{escape(_period(overview, words, zone))}</h2>"
        f'<p class="sentence" id="sentence">{escape(_sentence(overview, words))}</p>'
    )
    return heading + "".join(table(overview, words, zone) for table in PRINTED_TABLES)


def _response_table(overview: Overview, words: Words, zone: tzinfo) -> str:
    return _table(
        "t-response",
        words("t_response", tests=overview.summary.tests),
        ["interval", "alarms", "missing", "p50_s", "p90_s", "p99_s", "max_s"],
        [
            [
                shown(r, "interval", words.lang),
                r.alarms,
                r.missing,
                r.p50_s,
                r.p90_s,
                r.p99_s,
                r.max_s,
            ]
            for r in overview.response_times.intervals
        ],
        words,
    )


def _alarms_table(overview: Overview, words: Words, zone: tzinfo) -> str:
    return _table(
        "t-alarms",
        words("t_alarms"),
        ["kind", "outcome", "alarms", "tests"],
        [
            [*(shown(r, f, words.lang) for f in ("kind", "outcome")), r.alarms, r.tests]
            for r in overview.alarms
        ],
        words,
    )


def _violations_table(overview: Overview, words: Words, zone: tzinfo) -> str:
    v = overview.violations
    return _table(
        "t-violations",
        words("t_violations", total=v.total, campaigns=v.campaigns),
        ["campaign", "kind", "violations"],
        [[*(shown(r, f, words.lang) for f in ("campaign", "kind")), r.violations] for r in v.rows],
        words,
    )


def _campaigns_table(overview: Overview, words: Words, zone: tzinfo) -> str:
    return _table(
        "t-campaigns",
        words("t_campaigns", campaigns=overview.violations.campaigns),
        ["campaign", "since", "until", "violations"],
        [[c.name, c.starts_on, c.ends_on, c.violations] for c in overview.violations.held],
        words,
    )


def by_township(overview: Overview) -> bool:
    """Whether the printed report lists townships rather than schools."""
    return overview.summary.schools > PRINTED_SCHOOLS_MAX


def _guard_posts_table(overview: Overview, words: Words, zone: tzinfo) -> str:
    if by_township(overview):
        return _guard_posts_per_township(overview, words)
    return _table(
        "t-guard-posts",
        words("t_guard_posts"),
        ["school", "window", *GUARD_SUMS, "staffing_rate", "gap_days"],
        [
            [
                r.name,
                shown(r, "window", words.lang),
                r.windows,
                r.staffed,
                r.late,
                r.empty,
                percent(r.staffing_rate),
                " ".join(r.gap_days),
            ]
            for r in overview.guard_posts
        ],
        words,
    )


def _inspections_table(overview: Overview, words: Words, zone: tzinfo) -> str:
    i = overview.inspections
    return _table(
        "t-inspections",
        words(
            "t_inspections",
            inspections=i.inspections,
            schools=i.schools,
            rate=percent(i.three_defences_rate),
        ),
        ["item", "defence", "checked", "passed", "pass_rate"],
        [
            [
                shown(r, "item", words.lang),
                shown(r, "defence", words.lang),
                r.checked,
                r.passed,
                percent(r.pass_rate),
            ]
            for r in i.items
        ],
        words,
    )


def _outreach_table(overview: Overview, words: Words, zone: tzinfo) -> str:
    o = overview.outreach
    return _table(
        "t-outreach",
        words(
            "t_outreach",
            schools=o.schools_reached,
            drills=o.drills,
            people=o.drill_participants,
        ),
        ["topic", "sessions", "audience", "letters"],
        [[shown(r, "topic", words.lang), r.sessions, r.audience, r.letters] for r in o.by_topic],
        words,
    )


def _guard_posts_per_township(overview: Overview, words: Words) -> str:
    sums: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for r in overview.guard_posts:
        sums[(r.township, r.window)].update({k: getattr(r, k) for k in GUARD_SUMS})
    return _table(
        "t-guard-posts",
        words("t_guard_posts") + words("per_township"),
        ["township", "window", *GUARD_SUMS, "staffing_rate"],
        [
            [
                township,
                words.of("guard_window", window),
                *(n[k] for k in GUARD_SUMS),
                percent(_staffing(n)),
            ]
            for (township, window), n in sorted(sums.items())
        ],
        words,
    )


def _staffing(sums: Counter[str]) -> float | None:
    return figures.rate(sums["staffed"], sums["windows"])


def _coverage_table(overview: Overview, words: Words, zone: tzinfo) -> str:
    s = overview.summary
    if by_township(overview):
        return _coverage_per_township(overview, words)
    return _table(
        "t-coverage",
        words("t_coverage", covered=s.schools_covered, schools=s.schools),
        [
            "school",
            "points",
            "points_visited",
            "checkins",
            "flagged",
            "visits",
            "dwell_min",
            "days_visited",
        ],
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
        words,
    )


def _coverage_per_township(overview: Overview, words: Words) -> str:
    s = overview.summary
    sums: dict[str, Counter[str]] = defaultdict(Counter)
    minutes: dict[str, float] = defaultdict(float)
    for r in overview.coverage:
        sums[r.township].update(
            schools=1,
            schools_covered=int(r.covered),
            points=r.points,
            points_visited=r.points_visited,
            checkins=r.checkins,
            flagged=r.flagged,
            visits=r.visits,
        )
        minutes[r.township] += r.dwell_s / 60
    keys = COVERAGE_SUMS
    return _table(
        "t-coverage",
        words("t_coverage", covered=s.schools_covered, schools=s.schools) + words("per_township"),
        ["township", *keys, "dwell_min"],
        [
            [township, *(n[k] for k in keys), round(minutes[township], 1)]
            for township, n in sorted(sums.items())
        ],
        words,
    )


def _devices_table(overview: Overview, words: Words, zone: tzinfo) -> str:
    report = overview.devices
    if report is None:
        return ""
    kinds = report.troubles_by_kind
    per_township = by_township(overview)
    rows = report.townships if per_township else report.schools
    where = ["township"] if per_township else ["school", "township"]
    caption = words(
        "t_devices",
        period=period_text(report.since, report.until, words, zone),
        offline=kinds.get("offline", 0),
        battery_low=kinds.get("battery_low", 0),
        tamper=kinds.get("tamper", 0),
    )
    return _table(
        "t-devices",
        caption + (words("per_township") if per_township else ""),
        [*where, *DEVICE_COLUMNS],
        [
            [
                *([r.name] if per_township else [r.name, r.township]),
                r.devices,
                r.offline,
                r.battery_low,
                r.tamper,
                r.offline_hours,
                percent(r.availability),
                r.in_trouble_at_end,
            ]
            for r in rows
            if r.devices
        ],
        words,
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


def bulletin(
    report: VideoBulletin,
    period: Period,
    *,
    places: Sequence[str | None] = (),
    words: Words = DEFAULT_WORDS,
    zone: tzinfo = UTC,
) -> str:
    """The video check bulletin (通报): what was checked, found and flagged, one table; `places`
    are the township or school it covers."""
    where = "".join(f" · {place}" for place in places if place)
    summary = words(
        "vb_summary",
        checks=report.checks,
        absent=report.officer_absent,
        congested=report.congested,
        blocked=report.blocked,
        patrols=report.patrol_seen,
        disagreements=report.disagreements,
    )
    header = [
        "at",
        "township",
        "school_name",
        "post_id",
        "officer_on_post",
        "gps_on_post",
        "disagrees",
        "traffic",
        "patrol_seen",
        "snapshot",
        "note",
        "checked_by",
    ]
    rows = [
        [
            f"{row.at.astimezone(zone):%Y-%m-%d %H:%M}",
            *(_shown(row, name, words) for name in header[1:]),
        ]
        for row in report.rows
    ]
    return (
        f"<h2>{escape(words('video_bulletin'))} "
        f"{escape(period_text(period.since, period.until, words, zone) + where)}</h2>"
        f'<p class="sentence" id="sentence">{escape(summary)}</p>'
        + _table("video-checks", words("video_bulletin"), header, rows, words)
    )


def _shown(row: VideoCheckRow, name: str, words: Words) -> object:
    value = shown(row, name, words.lang)
    if isinstance(value, bool):
        return words.of("yes_no", str(value).lower())
    return value
