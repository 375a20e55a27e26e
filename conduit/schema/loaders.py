"""Per-request DataLoaders. Every batch is one tenant-scoped query, whatever the page size, read through
the request's `Reads` (conduit.schema.reads)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from conduit.db.base import TenantMixin
from conduit.db.models import (
    Event,
    ExternalIssue,
    Installation,
    Issue,
    IssueLink,
    IssueStatus,
    Member,
    Organization,
    Project,
)
from conduit.db.models.integrations import TrackerWebhook
from conduit.db.tenancy import TenantScope
from conduit.schema.pagination import Page, Position, SortKey
from conduit.schema.reads import Reads
from conduit.sync import revalidate

M = TypeVar("M", bound=TenantMixin)


@dataclass(frozen=True, slots=True)
class IssueFilter:
    status: IssueStatus | None
    query: str | None
    sort: str  # one of ISSUE_SORTS
    first: int
    after: Position | None  # decoded by the resolver, so a bad cursor fails only its own field


ISSUE_SORTS: dict[str, SortKey] = {
    "last_seen": SortKey(Issue.last_seen, Issue.id, descending=True, is_datetime=True),
    "first_seen": SortKey(Issue.first_seen, Issue.id, descending=True, is_datetime=True),
    "count": SortKey(Issue.times_seen, Issue.id, descending=True),
}
EVENT_SORT = SortKey(Event.id, Event.id, descending=True)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Loaders:
    def __init__(self, reads: Reads, organization_id: int) -> None:
        self._reads = reads
        self.organization_id = organization_id
        self.organization = DataLoader(self._load_organizations)
        self.project = self._by_id(Project)
        self.issue = self._by_id(Issue)
        self.event = self._by_id(Event)
        self.member = self._by_id(Member)
        self.latest_event = DataLoader(self._load_latest_events)
        self.installation = self._by_id(Installation)
        self.external_issue = self._by_id(ExternalIssue)
        self.installation_webhooks: DataLoader[int, list[TrackerWebhook]] = DataLoader(
            self._load_installation_webhooks
        )
        self.issue_links: DataLoader[int, list[tuple[IssueLink, ExternalIssue]]] = DataLoader(
            self._load_issue_links
        )
        self.issue_page: DataLoader[tuple[int, IssueFilter], Page[Row[Any]]] = DataLoader(
            self._load_issue_pages
        )
        self.event_page: DataLoader[tuple[int, int, Position | None], Page[Row[Any]]] = DataLoader(
            self._load_event_pages
        )

    def _by_id(self, model: type[M]) -> DataLoader[int, M | None]:
        async def load(ids: list[int]) -> list[M | None]:
            async with self._reads.session() as session:
                found = await TenantScope(session, self.organization_id).get_many(model, ids)
            return [found.get(i) for i in ids]

        return DataLoader(load)

    async def _load_organizations(self, ids: list[int]) -> list[Organization | None]:
        # A token sees its own organization and nothing else.
        if self.organization_id not in ids:
            return [None] * len(ids)
        async with self._reads.session() as session:
            org = await session.get(Organization, self.organization_id)
        return [org if i == self.organization_id else None for i in ids]

    async def _load_latest_events(self, issue_ids: list[int]) -> list[Row[Any] | None]:
        events = Event.__table__.c
        async with self._reads.session() as session:
            newest = (
                select(func.max(events.id))
                .where(events.organization_id == self.organization_id, events.issue_id.in_(issue_ids))
                .group_by(events.issue_id)
            )
            stmt = select(Event.__table__).where(
                events.organization_id == self.organization_id, events.id.in_(newest)
            )
            rows = (await session.execute(stmt)).all()
        by_issue = {e.issue_id: e for e in rows}
        return [by_issue.get(i) for i in issue_ids]

    async def _load_installation_webhooks(self, installation_ids: list[int]) -> list[list[TrackerWebhook]]:
        async with self._reads.session() as session:
            scope = TenantScope(session, self.organization_id)
            rows = await scope.scalars(
                scope.select(TrackerWebhook)
                .where(TrackerWebhook.installation_id.in_(installation_ids))
                .order_by(TrackerWebhook.id)
            )
        grouped: dict[int, list[TrackerWebhook]] = defaultdict(list)
        for w in rows:
            grouped[w.installation_id].append(w)
        return [grouped.get(i, []) for i in installation_ids]

    async def _load_issue_links(self, issue_ids: list[int]) -> list[list[tuple[IssueLink, ExternalIssue]]]:
        """Links of a whole page of issues in one query, from the cache: no tracker call here."""
        async with self._reads.session() as session:
            stmt = (
                select(IssueLink, ExternalIssue)
                .join(ExternalIssue, ExternalIssue.id == IssueLink.external_issue_id)
                .where(
                    IssueLink.organization_id == self.organization_id,
                    ExternalIssue.organization_id == self.organization_id,
                    IssueLink.issue_id.in_(issue_ids),
                )
                .order_by(IssueLink.id)
            )
            rows = (await session.execute(stmt)).tuples().all()
        grouped: dict[int, list[tuple[IssueLink, ExternalIssue]]] = defaultdict(list)
        for link, external in rows:
            grouped[link.issue_id].append((link, external))
        if rows:
            await revalidate.request(self._reads.sessions, self.organization_id, [e for _, e in rows])
        return [grouped.get(i, []) for i in issue_ids]

    async def _load_issue_pages(self, keys: list[tuple[int, IssueFilter]]) -> list[Page[Row[Any]]]:
        groups: dict[IssueFilter, list[int]] = defaultdict(list)
        for project_id, flt in keys:
            groups[flt].append(project_id)
        results: dict[tuple[int, IssueFilter], Page[Row[Any]]] = {}
        async with self._reads.session() as session:
            for flt, project_ids in groups.items():
                sort = ISSUE_SORTS[flt.sort]
                conditions: list[Any] = []
                if flt.status is not None:
                    conditions.append(Issue.status == flt.status)
                if flt.query:
                    conditions.append(Issue.title.ilike(f"%{_escape_like(flt.query)}%", escape="\\"))
                if flt.after is not None:
                    conditions.append(sort.where_after(flt.after))
                pages = await self._windowed(
                    session,
                    self.organization_id,
                    Issue,
                    Issue.project_id,
                    project_ids,
                    conditions,
                    sort,
                    flt.first,
                )
                for pid in project_ids:
                    results[(pid, flt)] = pages.get(pid, Page([], False))
        return [results[k] for k in keys]

    async def _load_event_pages(self, keys: list[tuple[int, int, Position | None]]) -> list[Page[Row[Any]]]:
        groups: dict[tuple[int, Position | None], list[int]] = defaultdict(list)
        for issue_id, first, after in keys:
            groups[(first, after)].append(issue_id)
        results: dict[tuple[int, int, Position | None], Page[Row[Any]]] = {}
        async with self._reads.session() as session:
            for (first, after), issue_ids in groups.items():
                conditions: list[Any] = []
                if after is not None:
                    conditions.append(EVENT_SORT.where_after(after))
                pages = await self._windowed(
                    session,
                    self.organization_id,
                    Event,
                    Event.issue_id,
                    issue_ids,
                    conditions,
                    EVENT_SORT,
                    first,
                )
                for iid in issue_ids:
                    results[(iid, first, after)] = pages.get(iid, Page([], False))
        return [results[k] for k in keys]

    @staticmethod
    async def _windowed(
        session: AsyncSession,
        organization_id: int,
        model: type[TenantMixin],
        parent: Any,
        parents: Sequence[Hashable],
        conditions: Sequence[Any],
        sort: SortKey,
        first: int,
    ) -> dict[Hashable, Page[Row[Any]]]:
        """The first `first` rows of each parent in one query, with ROW_NUMBER() over the parent.

        Rows of the table's columns, not model instances: the GraphQL types only read columns, and
        building an instance (identity map, state tracking) costs more than the row itself.

        One parent (a page of one project, the common case) is a plain ORDER BY ... LIMIT, which an
        index in the sort's order answers by reading `first` rows: the window numbers every row of
        the parent first, which grows with the project."""
        table = model.__table__  # type: ignore[attr-defined]
        tenant = table.c.organization_id == organization_id
        if len(parents) == 1:
            stmt = (
                select(table)
                .where(tenant, parent == parents[0], *conditions)
                .order_by(*sort.order_by())
                .limit(first + 1)
            )
            found = list((await session.execute(stmt)).all())
            return {parents[0]: Page(found[:first], len(found) > first)} if found else {}
        rank = func.row_number().over(partition_by=parent, order_by=sort.order_by()).label("rank")
        inner = select(table, rank).where(tenant, parent.in_(parents), *conditions).subquery()
        stmt = (
            select(*(inner.c[c.key] for c in table.c))
            .where(inner.c.rank <= first + 1)
            .order_by(inner.c[parent.key], inner.c.rank)
        )
        rows = (await session.execute(stmt)).all()
        grouped: dict[Hashable, list[Row[Any]]] = defaultdict(list)
        for r in rows:
            grouped[getattr(r, parent.key)].append(r)
        return {k: Page(v[:first], len(v) > first) for k, v in grouped.items()}
