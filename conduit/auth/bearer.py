"""Resolving a request's bearer token to the organization and scopes it stands for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.apps import credentials
from conduit.auth import app_tokens, tokens
from conduit.db.base import utcnow
from conduit.db.models import ApiToken
from conduit.ids import encode

# Writing last_used_at on every request would turn reads into writes; a minute's precision is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Viewer:
    organization_id: int
    token_id: int | None  # the ApiToken; None when an app's access token is used
    scopes: tuple[str, ...]
    app_installation_id: int | None = None
    app_id: int | None = None

    def can(self, scope: str) -> bool:
        return tokens.grants(self.scopes, scope)

    @property
    def actor(self) -> dict[str, str]:
        """Who is acting, as event payloads name it."""
        if self.app_id is not None:
            return {"type": "app", "id": encode("App", self.app_id)}
        return {"type": "api_token", "id": encode("ApiToken", self.token_id or 0)}


def bearer_value(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def authenticate(session: AsyncSession, value: str) -> Viewer | None:
    """An API token, or the access token of an installed app (limited to that installation)."""
    if value.startswith(credentials.ACCESS_TOKEN):
        app = await app_tokens.authenticate_access(session, value)
        if app is None:
            return None
        return Viewer(app.organization_id, None, app.scopes, app.installation_id, app.app_id)
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
