"""What every service is built from (ServiceKit) and its HTTP side: the app factory with its
lifespan, ops endpoints and middleware."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import uvicorn
from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI, Path, Request, Response
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from faststream.kafka import KafkaBroker
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    generate_latest,
)
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from starlette.routing import NoMatchFound

from shared.body_limit import BodyLimit
from shared.bus.background import background_failures, run_every
from shared.bus.broker import make_broker, warm
from shared.bus.processing import ConsumerMetrics, MessageProcessor
from shared.bus.publishers import KafkaPublisher, bulk_producer
from shared.bus.subscribers import On, router_for
from shared.errors import InvalidInput
from shared.faults import TRANSIENT_ERRORS, is_unavailable
from shared.http_metrics import HttpInstruments, HttpMetrics
from shared.lag import LagMonitor
from shared.mongo import Document, make_client, service_database
from shared.observability import (
    GcPauses,
    configure_logging,
    loop_lag_histogram,
    new_registry,
    tune_garbage_collection,
    watch_event_loop,
)
from shared.openapi_docs import document_errors
from shared.settings import Settings
from shared.topics import Topics, ensure_topics

log = logging.getLogger(__name__)

StartupHook = Callable[[], Awaitable[None]]
# A unit's or a device's id in a path: provisioning ids, nothing else.
ResourceId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
LAG_INTERVAL_S = 15.0
BackgroundJob = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class ServiceParts:
    """Everything a service app is built from; main.py of each service fills it in."""

    kit: ServiceKit
    routers: Sequence[APIRouter]
    startup: Sequence[StartupHook] = ()
    # run at a clean stop, after the background jobs have ended
    shutdown: Sequence[StartupHook] = ()
    background: Sequence[BackgroundJob] = ()
    # jobs every process runs, also one that serves HTTP only (a stream's log reader)
    serving: Sequence[BackgroundJob] = ()
    # more for /readyz: name → None when ready, else what is missing
    checks: Mapping[str, Callable[[], str | None]] = field(default_factory=dict)
    state: dict[str, object] = field(default_factory=dict)
    description: str = ""


@dataclass
class ServiceKit:
    """What every service is built from: its own metrics registry, Kafka broker and publisher,
    MongoDB client and database. Creating it connects to nothing."""

    name: str
    settings: Settings
    registry: CollectorRegistry
    broker: KafkaBroker
    publisher: KafkaPublisher
    mongo: AsyncMongoClient[Document]
    failures: Counter

    @classmethod
    def create(cls, name: str, settings: Settings) -> ServiceKit:
        registry = new_registry()
        broker = make_broker(settings, service=name, registry=registry)
        return cls(
            name=name,
            settings=settings,
            registry=registry,
            broker=broker,
            publisher=KafkaPublisher(broker, bulk_producer(settings, service=name)),
            mongo=make_client(settings, app_name=name),
            failures=background_failures(registry),
        )

    @property
    def topics(self) -> Topics:
        return Topics(self.settings.topic_prefix)

    @property
    def database(self) -> AsyncDatabase[Document]:
        return service_database(self.mongo, self.settings, self.name)

    def subscribe(self, table: Sequence[On]) -> None:
        """Attach the service's subscription table, unless this process serves HTTP only."""
        if not self.settings.consumers_enabled:
            return
        processor = MessageProcessor(
            service=self.name, publisher=self.publisher, metrics=ConsumerMetrics(self.registry)
        )
        self.broker.include_router(router_for(table, processor))

    def app(
        self,
        *,
        routers: Sequence[APIRouter],
        deps: object,
        startup: Sequence[StartupHook] = (),
        shutdown: Sequence[StartupHook] = (),
        background: Sequence[BackgroundJob] = (),
        serving: Sequence[BackgroundJob] = (),
        checks: Mapping[str, Callable[[], str | None]] | None = None,
        state: Mapping[str, object] | None = None,
        description: str = "",
    ) -> FastAPI:
        """The app; `background` jobs, and consumer-lag metrics, run only in processes that
        consume (CONSUMERS_ENABLED)."""
        lag = LagMonitor(self.settings.kafka_bootstrap, self.broker.subscribers, self.registry)

        async def consumer_lag() -> None:
            await run_every("consumer-lag", LAG_INTERVAL_S, lag.measure, self.failures)

        background = [*background, consumer_lag]
        return build_app(
            ServiceParts(
                kit=self,
                routers=routers,
                startup=startup,
                shutdown=shutdown,
                background=background if self.settings.consumers_enabled else (),
                serving=serving,
                checks=checks or {},
                state={"deps": deps, **(state or {})},
                description=description,
            )
        )


def build_app(parts: ServiceParts) -> FastAPI:
    """A FastAPI app whose lifespan creates topics, runs start-up hooks and runs the broker."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = parts.kit.settings
        await ensure_topics(
            settings.kafka_bootstrap,
            Topics(settings.topic_prefix),
            replication_factor=settings.kafka_replication_factor,
        )
        for hook in parts.startup:
            await hook()
        await parts.kit.broker.start()
        await warm(parts.kit.broker, Topics(settings.topic_prefix).partitions())
        tasks: list[asyncio.Task[None]] = [
            asyncio.create_task(job(), name=job.__name__)
            for job in (*parts.serving, *parts.background)
        ]
        tasks.append(asyncio.create_task(watch_event_loop(loop_lag), name="event-loop-lag"))
        build_routes(app)
        tune_garbage_collection()
        log.info("service started", extra={"service": parts.kit.name})
        try:
            with gc_pauses:
                yield
        finally:
            log.info("service stopping", extra={"service": parts.kit.name})
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for hook in parts.shutdown:
                await hook()
            await parts.kit.broker.stop()
            await parts.kit.publisher.close()
            await parts.kit.mongo.close()

    app = FastAPI(
        title=f"SafeCampus {parts.kit.name}",
        version="0.1.0",
        description=parts.description,
        lifespan=lifespan,
    )
    loop_lag = loop_lag_histogram(parts.kit.registry)
    gc_pauses = GcPauses(parts.kit.registry)
    app.state.settings = parts.kit.settings
    app.state.jwt_secret = parts.kit.settings.require_jwt_secret()
    for key, value in parts.state.items():
        setattr(app.state, key, value)
    # The body limit inside the metrics, which count its 413s.
    app.add_middleware(BodyLimit, limit=parts.kit.settings.max_body_bytes)
    app.add_middleware(HttpMetrics, instruments=HttpInstruments.register(parts.kit.registry))
    add_error_handlers(app)
    app.include_router(ops_router(parts))
    for router in parts.routers:
        document_errors(router)
        app.include_router(router)
    return app


RETRY_AFTER_S = 5


def build_routes(app: FastAPI) -> None:
    """Have FastAPI build every route's request and response handling now, at start-up.
    It builds that of a router's routes on the first request that reaches the router, which
    made the first press after a start several times slower than the next (figures in
    docs/benchmarks.md). Looking up a route name that no route has walks every route."""
    try:
        app.url_path_for("(no such route: builds every route)")
    except NoMatchFound:
        return


def add_error_handlers(app: FastAPI) -> None:
    """InvalidInput → 422; the broker or the database unreachable or busy → 503."""
    for unreachable in (*TRANSIENT_ERRORS, KafkaError, PyMongoError):
        app.add_exception_handler(unreachable, _unavailable)
    app.add_exception_handler(InvalidInput, _invalid_input)
    app.add_exception_handler(RequestValidationError, _invalid_request)


# Fields whose values a 422 never echoes (FastAPI puts each invalid value in its answer).
PERSONAL_FIELDS = frozenset({"id_number", "name", "password", "phone"})


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """FastAPI's 422, without the values of personal fields."""
    if not isinstance(exc, RequestValidationError):
        raise exc
    errors = [
        {k: v for k, v in error.items() if k != "input"}
        if PERSONAL_FIELDS.intersection(map(str, error.get("loc", ())))
        else error
        for error in exc.errors()
    ]
    return await request_validation_exception_handler(request, RequestValidationError(errors))


async def _invalid_input(request: Request, exc: Exception) -> Response:
    """InvalidInput is a 422 naming each field, like FastAPI's own validation errors."""
    if not isinstance(exc, InvalidInput):
        raise exc
    return await request_validation_exception_handler(request, RequestValidationError(exc.errors))


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The broker or the database is unreachable or busy: nothing was accepted, so the client
    keeps its data and retries (every write here is idempotent). Other database errors are
    server errors."""
    if not is_unavailable(exc):
        raise exc
    log.warning(
        "request refused: a backing service is unreachable",
        extra={"path": request.url.path, "error": repr(exc)},
    )
    return JSONResponse(
        {"detail": "temporarily unavailable (broker or database); retry later"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def ops_router(parts: ServiceParts) -> APIRouter:
    """`/healthz` (process alive), `/readyz` (database and broker reachable), `/metrics`."""
    router = APIRouter(tags=["ops"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str | int]:
        return {"status": "ok", "service": parts.kit.name, "pid": os.getpid()}

    @router.get(
        "/readyz",
        responses={503: {"description": "not ready: the body names what is missing"}},
    )
    async def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await parts.kit.mongo.admin.command("ping")
            checks["mongodb"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not swallowed: it is the answer
            checks["mongodb"] = f"error: {type(exc).__name__}"
        checks["kafka"] = "ok" if await parts.kit.broker.ping(timeout=2.0) else "error: unreachable"
        for name, check in parts.checks.items():
            missing = check()
            checks[name] = "ok" if missing is None else missing
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @router.get("/metrics")
    async def metrics() -> Response:
        return PlainTextResponse(
            generate_latest(parts.kit.registry), media_type=CONTENT_TYPE_LATEST
        )

    return router


def run(app_factory: Callable[[Settings], FastAPI], *, name: str, port_of: str) -> None:
    """Entry point of `python -m services.<name>`: JSON logs, uvicorn, graceful SIGTERM."""
    settings = Settings()
    configure_logging(name, settings.log_level)
    port = int(getattr(settings, port_of))
    config = uvicorn.Config(
        app_factory(settings),
        host=settings.host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        lifespan="on",
    )
    uvicorn.Server(config).run()
