"""Prometheus series declared once, as class attributes, and registered per app.

    class AlarmMetrics(Instruments):
        presses_received: Counter = counter("safecampus_presses_received_total", "Presses")

`AlarmMetrics(registry)` registers every declared series in that registry (each app has its
own, so tests and several apps in one process never clash).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class _Series:
    kind: type[Counter] | type[Gauge] | type[Histogram]
    name: str
    documentation: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] | None = None

    def register(self, registry: CollectorRegistry) -> Counter | Gauge | Histogram:
        extra: dict[str, Any] = {} if self.buckets is None else {"buckets": self.buckets}
        return self.kind(self.name, self.documentation, self.labels, registry=registry, **extra)


def counter(name: str, documentation: str, *labels: str) -> Any:
    return _Series(Counter, name, documentation, labels)


def gauge(name: str, documentation: str, *labels: str) -> Any:
    return _Series(Gauge, name, documentation, labels)


def histogram(name: str, documentation: str, *labels: str, buckets: tuple[float, ...]) -> Any:
    return _Series(Histogram, name, documentation, labels, buckets)


class Instruments:
    """Registers the series its class declares (counter(), gauge(), histogram()) in
    `registry`, as attributes of the same names."""

    def __init__(self, registry: CollectorRegistry) -> None:
        for klass in reversed(type(self).__mro__):
            for attribute, declared in vars(klass).items():
                if isinstance(declared, _Series):
                    setattr(self, attribute, declared.register(registry))
