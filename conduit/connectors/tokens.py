"""Installation credentials: stored encrypted, refreshed before they expire, one refresh at a time.

Refresh tokens of both trackers rotate: two refreshes racing with the same token leave one of them
holding a dead token (and Atlassian may then kill the whole grant). So a refresh is collapsed
in-process (one task per installation that every caller awaits) and across processes (the row is
locked with FOR NO KEY UPDATE on PostgreSQL; whoever gets the lock second re-reads the row and skips
the refresh when it finds one already done). A compare-and-set on `credentials_version` guards the
write where no row lock exists (SQLite, which runs as one process anyway).

A refresh authorizes with the installation's own client, chosen by `OAuthClients.for_installation`
from the row it locked: the operator's cloud client never goes to a self-hosted server.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conduit.connectors.catalog import Provider
from conduit.connectors.clients import OAuthClients, missing
from conduit.connectors.errors import Revoked, Unauthorized
from conduit.connectors.http import Target
from conduit.connectors.oauth import ClientCredentials, GrantRefused, OAuthClient
from conduit.connectors.records import TokenSet
from conduit.connectors.registry import provider
from conduit.crypto import SecretBox
from conduit.db.base import utcnow
from conduit.db.models import Installation, InstallationStatus
from conduit.events.emit import emit

FAILED_EVENT = "tracker_installation.failed"


@dataclass(frozen=True, slots=True)
class Stored:
    """An installation's credentials as last written, decrypted."""

    target: Target
    provider: Provider
    base_url: str | None
    account_id: str | None
    status: InstallationStatus
    status_reason: str | None
    access_token: str | None
    refresh_token: str | None
    expires_at: datetime | None
    version: int
    client: ClientCredentials | None

    def due(self, now: datetime) -> bool:
        if self.expires_at is None or self.refresh_token is None:
            return False
        return self.expires_at - timedelta(seconds=self.provider.refresh.margin) <= now


class Credentials:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        secrets: SecretBox,
        oauth: OAuthClient,
        clients: OAuthClients,
    ) -> None:
        self.sessions = sessions
        self.secrets = secrets
        self.oauth = oauth
        self.clients = clients
        self._flights: dict[int, asyncio.Task[str | None]] = {}
        # How many refreshes this process sent to a token endpoint (for health and tests' sanity).
        self.refreshes = 0

    # -- reading -------------------------------------------------------------------------------------
    def _decrypt(self, value: str | None) -> str | None:
        return self.secrets.decrypt(value) if value else None

    def _stored(self, row: Installation) -> Stored:
        return Stored(
            target=Target(row.id, row.organization_id, row.provider),
            provider=provider(row.provider),
            base_url=row.base_url,
            account_id=row.account_id,
            status=row.status,
            status_reason=row.status_reason,
            access_token=self._decrypt(row.access_token_enc),
            refresh_token=self._decrypt(row.refresh_token_enc),
            expires_at=row.token_expires_at,
            version=row.credentials_version,
            client=self.clients.for_installation(row),
        )

    async def load(self, installation_id: int, session: AsyncSession | None = None) -> Stored:
        if session is None:
            async with self.sessions() as own:
                return await self.load(installation_id, own)
        row = await session.get(Installation, installation_id, populate_existing=True)
        if row is None:
            raise LookupError(f"installation {installation_id} does not exist")
        return self._stored(row)

    # -- writing -------------------------------------------------------------------------------------
    def token_values(self, spec: Provider, tokens: TokenSet, kept_refresh: str | None) -> dict[str, object]:
        """Column values for a token reply; a reply without a refresh token keeps the one we had."""
        refresh = tokens.refresh_token or kept_refresh
        now = utcnow()
        if tokens.expires_in is not None:
            expires_at: datetime | None = now + timedelta(seconds=tokens.expires_in)
        elif refresh is not None and spec.refresh.default_lifetime is not None:
            expires_at = now + timedelta(seconds=spec.refresh.default_lifetime)
        else:
            expires_at = None  # e.g. GitHub OAuth App tokens: valid until revoked
        return {
            "access_token_enc": self.secrets.encrypt(tokens.access_token),
            "refresh_token_enc": self.secrets.encrypt(refresh) if refresh else None,
            "token_expires_at": expires_at,
        }

    async def store(self, installation_id: int, tokens: TokenSet) -> None:
        """Keep the tokens of a fresh grant (after the code exchange)."""
        async with self.sessions() as session:
            row = await session.get(Installation, installation_id)
            if row is None:
                raise LookupError(f"installation {installation_id} does not exist")
            for name, value in self.token_values(provider(row.provider), tokens, None).items():
                setattr(row, name, value)
            row.credentials_version += 1
            await session.commit()

    # -- the tokens calls use ------------------------------------------------------------------------
    async def access_token(self, installation_id: int) -> str | None:
        stored = await self.load(installation_id)
        self._refuse_revoked(stored)
        if not stored.due(utcnow()):
            return stored.access_token
        return await self._single_flight(installation_id, None)

    async def renew(self, installation_id: int, rejected: str) -> str | None:
        """A token the tracker refused: refresh (once for everyone who saw it refused)."""
        return await self._single_flight(installation_id, rejected)

    def auth(self, installation_id: int) -> InstallationAuth:
        return InstallationAuth(self, installation_id)

    def _refuse_revoked(self, stored: Stored) -> None:
        if stored.status is InstallationStatus.REVOKED:
            raise Revoked(stored.status_reason or f"the {stored.provider.name} installation was revoked")

    async def _single_flight(self, installation_id: int, rejected: str | None) -> str | None:
        flight = self._flights.get(installation_id)
        if flight is None:
            flight = asyncio.create_task(self._refresh(installation_id, rejected))
            self._flights[installation_id] = flight
            flight.add_done_callback(lambda _: self._flights.pop(installation_id, None))
        # Shielded: one caller being cancelled must not cancel the refresh the others wait on.
        return await asyncio.shield(flight)

    async def _refresh(self, installation_id: int, rejected: str | None) -> str | None:
        async with self.sessions() as session:
            stmt = select(Installation).where(Installation.id == installation_id)
            # FOR NO KEY UPDATE: other processes wait here, while Interaction rows (whose foreign key
            # takes KEY SHARE on this row) can still be written during the refresh call.
            row = (await session.execute(stmt.with_for_update(key_share=True))).scalar_one_or_none()
            if row is None:
                raise LookupError(f"installation {installation_id} does not exist")
            stored = self._stored(row)
            self._refuse_revoked(stored)
            if rejected is None and not stored.due(utcnow()):
                return stored.access_token  # someone else refreshed while we waited
            if rejected is not None and stored.access_token != rejected:
                return stored.access_token
            if stored.refresh_token is None:
                if rejected is None:
                    return stored.access_token
                await self._revoke(
                    session,
                    stored,
                    f"{stored.provider.name} no longer accepts this installation's token and there is "
                    f"no refresh token to get a new one. Reinstall the {stored.provider.name} integration.",
                )
                raise Revoked(f"{stored.provider.name} refused the token and it cannot be refreshed")
            if stored.client is None:
                # The operator removed the client this server's installation used; nothing else may
                # stand in for it.
                raise Unauthorized(missing(stored.provider.key, stored.base_url))
            try:
                tokens = await self.oauth.refresh(
                    stored.target,
                    stored.provider,
                    stored.provider.endpoints(stored.base_url, stored.account_id),
                    stored.client,
                    stored.refresh_token,
                )
            except GrantRefused as exc:
                await session.rollback()
                return await self._after_refusal(stored, exc)
            finally:
                self.refreshes += 1
            values = self.token_values(stored.provider, tokens, stored.refresh_token)
            result = await session.execute(
                update(Installation)
                .where(
                    Installation.id == installation_id,
                    Installation.credentials_version == stored.version,
                )
                .values(**values, credentials_version=stored.version + 1)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            if result.rowcount == 0:  # type: ignore[attr-defined]
                # Another process wrote newer credentials first; theirs are the ones to use.
                return (await self.load(installation_id)).access_token
            return tokens.access_token

    async def _after_refusal(self, used: Stored, exc: GrantRefused) -> str | None:
        """`invalid_grant`: unless someone rotated the token meanwhile, the grant is gone."""
        async with self.sessions() as session:
            current = await self.load(used.target.installation_id, session)
            if current.version != used.version and current.refresh_token != used.refresh_token:
                return current.access_token
            name = used.provider.name
            await self._revoke(
                session,
                current,
                f"{name} refused to refresh the credentials ({exc.error}): access was revoked in {name} "
                f"or the grant expired. Reinstall the {name} integration to reconnect.",
            )
        raise Revoked(f"{name} refused the refresh token ({exc.error})", status=exc.status) from exc

    async def _revoke(self, session: AsyncSession, stored: Stored, reason: str) -> None:
        result = await session.execute(
            update(Installation)
            .where(
                Installation.id == stored.target.installation_id,
                Installation.credentials_version == stored.version,
            )
            .values(status=InstallationStatus.REVOKED, status_reason=reason)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            # The id only: publishing loads the installation as the catalog describes it.
            data = {"installation_id": stored.target.installation_id}
            emit(session, FAILED_EVENT, stored.target.organization_id, data)
        await session.commit()


@dataclass(frozen=True, slots=True)
class InstallationAuth:
    """`http.Auth` for one installation."""

    credentials: Credentials
    installation_id: int

    async def token(self) -> str | None:
        return await self.credentials.access_token(self.installation_id)

    async def renew(self, rejected: str) -> str | None:
        return await self.credentials.renew(self.installation_id, rejected)
