"""End to end: the real sentry-sdk, unchanged, sends a raised exception to a running Conduit."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal, cast

import httpx
import pytest
import sentry_sdk
from sentry_sdk.utils import event_from_exception

from conduit import ids
from conduit.db.models import Issue
from conduit.runtime import Runtime
from tests.conftest import LiveServer, Tenant
from tests.ingest.helpers import events_of, issues_of


def divide(a: int, b: int) -> float:
    return a / b


def checkout(total: int) -> float:
    return divide(total, 0)


async def wait_for_issue(runtime: Runtime, project_id: int, deadline_s: float = 10.0) -> Issue:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        issues = await issues_of(runtime, project_id)
        if issues:
            return issues[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no issue reached project {project_id} within {deadline_s}s")


@pytest.mark.parametrize("compression", ["br", "gzip"])
async def test_real_sdk_exception_becomes_an_issue(
    live_server: LiveServer, tenant: Tenant, runtime: Runtime, compression: Literal["br", "gzip"]
) -> None:
    host = live_server.url.split("://", 1)[1]
    dsn = f"http://{tenant.public_key}@{host}/{tenant.project_id}"
    # A client of our own, never bound to the global hub, so other tests see no SDK at all.
    client = sentry_sdk.Client(
        dsn,
        default_integrations=False,
        release="shop@1.0.0",
        environment="test",
        # The SDK compares this option with plain strings at run time, whatever its type hints say.
        _experiments=cast(Any, {"transport_compression_algo": compression}),
    )
    assert client.transport is not None
    assert client.transport._compression_algo == compression  # type: ignore[attr-defined]
    try:
        checkout(10)
    except ZeroDivisionError as exc:
        event, hint = event_from_exception(exc, client_options=client.options)
    event_id = client.capture_event(event, hint)
    assert event_id is not None
    # flush() returns once the transport has handed the envelope over, not necessarily once it is stored.
    await asyncio.to_thread(client.flush, 10)
    await asyncio.to_thread(client.close, 10)

    issue = await wait_for_issue(runtime, tenant.project_id)
    assert issue.title == "ZeroDivisionError: division by zero"
    assert issue.culprit.endswith(" in divide")
    [stored] = await events_of(runtime, tenant.project_id)
    assert stored.event_id == event_id
    assert (stored.release, stored.environment, stored.platform) == ("shop@1.0.0", "test", "python")
    frames = stored.data["exception"]["values"][-1]["stacktrace"]["frames"]
    assert [f["function"] for f in frames[-2:]] == ["checkout", "divide"]

    # And a person finds it through the API, over the same running server.
    query = """query($id: ID!) { project(id: $id) { issues(first: 5) { nodes { title count status
        latestEvent { eventId release stacktrace { function } } } } } }"""
    async with httpx.AsyncClient(base_url=live_server.url, headers=tenant.auth, timeout=10) as http:
        r = await http.post(
            "/graphql", json={"query": query, "variables": {"id": ids.encode("Project", tenant.project_id)}}
        )
    assert r.status_code == 200, r.text
    [node] = r.json()["data"]["project"]["issues"]["nodes"]
    assert node["title"] == "ZeroDivisionError: division by zero"
    assert (node["count"], node["status"]) == (1, "UNRESOLVED")
    assert node["latestEvent"]["eventId"] == event_id
    assert node["latestEvent"]["release"] == "shop@1.0.0"
    assert [f["function"] for f in node["latestEvent"]["stacktrace"]][-2:] == ["checkout", "divide"]
