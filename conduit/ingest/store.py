"""Writing one event: its issue (created or updated), the event row and their outbox events, atomically.

Concurrent first events of one fingerprint and resent events are resolved by the database's unique
constraints through ``INSERT ... ON CONFLICT DO NOTHING``, never by a read-then-write that could race.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, literal, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conduit.db.base import UTCDateTime, utcnow
from conduit.db.models import Event, Issue, IssueStatus
from conduit.events.emit import emit
from conduit.ingest import grouping
from conduit.ingest.auth import KeyOwner
from conduit.ingest.normalize import NormalizedEvent

REGRESSION_ACTOR = {"type": "system", "reason": "regression"}
# The issue row can vanish between the insert and the update (deleted meanwhile); that is retried.
_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class StoreResult:
    event_id: str
    # False when the project already had an event with this event_id: nothing was written.
    stored: bool
    issue_id: int | None = None
    event_pk: int | None = None
    issue_created: bool = False
    regressed: bool = False


def _insert(session: AsyncSession, model: type[Any]) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


async def _insert_issue(
    session: AsyncSession, owner: KeyOwner, event: NormalizedEvent, fingerprint: str
) -> int | None:
    stmt = (
        _insert(session, Issue)
        .values(
            organization_id=owner.organization_id,
            project_id=owner.project_id,
            fingerprint=fingerprint,
            title=event.title,
            culprit=event.culprit,
            level=event.level,
            status=IssueStatus.UNRESOLVED,
            first_seen=event.timestamp,
            last_seen=event.timestamp,
            times_seen=1,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["project_id", "fingerprint"])
        .returning(Issue.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def _update_issue(
    session: AsyncSession, owner: KeyOwner, event: NormalizedEvent, fingerprint: str
) -> tuple[int | None, bool]:
    """Count the event on the existing issue; (issue id, whether a resolved issue regressed)."""
    same = (Issue.project_id == owner.project_id, Issue.fingerprint == fingerprint)
    ts = literal(event.timestamp, UTCDateTime())
    count = (
        update(Issue)
        .where(*same)
        .values(
            times_seen=Issue.times_seen + 1,
            last_seen=case((Issue.last_seen < ts, ts), else_=Issue.last_seen),
            first_seen=case((Issue.first_seen > ts, ts), else_=Issue.first_seen),
        )
        .returning(Issue.id, Issue.status)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(count)).one_or_none()
    if row is None:
        return None, False
    if row.status != IssueStatus.RESOLVED:
        return row.id, False
    # The status is in the WHERE clause, so of two concurrent events only one reopens the issue.
    reopen = (
        update(Issue)
        .where(Issue.id == row.id, Issue.status == IssueStatus.RESOLVED)
        .values(status=IssueStatus.UNRESOLVED, resolved_at=None)
        .returning(Issue.id)
        .execution_options(synchronize_session=False)
    )
    return row.id, (await session.execute(reopen)).scalar_one_or_none() is not None


async def _insert_event(
    session: AsyncSession, owner: KeyOwner, event: NormalizedEvent, issue_id: int
) -> int | None:
    main = event.main_exception
    stmt = (
        _insert(session, Event)
        .values(
            organization_id=owner.organization_id,
            project_id=owner.project_id,
            issue_id=issue_id,
            event_id=event.event_id,
            timestamp=event.timestamp,
            received_at=event.received_at,
            platform=event.platform,
            level=event.level,
            message=event.message,
            exception_type=main.type if main else None,
            exception_value=main.value if main else None,
            release=event.release,
            environment=event.environment,
            tags=event.tags,
            data=event.data,
        )
        .on_conflict_do_nothing(index_elements=["project_id", "event_id"])
        .returning(Event.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def _store_once(session: AsyncSession, owner: KeyOwner, event: NormalizedEvent) -> StoreResult | None:
    fingerprint = grouping.fingerprint(event)
    org, project = owner.organization_id, owner.project_id
    issue_id = await _insert_issue(session, owner, event, fingerprint)
    created = issue_id is not None
    regressed = False
    if issue_id is None:
        issue_id, regressed = await _update_issue(session, owner, event, fingerprint)
        if issue_id is None:
            return None
    event_pk = await _insert_event(session, owner, event, issue_id)
    if event_pk is None:
        # A resend: undo the issue's count too, so a retrying SDK changes nothing.
        await session.rollback()
        return StoreResult(event_id=event.event_id, stored=False)
    if created:
        emit(session, "issue.created", org, {"issue_id": issue_id, "project_id": project})
    if regressed:
        emit(
            session,
            "issue.unresolved",
            org,
            {"issue_id": issue_id, "project_id": project},
            actor=REGRESSION_ACTOR,
        )
    emit(session, "event.created", org, {"event_id": event_pk, "issue_id": issue_id, "project_id": project})
    await session.commit()
    return StoreResult(event.event_id, True, issue_id, event_pk, created, regressed)


async def store_event(
    sessions: async_sessionmaker[AsyncSession], owner: KeyOwner, event: NormalizedEvent
) -> StoreResult:
    for _ in range(_ATTEMPTS):
        async with sessions() as session:
            result = await _store_once(session, owner, event)
            if result is not None:
                return result
            await session.rollback()
    raise RuntimeError(f"issue for event {event.event_id} kept disappearing while it was being stored")
