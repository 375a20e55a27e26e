"""Resolving a request's bearer token to the organization and scopes it stands for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.auth import tokens
from conduit.db.base import utcnow
from conduit.db.models import ApiToken

# Writing last_used_at on every request would turn reads into writes; a minute's precision is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Viewer:
    organization_id: int
    token_id: int
    scopes: tuple[str, ...]

    def can(self, scope: str) -> bool:
        return tokens.grants(self.scopes, scope)


def bearer_value(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def authenticate(session: AsyncSession, value: str) -> Viewer | None:
    if not value.startswith(tokens.TOKEN_PREFIX) or len(value) > 200:
        return None
    stmt = select(ApiToken).where(
        ApiToken.token_hash == tokens.hash_token(value), ApiToken.revoked_at.is_(None)
    )
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        await session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        await session.commit()
    return Viewer(row.organization_id, row.id, tuple(row.scopes))
