"""Window counts without reading the events table: an issue's `times_seen`, folded into minute buckets.

Ingest keeps `Issue.times_seen` exact (one atomic increment per stored event). The evaluation job, run
one at a time per issue, compares it with `RuleIssueCount.observed` and adds the difference to the
bucket of the current minute, in the same transaction that records the new `observed`. So:

- a job killed before it commits folded nothing, and its re-run folds the same difference once;
- any number of workers agree, since the state is rows, not process memory, and a restart loses none;
- a window is the sum of at most `window / 60` small rows of one issue, however many events it held.

Events are counted in the minute the evaluation saw them, which trails their arrival by the queue's
latency. An issue evaluated for the first time counts its whole history now only if it is new (first
seen within `NEW_ISSUE_GRACE`); an older one starts from its current count, so a rule switched on for
a project does not mistake a year of history for a burst.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.models import Issue, RuleCountBucket, RuleIssueCount
from conduit.rules.definition import MAX_WINDOW

BUCKET = timedelta(minutes=1)
NEW_ISSUE_GRACE = timedelta(hours=1)
STALE_QUEUE = timedelta(minutes=10)
# Buckets older than the longest window are never read again.
RETENTION = timedelta(seconds=MAX_WINDOW) + BUCKET


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def unfolded(issue: Issue, state: RuleIssueCount | None, now: datetime) -> int:
    """How many of the issue's events are not in its buckets yet."""
    if state is None or state.observed is None:
        return issue.times_seen if issue.created_at >= now - NEW_ISSUE_GRACE else 0
    return max(issue.times_seen - state.observed, 0)


@dataclass(frozen=True, slots=True)
class Counts:
    """An issue's counts as of one evaluation; `pending` events are counted in the current minute."""

    issue_id: int
    pending: int
    regressed_at: datetime | None
    # The issue's count row as read (None: it has none yet), for `observe` to update without a re-read.
    state: RuleIssueCount | None = field(default=None, repr=False, compare=False)
    # Window sums already read in this evaluation: rules sharing a window share the query.
    _sums: dict[datetime, int] = field(default_factory=dict, repr=False, compare=False)

    async def in_window(self, session: AsyncSession, seconds: int, now: datetime) -> int:
        start = minute_of(now - timedelta(seconds=seconds))
        if start not in self._sums:
            stored = await session.scalar(
                select(func.coalesce(func.sum(RuleCountBucket.count), 0)).where(
                    RuleCountBucket.issue_id == self.issue_id, RuleCountBucket.minute >= start
                )
            )
            self._sums[start] = int(stored or 0)
        return self._sums[start] + self.pending


async def state_of(session: AsyncSession, issue_id: int) -> RuleIssueCount | None:
    return (
        await session.execute(
            select(RuleIssueCount)
            .where(RuleIssueCount.issue_id == issue_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def peek(
    session: AsyncSession, issue: Issue, now: datetime, regressed_at: datetime | None = None
) -> Counts:
    """The counts an evaluation now sees, writing nothing: the preview's view, and the evaluation's
    until it folds them (`observe`) at its end."""
    state = await state_of(session, issue.id)
    known = state.regressed_at if state else None
    if regressed_at is not None and (known is None or regressed_at > known):
        known = regressed_at
    return Counts(issue.id, unfolded(issue, state, now), known, state)


def _insert(session: AsyncSession, model: type) -> postgresql.Insert | sqlite.Insert:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


async def observe(
    session: AsyncSession,
    issue: Issue,
    now: datetime,
    regressed_at: datetime | None = None,
    state: RuleIssueCount | None = None,
) -> None:
    """Fold the issue's new events into the current minute (in the caller's transaction).

    The evaluation calls it last, just before it commits: the issue's row here is locked only for that
    moment, so events published meanwhile are not kept waiting on it (`claim`). `state` is the row as
    `peek` read it in this transaction: only evaluations, one at a time per issue, write what is
    updated here, so it is current and need not be read again."""
    if state is None:
        await session.execute(
            _insert(session, RuleIssueCount)
            .values(organization_id=issue.organization_id, issue_id=issue.id, queued=False, updated_at=now)
            .on_conflict_do_nothing(index_elements=["issue_id"])
        )
        state = await state_of(session, issue.id)
        assert state is not None  # made just above, and only deleted with its issue
    delta = unfolded(issue, state, now)
    state.observed, state.updated_at = max(state.observed or 0, issue.times_seen), now
    if regressed_at is not None and (state.regressed_at is None or regressed_at > state.regressed_at):
        state.regressed_at = regressed_at
    if delta:
        stmt = _insert(session, RuleCountBucket).values(issue_id=issue.id, minute=minute_of(now), count=delta)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["issue_id", "minute"],
                set_={"count": RuleCountBucket.count + stmt.excluded.count},
            )
        )
    await session.flush()


@dataclass(frozen=True, slots=True)
class Mark:
    """What an issue's events read before queueing an evaluation of it."""

    # An evaluation is queued and has not yet cleared its mark: it will count the events.
    waiting: bool
    # When the issue was last evaluated (None: never).
    evaluated_at: datetime | None


NO_MARK = Mark(False, None)


async def marks(session: AsyncSession, issue_ids: Collection[int], now: datetime) -> dict[int, Mark]:
    """The marks of many issues in one plain read, which waits on no lock; an issue never evaluated
    nor queued has none."""
    rows = await session.execute(
        select(RuleIssueCount.issue_id, RuleIssueCount.queued, RuleIssueCount.updated_at).where(
            RuleIssueCount.issue_id.in_(sorted(issue_ids))
        )
    )
    found: dict[int, Mark] = {}
    for issue_id, queued, updated_at in rows:
        waiting = bool(queued) and updated_at >= now - STALE_QUEUE
        # Unqueued, the row was last written when an evaluation began (`unqueue`) or ended (`observe`).
        found[issue_id] = Mark(waiting, None if queued else updated_at)
    return found


async def claim(session: AsyncSession, issues: Mapping[int, int], now: datetime) -> set[int]:
    """Mark an evaluation of each issue (id → organization id) as queued; the ids whose mark was free.

    One conditional UPDATE, so of many jobs publishing the same issue's events at once exactly one wins
    and queues the evaluation. An evaluation clears the mark first thing (`unqueue`, committed on its
    own), before it reads the issue: an event committed after that read finds the mark cleared and
    queues the next one, and one that still saw the mark was committed before the read, so the
    evaluation counts it. A mark older than STALE_QUEUE (its job died for good) no longer holds events
    back.
    """
    if not issues:
        return set()
    ordered = sorted(issues)  # one lock order for every claimer
    await session.execute(
        _insert(session, RuleIssueCount)
        .values(
            [
                {"organization_id": issues[i], "issue_id": i, "queued": False, "updated_at": now}
                for i in ordered
            ]
        )
        .on_conflict_do_nothing(index_elements=["issue_id"])
    )
    result = await session.execute(
        update(RuleIssueCount)
        .where(
            RuleIssueCount.issue_id.in_(ordered),
            or_(RuleIssueCount.queued.is_(False), RuleIssueCount.updated_at < now - STALE_QUEUE),
        )
        .values(queued=True, updated_at=now)
        .returning(RuleIssueCount.issue_id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


async def unqueue(session: AsyncSession, issue_id: int, now: datetime) -> None:
    """Clear the mark as an evaluation begins; `updated_at` then says when (see `mark`)."""
    await session.execute(
        update(RuleIssueCount)
        .where(RuleIssueCount.issue_id == issue_id, RuleIssueCount.queued.is_(True))
        .values(queued=False, updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def prune(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(delete(RuleCountBucket).where(RuleCountBucket.minute < now - RETENTION))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
