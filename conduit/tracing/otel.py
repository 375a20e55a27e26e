"""Tracing when it is on: the provider, the instrumentations, and the outbox's traceparent.

Imported only once `conduit.tracing.start` decides to trace, so a process that does not trace never
loads OpenTelemetry.

What spans record stays free of secrets: request targets and outbound URLs go through the access log's
redaction (`logs.redact_target`); GraphQL spans carry neither the document nor the arguments, which can
inline a token; Redis commands are recorded without their arguments (the instrumentation's default);
SQL is recorded with its placeholders, never the values.

Database, Redis and HTTP client spans are recorded only inside a traced request or job: the job runners
poll the outbox and Redis every few milliseconds, and each poll would otherwise be a trace of its own.

Outbound calls carry `traceparent` (httpx's instrumentation adds it). W3C Trace Context is the standard
header for this, it holds two random ids and a sampled flag and nothing of the tenant's, and no
receiver's signature covers headers (Standard Webhooks and the in-house contract sign the body).
`tracestate` and baggage never cross the outbox, so what a client sent in them reaches no one else.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.starlette import StarletteInstrumentor
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing import OpenTelemetryExtension

from conduit.logs import redact_target

log = logging.getLogger("conduit.tracing")

TRACER_NAME = "conduit"
SERVICE_NAME = "conduit"
# The OTLP exporter Conduit installs; OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the gRPC one added.
DEFAULT_EXPORTER = "otlp_proto_http"
W3C = TraceContextTextMapPropagator()


class Tracing:
    """Tracing as this process runs it: the provider, Conduit's tracer, and what was instrumented."""

    def __init__(self, provider: TracerProvider, *, owned: bool) -> None:
        self.provider = provider
        self.owned = owned
        self.tracer = provider.get_tracer(TRACER_NAME)
        self.inner_provider = InsideTracedWork(provider)
        self._engines: list[Any] = []
        HTTPXClientInstrumentor().instrument(
            tracer_provider=self.inner_provider,
            request_hook=_redact_span,
            async_request_hook=_redact_span_async,
        )
        RedisInstrumentor().instrument(tracer_provider=self.inner_provider)

    def instrument_app(self, app: Starlette) -> None:
        StarletteInstrumentor.instrument_app(
            app, server_request_hook=_redact_span, tracer_provider=self.provider
        )
        # Without a span per ASGI message (three a request, saying nothing the request's span does not):
        # an option of the ASGI middleware the Starlette instrumentor does not pass on.
        for middleware in app.user_middleware:
            if middleware.cls is OpenTelemetryMiddleware:
                middleware.kwargs["exclude_spans"] = ["receive", "send"]

    def instrument_engine(self, engine: AsyncEngine) -> None:
        sync_engine = engine.sync_engine
        if any(e is sync_engine for e in self._engines):
            return
        # The connection-usage metric belongs to Prometheus here (conduit.metrics), not to OpenTelemetry.
        usage = (
            NoOpMeterProvider().get_meter(TRACER_NAME).create_up_down_counter("db.client.connections.usage")
        )
        tracer = self.inner_provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
        EngineTracer(tracer, sync_engine, usage)
        self._engines.append(sync_engine)

    def graphql_extensions(self) -> list[Any]:
        provider = self.provider
        return [lambda: GraphQLOperations(tracer_provider=provider)]

    def traceparent(self) -> str | None:
        carrier: dict[str, str] = {}
        W3C.inject(carrier)
        return carrier.get("traceparent")

    @contextlib.contextmanager
    def job_span(self, kind: str, job_id: int, attempt: int, traceparent: str | None) -> Iterator[trace.Span]:
        # A malformed value (a row written by hand) extracts to an empty context: the job starts a trace.
        parent = W3C.extract({"traceparent": traceparent}) if traceparent else None
        attributes: dict[str, str | int] = {
            "conduit.job.kind": kind,
            "conduit.job.id": job_id,
            "conduit.job.attempt": attempt,
        }
        with self.tracer.start_as_current_span(
            f"job {kind}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
        ) as span:
            yield span

    def job_failed(self, error: BaseException) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))

    def shutdown(self) -> None:
        HTTPXClientInstrumentor().uninstrument()
        RedisInstrumentor().uninstrument()
        EngineTracer.remove_all_event_listeners()
        self._engines.clear()
        self.provider.force_flush()
        if self.owned:
            self.provider.shutdown()


class Configurator(_OTelSDKConfigurator):
    """The SDK's own configurator, as distros subclass it: it reads every OTEL_* variable itself."""


def from_environment() -> Tracing:
    """Tracing as the OTEL_* variables configure it, on the global provider (installed here if need be)."""
    installed = trace.get_tracer_provider()
    if not isinstance(installed, TracerProvider):
        # The specification's default exporter is OTLP, and the HTTP one is what Conduit installs.
        names = [] if os.environ.get("OTEL_TRACES_EXPORTER") else [_default_exporter(os.environ)]
        if not _names_service(os.environ):
            os.environ["OTEL_SERVICE_NAME"] = SERVICE_NAME
        Configurator().configure(trace_exporter_names=names)
        installed = trace.get_tracer_provider()
    if not isinstance(installed, TracerProvider):
        raise RuntimeError(f"OpenTelemetry installed no SDK tracer provider ({type(installed).__name__})")
    log.info("tracing on, exported as the OTEL_* variables say")
    return Tracing(installed, owned=False)


def _default_exporter(environ: Mapping[str, str]) -> str:
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    # With a protocol named, the SDK picks the matching OTLP exporter itself.
    return "otlp" if protocol else DEFAULT_EXPORTER


def _names_service(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SERVICE_NAME"):
        return True
    pairs = environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",")
    return any(p.split("=", 1)[0].strip() == "service.name" for p in pairs)


class GraphQLOperations(OpenTelemetryExtension):
    """strawberry's spans, without the document and the arguments: either can inline a secret."""

    def __init__(self, *, tracer_provider: trace.TracerProvider, **kwargs: Any) -> None:
        super().__init__(arg_filter=_no_arguments, tracer_provider=tracer_provider, **kwargs)

    def on_operation(self) -> Iterator[None]:  # type: ignore[override]
        name = self.execution_context.operation_name
        span = self._tracer.start_span(
            f"GraphQL Query: {name}" if name else "GraphQL Query", kind=SpanKind.SERVER
        )
        span.set_attribute("component", "graphql")
        self._span_holder[LifecycleStep.OPERATION] = span
        yield
        if not name and self.execution_context.operation_name:
            span.update_name(f"GraphQL Query: {self.execution_context.operation_name}")
        span.end()


def _no_arguments(args: dict[str, Any], info: Any) -> dict[str, Any]:
    return {}


def _redacted_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return redact_target(url)
    authority, slash, target = rest.partition("/")
    # Credentials in the authority are dropped outright.
    return f"{scheme}://{authority.rpartition('@')[2]}{redact_target(slash + target)}"


def _redact_span(span: trace.Span, _request: Any) -> None:
    """Rewrite what the instrumentations recorded of a URL or target with its secrets redacted."""
    attributes: Mapping[str, Any] | None = getattr(span, "attributes", None)
    if not span.is_recording() or not attributes:
        return
    for name in ("http.url", "url.full"):
        if isinstance(value := attributes.get(name), str):
            span.set_attribute(name, _redacted_url(value))
    for name in ("http.target", "url.path"):
        if isinstance(value := attributes.get(name), str):
            span.set_attribute(name, redact_target(value))
    if isinstance(value := attributes.get("url.query"), str):
        span.set_attribute("url.query", redact_target("?" + value)[1:])


async def _redact_span_async(span: trace.Span, request: Any) -> None:
    _redact_span(span, request)


class _ChildTracer(trace.Tracer):
    """Starts spans only under a valid parent; elsewhere hands back the no-op span."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def start_span(self, name: str, context: Any = None, *args: Any, **kwargs: Any) -> trace.Span:
        if not trace.get_current_span(context).get_span_context().is_valid:
            return trace.INVALID_SPAN
        return self._tracer.start_span(name, context, *args, **kwargs)

    @contextlib.contextmanager
    def start_as_current_span(  # type: ignore[override]
        self, name: str, context: Any = None, *args: Any, **kwargs: Any
    ) -> Iterator[trace.Span]:
        if not trace.get_current_span(context).get_span_context().is_valid:
            yield trace.INVALID_SPAN
            return
        with self._tracer.start_as_current_span(name, context, *args, **kwargs) as span:
            yield span


class InsideTracedWork(trace.TracerProvider):
    """A provider whose tracers record only inside a traced request or job (see the module docstring)."""

    def __init__(self, provider: trace.TracerProvider) -> None:
        self._provider = provider

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _ChildTracer(self._provider.get_tracer(*args, **kwargs))
