"""The HTTP endpoints, on both databases: auth, encodings, envelopes, grouping, outbox."""

from __future__ import annotations

import gzip
import zlib

import brotli
import httpx
import orjson
import pytest
from sqlalchemy import update

from conduit.db.models import Issue, IssueStatus
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.ingest.helpers import (
    envelope,
    event_envelope,
    events_of,
    exception_event,
    issues_of,
    new_event_id,
    outbox_of,
    sentry_auth,
)

ENVELOPE_HEADERS = {"Content-Type": "application/x-sentry-envelope"}


def url(tenant: Tenant, kind: str = "envelope") -> str:
    return f"/api/{tenant.project_id}/{kind}/"


async def post_event(client: httpx.AsyncClient, tenant: Tenant, event: dict[str, object]) -> httpx.Response:
    return await client.post(
        url(tenant), content=event_envelope(event), headers=sentry_auth(tenant.public_key)
    )


async def test_envelope_event_becomes_issue_event_and_outbox_rows(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    event = exception_event(
        "ZeroDivisionError", "division by zero", release="1.2.3", environment="prod", tags={"region": "eu"}
    )
    r = await client.post(
        url(tenant),
        content=event_envelope(event),
        headers={**sentry_auth(tenant.public_key), **ENVELOPE_HEADERS},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"id": event["event_id"]}
    assert r.headers["access-control-allow-origin"] == "*"

    [issue] = await issues_of(runtime, tenant.project_id)
    assert (issue.title, issue.culprit, issue.times_seen, issue.status) == (
        "ZeroDivisionError: division by zero",
        "app.views in handler",
        1,
        IssueStatus.UNRESOLVED,
    )
    assert issue.organization_id == tenant.organization_id
    [stored] = await events_of(runtime, tenant.project_id)
    assert (stored.event_id, stored.issue_id, stored.exception_type, stored.release, stored.environment) == (
        event["event_id"],
        issue.id,
        "ZeroDivisionError",
        "1.2.3",
        "prod",
    )
    assert stored.tags == {"region": "eu"}
    assert stored.data["exception"]["values"][0]["stacktrace"]["frames"][-1]["function"] == "handler"

    rows = await outbox_of(runtime, tenant.organization_id)
    published = [(row.kind, row.payload["type"], row.payload["data"]) for row in rows]
    assert published == [
        ("events.publish", "issue.created", {"issue_id": issue.id, "project_id": tenant.project_id}),
        (
            "events.publish",
            "event.created",
            {"event_id": stored.id, "issue_id": issue.id, "project_id": tenant.project_id},
        ),
    ]


async def test_same_exception_twice_is_one_issue_seen_twice(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    for lineno in (10, 99):  # a code edit moved the line: still the same issue
        event = exception_event(
            frames=[{"module": "app.x", "function": "f", "lineno": lineno, "in_app": True}]
        )
        assert (await post_event(client, tenant, event)).status_code == 200
    assert (await post_event(client, tenant, exception_event("TypeError"))).status_code == 200
    issues = await issues_of(runtime, tenant.project_id)
    assert sorted((i.title, i.times_seen) for i in issues) == [
        ("TypeError: bad value", 1),
        ("ValueError: bad value", 2),
    ]
    assert len(await events_of(runtime, tenant.project_id)) == 3
    kinds = [row.payload["type"] for row in await outbox_of(runtime, tenant.organization_id)]
    assert kinds.count("issue.created") == 2 and kinds.count("event.created") == 3


async def test_resent_event_is_accepted_and_stored_once(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    event = exception_event()
    for _ in range(3):
        r = await post_event(client, tenant, event)
        assert r.status_code == 200 and r.json() == {"id": event["event_id"]}
    [issue] = await issues_of(runtime, tenant.project_id)
    assert issue.times_seen == 1
    assert len(await events_of(runtime, tenant.project_id)) == 1
    assert len(await outbox_of(runtime, tenant.organization_id)) == 2


async def test_resolved_issue_regresses_ignored_stays_ignored(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    await post_event(client, tenant, exception_event("Resolved"))
    await post_event(client, tenant, exception_event("Ignored"))
    async with runtime.sessions() as s:
        await s.execute(
            update(Issue).where(Issue.title.like("Resolved%")).values(status=IssueStatus.RESOLVED)
        )
        await s.execute(update(Issue).where(Issue.title.like("Ignored%")).values(status=IssueStatus.IGNORED))
        await s.commit()
    await post_event(client, tenant, exception_event("Resolved"))
    await post_event(client, tenant, exception_event("Ignored"))
    status = {
        i.title.split(":")[0]: (i.status, i.times_seen) for i in await issues_of(runtime, tenant.project_id)
    }
    assert status == {"Resolved": (IssueStatus.UNRESOLVED, 2), "Ignored": (IssueStatus.IGNORED, 2)}
    reopened = [
        r.payload
        for r in await outbox_of(runtime, tenant.organization_id)
        if r.payload["type"] == "issue.unresolved"
    ]
    assert len(reopened) == 1
    assert reopened[0]["actor"] == {"type": "system", "reason": "regression"}


async def test_store_endpoint_and_message_events(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    event_id = new_event_id()
    body = orjson.dumps({"event_id": event_id, "message": "disk almost full", "level": "warning"})
    r = await client.post(url(tenant, "store"), content=body, headers=sentry_auth(tenant.public_key))
    assert r.status_code == 200 and r.json() == {"id": event_id}
    [issue] = await issues_of(runtime, tenant.project_id)
    assert (issue.title, issue.level) == ("disk almost full", "warning")


@pytest.mark.parametrize("how", ["x-sentry-auth", "authorization", "query", "dsn"])
async def test_each_way_of_sending_the_key(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime, how: str
) -> None:
    event = exception_event()
    header: dict[str, object] = {}
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    if how == "x-sentry-auth":
        headers = sentry_auth(tenant.public_key)
    elif how == "authorization":
        headers = {"Authorization": f"Sentry sentry_key={tenant.public_key}, sentry_version=7"}
    elif how == "query":
        params = {"sentry_key": tenant.public_key, "sentry_version": "7"}
    else:
        header = {"dsn": tenant.dsn}
    r = await client.post(url(tenant), content=event_envelope(event, header), headers=headers, params=params)
    assert r.status_code == 200, r.text
    assert len(await events_of(runtime, tenant.project_id)) == 1


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
        ("identity", lambda b: b),
    ],
)
async def test_each_content_encoding(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime, encoding: str, compress: object
) -> None:
    event = exception_event()
    body = compress(event_envelope(event))  # type: ignore[operator]
    headers = {**sentry_auth(tenant.public_key), "Content-Encoding": encoding}
    r = await client.post(url(tenant), content=body, headers=headers)
    assert r.status_code == 200, r.text
    [stored] = await events_of(runtime, tenant.project_id)
    assert stored.event_id == event["event_id"]


async def test_unknown_encoding_is_415(client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime) -> None:
    headers = {**sentry_auth(tenant.public_key), "Content-Encoding": "zstd"}
    r = await client.post(url(tenant), content=event_envelope(exception_event()), headers=headers)
    assert r.status_code == 415
    assert "zstd" in r.json()["detail"]
    assert await events_of(runtime, tenant.project_id) == []


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"garbage\n", "envelope header is not valid JSON"),
        (b'{}\n{"type":"event","length":500}\n{}', "length 500 exceeds"),
        (b'{}\n{"type":"event"}\n[1,2]', "event payload must be a JSON object, not an array"),
        (b'{}\n{"type":"event"}\n{"message": "\xff"}', "event payload is not valid JSON"),
        (b'{}\n{"type":"event"}\n{}\n{"type":"event"}\n{}', "2 event items; at most one"),
        (b'{"event_id":"xyz"}\n', "event_id must be 32 hexadecimal characters"),
        (b'{}\n{"type":"event"}\n' + b"[" * 3000 + b"]" * 3000, "event payload is not valid JSON"),
    ],
)
async def test_malformed_envelope_is_400_with_reason(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime, body: bytes, detail: str
) -> None:
    r = await client.post(url(tenant), content=body, headers=sentry_auth(tenant.public_key))
    assert r.status_code == 400
    assert detail in r.json()["detail"]
    assert detail[:20] in r.headers["x-sentry-error"]
    assert await events_of(runtime, tenant.project_id) == []


async def test_non_event_items_are_accepted_and_ignored(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    event_id = new_event_id()
    body = envelope(
        ({"type": "session"}, b'{"sid":"x","status":"ok"}'),
        ({"type": "transaction"}, b'{"type":"transaction","spans":[]}'),
        ({"type": "attachment", "length": 4, "filename": "a.bin"}, b"\x00\x01\x02\n"),
        ({"type": "client_report"}, b'{"discarded_events":[]}'),
        ({"type": "check_in"}, b'{"check_in_id":"x"}'),
        header={"event_id": event_id, "sent_at": "2024-01-01T00:00:00Z"},
    )
    r = await client.post(url(tenant), content=body, headers=sentry_auth(tenant.public_key))
    assert r.status_code == 200 and r.json() == {"id": event_id}
    assert await issues_of(runtime, tenant.project_id) == []
    assert await outbox_of(runtime, tenant.organization_id) == []


async def test_cors_preflight(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.options(
        url(tenant), headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "x-sentry-auth" in r.headers["access-control-allow-headers"]


async def test_path_without_trailing_slash(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    r = await client.post(
        f"/api/{tenant.project_id}/envelope",
        content=event_envelope(exception_event()),
        headers=sentry_auth(tenant.public_key),
    )
    assert r.status_code == 200
    assert len(await events_of(runtime, tenant.project_id)) == 1
