"""Tenancy is enforced where queries are built: every read of tenant data goes through a scope."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import TenantMixin

M = TypeVar("M", bound=TenantMixin)


class TenantScope:
    """A session bound to one organization. Resolvers get this, never a bare session."""

    def __init__(self, session: AsyncSession, organization_id: int) -> None:
        self.session = session
        self.organization_id = organization_id

    def select(self, model: type[M]) -> Select[M]:
        return select(model).where(model.organization_id == self.organization_id)

    async def get(self, model: type[M], id_: int) -> M | None:
        result = await self.session.execute(self.select(model).where(model.id == id_))  # type: ignore[attr-defined]
        return result.scalar_one_or_none()

    async def get_many(self, model: type[M], ids: Sequence[int]) -> dict[int, M]:
        if not ids:
            return {}
        stmt = self.select(model).where(model.id.in_(ids))  # type: ignore[attr-defined]
        rows = (await self.session.execute(stmt)).scalars().all()
        return {row.id: row for row in rows}  # type: ignore[attr-defined]

    async def scalars(self, stmt: Select[Any]) -> Sequence[Any]:
        return (await self.session.execute(stmt)).scalars().all()
