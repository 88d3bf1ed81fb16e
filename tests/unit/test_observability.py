"""The event loop's lag and the collector's pauses, as every service exports them."""

from __future__ import annotations

import asyncio
import gc
import time

from shared.observability import GcPauses, loop_lag_histogram, new_registry, watch_event_loop


async def test_a_blocked_event_loop_shows_as_lag() -> None:
    registry = new_registry()
    watcher = asyncio.create_task(watch_event_loop(loop_lag_histogram(registry), 0.01))
    await asyncio.sleep(0.03)
    time.sleep(0.08)  # noqa: ASYNC251 - the point: a handler that blocks the loop
    await asyncio.sleep(0.03)
    watcher.cancel()

    def sample(suffix: str, le: str | None = None) -> float:
        labels = {"le": le} if le else {}
        value = registry.get_sample_value(f"safecampus_event_loop_lag_seconds{suffix}", labels)
        assert value is not None
        return value

    observed = sample("_count")
    assert observed >= 3
    assert sample("_bucket", "0.05") < observed  # the wake-up behind the block
    assert sample("_sum") >= 0.06


def test_gc_pauses_are_observed_by_generation_while_the_app_runs() -> None:
    registry = new_registry()
    pauses = GcPauses(registry)
    with pauses:
        gc.collect()
    gc.collect()  # after the app stopped: not observed

    def count() -> float | None:
        return registry.get_sample_value("safecampus_gc_pause_seconds_count", {"generation": "2"})

    assert count() == 1


def test_garbage_collection_is_tuned_once_started() -> None:
    import gc

    from shared.observability import GC_THRESHOLDS, tune_garbage_collection

    before = gc.get_threshold()
    try:
        tune_garbage_collection()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0, "what start-up made is out of the collector's reach"
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_log_lines_redact_what_looks_like_a_secret() -> None:
    import json
    import logging

    from shared.observability import JsonFormatter

    record = logging.makeLogRecord(
        {
            "msg": "sign-in",
            "levelname": "INFO",
            "name": "t",
            "jwt_secret": "s3cr3t",
            "access_token": "eyJ...",
            "X_Signature": "ab" * 32,
            "password": "hunter2",
            "username": "li",
        }
    )
    line = json.loads(JsonFormatter("test").format(record))
    assert line["username"] == "li"
    for key in ("jwt_secret", "access_token", "X_Signature", "password"):
        assert line[key] == "[redacted]", key
