"""Structured JSON logs with trace ids, the per-service Prometheus registry, and the event
loop's lag."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import json
import logging
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)

TRACE_HEADER = "trace-id"
_REDACTED_KEYS = ("secret", "token", "authorization", "signature", "password")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


def new_trace_id() -> str:
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object a line; extras are included, secrets-looking keys are redacted."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        trace_id = trace_id_var.get()
        if trace_id:
            doc["trace_id"] = trace_id
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            redact = any(word in key.lower() for word in _REDACTED_KEYS)
            doc[key] = "[redacted]" if redact else value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger (ours, uvicorn's, FastStream's) through one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "aiokafka"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel("WARNING")
    logging.getLogger("aiokafka").setLevel("WARNING")


def new_registry() -> CollectorRegistry:
    """A registry of the app's own (never the global one), so tests and apps do not collide."""
    return CollectorRegistry(auto_describe=True)


LOOP_LAG_INTERVAL_S = 0.1
LOOP_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def loop_lag_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        "safecampus_event_loop_lag_seconds",
        "How late the event loop ran a timer: time every request and message waited behind "
        "other work in this process",
        registry=registry,
        buckets=LOOP_LAG_BUCKETS,
    )


async def watch_event_loop(histogram: Histogram, interval_s: float = LOOP_LAG_INTERVAL_S) -> None:
    """Sleep `interval_s` again and again and observe how much later than asked it woke."""
    clock = asyncio.get_running_loop().time
    while True:
        asked = clock() + interval_s
        await asyncio.sleep(interval_s)
        histogram.observe(max(0.0, clock() - asked))


class GcPauses:
    """safecampus_gc_pause_seconds{generation}: how long each garbage collection stopped the
    process (callbacks added while the app runs, removed when it stops)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._histogram = Histogram(
            "safecampus_gc_pause_seconds",
            "Garbage-collection pauses of the process, by generation",
            ["generation"],
            registry=registry,
            buckets=LOOP_LAG_BUCKETS,
        )
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        self._histogram.labels(str(info["generation"])).observe(pause)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


# Allocations (net of frees) between young collections; CPython's default is 700. Under
# position load that promoted objects of a batch still in flight, and full collections came
# and paused the services (docs/benchmarks.md, "What the code rests on").
GC_THRESHOLDS = (10_000, 20, 20)


def tune_garbage_collection() -> None:
    """Move every object alive after start-up (modules, app, models) out of the collector's
    reach: a full collection then walks only what the service made since, instead of every
    object of the process while the event loop waits. Then collect less often
    (GC_THRESHOLDS): reference counting frees almost everything; the collector only has cycles
    left to find."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
