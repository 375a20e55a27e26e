"""Group commit: events written together count once per issue, and a failing batch acknowledges no one
falsely — it is split, the good events are stored and only the bad one's request gets the error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, update

from conduit.db.base import utcnow
from conduit.db.models import Issue, IssueStatus
from conduit.ingest.auth import KeyOwner
from conduit.ingest.normalize import NormalizedEvent, normalize
from conduit.ingest.store import EventWriter, IssueIds, Pending, write_batch, write_each
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.ingest.helpers import (
    event_envelope,
    events_of,
    exception_event,
    issues_of,
    outbox_of,
    sentry_auth,
)

# No project has this id: an event sent for it breaks the batch's foreign keys.
MISSING_PROJECT = 2**62


def owner_of(tenant: Tenant, project_id: int | None = None) -> KeyOwner:
    return KeyOwner(tenant.organization_id, project_id or tenant.project_id, tenant.public_key)


def event(kind: str = "BatchError", **extra: object) -> NormalizedEvent:
    return normalize(exception_event(kind, "in a batch", **extra), utcnow())


def kinds(rows: list[object]) -> list[str]:
    return [row.payload["type"] for row in rows]  # type: ignore[attr-defined]


async def test_a_batch_counts_each_issue_once_for_all_its_events(runtime: Runtime, tenant: Tenant) -> None:
    owner = owner_of(tenant)
    events = [event("AlphaError") for _ in range(5)] + [event("BetaError") for _ in range(3)]
    results = await write_batch(runtime.sessions, [Pending.of(owner, e) for e in events])

    assert [r.stored for r in results] == [True] * 8
    assert [r.event_id for r in results] == [e.event_id for e in events]
    assert [r.issue_created for r in results] == [True, False, False, False, False, True, False, False]
    issues = {i.id: i for i in await issues_of(runtime, tenant.project_id)}
    assert sorted(i.times_seen for i in issues.values()) == [3, 5]
    assert {r.issue_id for r in results} == set(issues)
    assert len(await events_of(runtime, tenant.project_id)) == 8
    emitted = kinds(await outbox_of(runtime, tenant.organization_id))
    assert emitted.count("issue.created") == 2
    assert emitted.count("event.created") == 8


async def test_first_and_last_seen_span_the_batch(runtime: Runtime, tenant: Tenant) -> None:
    owner = owner_of(tenant)
    now = time.time()
    early = event("SpanError", timestamp=now - 3000)
    late = event("SpanError", timestamp=now - 1000)
    middle = event("SpanError", timestamp=now - 2000)
    await write_batch(runtime.sessions, [Pending.of(owner, e) for e in (middle, late, early)])
    [issue] = await issues_of(runtime, tenant.project_id)
    assert (issue.first_seen, issue.last_seen) == (early.timestamp, late.timestamp)


async def test_resends_in_and_across_batches_change_nothing(runtime: Runtime, tenant: Tenant) -> None:
    owner = owner_of(tenant)
    first, second = event(), event()
    [stored] = await write_batch(runtime.sessions, [Pending.of(owner, first)])
    assert stored.stored
    again = await write_batch(runtime.sessions, [Pending.of(owner, e) for e in (first, second, second)])
    assert [r.stored for r in again] == [False, True, False]
    [issue] = await issues_of(runtime, tenant.project_id)
    assert issue.times_seen == 2
    assert len(await events_of(runtime, tenant.project_id)) == 2
    assert kinds(await outbox_of(runtime, tenant.organization_id)).count("event.created") == 2


async def test_a_batch_reopens_a_resolved_issue_once(runtime: Runtime, tenant: Tenant) -> None:
    owner = owner_of(tenant)
    await write_batch(runtime.sessions, [Pending.of(owner, event("ReopenError"))])
    async with runtime.sessions() as s:
        await s.execute(
            update(Issue).where(Issue.project_id == tenant.project_id).values(status=IssueStatus.RESOLVED)
        )
        await s.commit()
    results = await write_batch(runtime.sessions, [Pending.of(owner, event("ReopenError")) for _ in range(4)])
    assert [r.regressed for r in results] == [True, False, False, False]
    [issue] = await issues_of(runtime, tenant.project_id)
    assert (issue.status, issue.times_seen) == (IssueStatus.UNRESOLVED, 5)
    assert kinds(await outbox_of(runtime, tenant.organization_id)).count("issue.unresolved") == 1


async def test_a_failing_batch_is_split_and_only_the_bad_event_fails(
    runtime: Runtime, tenant: Tenant
) -> None:
    good = [event("GoodError") for _ in range(6)]
    bad = event("OrphanError")
    batch = [Pending.of(owner_of(tenant), e) for e in good[:3]]
    batch += [Pending.of(owner_of(tenant, MISSING_PROJECT), bad)]
    batch += [Pending.of(owner_of(tenant), e) for e in good[3:]]

    results = await write_each(runtime.sessions, batch)

    assert isinstance(results[3], Exception)
    stored = [r for i, r in enumerate(results) if i != 3]
    assert all(not isinstance(r, Exception) and r.stored for r in stored)
    assert {e.event_id for e in await events_of(runtime, tenant.project_id)} == {e.event_id for e in good}
    [issue] = await issues_of(runtime, tenant.project_id)
    assert issue.times_seen == 6


@pytest.fixture
async def writer(runtime: Runtime) -> AsyncIterator[EventWriter]:
    w = EventWriter(runtime.engine, max_batch=4, writers=2)
    yield w
    await w.close()


async def test_concurrent_stores_share_transactions_and_each_learns_its_own_fate(
    runtime: Runtime, tenant: Tenant, writer: EventWriter
) -> None:
    good = [Pending.of(owner_of(tenant), event("SharedError")) for _ in range(10)]
    bad = Pending.of(owner_of(tenant, MISSING_PROJECT), event("SharedError"))
    outcomes = await asyncio.gather(
        *(writer.store(p) for p in [*good[:5], bad, *good[5:]]), return_exceptions=True
    )
    assert isinstance(outcomes[5], Exception)
    assert [o.event_id for i, o in enumerate(outcomes) if i != 5] == [  # type: ignore[union-attr]
        p.event.event_id for p in good
    ]
    assert len(await events_of(runtime, tenant.project_id)) == 10


async def test_an_event_answered_200_is_already_committed(
    database_url: str, tenant: Tenant, tmp_path: Path, runtime: Runtime
) -> None:
    """Each 200 is checked from another connection as it arrives, while its batch-mates are in flight."""
    from conduit.app import create_app
    from tests.conftest import make_settings

    server = Runtime.create(make_settings(database_url, tmp_path))
    transport = httpx.ASGITransport(app=create_app(runtime=server))
    url = f"/api/{tenant.project_id}/envelope/"

    async def send(http: httpx.AsyncClient) -> None:
        e = exception_event("DurableError")
        r = await http.post(url, content=event_envelope(e), headers=sentry_auth(tenant.public_key))
        assert r.status_code == 200
        ids = {row.event_id for row in await events_of(runtime, tenant.project_id)}
        assert e["event_id"] in ids

    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            await asyncio.gather(*(send(http) for _ in range(24)))
    finally:
        await server.close()


async def test_a_remembered_issue_resolved_meanwhile_is_reopened(runtime: Runtime, tenant: Tenant) -> None:
    owner, hints = owner_of(tenant), IssueIds()
    await write_batch(runtime.sessions, [Pending.of(owner, event("HintedError"))], hints)
    async with runtime.sessions() as s:
        await s.execute(
            update(Issue).where(Issue.project_id == tenant.project_id).values(status=IssueStatus.RESOLVED)
        )
        await s.commit()
    [result] = await write_batch(runtime.sessions, [Pending.of(owner, event("HintedError"))], hints)
    assert result.regressed
    [issue] = await issues_of(runtime, tenant.project_id)
    assert (issue.status, issue.times_seen) == (IssueStatus.UNRESOLVED, 2)
    assert kinds(await outbox_of(runtime, tenant.organization_id)).count("issue.unresolved") == 1


async def test_a_remembered_issue_deleted_meanwhile_is_made_again(runtime: Runtime, tenant: Tenant) -> None:
    owner, hints = owner_of(tenant), IssueIds()
    [first] = await write_each(runtime.sessions, [Pending.of(owner, event("GoneError"))], hints)
    assert not isinstance(first, Exception) and first.issue_created
    async with runtime.sessions() as s:
        await s.execute(delete(Issue).where(Issue.project_id == tenant.project_id))
        await s.commit()
    later = [event("GoneError"), event("GoneError")]
    results = await write_each(runtime.sessions, [Pending.of(owner, e) for e in later], hints)
    assert all(not isinstance(r, Exception) and r.stored for r in results)
    [issue] = await issues_of(runtime, tenant.project_id)
    assert issue.times_seen == 2
    assert {e.event_id for e in await events_of(runtime, tenant.project_id)} == {e.event_id for e in later}


async def test_a_hint_naming_another_issue_is_not_counted_on(runtime: Runtime, tenant: Tenant) -> None:
    owner, hints = owner_of(tenant), IssueIds()
    [other] = await write_batch(runtime.sessions, [Pending.of(owner, event("OtherError"))])
    mine = Pending.of(owner, event("MineError"))
    # As when an issue's id was given again to a new issue after it was deleted.
    assert other.issue_id is not None
    hints.put((tenant.project_id, mine.fingerprint), other.issue_id)
    [result] = await write_batch(runtime.sessions, [mine], hints)
    assert result.issue_created and result.issue_id != other.issue_id
    counts = {i.id: i.times_seen for i in await issues_of(runtime, tenant.project_id)}
    assert counts == {other.issue_id: 1, result.issue_id: 1}
    assert hints.get((tenant.project_id, mine.fingerprint)) == result.issue_id


async def test_processes_counting_on_the_same_issues_stay_exact_without_failing_a_batch(
    database_url: str, tmp_path: Path, runtime: Runtime, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    """Two processes' group commits (each on an engine of its own) whose batches count on the same
    issues in different orders, as `serve --workers 2` under a storm of a few errors: every count
    exact, and no batch failed (a deadlock would have failed one and had it written in halves)."""
    from tests.conftest import make_settings

    owner = owner_of(tenant)
    names = [f"Shared{n}Error" for n in range(12)]
    # Each issue exists before the storm, so every batch counts on existing rows.
    await write_batch(runtime.sessions, [Pending.of(owner, event(name)) for name in names])
    other = Runtime.create(make_settings(database_url, tmp_path))
    writers = [EventWriter(rt.engine, max_batch=8, writers=2) for rt in (runtime, other)]
    rounds = 8
    try:
        with caplog.at_level("WARNING", logger="conduit.ingest"):
            outcomes = await asyncio.gather(
                *(
                    writers[(r + n) % 2].store(Pending.of(owner, event(name)))
                    for r in range(rounds)
                    # Every other round walks the issues backwards.
                    for n, name in enumerate(names if r % 2 else names[::-1])
                ),
                return_exceptions=True,
            )
    finally:
        for w in writers:
            await w.close()
        await other.close()
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    assert [r.message for r in caplog.records if r.name == "conduit.ingest"] == []
    counts = {i.fingerprint: i.times_seen for i in await issues_of(runtime, tenant.project_id)}
    assert sorted(counts.values()) == [rounds + 1] * len(names)
    assert len(await events_of(runtime, tenant.project_id)) == (rounds + 1) * len(names)
