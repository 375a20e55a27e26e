"""Writing events: their issues (created or updated), the event rows and their outbox events, atomically.

Events that arrive together are written together (`EventWriter`, a group commit): one transaction for
the whole batch, with each issue counted once for all of its events in the batch. A request is answered
once the transaction holding its event has committed; when a batch fails it is split and each half
retried, so one bad event fails its own request only and no request is acknowledged that was not stored.

Concurrent first events of one fingerprint and resent events are resolved by the database's unique
constraints through ``INSERT ... ON CONFLICT DO NOTHING``, never by a read-then-write that could race.
An existing issue is read first and counted last, by an update conditional on what was read, so its row
is locked only from that update to the commit. On PostgreSQL one statement counts all of a batch's
issues, locking their rows in id order, so batches of any number of processes updating the same issues
wait for each other but cannot deadlock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, case, insert, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from conduit.db.base import UTCDateTime, utcnow
from conduit.db.models import Event, Issue, IssueStatus, OutboxRow
from conduit.events.emit import emit
from conduit.ingest import grouping
from conduit.ingest.auth import KeyOwner
from conduit.ingest.normalize import NormalizedEvent
from conduit.jobs.batching import Batcher
from conduit.runtime import Resource, Runtime
from conduit.tracing import current_traceparent

log = logging.getLogger("conduit.ingest")
REGRESSION_ACTOR = {"type": "system", "reason": "regression"}
# An issue can vanish or change status between reading and counting it, and another process can store
# a resent event between the check for it and its insert; either way the batch is written again.
_ATTEMPTS = 3
# Events per transaction. Larger batches amortise the commit further but hold SQLite's write lock longer.
MAX_BATCH = 256
# Batches written at a time on PostgreSQL, each by a writer that keeps one connection of its own.
POSTGRES_WRITERS = 2
# Issues whose ids a process remembers (about 150 bytes each).
ISSUE_IDS_SIZE = 10_000
# Seconds a closing writer lets the batch being written finish.
CLOSE_PATIENCE = 10.0
_EVENT_TABLE = cast(Table, Event.__table__)
_ISSUE_TABLE = cast(Table, Issue.__table__)
_OUTBOX_TABLE = cast(Table, OutboxRow.__table__)
# One instance: a type made per statement would be part of each statement's cache key, and slow to make.
_UTC = UTCDateTime()


@dataclass(frozen=True, slots=True)
class StoreResult:
    event_id: str
    # False when the project already had an event with this event_id: nothing was written.
    stored: bool
    issue_id: int | None = None
    event_pk: int | None = None
    issue_created: bool = False
    regressed: bool = False


@dataclass(frozen=True, slots=True)
class Pending:
    """An event ready to be written: who sent it, the event, and the issue it groups into."""

    owner: KeyOwner
    event: NormalizedEvent
    fingerprint: str
    # The request's trace context: the batch is written by a task of its own, outside every request.
    traceparent: str | None = None

    @classmethod
    def of(cls, owner: KeyOwner, event: NormalizedEvent) -> Pending:
        return cls(owner, event, grouping.fingerprint(event), current_traceparent())


@dataclass(slots=True)
class _Group:
    """The new events of one issue in a batch, in arrival order."""

    owner: KeyOwner
    fingerprint: str
    events: list[tuple[int, Pending]] = field(default_factory=list)
    issue_id: int | None = None
    created: bool = False
    # The issue was read resolved: this batch reopens it (if it still is when counted).
    regressed: bool = False

    @property
    def first_seen(self) -> datetime:
        return min(item.event.timestamp for _, item in self.events)

    @property
    def last_seen(self) -> datetime:
        return max(item.event.timestamp for _, item in self.events)


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def _insert_issue(session: AsyncSession, group: _Group) -> int | None:
    first = group.events[0][1].event
    stmt = (
        _insert(session, _ISSUE_TABLE)
        .values(
            organization_id=group.owner.organization_id,
            project_id=group.owner.project_id,
            fingerprint=group.fingerprint,
            title=first.title,
            culprit=first.culprit,
            level=first.level,
            status=IssueStatus.UNRESOLVED,
            first_seen=group.first_seen,
            last_seen=group.last_seen,
            times_seen=len(group.events),
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["project_id", "fingerprint"])
        .returning(_ISSUE_TABLE.c.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def _find_issues(session: AsyncSession, groups: Sequence[_Group]) -> None:
    """The existing issue of each group and whether it is resolved, read without locking it."""
    issue = _ISSUE_TABLE.c
    by_project: dict[int, dict[str, _Group]] = {}
    for group in groups:
        by_project.setdefault(group.owner.project_id, {})[group.fingerprint] = group
    for project_id, named in by_project.items():
        stmt = select(issue.id, issue.fingerprint, issue.status).where(
            issue.project_id == project_id, issue.fingerprint.in_(list(named))
        )
        for row in await session.execute(stmt):
            group = named[row.fingerprint]
            group.issue_id, group.regressed = row.id, row.status == IssueStatus.RESOLVED


class IssueIds:
    """(project, fingerprint) → issue id, for the issues this process wrote to lately.

    A hint, never trusted alone: a batch that takes an issue from here assumes it unresolved, and
    counting on it is conditional on that (and on the id still being that issue's); an issue since
    resolved makes the count match nothing, and one since deleted fails the events' foreign key: either
    way the batch's hints are forgotten and it is written again. Most batches skip reading issues.
    """

    def __init__(self, size: int = ISSUE_IDS_SIZE) -> None:
        self.size = size
        self._ids: OrderedDict[tuple[int, str], int] = OrderedDict()

    def get(self, name: tuple[int, str]) -> int | None:
        issue_id = self._ids.get(name)
        if issue_id is not None:
            self._ids.move_to_end(name)
        return issue_id

    def put(self, name: tuple[int, str], issue_id: int) -> None:
        self._ids[name] = issue_id
        self._ids.move_to_end(name)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)

    def forget(self, batch: Sequence[Pending]) -> None:
        for item in batch:
            self._ids.pop((item.owner.project_id, item.fingerprint), None)


async def _resolve_issues(session: AsyncSession, groups: Sequence[_Group], hints: IssueIds | None) -> bool:
    """Find or create each group's issue; False when one could be neither (deleted meanwhile)."""
    unknown = []
    for group in groups:
        hint = hints.get((group.owner.project_id, group.fingerprint)) if hints is not None else None
        if hint is None:
            unknown.append(group)
        else:
            group.issue_id = hint
    if unknown:
        await _find_issues(session, unknown)
    for group in unknown:
        if group.issue_id is not None:
            continue
        group.issue_id = await _insert_issue(session, group)
        if group.issue_id is not None:
            group.created = True
            continue
        # Created by a concurrent writer between the two statements; its insert has committed.
        await _find_issues(session, [group])
        if group.issue_id is None:
            return False
    return True


def _count_statement(group: _Group) -> Any:
    """The update counting one group's events on its issue, reopening it if this batch regressed it.

    The status read earlier is a condition of the update, so a resolution or a reopening by someone
    else meanwhile makes it match nothing, and the batch is written again rather than emit a
    regression that did not happen or miss one.
    """
    issue = _ISSUE_TABLE.c
    first = literal(group.first_seen, _UTC)
    last = literal(group.last_seen, _UTC)
    values: dict[str, Any] = {
        "times_seen": issue.times_seen + len(group.events),
        "last_seen": case((issue.last_seen < last, last), else_=issue.last_seen),
        "first_seen": case((issue.first_seen > first, first), else_=issue.first_seen),
    }
    if group.regressed:
        status = issue.status == IssueStatus.RESOLVED
        values.update(status=IssueStatus.UNRESOLVED, resolved_at=None)
    else:
        status = issue.status != IssueStatus.RESOLVED
    # Project and fingerprint too: on SQLite a deleted issue's id can be given to the next new issue.
    same = (
        issue.id == group.issue_id,
        issue.project_id == group.owner.project_id,
        issue.fingerprint == group.fingerprint,
    )
    return update(_ISSUE_TABLE).where(*same, status).values(values).returning(issue.id)


# Every existing issue of a batch counted in one statement, whatever the number of issues (one text,
# so one prepared statement). The rows are locked in id order first (`locked`), so batches of several
# processes counting on the same issues wait for each other instead of deadlocking. The lock is the one
# the update takes (NO KEY UPDATE), not FOR UPDATE: that would also wait on the KEY SHARE locks other
# batches' event inserts hold on these issues through the foreign key, and deadlock with them. The
# update's conditions are those of `_count_statement`.
_COUNT_ALL = text(
    f"""
WITH batch AS (
    SELECT * FROM unnest(
        CAST(:ids AS bigint[]), CAST(:projects AS bigint[]), CAST(:fingerprints AS varchar[]),
        CAST(:counts AS integer[]), CAST(:firsts AS timestamptz[]), CAST(:lasts AS timestamptz[]),
        CAST(:regressed AS boolean[])
    ) AS b(id, project_id, fingerprint, n, first_seen, last_seen, regressed)
), locked AS MATERIALIZED (
    SELECT issue.id FROM issue JOIN batch ON issue.id = batch.id ORDER BY issue.id FOR NO KEY UPDATE OF issue
)
UPDATE issue SET
    times_seen = issue.times_seen + batch.n,
    first_seen = LEAST(issue.first_seen, batch.first_seen),
    last_seen = GREATEST(issue.last_seen, batch.last_seen),
    status = CASE WHEN batch.regressed THEN '{IssueStatus.UNRESOLVED.value}' ELSE issue.status END,
    resolved_at = CASE WHEN batch.regressed THEN NULL ELSE issue.resolved_at END
FROM batch
WHERE issue.id = batch.id AND issue.id IN (SELECT id FROM locked)
    AND issue.project_id = batch.project_id AND issue.fingerprint = batch.fingerprint
    AND (issue.status = '{IssueStatus.RESOLVED.value}') = batch.regressed
RETURNING issue.id
"""
)


async def _count_on_issues(session: AsyncSession, groups: Sequence[_Group]) -> bool:
    """Count each group's events on its existing issue; False when one of them matched nothing.

    The last statement before the commit: the issues' rows are locked from here to the commit, and a
    burst of one error makes every batch wait on that row. On PostgreSQL one statement counts them
    all; SQLite, a single writer over no network, takes one update per issue in (project, fingerprint)
    order.
    """
    counted = [group for group in groups if not group.created]
    if not counted:
        return True
    if session.get_bind().dialect.name != "postgresql":
        for group in counted:
            if (await session.execute(_count_statement(group))).scalar_one_or_none() is None:
                return False
        return True
    params = {
        "ids": [group.issue_id for group in counted],
        "projects": [group.owner.project_id for group in counted],
        "fingerprints": [group.fingerprint for group in counted],
        "counts": [len(group.events) for group in counted],
        "firsts": [group.first_seen for group in counted],
        "lasts": [group.last_seen for group in counted],
        "regressed": [group.regressed for group in counted],
    }
    updated = (await session.execute(_COUNT_ALL, params)).scalars().all()
    return len(updated) == len(counted)


async def _known_event_ids(session: AsyncSession, batch: Sequence[Pending]) -> set[tuple[int, str]]:
    by_project: dict[int, set[str]] = {}
    for item in batch:
        by_project.setdefault(item.owner.project_id, set()).add(item.event.event_id)
    known: set[tuple[int, str]] = set()
    for project_id, event_ids in by_project.items():
        stmt = select(Event.event_id).where(Event.project_id == project_id, Event.event_id.in_(event_ids))
        known.update((project_id, event_id) for event_id in (await session.scalars(stmt)))
    return known


def _event_row(owner: KeyOwner, event: NormalizedEvent, issue_id: int) -> dict[str, Any]:
    main = event.main_exception
    return {
        "organization_id": owner.organization_id,
        "project_id": owner.project_id,
        "issue_id": issue_id,
        "event_id": event.event_id,
        "timestamp": event.timestamp,
        "received_at": event.received_at,
        "platform": event.platform,
        "level": event.level,
        "message": event.message,
        "exception_type": main.type if main else None,
        "exception_value": main.value if main else None,
        "release": event.release,
        "environment": event.environment,
        "tags": event.tags,
        "data": event.data,
    }


async def _insert_events(
    session: AsyncSession, groups: Sequence[_Group]
) -> dict[tuple[int, str], int] | None:
    """Insert every group's events in one statement; their primary keys by (project, event_id), or None
    when one of them was stored meanwhile by another process (the batch is then written again)."""
    rows = [
        _event_row(group.owner, item.event, group.issue_id)
        for group in groups
        if group.issue_id is not None
        for _, item in group.events
    ]
    stmt = (
        _insert(session, _EVENT_TABLE)
        .on_conflict_do_nothing(index_elements=["project_id", "event_id"])
        .returning(_EVENT_TABLE.c.id, _EVENT_TABLE.c.project_id, _EVENT_TABLE.c.event_id)
    )
    result = await session.execute(stmt, rows)
    pks = {(row.project_id, row.event_id): row.id for row in result}
    return pks if len(pks) == len(rows) else None


def _emit_all(session: AsyncSession, groups: Sequence[_Group], pks: dict[tuple[int, str], int]) -> None:
    """The batch's outbox events: each group's issue events, then one per event, as storing one by one."""
    for group in groups:
        org, project, issue_id = group.owner.organization_id, group.owner.project_id, group.issue_id
        subject = {"issue_id": issue_id, "project_id": project}
        first = group.events[0][1]
        if group.created:
            emit(session, "issue.created", org, subject).traceparent = first.traceparent
        if group.regressed:
            row = emit(session, "issue.unresolved", org, subject, actor=REGRESSION_ACTOR)
            row.traceparent = first.traceparent
        for _, item in group.events:
            data = {"event_id": pks[(project, item.event.event_id)], **subject}
            emit(session, "event.created", org, data).traceparent = item.traceparent


async def _insert_outbox(session: AsyncSession) -> None:
    """Write the rows `emit` added in one statement, instead of one INSERT per row as the ORM does on
    SQLite (it wants each row's id back). The rows stay as `emit` made them, and the session still
    wakes the dispatchers after commit."""
    rows = [row for row in session.new if isinstance(row, OutboxRow)]
    if not rows:
        return
    columns = [column.key for column in _OUTBOX_TABLE.columns]
    values = [{key: row.__dict__[key] for key in columns if key in row.__dict__} for row in rows]
    for row in rows:
        session.expunge(row)
    await session.execute(insert(_OUTBOX_TABLE), values)


async def _write_once(
    session: AsyncSession, batch: Sequence[Pending], check_resends: bool, hints: IssueIds | None
) -> list[StoreResult] | None:
    """One attempt at the batch. Without `check_resends`, events are assumed new (the common case, one
    query fewer); when one is not, None asks for another attempt that checks."""
    results: list[StoreResult | None] = [None] * len(batch)
    known = await _known_event_ids(session, batch) if check_resends else set()
    groups: dict[tuple[int, str], _Group] = {}
    for index, item in enumerate(batch):
        ident = (item.owner.project_id, item.event.event_id)
        if ident in known:
            # A resend, or the same event twice in this batch: the first one counts, the rest change nothing.
            results[index] = StoreResult(event_id=item.event.event_id, stored=False)
            continue
        known.add(ident)
        group = groups.setdefault(
            (item.owner.project_id, item.fingerprint), _Group(item.owner, item.fingerprint)
        )
        group.events.append((index, item))
    ordered = [groups[name] for name in sorted(groups)]
    if not await _resolve_issues(session, ordered, None if check_resends else hints):
        return None
    pks = await _insert_events(session, ordered) if ordered else {}
    if pks is None:
        return None
    _emit_all(session, ordered, pks)
    await _insert_outbox(session)
    if not await _count_on_issues(session, ordered):
        return None
    await session.commit()
    for group in ordered:
        if hints is not None and group.issue_id is not None:
            hints.put((group.owner.project_id, group.fingerprint), group.issue_id)
        for position, (index, item) in enumerate(group.events):
            first = position == 0
            results[index] = StoreResult(
                item.event.event_id,
                True,
                group.issue_id,
                pks[(group.owner.project_id, item.event.event_id)],
                group.created and first,
                group.regressed and first,
            )
    return [result for result in results if result is not None]


# Where a batch gets its session: the runtime's sessionmaker, or a writer's `_Link`.
SessionSource = Callable[[], AbstractAsyncContextManager[AsyncSession]]


async def write_batch(
    sessions: SessionSource, batch: Sequence[Pending], hints: IssueIds | None = None
) -> list[StoreResult]:
    """Store `batch` in one transaction; raises (and stores none of it) when that fails.

    A first attempt trusts that events are new and `hints`; one after it checks both.
    """
    for attempt in range(_ATTEMPTS):
        async with sessions() as session:
            results = await _write_once(session, batch, attempt > 0, hints)
            if results is not None:
                return results
            await session.rollback()
        if hints is not None and attempt == 0:
            hints.forget(batch)
    raise RuntimeError(f"a batch of {len(batch)} events kept changing underneath while it was being stored")


async def write_each(
    sessions: SessionSource, batch: Sequence[Pending], hints: IssueIds | None = None
) -> list[StoreResult | Exception]:
    """Store `batch`, splitting it on failure: each event gets its result or the error that kept it out."""
    try:
        return list(await write_batch(sessions, batch, hints))
    except Exception as exc:
        if hints is not None:
            hints.forget(batch)
        if len(batch) == 1:
            return [exc]
        # The type only: the message of a database error quotes the statement's parameters, event data.
        log.warning("a batch of %d events failed (%s); writing it in halves", len(batch), type(exc).__name__)
    middle = len(batch) // 2
    return [
        *await write_each(sessions, batch[:middle], hints),
        *await write_each(sessions, batch[middle:], hints),
    ]


class _Link:
    """A writer's own connection, kept between batches: no pool checkout, liveness ping or reset
    per batch, which on PostgreSQL are round trips of their own. Replaced once it breaks."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            connection = self._connection = await self._engine.connect()
        # The session begins and commits its own transaction on the connection, and leaves it open.
        async with AsyncSession(bind=connection, expire_on_commit=False) as session:
            yield session

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()


class EventWriter:
    """The group commit of one process: events submitted while a batch is being written form the next.

    No waiting for company: under load, the time one transaction takes is what gathers the next batch,
    and an event that arrives alone is written at once. `writers` batches may be written at a time, each
    in its own transaction on its own connection: one on SQLite, which has a single writer anyway; a few
    on PostgreSQL, so one batch's round trips overlap another's commit. An event goes to the writer with
    the fewest events waiting.
    """

    def __init__(self, engine: AsyncEngine, max_batch: int = MAX_BATCH, writers: int = 1) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._writers = max(1, writers)
        self._hints = IssueIds()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._batchers: list[Batcher[Pending, StoreResult | Exception]] = []
        self._links: list[_Link] = []
        self._waiting: list[int] = []

    def _batcher(self, link: _Link) -> Batcher[Pending, StoreResult | Exception]:
        async def flush(batch: Sequence[Pending]) -> list[StoreResult | Exception]:
            return await write_each(link.session, batch, self._hints)

        return Batcher(flush, max_batch=self._max_batch)

    def _ready(self) -> None:
        # A batch belongs to the event loop that writes it; a runtime used from another loop gets its own.
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._links = [_Link(self._engine) for _ in range(self._writers)]
            self._batchers = [self._batcher(link) for link in self._links]
            self._waiting = [0] * self._writers

    async def store(self, item: Pending) -> StoreResult:
        """Returns once the event is committed (or known to be a resend); raises if it could not be."""
        self._ready()
        index = min(range(self._writers), key=self._waiting.__getitem__)
        batchers, waiting = self._batchers, self._waiting
        waiting[index] += 1
        try:
            result = await batchers[index].submit(item)
        finally:
            waiting[index] -= 1
        if isinstance(result, Exception):
            raise result
        return result

    async def close(self) -> None:
        batchers, links, loop = self._batchers, self._links, self._loop
        self._batchers, self._links, self._waiting, self._loop = [], [], [], None
        with contextlib.suppress(RuntimeError):
            if asyncio.get_running_loop() is not loop:
                return
        for batcher in batchers:
            await batcher.close(CLOSE_PATIENCE)
        for link in links:
            await link.close()


async def _close_writer(writer: EventWriter) -> None:
    await writer.close()


def _make_writer(runtime: Runtime) -> EventWriter:
    writers = 1 if runtime.engine.dialect.name == "sqlite" else POSTGRES_WRITERS
    return EventWriter(runtime.engine, writers=writers)


EVENT_WRITER: Resource[EventWriter] = Resource("ingest event writer", make=_make_writer, close=_close_writer)


async def store(runtime: Runtime, owner: KeyOwner, event: NormalizedEvent) -> StoreResult:
    """Store one event through this runtime's group commit."""
    return await runtime.get(EVENT_WRITER).store(Pending.of(owner, event))
