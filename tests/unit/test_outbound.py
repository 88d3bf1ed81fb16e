"""Webhooks, the SMS gateway and the school's 'help is on the way' (HTTP faked here; the
integration tests use real local servers)."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client import CollectorRegistry

from services.notifications import service
from services.notifications.deps import Deps, Outbound
from services.notifications.outbound import Endpoint, RetryPolicy, classify, parse_endpoints
from shared.events import AlarmLifecycle, DeadLetter, stable_id
from shared.exchange import cap, eido
from shared.exchange.cap import Sender
from shared.provisioning import County
from shared.signing import sign
from shared.topics import Topics
from tests.helpers import wait_for
from tests.unit.test_notifications_service import NOW, SCHOOL, deliveries, fix, make_deps, raised

SECRET = "w" * 40
COUNTY = County.model_validate(
    {
        "name": "test",
        "schools": [SCHOOL.model_dump() | {"contact_phone": "0943-6200001"}],
        "devices": [{"device_id": "D1", "school_id": SCHOOL.school_id}],
        "units": [
            {
                "unit_id": "near",
                "kind": "patrol_car",
                "callsign": "会宁01",
                "station": "会师镇派出所",
                "home_lat": SCHOOL.lat,
                "home_lon": SCHOOL.lon,
            }
        ],
    }
)


def outbound_deps(registry: CollectorRegistry, **overrides: object) -> Deps:
    settings: dict[str, object] = {
        "webhooks": [Endpoint("county", "http://receiver.test/hook")],
        "webhook_secret": SECRET,
        "sms_gateway_url": "http://gateway.test/sms",
        "sms_gateway_token": "t" * 20,
        "retry": RetryPolicy(max_attempts=3, base=timedelta(seconds=1)),
        "rng": random.Random(7),
    }
    outbound = Outbound(**(settings | overrides))  # type: ignore[arg-type]
    return replace(make_deps(registry), county=COUNTY, outbound=outbound)


class Scripted:
    """An httpx transport answering the scripted statuses in turn, recording requests."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 0:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(status)


async def send_round(deps: Deps, client: httpx.AsyncClient, now: datetime) -> int:
    """One sender round, and its POSTs waited for."""
    sender = service.OutboundSender(deps=deps, client=client)
    tried = await sender.round(now)
    await sender.drain()
    return tried


def test_webhook_endpoints_parse_and_bad_ones_are_named() -> None:
    assert parse_endpoints("a=http://x/1, b=https://y/2") == [
        Endpoint("a", "http://x/1"),
        Endpoint("b", "https://y/2"),
    ]
    assert parse_endpoints("") == []
    with pytest.raises(ValueError, match="'ftp://x'"):
        parse_endpoints("ftp://x")


def test_each_receiver_takes_the_format_it_is_given_and_a_wrong_one_is_named() -> None:
    found = parse_endpoints("a=http://x/1,b=http://x/2,c=http://x/3", "b=cap, c=eido")
    assert [(e.name, e.format) for e in found] == [("a", "safecampus"), ("b", "cap"), ("c", "eido")]
    with pytest.raises(ValueError, match="'b=pdf'"):
        parse_endpoints("b=http://x/2", "b=pdf")
    with pytest.raises(ValueError, match="names no receiver"):
        parse_endpoints("b=http://x/2", "z=cap")


async def test_cap_and_eido_receivers_get_valid_messages_signed_like_the_json_one(
    registry: CollectorRegistry,
) -> None:
    sender = Sender("safecampus@police.invalid", "会宁县公安局", ZoneInfo("Asia/Shanghai"))
    deps = outbound_deps(
        registry,
        webhooks=[
            Endpoint("json", "http://receiver.test/json"),
            Endpoint("ews", "http://receiver.test/cap", format="cap"),
            Endpoint("cad", "http://receiver.test/eido", format="eido"),
        ],
        sender=sender,
    )
    transport = Scripted(200, 200, 200)
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    async with httpx.AsyncClient(transport=httpx.MockTransport(transport)) as client:
        assert await send_round(deps, client, NOW) == 3
    posted = {r.url.path: r for r in transport.requests}
    cap_post, eido_post = posted["/cap"], posted["/eido"]
    assert cap_post.headers["content-type"] == cap.MEDIA_TYPE
    cap.validate(cap_post.content)
    assert b"<msgType>Alert</msgType>" in cap_post.content
    assert eido_post.headers["content-type"] == "application/json"
    eido.validate(json.loads(eido_post.content))
    for request in transport.requests:
        timestamp = request.headers["X-SafeCampus-Timestamp"]
        assert request.headers["X-SafeCampus-Signature"] == sign(SECRET, timestamp, request.content)
    assert "notification_id" in json.loads(posted["/json"].content)


def test_backoff_doubles_with_jitter_up_to_a_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base=timedelta(seconds=1), cap=timedelta(seconds=8))
    rng = random.Random(1)
    for attempts, floor in [(1, 1), (2, 2), (3, 4), (4, 8), (6, 8)]:
        delay = policy.delay(attempts, rng).total_seconds()
        assert floor <= delay <= floor * 1.5


def test_statuses_worth_retrying() -> None:
    assert classify(204).delivered
    assert classify(503).retryable and classify(429).retryable
    assert not classify(404).retryable and not classify(400).delivered


async def test_a_raised_alarm_is_posted_signed_to_each_webhook_once(
    registry: CollectorRegistry,
) -> None:
    deps = outbound_deps(registry)
    transport = Scripted(200)
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)  # redelivered
    async with httpx.AsyncClient(transport=httpx.MockTransport(transport)) as client:
        assert await send_round(deps, client, NOW) == 1
        assert await send_round(deps, client, NOW) == 0
    (request,) = transport.requests
    body = request.content
    timestamp = request.headers["X-SafeCampus-Timestamp"]
    assert request.headers["X-SafeCampus-Signature"] == sign(SECRET, timestamp, body)
    assert request.headers["X-SafeCampus-Notification-Id"] in body.decode()
    assert deliveries(deps) == [("webhook:county", "queued"), ("webhook:county", "delivered")]


async def test_drills_are_not_posted(registry: CollectorRegistry) -> None:
    deps = outbound_deps(registry)
    await service.on_lifecycle(deps=deps, event=raised().model_copy(update={"test": True}), now=NOW)
    assert await deps.repo.outbound_for_alarm(raised().alarm_id) == []


async def test_failures_are_retried_with_backoff_until_delivered(
    registry: CollectorRegistry,
) -> None:
    deps = outbound_deps(registry)
    transport = Scripted(503, 0)  # a server error, then the receiver unreachable, then 200
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    async with httpx.AsyncClient(transport=httpx.MockTransport(transport)) as client:
        await send_round(deps, client, NOW)
        (job,) = await deps.repo.outbound_for_alarm(raised().alarm_id)
        assert (job.state, job.attempts, job.last_error) == ("queued", 1, "HTTP 503")
        retry_at = job.next_attempt_at
        assert await send_round(deps, client, retry_at - timedelta(milliseconds=1)) == 0
        await send_round(deps, client, retry_at)
        (job,) = await deps.repo.outbound_for_alarm(raised().alarm_id)
        assert job.attempts == 2 and job.last_error is not None and "ConnectError" in job.last_error
        assert job.next_attempt_at - retry_at >= timedelta(seconds=2)  # doubled
        await send_round(deps, client, job.next_attempt_at)
    (job,) = await deps.repo.outbound_for_alarm(raised().alarm_id)
    assert (job.state, job.attempts) == ("delivered", 3)
    assert (
        registry.get_sample_value("safecampus_outbound_retries_total", {"channel": "webhook"}) == 2
    )


async def test_after_the_last_try_the_message_is_failed_and_dead_lettered(
    registry: CollectorRegistry,
) -> None:
    deps = outbound_deps(registry)
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    async with httpx.AsyncClient(transport=httpx.MockTransport(Scripted(500, 500, 500))) as client:
        now = NOW
        for _ in range(3):
            await send_round(deps, client, now)
            (job,) = await deps.repo.outbound_for_alarm(raised().alarm_id)
            now = job.next_attempt_at
    assert (job.state, job.attempts) == ("failed", 3)
    assert deliveries(deps)[-1] == ("webhook:county", "failed")
    dead = [
        e
        for t, _, e in deps.publisher.sent  # type: ignore[attr-defined]
        if t == Topics.dlq(Topics().notifications_deliveries)
    ]
    assert len(dead) == 1 and isinstance(dead[0], DeadLetter)
    assert dead[0].topic == "webhook:county" and "HTTP 500 after 3 tries" in dead[0].error


async def test_a_refusal_is_not_retried(registry: CollectorRegistry) -> None:
    deps = outbound_deps(registry)
    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    async with httpx.AsyncClient(transport=httpx.MockTransport(Scripted(400))) as client:
        await send_round(deps, client, NOW)
    (job,) = await deps.repo.outbound_for_alarm(raised().alarm_id)
    assert (job.state, job.attempts, job.last_error) == ("failed", 1, "HTTP 400")


async def test_a_receiver_that_never_answers_is_given_up_at_the_deadline(
    registry: CollectorRegistry,
) -> None:
    """The client's time-outs are per read: a receiver dripping a byte at a time held a POST,
    and its round, for ever. Each POST now has a deadline from connecting to its status."""
    deps = outbound_deps(registry, deadline_s=0.05)

    async def silent(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(3600)
        return httpx.Response(200)

    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    async with httpx.AsyncClient(transport=httpx.MockTransport(silent)) as client:
        assert await send_round(deps, client, NOW) == 1
    (job,) = await deps.repo.outbound_for_alarm(raised().alarm_id)
    assert (job.state, job.attempts, job.last_error) == ("queued", 1, "no answer within 0.05 s")


async def test_a_slow_receiver_holds_only_its_own_message(registry: CollectorRegistry) -> None:
    """A round waited for every POST it started: one slow receiver delayed every other
    message, the school's SMS included, until it answered."""
    deps = outbound_deps(
        registry,
        webhooks=[Endpoint("slow", "http://slow.test/hook"), Endpoint("fast", "http://fast.test/")],
    )
    release = asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "slow.test":
            await release.wait()
        return httpx.Response(200)

    await service.on_lifecycle(deps=deps, event=raised(), now=NOW)
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        sender = service.OutboundSender(deps=deps, client=client)
        assert await asyncio.wait_for(sender.round(NOW), timeout=5) == 2, "the round returns"

        async def states() -> dict[str, str]:
            jobs = await deps.repo.outbound_for_alarm(raised().alarm_id)
            return {job.recipient: job.state for job in jobs}

        async def fast_delivered() -> bool:
            return (await states())["webhook:fast"] == "delivered"

        await wait_for(fast_delivered, timeout_s=5, interval_s=0.01)
        assert (await states())["webhook:slow"] == "queued", "still waiting for its receiver"
        assert await sender.round(NOW) == 0, "a job under way is not sent twice"
        release.set()
        await sender.drain()
    assert await states() == {"webhook:slow": "delivered", "webhook:fast": "delivered"}


def assigned(unit_id: str, *, silent: bool = False, actor: str = "notifications") -> AlarmLifecycle:
    """The alarms service's answer to an assignment: the alarm is `unit_assigned`."""
    return raised().model_copy(
        update={
            "event_id": stable_id("assigned", unit_id),
            "state": "unit_assigned",
            "assigned_unit": unit_id,
            "silent": silent,
            "actor": actor,
        }
    )


async def acknowledged_alarm(deps: Deps, *, silent: bool) -> None:
    """The unit accepts its order: notifications asks alarms to assign it, and alarms' event
    that it is assigned comes back."""
    await service.record_positions(deps=deps, fixes=[fix("near", 700)])
    await service.on_lifecycle(
        deps=deps, event=raised().model_copy(update={"silent": silent}), now=NOW
    )
    order_id = service.order_id(raised().alarm_id, "near")
    await service.acknowledge(deps=deps, unit_id="near", order_id=order_id, now=NOW)
    assert await deps.repo.device_messages("D1", since=NOW) == [], "not before alarms agrees"
    await service.on_lifecycle(deps=deps, event=assigned("near", silent=silent), now=NOW)


async def test_help_on_the_way_reaches_the_button_and_by_sms_the_school_contact(
    registry: CollectorRegistry,
) -> None:
    deps = outbound_deps(registry, webhooks=[])
    await acknowledged_alarm(deps, silent=False)
    (message,) = await deps.repo.device_messages("D1", since=NOW)
    assert "会宁01" in message.text and "700 m" in message.text
    (sms,) = await deps.repo.outbound_for_alarm(raised().alarm_id)
    assert sms.channel == "sms" and sms.body["to"] == "0943-6200001"
    assert sms.body["text"] == message.text


async def test_a_silent_alarm_makes_nothing_ring_at_the_school(registry: CollectorRegistry) -> None:
    deps = outbound_deps(registry, webhooks=[])
    await acknowledged_alarm(deps, silent=True)
    assert await deps.repo.outbound_for_alarm(raised().alarm_id) == [], "no SMS"
    (message,) = await deps.repo.device_messages("D1", since=NOW)
    assert "near" in message.text, "the button shows it, without a sound"


async def test_a_dispatchers_assignment_tells_the_school_once_also_after_a_failure_half_way(
    registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No order was sent to the unit (the dispatcher chose it): the distance comes from its
    latest fix. The SMS insert fails once after the button's message was stored; the event,
    handled again, completes the rest and tells nobody twice."""
    deps = outbound_deps(registry, webhooks=[])
    await service.record_positions(deps=deps, fixes=[fix("near", 1000)])
    event = assigned("near", actor="dispatcher-1")
    real_insert = deps.repo.insert_outbound

    async def database_gone(*args: object, **kwargs: object) -> bool:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(deps.repo, "insert_outbound", database_gone)
    with pytest.raises(ConnectionError):
        await service.on_lifecycle(deps=deps, event=event, now=NOW)
    monkeypatch.setattr(deps.repo, "insert_outbound", real_insert)
    await service.on_lifecycle(deps=deps, event=event, now=NOW)
    await service.on_lifecycle(deps=deps, event=event, now=NOW)
    (message,) = await deps.repo.device_messages("D1", since=NOW)
    assert "1000 m" in message.text and "会宁01" in message.text
    (sms,) = await deps.repo.outbound_for_alarm(raised().alarm_id)
    assert sms.body["text"] == message.text
    assert (
        registry.get_sample_value(
            "safecampus_notification_deliveries_total", {"channel": "device", "state": "sent"}
        )
        == 1
    )


async def test_a_unit_assigned_again_is_told_to_the_school_again_a_test_never_by_sms(
    registry: CollectorRegistry,
) -> None:
    deps = outbound_deps(registry, webhooks=[])
    await service.on_lifecycle(deps=deps, event=assigned("near"), now=NOW)
    other = assigned("other").model_copy(update={"test": True})
    await service.on_lifecycle(deps=deps, event=other, now=NOW)
    texts = [m.text for m in await deps.repo.device_messages("D1", since=NOW)]
    assert len(texts) == 2 and "other" in texts[1] and "米" not in texts[1], "no fix: no distance"
    (sms,) = await deps.repo.outbound_for_alarm(raised().alarm_id)
    assert "near" in sms.body["text"], "the test alarm's assignment sent no SMS"
