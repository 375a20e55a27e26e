"""Issuing the tokens apps call the API with: grant code exchange, refresh with a grace window.

Looking a presented access token up is caller authentication (conduit.auth.bearer).

A grant code is exchanged once. Every pair descends from the code it was first exchanged for
(`AppToken.grant_id`, carried over by each refresh), and presenting a used code again revokes that
whole line (RFC 6749 §4.1.2): a second exchange means the code leaked or the client is confused, and
either way the tokens it produced can no longer be trusted.

A refresh rotates the pair. The previous refresh token still works for `REFRESH_GRACE` after that
and returns the very same new pair, so a client whose refresh response was lost retries and carries
on, instead of being forced to reinstall (and losing its configuration with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.apps.analytics import record_change
from conduit.auth import credentials
from conduit.auth.bearer import REFRESH_GRACE
from conduit.db.base import utcnow
from conduit.db.models import (
    App,
    AppGrant,
    AppInstallation,
    AppInstallationStatus,
    AppKind,
    AppToken,
    InstallChange,
)
from conduit.errors import ConduitError
from conduit.runtime import Runtime

ACCESS_LIFETIME = timedelta(hours=8)


class OAuthError(ConduitError):
    """An RFC 6749 §5.2 error: `code` is the `error` field, the message its description.

    Answered in the RFC's own shape by the token endpoint, so it maps to no GraphQL error type.
    """

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_at: datetime
    scopes: tuple[str, ...]

    def response(self) -> dict[str, object]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": max(0, int((self.expires_at - utcnow()).total_seconds())),
            "refresh_token": self.refresh_token,
            "scope": " ".join(self.scopes),
        }


async def authenticate_client(session: AsyncSession, client_id: str, client_secret: str) -> App:
    app = None
    if credentials.looks_like(client_id, credentials.CLIENT_ID):
        app = (
            await session.execute(select(App).where(App.client_id == client_id, App.deleted_at.is_(None)))
        ).scalar_one_or_none()
    # Compare even when the app is unknown, so timing does not tell which client ids exist.
    stored = app.client_secret_hash if app is not None else credentials.digest("")
    valid = credentials.matches(client_secret or "", stored)
    if app is None or not valid:
        raise OAuthError("invalid_client", "unknown client_id or wrong client_secret", status=401)
    return app


def _new_row(
    runtime: Runtime, inst: AppInstallation, grant_id: int | None = None
) -> tuple[AppToken, TokenPair]:
    access = credentials.generate(credentials.ACCESS_TOKEN)
    refresh = credentials.generate(credentials.REFRESH_TOKEN)
    expires_at = utcnow() + ACCESS_LIFETIME
    scopes = tuple(sorted(inst.scopes))
    row = AppToken(
        organization_id=inst.organization_id,
        installation_id=inst.id,
        access_hash=credentials.digest(access),
        refresh_hash=credentials.digest(refresh),
        scopes=list(scopes),
        access_expires_at=expires_at,
        pair_encrypted=runtime.secrets.encrypt(orjson.dumps([access, refresh]).decode()),
        grant_id=grant_id,
    )
    return row, TokenPair(access, refresh, expires_at, scopes)


async def _installation(session: AsyncSession, installation_id: int, app: App) -> AppInstallation:
    inst = await session.get(AppInstallation, installation_id)
    if inst is None or inst.app_id != app.id:
        raise OAuthError("invalid_grant", "the grant was not issued to this client")
    if inst.status is AppInstallationStatus.UNINSTALLED:
        raise OAuthError("invalid_grant", "the app was uninstalled from this organization")
    return inst


async def exchange_code(session: AsyncSession, runtime: Runtime, app: App, code: str) -> TokenPair:
    if not credentials.looks_like(code, credentials.GRANT_CODE):
        raise OAuthError("invalid_grant", "`code` is not a grant code issued by Conduit")
    now = utcnow()
    grant = (
        await session.execute(select(AppGrant).where(AppGrant.code_hash == credentials.digest(code)))
    ).scalar_one_or_none()
    if grant is None:
        raise OAuthError("invalid_grant", "unknown grant code")
    inst = await _installation(session, grant.installation_id, app)
    if grant.used_at is None and grant.expires_at <= now:
        raise OAuthError("invalid_grant", "the grant code expired (codes are valid for 10 minutes)")
    # Single use, decided by one conditional UPDATE so two concurrent exchanges cannot both win.
    used = await session.execute(
        update(AppGrant)
        .where(AppGrant.id == grant.id, AppGrant.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not used.rowcount:  # type: ignore[attr-defined]
        revoked = await revoke_descendants(session, grant.id, now)
        await session.commit()
        detail = "; the tokens issued for it are revoked" if revoked else ""
        raise OAuthError("invalid_grant", f"the grant code was already used{detail}")
    if inst.status is AppInstallationStatus.PENDING:
        # Exchanging the code is how an app that verifies installs confirms it.
        inst.status = AppInstallationStatus.INSTALLED
        inst.installed_at = now
        await record_change(session, inst, InstallChange.INSTALLED)
    row, pair = _new_row(runtime, inst, grant.id)
    session.add(row)
    await session.commit()
    return pair


async def revoke_descendants(session: AsyncSession, grant_id: int, now: datetime) -> int:
    """Revoke every live pair that came of the grant (its first pair and all refreshes); how many."""
    result = await session.execute(
        update(AppToken)
        .where(AppToken.grant_id == grant_id, AppToken.revoked_at.is_(None))
        .values(revoked_at=now, pair_encrypted=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def client_credentials(session: AsyncSession, runtime: Runtime, app: App) -> TokenPair:
    """An internal app mints tokens for its own installation in its owner organization."""
    if app.kind is not AppKind.INTERNAL:
        raise OAuthError(
            "unauthorized_client",
            "only internal apps use client_credentials; public apps exchange an installation's grant code",
        )
    inst = (
        await session.execute(
            select(AppInstallation).where(
                AppInstallation.app_id == app.id, AppInstallation.organization_id == app.organization_id
            )
        )
    ).scalar_one_or_none()
    if inst is None or inst.status is not AppInstallationStatus.INSTALLED:
        raise OAuthError("invalid_grant", "the internal app is not installed in its organization")
    row, pair = _new_row(runtime, inst)
    session.add(row)
    await session.commit()
    return pair


def _stored_pair(runtime: Runtime, row: AppToken) -> TokenPair:
    if row.pair_encrypted is None:
        raise OAuthError("invalid_grant", "the refresh token was already used")
    access, refresh = orjson.loads(runtime.secrets.decrypt(row.pair_encrypted))
    return TokenPair(access, refresh, row.access_expires_at, tuple(row.scopes))


async def refresh(session: AsyncSession, runtime: Runtime, app: App, refresh_token: str) -> TokenPair:
    if not credentials.looks_like(refresh_token, credentials.REFRESH_TOKEN):
        raise OAuthError("invalid_grant", "`refresh_token` is not a refresh token issued by Conduit")
    now = utcnow()
    row = (
        await session.execute(
            select(AppToken).where(AppToken.refresh_hash == credentials.digest(refresh_token))
        )
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        raise OAuthError("invalid_grant", "unknown or revoked refresh token")
    inst = await _installation(session, row.installation_id, app)
    if row.rotated_at is None:
        new_row, pair = _new_row(runtime, inst, row.grant_id)
        session.add(new_row)
        await session.flush()
        won = await session.execute(
            update(AppToken)
            .where(AppToken.id == row.id, AppToken.rotated_at.is_(None))
            .values(rotated_at=now, replaced_by_id=new_row.id, pair_encrypted=None)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount:  # type: ignore[attr-defined]
            await session.commit()
            return pair
        # A concurrent refresh with the same token won: answer with its pair, as a retry would get.
        await session.rollback()
        row = (await session.execute(select(AppToken).where(AppToken.id == row.id))).scalar_one()
    assert row.rotated_at is not None
    if now - row.rotated_at > REFRESH_GRACE or row.replaced_by_id is None:
        raise OAuthError("invalid_grant", "the refresh token was already used; use the newest one")
    successor = await session.get(AppToken, row.replaced_by_id)
    if successor is None or successor.revoked_at is not None or successor.rotated_at is not None:
        raise OAuthError("invalid_grant", "the refresh token was already used; use the newest one")
    return _stored_pair(runtime, successor)
