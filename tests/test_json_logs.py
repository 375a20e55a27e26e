"""Structured logs: one JSON object a line, carrying the request id and, while a span is active, the trace
and span ids; secrets redacted as in text mode; every response answers its request id."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conduit.app import create_app
from conduit.cli import server_config
from conduit.logs import REDACTED, JsonFormatter, RequestId, request_id
from conduit.runtime import Runtime
from tests.conftest import ConduitProcesses, Tenant, free_port, start_in_thread, stop_thread
from tests.ingest.helpers import event_envelope, exception_event
from tests.jobs.conftest import wait_for
from tests.test_tracing import ingest_span, spans  # noqa: F401 - the fixture, shared

GENERATED = re.compile(r"[0-9a-f]{32}")


class Lines(logging.Handler):
    """Formats each record as it is emitted, as a handler writing to a stream would, and keeps the lines."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def objects(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in list(self.lines)]


@pytest.fixture
def served(runtime: Runtime) -> Iterator[str]:
    """The app as `conduit serve` runs it (access log on, redacted), on loopback."""
    port = free_port()
    settings = runtime.settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    server = uvicorn.Server(server_config(create_app(settings), "127.0.0.1", port))
    thread = start_in_thread(server)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_thread(server, thread)


@pytest.fixture
def lines(served: str) -> Iterator[Lines]:
    """Lines of the served app's loggers; after it starts, as uvicorn's set-up replaces their handlers."""
    handler = Lines()
    loggers = [logging.getLogger(n) for n in ("uvicorn.access", "conduit")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)


def test_a_record_is_one_line_of_json_with_its_fields() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logging.LogRecord("conduit.x", logging.ERROR, "f.py", 3, "failed %s", ("it",), None)
        import sys

        record.exc_info = sys.exc_info()
    record.job_id = 7
    record.kind = "webhooks.deliver"
    record.color_message = "\x1b[31mfailed\x1b[0m"
    token = request_id.set("req-1")
    try:
        line = JsonFormatter().format(record)
    finally:
        request_id.reset(token)
    assert "\n" not in line
    out = json.loads(line)
    assert out["level"] == "ERROR" and out["logger"] == "conduit.x" and out["message"] == "failed it"
    assert out["request_id"] == "req-1" and out["job_id"] == 7 and out["kind"] == "webhooks.deliver"
    assert "ValueError: boom" in out["exception"] and "color_message" not in out
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", out["time"])
    # No span is active here: no ids are made up.
    assert "trace_id" not in out and "span_id" not in out


async def test_request_and_trace_ids_on_every_line_and_secrets_redacted(
    spans: InMemorySpanExporter,  # noqa: F811
    lines: Lines,
    served: str,
    tenant: Tenant,
) -> None:
    body = event_envelope(exception_event())
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{served}/api/{tenant.project_id}/envelope/?sentry_key={tenant.public_key}&sentry_version=7",
            content=body,
            headers={"X-Request-Id": "client-chosen.id:1"},
        )
        hook = await client.post(f"{served}/hooks/github/hook-token-s3cr3t?code=c0de-s3cr3t", content=b"{}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-request-id"] == "client-chosen.id:1"
    assert GENERATED.fullmatch(hook.headers["x-request-id"])
    root = ingest_span(spans)
    assert root.context is not None
    trace_id = f"{root.context.trace_id:032x}"

    async def job_logged() -> bool:
        return any(o.get("trace_id") == trace_id and o.get("kind") for o in lines.objects())

    # The job the ingest queued logs in the request's trace.
    await wait_for(job_logged, 30, "a job's line in the ingest request's trace")

    objects = lines.objects()
    access = [o for o in objects if o["logger"] == "uvicorn.access"]
    ingest = next(o for o in access if "/envelope/" in str(o["message"]))
    assert ingest["request_id"] == "client-chosen.id:1"
    assert ingest["trace_id"] == trace_id and GENERATED.fullmatch(trace_id)
    assert re.fullmatch(r"[0-9a-f]{16}", str(ingest["span_id"]))
    assert f"sentry_key={REDACTED}" in str(ingest["message"])
    hooked = next(o for o in access if "/hooks/github/" in str(o["message"]))
    assert hooked["request_id"] == hook.headers["x-request-id"]
    assert f"/hooks/github/{REDACTED}?code={REDACTED}" in str(hooked["message"])
    job = next(o for o in objects if o.get("trace_id") == trace_id and o.get("kind"))
    assert isinstance(job["job_id"], int) and "request_id" not in job
    text = "\n".join(lines.lines)
    assert tenant.public_key not in text and "s3cr3t" not in text


@pytest.mark.parametrize(
    "hostile",
    [
        "a" * 129,  # longer than any id needs to be
        'x" injected="1',  # would forge a field in a text line
        "two words",
        "",
        "caf\u00e9",  # not ASCII
        '{"json": true}',
    ],
)
async def test_an_id_that_is_not_a_plain_token_is_replaced(hostile: str, served: str) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{served}/healthz", headers={"X-Request-Id": hostile.encode("utf-8")})
    assert answer.status_code == 200
    assert GENERATED.fullmatch(answer.headers["x-request-id"])
    assert answer.headers.get_list("x-request-id") == [answer.headers["x-request-id"]]


async def test_refused_and_unknown_requests_answer_their_id_too(served: str, tenant: Tenant) -> None:
    async with httpx.AsyncClient() as client:
        unauthorised = await client.post(f"{served}/api/{tenant.project_id}/envelope/", content=b"{}\n")
        graphql = await client.post(f"{served}/graphql", json={"query": "{ __typename }"})
        missing = await client.get(f"{served}/no/such/path", headers={"X-Request-Id": "mine-1"})
    assert unauthorised.status_code in (401, 403) and GENERATED.fullmatch(
        unauthorised.headers["x-request-id"]
    )
    assert graphql.status_code == 401 and GENERATED.fullmatch(graphql.headers["x-request-id"])
    assert missing.status_code == 404 and missing.headers["x-request-id"] == "mine-1"


async def test_an_app_that_sets_its_own_id_header_answers_one() -> None:
    async def inner(scope: object, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-request-id", b"inner")]})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=RequestId(inner)), base_url="http://t"
    ) as client:
        answer = await client.get("/", headers={"X-Request-Id": "outer-1"})
    assert answer.headers.get_list("x-request-id") == ["outer-1"]


def test_conduit_serve_writes_json_lines(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDUIT_", "OTEL_"))}
    env.update(
        CONDUIT_LOG_FORMAT="json",
        CONDUIT_DATA_DIR=str(tmp_path / "data"),
        CONDUIT_SECRET_KEY="k" * 40,
    )
    procs = ConduitProcesses(tmp_path)
    try:
        procs.start(["serve", "--port", str(port)], env, name="serve")
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        answer = httpx.get(
            f"http://127.0.0.1:{port}/healthz?state=st4te-s3cr3t", headers={"X-Request-Id": "cli-1"}
        )
        assert answer.headers["x-request-id"] == "cli-1"
    finally:
        procs.stop_all()
    text = (tmp_path / "serve-0.log").read_text()
    objects = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert objects, text
    assert all({"time", "level", "logger", "message"} <= o.keys() for o in objects)
    access = [o for o in objects if o["logger"] == "uvicorn.access"]
    assert len(access) == 1, text
    assert access[0]["request_id"] == "cli-1"
    assert f"state={REDACTED}" in access[0]["message"]
    assert "s3cr3t" not in text
    # uvicorn's own lines (start-up, shut-down) come through the same formatter.
    assert any(o["logger"] == "uvicorn.error" for o in objects)
