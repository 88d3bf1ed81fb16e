import time
import uuid
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from services.alarms import presses_service, service
from services.alarms.deps import Deps
from services.alarms.metrics import AlarmMetrics
from services.alarms.models import PressRequest
from services.alarms.presses_service import NotAllowed, NotAuthenticated, PressConflict
from shared.events import AlarmLifecycle, AlarmPressed
from shared.provisioning import County
from shared.signing import sign
from shared.topics import Topics
from tests.fakes.alarms import InMemoryAlarmRepository
from tests.fakes.publisher import RecordingPublisher
from tests.helpers import encode, press_body

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


class FlakyPublisher(RecordingPublisher):
    """Fails the first publish, as a broker outage would."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def publish(self, topic: str, key: str, event: object) -> None:  # type: ignore[override]
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker down")
        await super().publish(topic, key, event)  # type: ignore[arg-type]


def make_deps(
    county: County, registry: CollectorRegistry, publisher: RecordingPublisher | None = None
) -> Deps:
    secrets = {d.device_id: f"secret-{d.device_id}" for d in county.devices}
    return Deps(
        repo=InMemoryAlarmRepository(),
        publisher=publisher or RecordingPublisher(),
        topics=Topics(),
        devices=presses_service.trusted_devices(county, secrets),
        county=county,
        metrics=AlarmMetrics(registry),
        signature_window_s=300,
    )


def request(**overrides: object) -> PressRequest:
    return PressRequest.model_validate(press_body() | overrides)


async def test_press_is_published_once_and_repeats_are_duplicates(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    press = request()
    first = await presses_service.accept_press(deps=deps, request=press, now=NOW)
    again = await presses_service.accept_press(deps=deps, request=press, now=NOW)
    assert not first.duplicate and again.duplicate
    assert first.alarm_id == again.alarm_id
    published = deps.publisher.events(Topics().alarms_pressed)  # type: ignore[attr-defined]
    assert len(published) == 1
    assert isinstance(published[0], AlarmPressed) and published[0].press_id == press.press_id


async def test_press_not_on_the_broker_is_published_on_retry(
    county: County, registry: CollectorRegistry
) -> None:
    publisher = FlakyPublisher()
    deps = make_deps(county, registry, publisher)
    press = request()
    with pytest.raises(ConnectionError):
        await presses_service.accept_press(deps=deps, request=press, now=NOW)
    retry = await presses_service.accept_press(deps=deps, request=press, now=NOW)
    assert retry.duplicate
    assert len(publisher.events(Topics().alarms_pressed)) == 1


async def test_press_id_reused_by_another_device_is_a_conflict(
    county: County, registry: CollectorRegistry
) -> None:
    deps = make_deps(county, registry)
    press_id = uuid.uuid4()
    await presses_service.accept_press(deps=deps, request=request(press_id=str(press_id)), now=NOW)
    other = request(press_id=str(press_id), device_id="S002-BTN1", school_id="S002")
    with pytest.raises(PressConflict):
        await presses_service.accept_press(deps=deps, request=other, now=NOW)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"device_id": None}, "missing_headers"),
        ({"device_id": "NOPE"}, "unknown_device"),
        ({"timestamp": "-400"}, "stale_timestamp"),  # seconds from now, resolved in the test
        ({"timestamp": "+400"}, "stale_timestamp"),
        ({"signature": "0" * 64}, "bad_signature"),
    ],
)
def test_authentication_failures_name_their_reason(
    county: County, registry: CollectorRegistry, headers: dict[str, str | None], reason: str
) -> None:
    deps = make_deps(county, registry)
    body = encode(press_body())
    offset = headers.get("timestamp")
    ts = str(int(time.time()) + int(offset)) if offset else str(int(time.time()))
    headers = {k: v for k, v in headers.items() if k != "timestamp"}
    values = {
        "device_id": "S001-BTN1",
        "timestamp": ts,
        "signature": sign("secret-S001-BTN1", ts, body),
    } | headers
    with pytest.raises(NotAuthenticated) as exc:
        presses_service.authenticate(
            devices=deps.devices, body=body, now=time.time(), window_s=300, **values
        )  # type: ignore[arg-type]
    assert exc.value.reason == reason


def test_device_may_press_only_for_its_school(county: County, registry: CollectorRegistry) -> None:
    deps = make_deps(county, registry)
    device = deps.devices["S001-BTN1"]
    presses_service.authorize_press(device, request())
    with pytest.raises(NotAllowed) as exc:
        presses_service.authorize_press(device, request(school_id="S002"))
    assert exc.value.reason == "wrong_school"


async def test_alarm_is_raised_once_per_press(county: County, registry: CollectorRegistry) -> None:
    deps = make_deps(county, registry)
    await presses_service.accept_press(deps=deps, request=request(), now=NOW)
    (pressed,) = deps.publisher.events(Topics().alarms_pressed)  # type: ignore[attr-defined]
    assert isinstance(pressed, AlarmPressed)
    first = await service.raise_alarm(deps=deps, pressed=pressed, now=NOW)
    again = await service.raise_alarm(deps=deps, pressed=pressed, now=NOW)
    assert first.alarm_id == again.alarm_id == pressed.alarm_id
    raised = deps.publisher.events(Topics().alarms_lifecycle)  # type: ignore[attr-defined]
    assert len(raised) == 1
    assert isinstance(raised[0], AlarmLifecycle)
    assert raised[0].state == "raised" and raised[0].school.school_id == "S001"
    assert len(deps.repo.audit) == 1  # type: ignore[attr-defined]


async def test_raise_interrupted_before_publish_is_completed_on_redelivery(
    county: County, registry: CollectorRegistry
) -> None:
    publisher = RecordingPublisher()
    deps = make_deps(county, registry, publisher)
    await presses_service.accept_press(deps=deps, request=request(), now=NOW)
    (pressed,) = publisher.events(Topics().alarms_pressed)
    assert isinstance(pressed, AlarmPressed)
    flaky = make_deps(county, registry=CollectorRegistry(), publisher=FlakyPublisher())
    flaky = Deps(**{**flaky.__dict__, "repo": deps.repo})
    with pytest.raises(ConnectionError):
        await service.raise_alarm(deps=flaky, pressed=pressed, now=NOW)
    await service.raise_alarm(deps=flaky, pressed=pressed, now=NOW)
    assert len(flaky.publisher.events(Topics().alarms_lifecycle)) == 1  # type: ignore[attr-defined]


def test_press_request_names_every_invalid_field() -> None:
    from pydantic import ValidationError

    bad = press_body() | {"kind": "alien", "location": {"building": "", "floor": "x", "room": "1"}}
    del bad["pressed_at"]
    with pytest.raises(ValidationError) as exc:
        PressRequest.model_validate(bad)
    locs = {tuple(e["loc"]) for e in exc.value.errors()}
    assert {("kind",), ("location", "building"), ("location", "floor"), ("pressed_at",)} <= locs
