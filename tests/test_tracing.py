"""Traces: one trace runs from an ingest request through the outbox and the jobs to the webhook call, on
both runners; spans carry no secret; with tracing off nothing is installed and nothing is recorded."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import select

from conduit import tracing
from conduit.db.models import OutboxRow
from conduit.ids import encode
from conduit.jobs.config import JobsSettings
from conduit.runtime import Runtime
from tests.apps.conftest import GQL
from tests.apps.helpers import issue_app, name
from tests.apps.receiver import Hit, Receiver
from tests.conftest import LiveServer, Tenant
from tests.ingest.helpers import event_envelope, exception_event, sentry_auth
from tests.jobs.conftest import arq_worker, distributed_runtime, redis_url, wait_for  # noqa: F401
from tests.rules.helpers import create_rule, error, issue_of, send, tickets_of, unique
from tests.sync.conftest import Conduit, Side, install, operator_settings, sides  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
ENVELOPE_ROUTE = "/api/{project_id}/envelope/"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = Receiver().start()
    yield rec
    rec.stop()


@pytest.fixture
async def rt(runtime: Runtime) -> AsyncIterator[Runtime]:
    own = Runtime.create(runtime.settings.model_copy(update={"allow_private_webhook_urls": True}))
    yield own
    await own.close()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for this test, into memory; off again after it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.start(provider)
    try:
        yield exporter
    finally:
        tracing.stop()


@pytest.fixture
def no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("OTEL_"):
            monkeypatch.delenv(key)


async def subscribed(rt: Runtime, receiver: Receiver, owner: Tenant, installer: Tenant) -> str:
    """An app of `owner`'s, subscribed to issue.created and installed by `installer`; its endpoint name."""
    gql = GQL(rt)
    ep = name()
    app = await gql.create_app(owner.token, **issue_app(receiver.url(ep)))
    receiver.endpoints[ep].secret = app["webhookSecret"]
    await gql.install(installer.token, app["app"]["id"])
    return ep


async def ingest(base_url: str, tenant: Tenant, key_in_query: bool = False) -> httpx.Response:
    body = event_envelope(exception_event(type_=f"Traced{secrets.token_hex(4)}"))
    url = f"{base_url}/api/{tenant.project_id}/envelope/"
    async with httpx.AsyncClient() as client:
        if key_in_query:
            # Browser SDKs send the key in the query: it must not reach a span.
            return await client.post(f"{url}?sentry_key={tenant.public_key}&sentry_version=7", content=body)
        return await client.post(url, content=body, headers=sentry_auth(tenant.public_key))


async def _async(value: bool) -> bool:
    return value


def issue_created(hits: list[Hit]) -> Hit | None:
    return next((h for h in hits if json.loads(h.body)["type"] == "issue.created"), None)


def in_trace(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [
        s for s in exporter.get_finished_spans() if s.context is not None and s.context.trace_id == trace_id
    ]


def ingest_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    [span] = [
        s
        for s in exporter.get_finished_spans()
        if s.kind is SpanKind.SERVER and (s.attributes or {}).get("http.route") == ENVELOPE_ROUTE
    ]
    return span


def attribute_text(spans: list[ReadableSpan] | tuple[ReadableSpan, ...]) -> str:
    return " ".join(f"{s.name} {dict(s.attributes or {})} {[e.attributes for e in s.events]}" for s in spans)


@contextlib.asynccontextmanager
async def running(mode: str, rt: Runtime, redis_url: str) -> AsyncIterator[LiveServer]:  # noqa: F811
    """The API on loopback with its jobs: embedded in it, or handed over to an arq worker on Redis."""
    if mode == "embedded":
        with LiveServer(rt.settings) as server:
            yield server
        return
    if rt.settings.is_sqlite:
        pytest.skip("arq workers run against PostgreSQL")
    worker_rt = distributed_runtime(rt, redis_url)
    try:
        # The API process's dispatcher hands rows to the queue the worker reads (the default one).
        async with arq_worker(worker_rt, JobsSettings()):
            with LiveServer(worker_rt.settings) as server:
                yield server
    finally:
        await worker_rt.close()


@pytest.mark.parametrize("mode", ["embedded", "arq"])
async def test_one_trace_from_ingest_through_the_jobs_to_the_webhook(
    mode: str,
    spans: InMemorySpanExporter,
    rt: Runtime,
    receiver: Receiver,
    tenant: Tenant,
    tenant2: Tenant,
    redis_url: str,  # noqa: F811
) -> None:
    ep = await subscribed(rt, receiver, tenant, tenant2)
    async with running(mode, rt, redis_url) as server:
        # The installation's own delivery first: a delivery job may send whatever else waits for the
        # endpoint, and the event's delivery must be sent by the job of the event's trace.
        await wait_for(lambda: _async(bool(receiver.of(ep))), 60, "the installation.created delivery")
        answer = await ingest(server.url, tenant2, key_in_query=True)
        assert answer.status_code == 200, answer.text

        async def delivered() -> bool:
            return issue_created(receiver.of(ep)) is not None

        await wait_for(delivered, 60, "the issue.created delivery")
        root = ingest_span(spans)
        assert root.context is not None
        trace_id = root.context.trace_id
        hit = issue_created(receiver.of(ep))
        assert hit is not None

        def outbound() -> list[ReadableSpan]:
            return [
                s
                for s in in_trace(spans, trace_id)
                if s.kind is SpanKind.CLIENT
                and str((s.attributes or {}).get("http.url", "")).startswith(receiver.base)
            ]

        async def call_recorded() -> bool:
            return bool(outbound())

        await wait_for(call_recorded, 30, "the span of the outbound call, in the ingest request's trace")

    spans_of_trace = in_trace(spans, trace_id)
    jobs = [s for s in spans_of_trace if s.name.startswith("job ")]
    # The event is published by one job, which queues the delivery: two jobs, one trace.
    assert {s.name for s in jobs} >= {"job events.publish"}, [s.name for s in jobs]
    assert len(jobs) >= 2, [s.name for s in jobs]
    assert all(s.kind is SpanKind.CONSUMER for s in jobs)
    # Every span but the request's has its parent in the same trace: the chain is unbroken.
    ids = {s.context.span_id for s in spans_of_trace if s.context is not None}
    for span in spans_of_trace:
        if span is not root:
            assert span.parent is not None and span.parent.span_id in ids, span.name
    [call] = outbound()
    # The receiver got the standard header naming the outbound call's span.
    assert call.context is not None
    version, sent_trace, sent_parent, flags = hit.headers["traceparent"].split("-")
    assert (version, sent_trace, sent_parent) == ("00", f"{trace_id:032x}", f"{call.context.span_id:016x}")
    assert int(flags, 16) & 1  # sampled

    # The outbox rows of the event carry the request's context.
    async with rt.sessions() as session:
        rows = (
            await session.execute(
                select(OutboxRow.traceparent).where(
                    OutboxRow.organization_id == tenant2.organization_id, OutboxRow.kind == "events.publish"
                )
            )
        ).scalars()
        assert any(tp and tp.split("-")[1] == f"{trace_id:032x}" for tp in rows)

    # The DSN key sent in the query string appears in no span.
    assert tenant2.public_key not in attribute_text(spans.get_finished_spans())
    assert "[redacted]" in str((root.attributes or {}).get("http.target", "")) + str(
        (root.attributes or {}).get("http.url", "")
    )


async def test_one_trace_from_ingest_through_a_rule_to_the_tracker_call(
    spans: InMemorySpanExporter,
    runtime: Runtime,
    tenant: Tenant,
    sides: dict[str, Side],  # noqa: F811
) -> None:
    side = sides["github"]
    with LiveServer(operator_settings(runtime.settings, sides)) as server:
        conduit = Conduit(runtime, server.url, tenant)
        installed = await install(conduit, side)
        await create_rule(
            conduit,
            name="Every new issue",
            trigger="NEW_ISSUE",
            installationId=installed.gid,
            target=side.scope,
        )
        spans.clear()
        kind = unique("Traced")
        await send(conduit, [error(kind)], concurrency=1)
        issue = await issue_of(conduit, kind)

        async def ticketed() -> bool:
            return bool(await tickets_of(conduit, issue.id))

        await wait_for(ticketed, 60, "the rule's ticket")
        root = ingest_span(spans)
        assert root.context is not None
        trace_id = root.context.trace_id

        def tracker_calls() -> list[ReadableSpan]:
            return [
                s
                for s in in_trace(spans, trace_id)
                if s.kind is SpanKind.CLIENT
                and str((s.attributes or {}).get("http.url", "")).startswith(side.url)
            ]

        await wait_for(
            lambda: _async(bool(tracker_calls())), 30, "a tracker call in the ingest request's trace"
        )
    jobs = {s.name for s in in_trace(spans, trace_id) if s.name.startswith("job ")}
    assert "job events.publish" in jobs and len(jobs) >= 2, jobs
    # The tracker's token travels in a header, which spans do not record.
    assert installed.webhook_secret not in attribute_text(spans.get_finished_spans())


async def test_graphql_operations_are_traced_without_their_document(
    spans: InMemorySpanExporter, runtime: Runtime, tenant: Tenant
) -> None:
    # A well-formed id of no row: the operation succeeds, and nothing echoes the literal back.
    literal = encode("Issue", 10**12 + secrets.randbelow(10**6))
    with LiveServer(runtime.settings) as server:
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"{server.url}/graphql",
                json={"query": f'query Secretive {{ node(id: "{literal}") {{ id }} }}'},
                headers={"Authorization": f"Bearer {tenant.token}"},
            )
    assert answer.status_code == 200 and answer.json() == {"data": {"node": None}}, answer.text
    [operation] = [s for s in spans.get_finished_spans() if s.name == "GraphQL Query: Secretive"]
    [request] = [
        s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER and s.name.startswith("POST")
    ]
    assert operation.context is not None and request.context is not None
    assert operation.context.trace_id == request.context.trace_id
    text = attribute_text(spans.get_finished_spans())
    assert literal not in text
    assert tenant.token not in text


async def test_a_job_whose_row_has_a_malformed_traceparent_starts_a_trace_of_its_own(
    spans: InMemorySpanExporter,
) -> None:
    for hostile in ("garbage", "00-" + "0" * 32 + "-" + "0" * 16 + "-01", "ff-" + "a" * 200, ""):
        with tracing.job_span("k", 1, 1, hostile) as span:
            context = span.get_span_context()
            assert context.is_valid
        assert span.parent is None  # type: ignore[attr-defined]
    # A valid one is honoured: the job's span is its child.
    parent = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    with tracing.job_span("k", 2, 1, parent) as span:
        assert span.get_span_context().trace_id == int("ab" * 16, 16)
    assert span.parent.span_id == int("cd" * 8, 16)  # type: ignore[attr-defined]


async def test_with_tracing_off_nothing_is_installed_or_recorded(
    no_otel_environment: None, rt: Runtime, receiver: Receiver, tenant: Tenant, tenant2: Tenant
) -> None:
    ep = await subscribed(rt, receiver, tenant, tenant2)
    with LiveServer(rt.settings) as server:
        answer = await ingest(server.url, tenant2)
        assert answer.status_code == 200, answer.text

        async def delivered() -> bool:
            return issue_created(receiver.of(ep)) is not None

        await wait_for(delivered, 60, "the issue.created delivery")
        instrumented = getattr(server.server.config.app, "_is_instrumented_by_opentelemetry", False)
    assert tracing.active() is None
    assert tracing.current_traceparent() is None
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
    assert not instrumented
    hit = issue_created(receiver.of(ep))
    assert hit is not None and "traceparent" not in hit.headers
    async with rt.sessions() as session:
        stored = (
            await session.execute(
                select(OutboxRow.traceparent).where(OutboxRow.organization_id == tenant2.organization_id)
            )
        ).scalars()
        assert all(tp is None for tp in stored)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_SDK_DISABLED": "false"}, True),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
        ({"OTEL_SDK_DISABLED": "TRUE", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SERVICE_NAME": "conduit"}, False),
    ],
)
def test_the_standard_variables_decide(environ: dict[str, str], expected: bool) -> None:
    assert tracing.requested(environ) is expected


_PROBE = """
import json
from opentelemetry import trace
from conduit import tracing
active = tracing.start()
provider = trace.get_tracer_provider()
print(json.dumps({
    "active": active is not None,
    "provider": type(provider).__name__,
    "service": getattr(provider, "resource", None) and provider.resource.attributes.get("service.name"),
    "sampler": provider.sampler.get_description() if hasattr(provider, "sampler") else None,
}))
tracing.stop()
"""


def probe(**environ: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | environ
    out = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_sdk_configures_itself_from_the_environment() -> None:
    assert probe()["active"] is False
    assert probe()["provider"] == "ProxyTracerProvider"
    assert probe(OTEL_SDK_DISABLED="true", OTEL_TRACES_EXPORTER="console")["active"] is False
    on = probe(OTEL_TRACES_EXPORTER="console", OTEL_TRACES_SAMPLER="always_off")
    # The SDK read the sampler itself, and the service is named unless the operator named it.
    assert on == {
        "active": True,
        "provider": "TracerProvider",
        "service": "conduit",
        "sampler": "AlwaysOffSampler",
    }
    named = probe(OTEL_TRACES_EXPORTER="console", OTEL_RESOURCE_ATTRIBUTES="service.name=hub-eu")
    assert named["service"] == "hub-eu"
    assert probe(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")["active"] is True


async def test_an_incoming_traceparent_is_continued_when_valid_and_ignored_when_not(
    spans: InMemorySpanExporter, runtime: Runtime
) -> None:
    foreign = "00-" + "12" * 16 + "-" + "34" * 8 + "-01"
    hostile = [
        "garbage",
        "00-" + "0" * 32 + "-" + "0" * 16 + "-01",
        "00-" + "a" * 5000,
        foreign + "-extra",  # version 00 has exactly four fields
        "zz" + foreign[2:],
    ]
    with LiveServer(runtime.settings) as server:
        async with httpx.AsyncClient() as client:
            for value in [foreign, *hostile]:
                answer = await client.get(f"{server.url}/healthz", headers={"traceparent": value})
                assert answer.status_code == 200
    served = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert len(served) == 1 + len(hostile)
    continued, *fresh = served
    # The standard behaviour: a caller's valid context is continued (OTEL_TRACES_SAMPLER decides whether
    # to follow its sampled flag); anything else starts a trace of its own.
    assert continued.context is not None and continued.context.trace_id == int("12" * 16, 16)
    assert continued.parent is not None and continued.parent.span_id == int("34" * 8, 16)
    assert [s.parent for s in fresh] == [None] * len(hostile)
    assert all(s.context is not None and s.context.trace_id != int("12" * 16, 16) for s in fresh)
