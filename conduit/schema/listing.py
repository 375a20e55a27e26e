"""One page of a single-parent list owned by the viewer's organization: one query, tenant-scoped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from conduit.db.tenancy import TenantScope
from conduit.schema.context import Info
from conduit.schema.pagination import Connection, Page, SortKey, connection, page_size, position

T = TypeVar("T")


async def tenant_page(
    info: Info, model: Any, sort: SortKey, to_node: Callable[[Any], T], first: int | None, after: str | None
) -> Connection[T]:
    n, start = page_size(first), position(sort, after)
    ctx = info.context
    async with ctx.reads.session() as session:
        scope = TenantScope(session, ctx.viewer.organization_id)
        stmt = scope.select(model).order_by(*sort.order_by()).limit(n + 1)
        if start is not None:
            stmt = stmt.where(sort.where_after(start))
        rows = await scope.scalars(stmt)
    return connection(Page(rows[:n], len(rows) > n), sort, to_node)
