"""Subscriber wiring with FastStream's in-memory TestKafkaBroker (no Kafka here: unit level)."""

from faststream.kafka import TestKafkaBroker
from prometheus_client import CollectorRegistry

from services.alarms import handlers, presses_service
from services.alarms.main import NAME
from shared.bus.broker import make_broker
from shared.bus.processing import ConsumerMetrics, MessageProcessor
from shared.bus.subscribers import router_for
from shared.events import AlarmLifecycle, DeadLetter
from shared.provisioning import County
from shared.settings import Settings
from shared.topics import Topics
from tests.fakes.publisher import RecordingPublisher
from tests.unit.test_alarms_service import make_deps, request


async def test_pressed_event_raises_alarm_and_garbage_goes_to_dlq(
    county: County, registry: CollectorRegistry
) -> None:
    publisher = RecordingPublisher()
    deps = make_deps(county, registry, publisher)
    broker = make_broker(Settings(), service=NAME, registry=CollectorRegistry())
    processor = MessageProcessor(
        service=NAME, publisher=publisher, metrics=ConsumerMetrics(registry)
    )
    broker.include_router(router_for(handlers.subscriptions(deps), processor))
    topics = Topics()

    from shared.events import utcnow

    await presses_service.accept_press(deps=deps, request=request(), now=utcnow())
    (pressed,) = publisher.events(topics.alarms_pressed)

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            pressed.model_dump_json().encode(), topic=topics.alarms_pressed, key=b"S001"
        )
        await test_broker.publish(
            b'{"press_id": "not-a-uuid"}', topic=topics.alarms_pressed, key=b"S001"
        )

    (raised,) = publisher.events(topics.alarms_lifecycle)
    assert isinstance(raised, AlarmLifecycle) and raised.state == "raised"
    (letter,) = publisher.events(Topics.dlq(topics.alarms_pressed))
    assert isinstance(letter, DeadLetter)
    assert "press_id" in letter.error and letter.payload == '{"press_id": "not-a-uuid"}'
    assert (
        registry.get_sample_value(
            "safecampus_dlq_messages_total", {"topic": topics.alarms_pressed, "reason": "invalid"}
        )
        == 1
    )
