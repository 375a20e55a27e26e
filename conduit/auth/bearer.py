"""Resolving a request's bearer token to the organization and scopes it stands for.

Two kinds of bearer exist: API tokens (conduit.auth.tokens) and the access tokens of installed apps,
which conduit.apps.tokens issues. Both are looked up here, so authenticating a caller never needs
the apps domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.auth import credentials, tokens
from conduit.db.base import utcnow
from conduit.db.models import ApiToken, AppInstallation, AppInstallationStatus, AppToken
from conduit.ids import encode

# Writing last_used_at on every request would turn reads into writes; a minute's precision is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# After a refresh, the previous pair of an app keeps working this long, so a lost response can be retried.
REFRESH_GRACE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Viewer:
    organization_id: int
    token_id: int | None  # the ApiToken; None when an app's access token is used
    scopes: tuple[str, ...]
    app_installation_id: int | None = None
    app_id: int | None = None
    # A member signed in to the console (conduit.auth.sessions), and the session they use.
    member_id: int | None = None
    session_id: int | None = None

    def can(self, scope: str) -> bool:
        return tokens.grants(self.scopes, scope)

    @property
    def actor(self) -> dict[str, str]:
        """Who is acting, as event payloads name it."""
        if self.app_id is not None:
            return {"type": "app", "id": encode("App", self.app_id)}
        if self.member_id is not None:
            return {"type": "member", "id": encode("Member", self.member_id)}
        return {"type": "api_token", "id": encode("ApiToken", self.token_id or 0)}


@dataclass(frozen=True)
class AppPrincipal:
    """The installation an app's access token acts for."""

    organization_id: int
    installation_id: int
    app_id: int
    token_id: int
    scopes: tuple[str, ...]


async def authenticate_access(session: AsyncSession, value: str) -> AppPrincipal | None:
    if not credentials.looks_like(value, credentials.ACCESS_TOKEN):
        return None
    now = utcnow()
    row = (
        await session.execute(
            select(AppToken).where(
                AppToken.access_hash == credentials.digest(value),
                AppToken.revoked_at.is_(None),
                AppToken.access_expires_at > now,
                # A rotated pair's access token lives on through the grace window, like its refresh.
                or_(AppToken.rotated_at.is_(None), AppToken.rotated_at > now - REFRESH_GRACE),
            )
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    inst = await session.get(AppInstallation, row.installation_id)
    if inst is None or inst.status is not AppInstallationStatus.INSTALLED:
        return None
    return AppPrincipal(row.organization_id, inst.id, inst.app_id, row.id, tuple(row.scopes))


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
        app = await authenticate_access(session, value)
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
