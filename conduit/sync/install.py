"""Installing a tracker: the authorize URL with a single-use state, the callback, and the code exchange.

The state is random, stored only as a hash, bound to the organization and the installation, valid for
ten minutes and spent by the callback in one guarded UPDATE, so a replayed callback finds nothing.
"""

from __future__ import annotations

import hashlib
import secrets as random_secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.connectors import get_connectors
from conduit.connectors.catalog import Provider, provider
from conduit.db.base import utcnow
from conduit.db.models import Installation, InstallationStatus
from conduit.db.models.integrations import OAuthState
from conduit.events.emit import emit
from conduit.jobs import outbox
from conduit.runtime import Runtime
from conduit.schema.ids import encode

STATE_LIFETIME = timedelta(minutes=10)
INSTALL_KIND = "tracker.install"


class InstallError(ValueError):
    """The installation cannot start or finish; the message says what to do."""


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def callback_url(runtime: Runtime, provider_key: str) -> str:
    return f"{runtime.settings.public_url.rstrip('/')}/oauth/{provider_key}/callback"


def webhook_url(runtime: Runtime, installation: Installation) -> str:
    base = runtime.settings.public_url.rstrip("/")
    return f"{base}/hooks/{installation.provider}/{installation.hook_token}"


def check_base_url(base_url: str | None) -> str | None:
    if base_url is None or not base_url.strip():
        return None
    value = base_url.strip().rstrip("/")
    if not value.startswith(("https://", "http://")) or " " in value or len(value) > 500:
        raise InstallError(
            f"baseUrl must be an http(s) URL such as https://jira.example.com, got {base_url!r}"
        )
    return value


@dataclass(frozen=True, slots=True)
class Started:
    installation: Installation
    authorize_url: str
    # Shown once, when a new installation is made: where to paste it if the tracker's API may not.
    webhook_secret: str | None


async def start(
    runtime: Runtime,
    session: AsyncSession,
    organization_id: int,
    provider_key: str,
    base_url: str | None,
    installation: Installation | None = None,
) -> Started:
    """A new PENDING installation (or `installation`, to reconnect it keeping its config and links)."""
    try:
        spec: Provider = provider(provider_key)
    except ValueError as exc:
        raise InstallError(str(exc)) from None
    service = get_connectors(runtime)
    redirect_uri = callback_url(runtime, spec.key)
    try:
        request = service.authorization_request(spec.key, base_url, redirect_uri)
    except LookupError as exc:
        raise InstallError(str(exc)) from None
    secret: str | None = None
    if installation is None:
        secret = random_secrets.token_urlsafe(32)
        installation = Installation(
            organization_id=organization_id,
            provider=spec.key,
            base_url=base_url,
            config={},
            webhook_secret_enc=runtime.secrets.encrypt(secret),
        )
        session.add(installation)
        await session.flush()
    session.add(
        OAuthState(
            organization_id=organization_id,
            installation_id=installation.id,
            provider=spec.key,
            state_hash=state_hash(request.state),
            code_verifier_enc=runtime.secrets.encrypt(request.code_verifier)
            if request.code_verifier
            else None,
            redirect_uri=redirect_uri,
            expires_at=utcnow() + STATE_LIFETIME,
        )
    )
    return Started(installation, request.url, secret)


async def accept_callback(
    runtime: Runtime, provider_key: str, state: str, code: str | None, error: str | None
) -> Installation:
    """Spend the state and hand the code to the install job; raises InstallError for a bad callback."""
    async with runtime.sessions() as session:
        row = (
            await session.execute(select(OAuthState).where(OAuthState.state_hash == state_hash(state)))
        ).scalar_one_or_none()
        if row is None or row.provider != provider_key:
            raise InstallError("this authorization is not one Conduit started; start the installation again")
        now = utcnow()
        spent = await session.execute(
            update(OAuthState)
            .where(OAuthState.id == row.id, OAuthState.used_at.is_(None), OAuthState.expires_at > now)
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if not spent.rowcount:  # type: ignore[attr-defined]
            raise InstallError(
                "this authorization was already used or is more than 10 minutes old; start the "
                "installation again"
            )
        installation = await session.get(Installation, row.installation_id)
        assert installation is not None  # the state row is deleted with its installation
        name = provider(provider_key).name
        if error or not code:
            reason = (
                f"{name} did not authorize Conduit ({error or 'no code was returned'}). Start the "
                f"installation again and approve access in {name}."
            )
            installation.status, installation.status_reason = InstallationStatus.ERROR, reason
            emit(session, "installation.failed", installation.organization_id, failed_data(installation))
        else:
            payload = {"state_id": row.id, "code": runtime.secrets.encrypt(code)}
            outbox.add(session, INSTALL_KIND, payload, organization_id=installation.organization_id)
        await session.commit()
        return installation


def failed_data(installation: Installation) -> dict[str, Any]:
    return {
        "installation": {
            "id": encode("Installation", installation.id),
            "provider": installation.provider,
            "status": installation.status.value,
            "status_reason": installation.status_reason,
            "account_name": installation.account_name,
            "created_at": installation.created_at.isoformat(),
        }
    }


async def complete(runtime: Runtime, state_id: int, code_enc: str) -> InstallationStatus:
    """Exchange the code, find the account: ACTIVE, or ERROR with a reason a person can act on."""
    async with runtime.sessions() as session:
        state = await session.get(OAuthState, state_id)
        if state is None:
            return InstallationStatus.ERROR  # the installation was removed meanwhile
        installation_id, redirect_uri = state.installation_id, state.redirect_uri
        verifier = runtime.secrets.decrypt(state.code_verifier_enc) if state.code_verifier_enc else None
    service = get_connectors(runtime)
    account = await service.complete_install(
        installation_id, runtime.secrets.decrypt(code_enc), redirect_uri, verifier
    )
    async with runtime.sessions() as session:
        installation = await session.get(Installation, installation_id)
        assert installation is not None
        if account is None:
            emit(session, "installation.failed", installation.organization_id, failed_data(installation))
        # The verifier is of no use any more; keep no secret longer than needed.
        await session.execute(
            update(OAuthState).where(OAuthState.id == state_id).values(code_verifier_enc=None)
        )
        await session.commit()
        return installation.status
