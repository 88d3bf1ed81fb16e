"""The dashboard's trends and comparisons, as server-rendered SVG and HTML: week-by-week line
charts, townships or schools side by side (a table the page sorts), and a map of alarms by
school. Every value is escaped; every point carries its week and value as data attributes."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from services.reporting import figures
from services.reporting.models import Overview, SchoolAlarmCount, Trends
from shared.labels import Words
from shared.provisioning import School

WIDTH, HEIGHT = 560, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28
MAP_SIZE = 420


@dataclass(frozen=True)
class Series:
    key: str  # what the line shows, as the API names it (a CSS class and a data attribute)
    label: str
    values: Sequence[float | None]


def percent(value: float | None) -> str:
    """A rate as a percentage with one decimal; — when there is none."""
    return "—" if value is None else f"{value * 100:.1f}%"


def _number(value: float) -> str:
    return f"{value:.4g}"


def line_chart(
    chart_id: str,
    title: str,
    weeks: Sequence[str],
    series: Sequence[Series],
    words: Words,
    *,
    maximum: float | None = None,
) -> str:
    """Lines over the weeks; a week without a value leaves a gap in its line."""
    found = [v for s in series for v in s.values if v is not None]
    top = max([maximum or 0.0, *found]) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(weeks) - 1)

    def x(i: int) -> float:
        return round(LEFT + i * step, 1)

    def y(value: float) -> float:
        return round(TOP + plot_h * (1 - value / top), 1)

    parts = [
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" '
        f'y2="{TOP + plot_h}"/>',
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end">{_number(top)}</text>',
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end">0</text>',
    ]
    every = max(1, math.ceil(len(weeks) / 8))  # at most about eight dates under the axis
    for i, week in enumerate(weeks):
        if i % every == 0:
            parts.append(
                f'<text class="tick" x="{x(i)}" y="{HEIGHT - 8}" text-anchor="middle">'
                f"{escape(week[5:])}</text>"
            )
    for line in series:
        runs: list[list[str]] = [[]]
        for i, value in enumerate(line.values):
            if value is None:
                runs.append([])
                continue
            runs[-1].append(f"{x(i)},{y(value)}")
            parts.append(
                f'<circle class="point {escape(line.key)}" cx="{x(i)}" cy="{y(value)}" r="3" '
                f'data-series="{escape(line.key)}" data-week="{escape(weeks[i])}" '
                f'data-value="{_number(value)}"><title>{escape(line.label)} {escape(weeks[i])}: '
                f"{_number(value)}</title></circle>"
            )
        parts.extend(
            f'<polyline class="line {escape(line.key)}" points="{" ".join(run)}"/>'
            for run in runs
            if len(run) > 1
        )
    legend = "".join(
        f'<span class="legend {escape(s.key)}">— {escape(s.label)}</span>' for s in series
    )
    if not found:
        parts.append(f'<text x="{LEFT + 8}" y="{TOP + 20}" class="empty">{words("nothing")}</text>')
    return (
        f'<figure class="chart trend" id="{escape(chart_id)}">'
        f"<figcaption>{escape(title)} {legend}</figcaption>"
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}">{"".join(parts)}</svg></figure>'
    )


def trend_charts(trend: Trends, words: Words) -> list[str]:
    """Alarms, response times, guard-post staffing and violations, week by week."""
    weeks = [w.week.isoformat() for w in trend.weeks]

    def of(field: str) -> list[float | None]:
        return [getattr(w, field) for w in trend.weeks]

    def series(*fields: str) -> list[Series]:
        return [Series(f, words.of("column", f), of(f)) for f in fields]

    title = words("trend_weeks", weeks=len(weeks))
    return [
        line_chart("trend-alarms", words("trend_alarms") + title, weeks, series("alarms"), words),
        line_chart(
            "trend-response",
            words("trend_response") + title,
            weeks,
            series(
                "press_to_acknowledged_p50_s",
                "press_to_acknowledged_p90_s",
                "press_to_on_scene_p50_s",
            ),
            words,
        ),
        line_chart(
            "trend-staffing",
            words("trend_staffing") + title,
            weeks,
            series("guard_post_staffing_rate"),
            words,
            maximum=1.0,
        ),
        line_chart(
            "trend-visibility",
            words("trend_visibility") + title,
            weeks,
            series("visibility_rate"),
            words,
            maximum=1.0,
        ),
        line_chart(
            "trend-violations",
            words("trend_violations") + title,
            weeks,
            series("violations"),
            words,
        ),
    ]


@dataclass
class Side:
    """One township's or school's figures beside the others'."""

    name: str
    schools: int = 0
    alarms: int = 0
    windows: int = 0
    staffed: int = 0
    covered: int = 0


def side_by_side(
    overview: Overview, alarms: Sequence[SchoolAlarmCount], schools: Sequence[School]
) -> tuple[str, list[Side]]:
    """Townships side by side when the scope spans several, else its schools: what each row
    names (`township` or `school`), and the rows."""
    per_township = len({s.township for s in schools}) > 1
    key: Callable[[School], str] = (lambda s: s.township) if per_township else (lambda s: s.name)
    where = {s.school_id: key(s) for s in schools}
    rows: dict[str, Side] = {}
    for school in schools:
        rows.setdefault(key(school), Side(key(school))).schools += 1
    for count in alarms:
        if count.school_id in where:
            rows[where[count.school_id]].alarms += count.alarms
    for post in overview.guard_posts:
        if post.school_id in where:
            side = rows[where[post.school_id]]
            side.windows += post.windows
            side.staffed += post.staffed
    for row in overview.coverage:
        if row.school_id in where and row.covered:
            rows[where[row.school_id]].covered += 1
    return ("township" if per_township else "school"), sorted(rows.values(), key=lambda r: r.name)


def side_table(named: str, rows: Sequence[Side], words: Words) -> str:
    """The rows as a table the page sorts by any column (each cell's data-value)."""
    header = [named, "schools", "alarms", "guard_post_staffing_rate", "schools_covered"]
    sort = escape(words("sort"))
    head = "".join(
        f'<th data-column="{h}" title="{sort}">{escape(words.of("column", h))}</th>' for h in header
    )
    body = []
    for r in rows:
        rate = figures.rate(r.staffed, r.windows)
        cells = [
            (r.name, r.name),
            (str(r.schools), r.schools),
            (str(r.alarms), r.alarms),
            (percent(rate), "" if rate is None else rate),
            (words("of", part=r.covered, whole=r.schools), r.covered / r.schools),
        ]
        body.append(
            "<tr>"
            + "".join(f'<td data-value="{escape(str(v))}">{escape(t)}</td>' for t, v in cells)
            + "</tr>"
        )
    return (
        f'<table id="t-side" class="sortable"><caption>{escape(words("side_by_side"))}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def alarm_map(alarms: Sequence[SchoolAlarmCount], schools: Sequence[School], words: Words) -> str:
    """The scope's schools where they are, each circle as big as its real alarms."""
    if not schools:
        return ""
    counts = Counter({c.school_id: c.alarms for c in alarms})
    lats, lons = [s.lat for s in schools], [s.lon for s in schools]
    span = max(max(lats) - min(lats), max(lons) - min(lons)) or 0.01
    pad, inner = 16, MAP_SIZE - 32

    def xy(school: School) -> tuple[float, float]:
        x = pad + (school.lon - min(lons)) / span * inner
        return round(x, 1), round(pad + (max(lats) - school.lat) / span * inner, 1)

    dots = []
    for school in sorted(schools, key=lambda s: counts[s.school_id]):
        n = counts[school.school_id]
        x, y = xy(school)
        radius = round(3 + 4 * math.sqrt(n), 1)
        dots.append(
            f'<circle class="{"hot" if n else "quiet"}" cx="{x}" cy="{y}" r="{radius}" '
            f'data-school="{escape(school.school_id)}" data-alarms="{n}">'
            f"<title>{escape(words('school_in', school=school.name, township=school.township))}"
            f": {n}</title></circle>"
        )
    title = words("alarm_map")
    return (
        f'<figure class="chart" id="alarm-map"><figcaption>{escape(title)}</figcaption>'
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {MAP_SIZE} {MAP_SIZE}" '
        f'width="{MAP_SIZE}" height="{MAP_SIZE}">{"".join(dots)}</svg></figure>'
    )
