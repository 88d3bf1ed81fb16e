"""An alarm's lifecycle for other systems: which event is asked for, with those before it,
and its CAP message or EIDO, each validated before it leaves."""

from __future__ import annotations

import uuid
from typing import Any

from services.alarms.deps import Deps
from shared.events import AlarmLifecycle
from shared.exchange import cap, eido


async def history(
    *, deps: Deps, alarm_id: uuid.UUID, event_id: uuid.UUID | None
) -> tuple[AlarmLifecycle, list[AlarmLifecycle]] | None:
    """The event asked for (default: the latest) and the alarm's events before it, from its
    audit trail and what its outbox has not yet settled there; None: no such alarm or event."""
    alarm = await deps.repo.get(alarm_id)
    if alarm is None:
        return None
    settled = await deps.repo.timeline(alarm.alarm_id)
    events = {e.event_id: e for e in [*settled, *alarm.outbox]}
    ordered = sorted(events.values(), key=lambda e: e.occurred_at)
    if not ordered:
        return None
    wanted = ordered[-1].event_id if event_id is None else event_id
    position = next((n for n, e in enumerate(ordered) if e.event_id == wanted), None)
    if position is None:
        return None
    return ordered[position], ordered[:position]


def cap_message(*, deps: Deps, event: AlarmLifecycle, earlier: list[AlarmLifecycle]) -> bytes:
    assert deps.sender is not None  # main.create_app gives it
    xml = cap.message(event, deps.sender, earlier=earlier)
    cap.validate(xml)
    return xml


def eido_document(
    *, deps: Deps, event: AlarmLifecycle, earlier: list[AlarmLifecycle]
) -> dict[str, Any]:
    assert deps.sender is not None  # main.create_app gives it
    doc = eido.document(event, deps.sender, timeline=[*earlier, event])
    eido.validate(doc)
    return doc
