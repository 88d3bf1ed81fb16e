"""Property-based fuzzing of every service's OpenAPI (schemathesis), in process against the
ASGI app on the real broker and database: no answer is a server error, every answer is
documented (its status and its body), and invalid input is refused with a 4xx. Live streams are
left out: they never end, and tests/e2e drives them. `FUZZ_EXAMPLES` sets the examples per
operation and mode (`make fuzz` runs more than `make test`)."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import (
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core import NotSet
from schemathesis.python.asgi import shutdown_lifespans

from services.alarms.main import create_app as alarms_app
from services.notifications.main import create_app as notifications_app
from services.patrols.main import create_app as patrols_app
from services.reporting.main import create_app as reporting_app
from shared.settings import Settings
from tests.conftest import Namespace, drop_namespace, new_namespace
from tests.helpers import signed_headers

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
FACTORIES: dict[str, Callable[[Settings], FastAPI]] = {
    "alarms": alarms_app,
    "patrols": patrols_app,
    "notifications": notifications_app,
    "reporting": reporting_app,
}
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@pytest.fixture
def fuzz_namespace(servers: tuple[str, str]) -> Iterator[Namespace]:
    yield new_namespace()


@pytest.fixture
async def dropped_after(fuzz_namespace: Namespace) -> object:
    yield None
    await drop_namespace(fuzz_namespace)


DEVICE = "S001-BTN1"


def serialized(body: object) -> bytes:
    if isinstance(body, NotSet):
        return b""
    if isinstance(body, bytes):
        return body  # a negative case's body that is not JSON at all
    return json.dumps(body).encode()


def as_its_caller(
    case: schemathesis.Case, mode: GenerationMode, namespace: Namespace
) -> dict[str, Any]:
    """How the case is sent: with an admin's token; a device's requests signed by a real
    device, so that what they carry is what is tested (a generated signature is only ever a
    401). The body is serialized here, for its signature to cover the bytes sent."""
    admin = namespace.auth("admin", "fuzz")
    secret = namespace.device_secret(DEVICE)
    if case.operation.label == "POST /v1/alarms":
        if mode.is_positive and isinstance(case.body, dict):
            case.body |= {"school_id": "S001", "device_id": DEVICE}  # its own school
        raw = serialized(case.body)
        return {"headers": admin | signed_headers(secret, DEVICE, raw), "data": raw}
    if case.operation.label == "POST /v1/devices/{device_id}/heartbeat":
        if mode.is_positive:
            case.path_parameters = {"device_id": DEVICE}
        raw = serialized(case.body)
        return {"headers": admin | signed_headers(secret, DEVICE, raw), "data": raw}
    if case.operation.label == "GET /v1/devices/{device_id}/messages" and mode.is_positive:
        case.path_parameters = {"device_id": DEVICE}
        return {"headers": admin | signed_headers(secret, DEVICE, b"")}
    return {"headers": admin}


def fuzz(
    operation: APIOperation, mode: GenerationMode, namespace: Namespace, calls: Counter[str]
) -> None:
    """EXAMPLES cases of one operation in one mode, each answer checked (raises the first)."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def exercise(case: schemathesis.Case) -> None:
        answer = case.call_and_validate(checks=CHECKS, **as_its_caller(case, mode, namespace))
        calls[f"{operation.label} {answer.status_code}"] += 1

    exercise()


def wait_until_ready(schema: schemathesis.BaseSchema) -> None:
    """Start the app (its first call does) and wait until /readyz says it is ready: until then
    it answers 503 by design (a notifications instance reads its logs first)."""
    readyz = schema.find_operation_by_path("GET", "/readyz")
    assert readyz is not None
    deadline = time.monotonic() + 60
    while readyz.Case().call().status_code != 200:
        assert time.monotonic() < deadline, "not ready within 60 s"
        time.sleep(0.2)


@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_every_operation_answers_as_documented(
    service: str, fuzz_namespace: Namespace, dropped_after: object
) -> None:
    app = FACTORIES[service](fuzz_namespace.settings())
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex=r"/stream$")
    calls: Counter[str] = Counter()
    failures: list[str] = []
    try:
        wait_until_ready(schema)
        operations = [result.ok() for result in schema.get_all_operations()]
        for operation in operations:
            for mode in MODES:
                try:
                    fuzz(operation, mode, fuzz_namespace, calls)
                except Unsatisfiable:
                    continue  # nothing to make invalid: no parameters, no body
                except (Exception, BaseExceptionGroup) as exc:  # reported together below
                    failures.append(f"{operation.label} ({mode.value}): {exc}")
    finally:
        shutdown_lifespans()
    assert not failures, "\n\n".join(failures)
    exercised = {label.rsplit(" ", 1)[0] for label in calls}
    assert exercised == {operation.label for operation in operations}, "every operation"
    assert not [label for label in calls if label.endswith((" 500", " 501", " 502", " 504"))]
    if service == "alarms":  # the signed presses reach the parser, and some are raised
        presses = {label: n for label, n in calls.items() if label.startswith("POST /v1/alarms ")}
        assert {"POST /v1/alarms 422", "POST /v1/alarms 202"} <= set(presses), presses
        beat = "POST /v1/devices/{device_id}/heartbeat"
        beats = {label: n for label, n in calls.items() if label.startswith(beat)}
        assert {f"{beat} 422", f"{beat} 200"} <= set(beats), beats
