"""Reconcile and revalidate: read linked tickets back from the tracker, in batches, and apply drift.

Webhooks get lost and reordered; this is what makes the two sides converge anyway. Reading is
batched per installation as the connector allows: one listing of what changed in each scope since
the oldest cached copy (`changed_since`, revalidation), or `get_tickets` — a search per batch of keys,
or conditional reads that cost no rate limit when nothing changed (reconcile, which must also notice
deleted tickets).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select

from conduit.connectors import SyncConfig, TicketRecord, get_connectors
from conduit.db.models import ExternalIssue, Installation, InstallationStatus, IssueLink
from conduit.runtime import Runtime
from conduit.sync import cache
from conduit.sync.apply import Outcome, apply_record
from conduit.sync.links import scope_of
from conduit.sync.webhooks import move_stale, refresh_expiring

RECONCILE_KIND = "tracker.reconcile"
REVALIDATE_KIND = "tracker.revalidate"
# A listing starts this much before the oldest cached copy: clocks and second-granular times.
LISTING_OVERLAP = timedelta(seconds=5)


async def _linked(
    runtime: Runtime, installation_id: int, ids: Sequence[int] | None, stale_before: datetime | None = None
) -> list[ExternalIssue]:
    async with runtime.sessions() as session:
        stmt = (
            select(ExternalIssue)
            .where(ExternalIssue.installation_id == installation_id, ExternalIssue.deleted.is_(False))
            .where(ExternalIssue.id.in_(select(IssueLink.external_issue_id)))
            .order_by(ExternalIssue.id)
        )
        if ids is not None:
            stmt = stmt.where(ExternalIssue.id.in_(list(ids)))
        if stale_before is not None:
            stmt = stmt.where(
                ExternalIssue.last_synced_at.is_(None) | (ExternalIssue.last_synced_at < stale_before)
            )
        return list((await session.execute(stmt)).scalars())


async def read(
    runtime: Runtime, installation: Installation, externals: list[ExternalIssue], listing: bool
) -> dict[str, TicketRecord]:
    connector = get_connectors(runtime).bind(installation)
    known = {e.key: cache.known_record(e) for e in externals}
    if not listing:
        return _by_known_key(await connector.get_tickets(list(known), known), externals)
    found: dict[str, TicketRecord] = {}
    unlisted: list[str] = []
    by_scope: dict[str, list[ExternalIssue]] = defaultdict(list)
    for e in externals:
        by_scope[scope_of(installation.provider, e.key)].append(e)
    for scope, group in by_scope.items():
        since = min((e.last_synced_at or e.created_at) for e in group) - LISTING_OVERLAP
        changed = await connector.changed_since(scope, since)
        if changed is None:
            unlisted += [e.key for e in group]
            continue
        keys = {e.key for e in group}
        found |= {k: r for k, r in _by_known_key({r.key: r for r in changed}, group).items() if k in keys}
        # Listed as unchanged: the cached copy stands, confirmed now.
        found |= {k: known[k].confirmed() for k in keys if k not in found}
    if unlisted:
        found |= _by_known_key(await connector.get_tickets(unlisted, known), externals)
    return found


def _by_known_key(
    records: dict[str, TicketRecord], externals: list[ExternalIssue]
) -> dict[str, TicketRecord]:
    """The records under the keys Conduit knows the tickets by: a ticket that moved comes back under
    its new key, and is matched by the tracker's stable id."""
    keys = {e.key for e in externals}
    by_id = {e.tracker_id: e.key for e in externals if e.tracker_id}
    out: dict[str, TicketRecord] = {}
    for key, record in records.items():
        if key in keys:
            out.setdefault(key, record)
        elif record.tracker_id and record.tracker_id in by_id:
            out[by_id[record.tracker_id]] = record
    return out


async def sync_installation(
    runtime: Runtime,
    installation_id: int,
    ids: Sequence[int] | None = None,
    *,
    listing: bool = False,
    stale_before: datetime | None = None,
) -> dict[Outcome, int]:
    """Read the linked tickets (all, or `ids`; only those last read before `stale_before`, when given:
    another job may have read them meanwhile) and apply what changed; returns counts per outcome."""
    counts: dict[Outcome, int] = defaultdict(int)
    async with runtime.sessions() as session:
        installation = await session.get(Installation, installation_id)
    if installation is None or installation.status is not InstallationStatus.ACTIVE:
        return counts
    externals = await _linked(runtime, installation_id, ids, stale_before)
    if not externals:
        return counts
    records = await read(runtime, installation, externals, listing)
    config = SyncConfig.from_json(installation.config)
    async with runtime.sessions() as session:
        installation = await session.get(Installation, installation_id)
        assert installation is not None
        for e in externals:
            record = records.get(e.key)
            row = await session.get(ExternalIssue, e.id)
            if record is None or row is None:
                continue
            counts[await apply_record(session, installation, config, row, record)] += 1
        await session.commit()
    return counts


async def active_installations(runtime: Runtime) -> list[int]:
    async with runtime.sessions() as session:
        stmt = select(Installation.id).where(Installation.status == InstallationStatus.ACTIVE)
        return list((await session.execute(stmt)).scalars())


async def reconcile_installation(runtime: Runtime, installation_id: int) -> dict[Outcome, int]:
    await move_stale(runtime, installation_id)
    await refresh_expiring(runtime, installation_id)
    return await sync_installation(runtime, installation_id)
