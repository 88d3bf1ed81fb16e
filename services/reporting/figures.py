"""Report figures computed from read-model rows: pure functions, so every figure can be checked
exactly in tests (nearest-rank percentiles: a reported value is always one that happened)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from services.reporting.models import AlarmFact, IntervalFigures

# press → each of these, the intervals the bureau is asked about
INTERVALS = ("acknowledged", "unit_assigned", "on_scene", "resolved")


def nearest_rank(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile by nearest rank (ceil(p/100 · n)-th smallest)."""
    index = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return sorted_values[index]


def response_times(facts: Sequence[AlarmFact]) -> list[IntervalFigures]:
    """Seconds from the press to each state, over real alarms only (tests and drills never
    enter these figures); an alarm that never reached a state is counted as `missing`."""
    real = [f for f in facts if not f.test]
    figures = []
    for state in INTERVALS:
        seconds = sorted(
            (f.states[state] - f.pressed_at).total_seconds() for f in real if state in f.states
        )
        figures.append(
            IntervalFigures(
                interval=f"press_to_{state}",
                alarms=len(seconds),
                missing=len(real) - len(seconds),
                p50_s=nearest_rank(seconds, 50) if seconds else None,
                p90_s=nearest_rank(seconds, 90) if seconds else None,
                p99_s=nearest_rank(seconds, 99) if seconds else None,
                max_s=seconds[-1] if seconds else None,
            )
        )
    return figures


def to_csv(figures: Sequence[IntervalFigures]) -> str:
    columns = list(IntervalFigures.model_fields)
    lines = [",".join(columns)]
    for row in figures:
        values = row.model_dump()
        lines.append(",".join("" if values[c] is None else str(values[c]) for c in columns))
    return "\n".join(lines) + "\n"
