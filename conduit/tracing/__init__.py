"""OpenTelemetry traces: off unless the standard `OTEL_*` variables turn them on; on, one trace runs from
a request through every job it queued to the calls those jobs make.

Off (the default), nothing is imported from OpenTelemetry and no tracer provider is installed: the hooks
the rest of Conduit calls (`current_traceparent`, `job_span`, `job_failed`) test one module global and
return. On, `start` lets the SDK read its own variables (exporter, endpoint, protocol, sampler,
resource, batching) through its configurator, and `conduit.tracing.otel` adds the standard
instrumentations: the Starlette app, httpx, SQLAlchemy, Redis, and strawberry's extension for GraphQL.

The context crosses the outbox as a W3C `traceparent` on the row (`outbox.add` asks
`current_traceparent`); the runner starts the job's span as a child of it, so the job, the jobs it
queues in turn and their outbound calls stay in the trace of the request that caused them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.applications import Starlette

    from conduit.tracing.otel import Tracing

_TRUE = ("true", "1", "yes", "on")
_active: Tracing | None = None
_NOTHING = contextlib.nullcontext()


def requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the OTEL_* variables ask for traces.

    OTEL_SDK_DISABLED=true always wins. Otherwise traces are on when an exporter is named (other than
    `none`), when an OTLP endpoint is given, or when OTEL_SDK_DISABLED=false says so outright.
    """
    disabled = environ.get("OTEL_SDK_DISABLED", "").strip().lower()
    if disabled in _TRUE:
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    if environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return True
    return disabled == "false"


def active() -> Tracing | None:
    return _active


def start(provider: TracerProvider | None = None) -> Tracing | None:
    """Turn tracing on for this process, once: with `provider` as given, or as the OTEL_* variables say.

    Without a provider and without the variables asking for traces, this does nothing and returns None.
    """
    global _active
    if _active is not None:
        return _active
    if provider is None and not requested():
        return None
    try:
        from conduit.tracing import otel
    except ImportError as exc:
        raise RuntimeError(
            f"OTEL_* variables ask for traces, but OpenTelemetry is not installed ({exc}): "
            "install conduit-hub[tracing], or unset them"
        ) from exc
    _active = otel.Tracing(provider, owned=True) if provider is not None else otel.from_environment()
    return _active


def stop() -> None:
    """Undo `start`: instrumentations removed, spans flushed, a provider given to `start` shut down."""
    global _active
    tracing, _active = _active, None
    if tracing is not None:
        tracing.shutdown()


def install(engine: AsyncEngine) -> Tracing | None:
    """What a process does as it starts: tracing on if asked, and then its database traced."""
    tracing = start()
    if tracing is not None:
        tracing.instrument_engine(engine)
    return tracing


def instrument_app(app: Starlette) -> None:
    if _active is not None:
        _active.instrument_app(app)


def graphql_extensions() -> list[Any]:
    """strawberry's tracing extension when tracing is on; nothing at all otherwise."""
    return _active.graphql_extensions() if _active is not None else []


def current_traceparent() -> str | None:
    """The W3C traceparent of the span running now, to store on an outbox row; None when not tracing."""
    return _active.traceparent() if _active is not None else None


def job_span(
    kind: str, job_id: int, attempt: int, traceparent: str | None
) -> contextlib.AbstractContextManager[Any]:
    """The span of one run of a job, a child of the context that queued it when there was one."""
    if _active is None:
        return _NOTHING
    return _active.job_span(kind, job_id, attempt, traceparent)


def job_failed(error: BaseException) -> None:
    """Mark the running job's span failed: the runner catches the error, so the span never sees it."""
    if _active is not None:
        _active.job_failed(error)
