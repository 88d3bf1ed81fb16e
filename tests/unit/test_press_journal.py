"""The press journal and ingress falling back to it while the broker is unreachable."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from services.alarms import presses_service
from services.alarms.deps import Deps
from services.alarms.journal import PressJournal
from services.alarms.presses_service import NotAuthenticated
from shared.events import AlarmPressed
from shared.provisioning import County
from shared.topics import Topics
from tests.fakes.publisher import RecordingPublisher
from tests.unit.test_alarms_service import make_deps, request

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


class SwitchablePublisher(RecordingPublisher):
    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def publish(self, topic: str, key: str, event: object) -> None:  # type: ignore[override]
        if self.down:
            raise ConnectionError("broker unreachable")
        await super().publish(topic, key, event)  # type: ignore[arg-type]


def journaled_deps(
    county: County, registry: CollectorRegistry, folder: Path
) -> tuple[Deps, SwitchablePublisher]:
    publisher = SwitchablePublisher()
    deps = make_deps(county, registry, publisher)
    return Deps(**{**deps.__dict__, "journal": PressJournal(folder)}), publisher


async def test_presses_are_journaled_while_the_broker_is_down_and_forwarded_in_order(
    county: County, registry: CollectorRegistry, tmp_path: Path
) -> None:
    deps, publisher = journaled_deps(county, registry, tmp_path)
    publisher.down = True
    presses = [request(school_id=f"S00{i}", device_id=f"S00{i}-BTN1") for i in range(1, 6)]
    for press in presses:
        accepted = await presses_service.accept_press(deps=deps, request=press, now=NOW)
        assert not accepted.duplicate
    assert deps.journal is not None and deps.journal.backlog == 5
    assert (
        registry.get_sample_value(
            "safecampus_presses_accepted_total", {"duplicate": "false", "via": "journal"}
        )
        == 5
    )
    with pytest.raises(ConnectionError):
        await presses_service.forward_journal(deps=deps)
    assert deps.journal.backlog == 5, "nothing is dropped while the broker is still down"

    restarted = PressJournal(tmp_path)  # a restart reads the journal back
    assert restarted.backlog == 5
    publisher.down = False
    deps = Deps(**{**deps.__dict__, "journal": restarted})
    assert await presses_service.forward_journal(deps=deps) == 5
    sent = publisher.events(Topics().alarms_pressed)
    assert [e.press_id for e in sent if isinstance(e, AlarmPressed)] == [
        p.press_id for p in presses
    ]
    assert restarted.backlog == 0 and PressJournal(tmp_path).backlog == 0
    retry = await presses_service.accept_press(deps=deps, request=presses[0], now=NOW)
    assert retry.duplicate and len(publisher.events(Topics().alarms_pressed)) == 5


async def test_new_presses_queue_behind_a_backlog_to_keep_order(
    county: County, registry: CollectorRegistry, tmp_path: Path
) -> None:
    deps, publisher = journaled_deps(county, registry, tmp_path)
    publisher.down = True
    first = request()
    await presses_service.accept_press(deps=deps, request=first, now=NOW)
    publisher.down = False  # back, but the journal is not forwarded yet
    second = request(school_id="S002", device_id="S002-BTN1")
    await presses_service.accept_press(deps=deps, request=second, now=NOW)
    assert publisher.sent == [] and deps.journal is not None and deps.journal.backlog == 2
    await presses_service.forward_journal(deps=deps)
    assert [e.press_id for e in publisher.events(Topics().alarms_pressed)] == [
        first.press_id,
        second.press_id,
    ]  # type: ignore[attr-defined]


def journaled() -> AlarmPressed:
    press = request()
    return AlarmPressed.model_validate(
        press.model_dump() | {"alarm_id": press.press_id, "received_at": NOW}
    )


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    good = journaled()
    (tmp_path / "presses.jsonl").write_text(
        good.model_dump_json() + "\n" + '{"press_id": "ab', encoding="utf-8"
    )
    assert PressJournal(tmp_path).backlog == 1


async def test_a_press_appended_after_a_torn_line_is_forwarded(tmp_path: Path) -> None:
    """A crash mid-write leaves a line without its end; the next press was appended to it,
    answered 202, and the forwarder could not read the glued line: the press was lost."""
    kept, after_crash = journaled(), journaled()
    (tmp_path / "presses.jsonl").write_text(
        kept.model_dump_json() + "\n" + '{"press_id": "ab', encoding="utf-8"
    )
    await PressJournal(tmp_path).append(after_crash)

    sent: list[AlarmPressed] = []

    async def send(event: AlarmPressed) -> None:
        sent.append(event)

    journal = PressJournal(tmp_path)
    assert journal.backlog == 2
    assert await journal.forward(send) == 2
    assert [e.press_id for e in sent] == [kept.press_id, after_crash.press_id]


async def test_an_append_after_one_that_failed_half_way_starts_its_own_line(
    tmp_path: Path,
) -> None:
    journal, first, second = PressJournal(tmp_path), journaled(), journaled()
    await journal.append(first)
    with journal.path.open("a", encoding="utf-8") as fh:
        fh.write('{"press_id": "half-written')  # the disk filled up mid-write, say
    await journal.append(second)
    sent: list[AlarmPressed] = []

    async def send(event: AlarmPressed) -> None:
        sent.append(event)

    await journal.forward(send)
    assert [e.press_id for e in sent] == [first.press_id, second.press_id]


async def test_an_unreadable_line_is_kept_aside_not_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A line that is not the torn tail is damage nobody wrote on purpose: forwarding goes on,
    and the line is kept in presses.unreadable.jsonl and logged, for a person to look at."""
    first, last = journaled(), journaled()
    (tmp_path / "presses.jsonl").write_text(
        first.model_dump_json() + "\n" + "garbage\n" + last.model_dump_json() + "\n",
        encoding="utf-8",
    )
    sent: list[AlarmPressed] = []

    async def send(event: AlarmPressed) -> None:
        sent.append(event)

    assert await PressJournal(tmp_path).forward(send) == 2
    assert [e.press_id for e in sent] == [first.press_id, last.press_id]
    assert (tmp_path / "presses.unreadable.jsonl").read_text(encoding="utf-8") == "garbage\n"
    assert "unreadable journal line" in caplog.text


async def test_a_signature_is_good_for_one_press_only(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    first, other = request(), request()
    assert await presses_service.refuse_replay(
        deps=deps, signature="ab" * 32, press_id=first.press_id, now=NOW
    )
    assert await presses_service.refuse_replay(
        deps=deps, signature="AB" * 32, press_id=first.press_id, now=NOW
    )
    with pytest.raises(NotAuthenticated) as exc:
        await presses_service.refuse_replay(
            deps=deps, signature="ab" * 32, press_id=other.press_id, now=NOW
        )
    assert exc.value.reason == "replayed_signature"


async def test_a_press_is_recorded_while_its_signature_is_checked_and_a_replay_publishes_nothing(
    county: County, registry: CollectorRegistry
) -> None:
    publisher = RecordingPublisher()
    deps = make_deps(county, registry, publisher)
    first, other = request(), request()
    signature = "cd" * 32
    accepted = await presses_service.accept_press(
        deps=deps, request=first, now=NOW, signature=signature
    )
    again = await presses_service.accept_press(
        deps=deps, request=first, now=NOW, signature=signature
    )
    assert (accepted.duplicate, again.duplicate) == (False, True)
    assert len(publisher.sent) == 1
    with pytest.raises(NotAuthenticated) as exc:
        await presses_service.accept_press(deps=deps, request=other, now=NOW, signature=signature)
    assert exc.value.reason == "replayed_signature"
    assert len(publisher.sent) == 1


def test_two_instances_never_share_one_journal(tmp_path: Path) -> None:
    """Two processes appending to one journal, each emptying it after forwarding what it had
    read, would lose each other's presses: the second to claim takes a folder of its own (so
    instances may share one volume, as Compose's `--scale` has them)."""
    first, second = PressJournal(tmp_path), PressJournal(tmp_path)
    first.claim()
    second.claim()
    assert first.path == tmp_path / "presses.jsonl"
    assert second.path == tmp_path / "instance-1" / "presses.jsonl"
    assert (tmp_path / "owner.lock").read_text() == str(os.getpid())


async def test_what_an_instance_that_is_gone_journaled_is_taken_over(tmp_path: Path) -> None:
    running, gone_quiet, gone_with_presses = (PressJournal(tmp_path) for _ in range(3))
    for journal in (running, gone_quiet, gone_with_presses):
        journal.claim()
    presses = [journaled(), journaled()]
    for press in presses:
        await gone_with_presses.append(press)
    gone_quiet.release()
    gone_with_presses.release()  # as a SIGKILL does, with its presses not forwarded

    replacement = PressJournal(tmp_path)
    replacement.claim()
    assert replacement.path.parent == tmp_path / "instance-1", "the first free folder"
    assert replacement.backlog == 2
    sent: list[AlarmPressed] = []

    async def send(event: AlarmPressed) -> None:
        sent.append(event)

    assert await replacement.forward(send) == 2
    assert [e.press_id for e in sent] == [p.press_id for p in presses]
    assert (tmp_path / "instance-2" / "presses.jsonl").read_text() == "", "moved, not copied"
    assert running.backlog == 0


def test_a_journal_let_go_may_be_claimed_again(tmp_path: Path) -> None:
    first = PressJournal(tmp_path)
    first.claim()
    first.release()
    again = PressJournal(tmp_path)
    again.claim()  # a restart in the same process (tests, a clean stop)
    assert again._owner is not None and first._owner is None
    assert again.path == first.path
