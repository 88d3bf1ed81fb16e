"""The fault suite's checker: what counts as lost, duplicated and unexpected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tools.chaos_check import Held, SentPress, check


def raised(alarm_id: str) -> dict[str, object]:
    return {"alarm_id": alarm_id, "state": "raised", "change": "transition"}


def folded(alarm_id: str, press_id: str) -> dict[str, object]:
    return {
        "alarm_id": alarm_id,
        "state": "raised",
        "change": "folded",
        "reason": f"fire press {press_id} from S001-BTN2",
    }


def test_every_press_held_once_and_seen_once_is_a_clean_run() -> None:
    sent = [SentPress("p1", "a1", "kill"), SentPress("p2", "a2", "kill")]
    held = Held(
        alarms=[{"_id": "a1", "press_alarm_ids": ["a2"]}],
        stream=[raised("a1"), folded("a1", "p2")],
        reported_alarms=1,
    )
    verdict = check(sent, held)
    assert verdict.ok and verdict.unexpected == 0
    assert [(r.fault, r.acknowledged, r.lost, r.duplicated) for r in verdict.rows] == [
        ("kill", 2, 0, 0)
    ]


def test_a_press_missing_from_the_store_or_the_stream_is_lost() -> None:
    sent = [SentPress("p1", "a1", "pause"), SentPress("p2", "a2", "pause")]
    held = Held(alarms=[{"_id": "a2"}], stream=[], reported_alarms=1)
    verdict = check(sent, held)
    assert not verdict.ok and verdict.rows[0].lost == 2
    assert any("p1 (pause) is in no alarm" in p for p in verdict.problems)
    assert any("never saw press p2 raised" in p for p in verdict.problems)


def test_a_press_held_twice_or_shown_twice_is_duplicated() -> None:
    sent = [SentPress("p1", "a1", "reset"), SentPress("p2", "a2", "reset")]
    held = Held(
        alarms=[{"_id": "a1", "press_alarm_ids": ["a1"]}, {"_id": "a2"}],
        stream=[raised("a2"), raised("a2")],
        reported_alarms=2,
    )
    verdict = check(sent, held)
    assert verdict.rows[0].duplicated == 2 and not verdict.ok
    assert "| **all** | 2 | 0 | 2 | 0 |" in verdict.table()


def test_alarms_nobody_pressed_are_unexpected_and_the_reports_must_count_all() -> None:
    """An unexpected alarm counts against the fault under way when it was raised."""
    start = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    sent = [SentPress("p1", "a1", "db")]
    held = Held(
        alarms=[{"_id": "a1"}, {"_id": "stray", "raised_at": start + timedelta(seconds=70)}],
        stream=[raised("a1")],
        reported_alarms=1,
        faults=[(start, "db"), (start + timedelta(seconds=60), "pause")],
    )
    verdict = check(sent, held)
    assert verdict.unexpected == 1
    assert [(r.fault, r.unexpected) for r in verdict.rows] == [("db", 0), ("pause", 1)]
    assert "| pause | 0 | 0 | 0 | 1 |" in verdict.table()
    assert not verdict.ok, "the reports count 1 alarm of 2 held"
    assert "reports count 1 alarms, the store holds 2" in verdict.problems


def test_a_press_turned_away_for_good_fails_the_run() -> None:
    """A press answered 4xx is never acknowledged, so it would leave the count unseen."""
    held = Held(alarms=[], stream=[], reported_alarms=0)
    verdict = check([], held, refused=["press p9: 401 stale timestamp"])
    assert not verdict.ok and verdict.refused == 1
    assert "refused: press p9: 401 stale timestamp" in verdict.problems
