"""Ledgers (services/reporting/tallies.py): what a document keeps is what was counted, and
ledgers of disjoint records add up to the ledger of them all, in any order."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from services.reporting import tallies
from services.reporting.tallies import Ledger
from tests.reports_fixture import ACTIVITIES, VIOLATIONS

NOON = datetime(2026, 9, 3, 4, tzinfo=UTC)


def test_a_ledger_survives_its_document() -> None:
    ledger = Ledger(
        counts={("C1", "春季", "speeding"): 3, ("reached", "S1"): 1},
        latest={"S1": (NOON.timestamp(), False)},
        values={("seconds", "acknowledged", "fire"): (10.0, 2.5)},
    )
    assert tallies.ledger_of(tallies.ledger_fields(ledger)) == ledger


def test_ledgers_of_parts_add_up_to_the_ledger_of_the_whole_in_any_order() -> None:
    records = list(VIOLATIONS)
    rng = random.Random(3)
    whole = tallies.violation_ledger(records)  # type: ignore[arg-type]
    for _ in range(5):
        rng.shuffle(records)
        cut = rng.randrange(len(records))
        parts = [tallies.violation_ledger(records[:cut]), tallies.violation_ledger(records[cut:])]  # type: ignore[arg-type]
        assert tallies.merge_ledgers(parts) == whole
        assert tallies.merge_ledgers(reversed(parts)) == whole


def test_the_latest_inspection_wins_and_at_the_same_moment_a_failure_does() -> None:
    earlier = Ledger(latest={"S1": (1.0, False), "S2": (5.0, True)})
    later = Ledger(latest={"S1": (2.0, True), "S2": (5.0, False)})
    for parts in ([earlier, later], [later, earlier]):
        assert tallies.merge_ledgers(parts).latest == {"S1": (2.0, True), "S2": (5.0, False)}
    merged = tallies.merge_ledgers([tallies.activity_ledger(ACTIVITIES)])  # type: ignore[arg-type]
    assert tallies.inspection_tally(merged) == tallies.inspection_tally(
        tallies.activity_ledger(ACTIVITIES)
    )  # type: ignore[arg-type]


def test_an_alarm_ledger_answers_for_one_kind_and_keeps_every_second() -> None:
    seconds = {
        ("seconds", "acknowledged", "fire"): (30.0, 10.0),
        ("seconds", "acknowledged", "intrusion"): (5.0,),
    }
    ledger = Ledger(
        counts={
            ("alarms", "fire", "resolved:handled", "real"): 2,
            ("alarms", "intrusion", "open", "real"): 1,
            ("alarms", "fire", "open", "test"): 1,
        },
        values=seconds,
    )
    every = tallies.alarm_tally(ledger)
    assert (every.real, every.tests) == (3, 1)
    assert every.seconds["acknowledged"] == [5.0, 10.0, 30.0]
    fire = tallies.alarm_tally(ledger, "fire")
    assert (fire.real, fire.tests, fire.seconds["acknowledged"]) == (2, 1, [10.0, 30.0])
    assert fire.outcomes == {("fire", "resolved:handled", False): 2, ("fire", "open", True): 1}
    assert tallies.alarm_tally(Ledger(), "fire").seconds["resolved"] == []
